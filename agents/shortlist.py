"""The fan-outs and the shortlist between them: only "High" verdicts become packages."""

from __future__ import annotations

from typing import Literal

from langgraph.runtime import Runtime
from langgraph.types import Send

from domain.text import stable_id
from graph.context import Context
from graph.state import BuildPackageInput, JobLandState, ScreenJobInput


def route_to_screening(state: JobLandState) -> list[Send] | Literal["shortlist"]:
    """One screen_job task per discovered posting."""
    sends = [
        Send("screen_job", ScreenJobInput(posting_id=pid, profile_id=state["profile_id"], request=state["request"]))
        for pid in state.get("posting_ids", [])
    ]
    return sends or "shortlist"


async def shortlist(state: JobLandState, runtime: Runtime[Context]) -> dict:
    """The best High verdicts, at most request.max_packages of them."""
    request = state["request"]
    high = [v for v in state.get("screenings", []) if v.probability == "High"]
    high.sort(key=lambda v: (-v.match_score, v.posting_id))
    return {"shortlist": [v.posting_id for v in high[: request.max_packages]]}


def package_id_for(thread_id: str, posting_id: str) -> str:
    return stable_id("pkg", thread_id, posting_id)


def route_to_packages(state: JobLandState) -> list[Send] | Literal["record"]:
    """Conditional edge: shortlisted postings go on to build_package; nothing else advances."""
    if state["request"].mode == "screen" or not state.get("shortlist"):
        return "record"
    thread_id = state["thread_id"]
    return [
        Send(
            "build_package",
            BuildPackageInput(
                thread_id=thread_id,
                posting_id=pid,
                profile_id=state["profile_id"],
                package_id=package_id_for(thread_id, pid),
            ),
        )
        for pid in state["shortlist"]
    ]
