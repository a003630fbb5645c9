"""Graph state and the payloads of its Send fan-outs.

State carries ids and verdicts only; postings, profiles and packages live in the Store
(domain.repository), so a checkpoint stays small however many postings are screened.
"""

from __future__ import annotations

import operator
from typing import Annotated

from pydantic import BaseModel
from typing_extensions import TypedDict

from domain.models import (
    Decision,
    DeliveryReceipt,
    DiscardedPosting,
    PackageStatus,
    Probability,
    SearchRequest,
)


class ScreeningVerdict(BaseModel):
    posting_id: str
    match_score: int
    probability: Probability
    top_reason: str = ""


class PackageRef(BaseModel):
    package_id: str
    posting_id: str
    status: PackageStatus


class JobLandInput(TypedDict, total=False):
    """What a caller gives: a chat message, a structured request, or both."""

    message: str
    request: SearchRequest


class JobLandState(TypedDict, total=False):
    message: str
    request: SearchRequest
    thread_id: str
    profile_id: str
    posting_ids: list[str]
    discarded: list[DiscardedPosting]
    screenings: Annotated[list[ScreeningVerdict], operator.add]
    packages: Annotated[list[PackageRef], operator.add]
    decisions: list[Decision]
    deliveries: Annotated[list[DeliveryReceipt], operator.add]
    shortlist: list[str]
    recorded: int


class ScreenJobInput(TypedDict):
    """Send payload: one posting to screen against one profile."""

    posting_id: str
    profile_id: str
    request: SearchRequest


class BuildPackageInput(TypedDict):
    """Send payload: one shortlisted posting to turn into an application package."""

    thread_id: str
    posting_id: str
    profile_id: str
    package_id: str


class PackageBuildState(TypedDict, total=False):
    """State of the package-building subgraph; `packages` flows back to the parent."""

    thread_id: str
    posting_id: str
    profile_id: str
    package_id: str
    packages: Annotated[list[PackageRef], operator.add]


class PackageBuildOutput(TypedDict):
    """What the package-building subgraph hands back to the parent graph."""

    packages: Annotated[list[PackageRef], operator.add]


class DeliverPackageInput(TypedDict):
    """Send payload: one approved package to email."""

    thread_id: str
    package_id: str
