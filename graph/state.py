"""Graph state and the payloads of its Send fan-outs.

State carries ids and verdicts only; postings, profiles and packages live in the Store
(domain.repository), so a checkpoint stays small however many postings are screened.
"""

from __future__ import annotations

import operator
from typing import Annotated, NotRequired

from pydantic import BaseModel
from typing_extensions import TypedDict

from jobland.domain.models import (
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


def merge_package_refs(known: list[PackageRef], new: list[PackageRef]) -> list[PackageRef]:
    """A package built again (a retry) replaces its earlier ref and keeps its place."""
    merged = {ref.package_id: ref for ref in known}
    merged.update((ref.package_id, ref) for ref in new)
    return list(merged.values())


PackageRefs = Annotated[list[PackageRef], merge_package_refs]


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
    packages: PackageRefs
    decisions: list[Decision]
    delivering: list[str]  # approved in the last review pass: delivered now
    reviewing: bool  # packages are still undecided: the review comes back for them
    retrying: list[str]
    build_deadline: float
    screening_builds: bool  # every posting screened in a task of its own builds its package there if High
    deliveries: Annotated[list[DeliveryReceipt], operator.add]
    shortlist: list[str]
    recorded: int


class ScreenJobInput(TypedDict):
    """Send payload: one posting to screen against one profile.

    With a package id (the posting is certain to make the shortlist if it is High), a High verdict goes
    straight on to that package's build, without waiting for the other postings' screenings.
    """

    posting_id: str
    profile_id: str
    request: SearchRequest
    thread_id: NotRequired[str]
    package_id: NotRequired[str]
    deadline: NotRequired[float]


class BuildPackageInput(TypedDict):
    """Send payload: one shortlisted posting to turn into an application package."""

    thread_id: str
    posting_id: str
    profile_id: str
    package_id: str
    deadline: float  # epoch seconds: the batch's budget ends then, for every package of it


class ScreenPostingState(TypedDict, total=False):
    """State of one posting's way from its screening to its package (the screen_job subgraph)."""

    posting_id: str
    profile_id: str
    request: SearchRequest
    thread_id: str
    package_id: str
    deadline: float
    screenings: Annotated[list[ScreeningVerdict], operator.add]
    packages: PackageRefs


class ScreenPostingOutput(TypedDict, total=False):
    """What one posting's screening hands back to the thread: its verdict, and its package if one was built."""

    screenings: Annotated[list[ScreeningVerdict], operator.add]
    packages: PackageRefs


class PackageBuildState(TypedDict, total=False):
    """State of the package-building subgraph: ids only; each step reads and writes the package in the Store."""

    thread_id: str
    posting_id: str
    profile_id: str
    package_id: str
    deadline: float


class DeliverPackageInput(TypedDict):
    """Send payload: one approved package to email."""

    thread_id: str
    package_id: str
    retry: NotRequired[bool]  # the person asked to send a dead letter again
