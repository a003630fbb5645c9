"""The fan-outs and the shortlist between them: only "High" verdicts become packages."""

from __future__ import annotations

import asyncio
import time
from typing import Literal

from langgraph.runtime import Runtime
from langgraph.types import Send

from jobland.domain.models import ApplicationPackage, PackageStatus, StatusChange
from jobland.domain.repository import RecordNotFound, Records
from jobland.domain.text import stable_id
from jobland.graph.context import Context
from jobland.graph.state import BuildPackageInput, JobLandState, ScreenJobInput


def route_to_screening(state: JobLandState) -> list[Send] | Literal["shortlist"]:
    """A screen_job task for each discovered posting prepare_screening left without a verdict (those the
    LLM stage must see); the rest go straight on to the shortlist."""
    screened = {v.posting_id for v in state.get("screenings", [])}
    sends = [
        Send("screen_job", ScreenJobInput(posting_id=pid, profile_id=state["profile_id"], request=state["request"]))
        for pid in state.get("posting_ids", [])
        if pid not in screened
    ]
    return sends or "shortlist"


DECIDED = frozenset({PackageStatus.approved, PackageStatus.rejected, PackageStatus.sending, PackageStatus.sent})


def package_id_for(thread_id: str, posting_id: str) -> str:
    return stable_id("pkg", thread_id, posting_id)


async def pending_package(records: Records, thread_id: str, profile_id: str, posting_id: str) -> None:
    """The package of a shortlisted posting, pending, unless the thread has it already (a resume)."""
    package_id = package_id_for(thread_id, posting_id)
    try:
        await records.package(thread_id, package_id)
        return
    except RecordNotFound:
        pass
    posting, screening = await asyncio.gather(records.posting(posting_id), records.screening(profile_id, posting_id))
    if screening is None:
        raise RecordNotFound(f"posting {posting_id} has no screening for profile {profile_id}; screen it first")
    package = ApplicationPackage(
        id=package_id,
        posting_id=posting_id,
        profile_id=profile_id,
        company=posting.company,
        title=posting.title,
        screening=screening,
        history=[StatusChange(status=PackageStatus.pending)],
    )
    await records.put_package(thread_id, package)


async def shortlist(state: JobLandState, runtime: Runtime[Context]) -> dict:
    """The best High verdicts, at most request.max_packages of them, each with a pending package.

    The batch's time budget starts here: every package of it must be built by the deadline.
    """
    request = state["request"]
    records = Records(runtime.store)
    # A later search in the same thread never offers again what the person decided on in an earlier one.
    decided = {p.posting_id for p in await records.packages(state["thread_id"]) if p.status in DECIDED}
    high = [v for v in state.get("screenings", []) if v.probability == "High" and v.posting_id not in decided]
    high.sort(key=lambda v: (-v.match_score, v.posting_id))
    chosen = [v.posting_id for v in high[: request.max_packages]]
    if request.mode == "apply":  # at once: the Store gathers their reads and writes into a few batches
        await asyncio.gather(*(pending_package(records, state["thread_id"], state["profile_id"], p) for p in chosen))
    return {"shortlist": chosen, "build_deadline": time.time() + runtime.context.batch_budget_s}


def package_build(state: JobLandState, posting_id: str) -> Send:
    """The Send that builds (or builds again) one package within the batch's deadline."""
    thread_id = state["thread_id"]
    return Send(
        "build_package",
        BuildPackageInput(
            thread_id=thread_id,
            posting_id=posting_id,
            profile_id=state["profile_id"],
            package_id=package_id_for(thread_id, posting_id),
            deadline=state["build_deadline"],
        ),
    )


def route_to_packages(state: JobLandState) -> list[Send] | Literal["record"]:
    """Conditional edge: shortlisted postings go on to build_package; nothing else advances."""
    if state["request"].mode == "screen" or not state.get("shortlist"):
        return "record"
    return [package_build(state, pid) for pid in state["shortlist"]]
