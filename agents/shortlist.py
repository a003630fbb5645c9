"""The fan-outs and the shortlist between them: only "High" verdicts become packages."""

from __future__ import annotations

import asyncio
from typing import Literal

from langgraph.graph import END
from langgraph.runtime import Runtime
from langgraph.types import Send

from jobland.domain.models import BUILDING_STATUSES, ApplicationPackage, PackageStatus, SearchRequest, StatusChange
from jobland.domain.repository import RecordNotFound, Records
from jobland.domain.text import stable_id
from jobland.graph.context import Context
from jobland.graph.state import BuildPackageInput, JobLandState, ScreenJobInput, ScreenPostingState


def route_to_screening(state: JobLandState) -> list[Send] | Literal["shortlist"]:
    """A screen_job task for each discovered posting prepare_screening left without a verdict (those the
    LLM stage must see); the rest go straight on to the shortlist. When every High among them is certain
    to be shortlisted (state["screening_builds"]), each task carries its package's id and the batch's
    deadline, and builds the package as soon as its own verdict is High."""
    screened = {v.posting_id for v in state.get("screenings", [])}
    builds = state.get("screening_builds", False)
    sends = []
    for pid in state.get("posting_ids", []):
        if pid in screened:
            continue
        task = ScreenJobInput(posting_id=pid, profile_id=state["profile_id"], request=state["request"])
        if builds:
            thread_id, deadline = state["thread_id"], state["build_deadline"]
            task |= {"thread_id": thread_id, "package_id": package_id_for(thread_id, pid), "deadline": deadline}
        sends.append(Send("screen_job", task))
    return sends or "shortlist"


def route_after_screening(state: ScreenPostingState) -> Literal["build_package", "__end__"]:
    """Within one posting's screening task: on to its package's build if it carries one and came out High."""
    verdicts = state.get("screenings", [])
    if state.get("package_id") and verdicts and verdicts[-1].probability == "High":
        return "build_package"
    return END


def certain_to_be_shortlisted(request: SearchRequest, known_high: int, still_open: int) -> bool:
    """Whether every High verdict the LLM stage may still give is sure to make the shortlist, as far as the
    verdicts tell: an "apply" search whose Highs so far and postings still to screen number at most
    max_packages (so the shortlist picks every High). The thread must also hold no package from an earlier
    search, whose decided postings the shortlist leaves out (prepare_screening asks the Store)."""
    return request.mode == "apply" and 0 < still_open and known_high + still_open <= request.max_packages


DECIDED = frozenset({PackageStatus.approved, PackageStatus.rejected, PackageStatus.sending, PackageStatus.sent})


def package_id_for(thread_id: str, posting_id: str) -> str:
    return stable_id("pkg", thread_id, posting_id)


async def pending_package(records: Records, thread_id: str, profile_id: str, posting_id: str) -> ApplicationPackage:
    """The package of a shortlisted posting: the thread's if it has it already (a resume, or a build that
    began as the posting's screening ended), else a new one, pending."""
    package_id = package_id_for(thread_id, posting_id)
    try:
        return await records.package(thread_id, package_id)
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
    return package


async def shortlist(state: JobLandState, runtime: Runtime[Context]) -> dict:
    """The best High verdicts, at most request.max_packages of them, each with a pending package.

    Every package of the batch must be built by the deadline prepare_screening set (state["build_deadline"]).
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
    return {"shortlist": chosen}


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


def route_to_packages(state: JobLandState) -> list[Send] | Literal["review", "record"]:
    """Conditional edge: shortlisted postings go on to build_package; nothing else advances. A package its
    posting's screening task built already (its ref is past building) goes straight to the review."""
    if state["request"].mode == "screen" or not state.get("shortlist"):
        return "record"
    built = {ref.posting_id for ref in state.get("packages", []) if ref.status not in BUILDING_STATUSES}
    return [package_build(state, pid) for pid in state["shortlist"] if pid not in built] or "review"
