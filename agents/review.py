"""review: one interrupt with every package still open; each decision takes effect at once.

The question and the answer shapes are the review contract (domain/review.py). An answer may decide
some packages and leave the rest: the approved ones are delivered now (a Send each), and the thread
comes back here for the others, so approving one of six emails one and leaves five waiting. An answer
with `done: true` ends the review with the undecided ones left as they are.

Packages that failed or timed out while being built come in the same interrupt as retry requests:
accept builds that one again (the thread returns here when it is built), ignore or reject leaves it out.
An edit becomes a new version of the package, rendered and checked like the first (agents/package_edits.py);
when the master CV does not support some of its lines, the package is stored with them and stays waiting
until the person confirms each by id (`confirm_unsupported`). Nothing here has a side effect before
interrupt(): the node re-runs from its top on resume, and an edit already stored is not made again.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import Send, interrupt

from jobland.agents.package_edits import EditInputs, apply_edit
from jobland.agents.shortlist import package_build
from jobland.domain.failpoints import failpoint
from jobland.domain.models import UNFINISHED_STATUSES, ApplicationPackage, Decision, PackageStatus
from jobland.domain.repository import Records
from jobland.domain.review import (
    DECIDED_STATUSES,
    UnreadableAnswer,
    can_apply,
    misfits,
    parse_answer,
    retry_request,
    review_request,
    unconfirmed_lines,
)
from jobland.graph.context import Context
from jobland.graph.state import DeliverPackageInput, JobLandState


def apply_decision(pkg: ApplicationPackage, decision: Decision) -> ApplicationPackage:
    """The package as the decision leaves it; an edit's new version is made before (agents/package_edits.py)."""
    if decision.action == "retry":
        return pkg.with_status(PackageStatus.pending, "the person asked to build it again")
    if decision.action == "reject":
        return pkg.with_status(PackageStatus.rejected, decision.note)
    note = f"edited: version {len(pkg.versions) + 1}" if pkg.versions else None
    confirmed = [line.id for line in pkg.unsupported_lines]
    if confirmed:
        note = f"{note}; sent with unsupported line(s) {', '.join(confirmed)} confirmed by the person"
    return pkg.with_status(PackageStatus.approved, note)


async def edited_package(
    records: Records, context: Context, thread_id: str, pkg: ApplicationPackage, decision: Decision
) -> ApplicationPackage:
    """The package with the decision's edit as a new version, rendered, checked and stored (once)."""
    profile, posting = await records.profile(pkg.profile_id), await records.posting(pkg.posting_id)
    edited = await apply_edit(context, pkg, decision, EditInputs(profile, posting, pkg.dossier))
    if edited is not pkg:
        await records.put_package(thread_id, edited)
    return edited


async def review(state: JobLandState, runtime: Runtime[Context]) -> dict:
    records = Records(runtime.store)
    thread_id = state["thread_id"]
    earlier = state.get("decisions", [])
    decided_earlier = {d.package_id for d in earlier}
    refs = state.get("packages", [])
    # Read at once: the Store gathers them into one batch.
    read = await asyncio.gather(*(records.package(thread_id, ref.package_id) for ref in refs))
    packages = {p.id: p for p in read}
    # A package decided in a pass whose checkpoint a crash lost is asked about again (its answer comes back).
    waiting = [
        p
        for p in packages.values()
        if p.status == PackageStatus.ready
        or (p.status in (PackageStatus.approved, PackageStatus.rejected) and p.id not in decided_earlier)
    ]
    missing = [p for p in packages.values() if p.status in UNFINISHED_STATUSES and not p.was_approved]
    if not waiting and not missing:
        return {"delivering": [], "retrying": [], "reviewing": False}
    requests = [review_request(p) for p in waiting] + [retry_request(p) for p in missing]
    try:
        decisions, done = parse_answer(interrupt(requests), requests)
    except UnreadableAnswer:
        decisions, done = [], False  # the faces refuse such answers first; here the person is simply asked again
    # A decision asked again after a crash may change (approved -> rejected); one that cannot (a rejection is
    # final, a send may have begun) keeps what was stored. The faces refuse those with a message first.
    unfit = misfits(decisions, requests)
    decisions = [d for d in decisions if d.package_id not in unfit and can_apply(packages[d.package_id], d)]
    held: list[str] = []  # edits whose unsupported lines the person has not confirmed: stored, not sent
    for decision in decisions:
        pkg = packages[decision.package_id]
        if decision.action == "edit" and pkg.status == PackageStatus.ready:
            pkg = await edited_package(records, runtime.context, thread_id, pkg, decision)
        if unconfirmed_lines(pkg, decision):
            held.append(pkg.id)
        elif pkg.status != DECIDED_STATUSES.get(decision.action):  # not stored already, before a crash
            await records.put_package(thread_id, apply_decision(pkg, decision))
    failpoint("review.after_store")  # the decisions are stored; the checkpoint that holds them is not yet
    decisions = [d for d in decisions if d.package_id not in held]
    answered = {d.package_id for d in decisions}
    retrying = [d.package_id for d in decisions if d.action == "retry"]
    still_open = [p.id for p in waiting if p.id not in answered]
    update: dict[str, Any] = {
        "decisions": [*earlier, *(d for d in decisions if d.action != "retry")],
        "delivering": [d.package_id for d in decisions if d.action in ("accept", "edit")],
        "retrying": retrying,
        # Retried packages come back here by themselves once built; undecided ones keep the review open.
        "reviewing": bool(still_open) and not done and not retrying,
    }
    if retrying:
        update["build_deadline"] = time.time() + runtime.context.batch_budget_s
    return update


def route_after_review(state: JobLandState) -> list[Send | Literal["review", "record"]]:
    """Deliver what was approved now; build again what was asked; come back for what is still open."""
    postings = {ref.package_id: ref.posting_id for ref in state.get("packages", [])}
    sends: list[Send | Literal["review", "record"]] = [
        Send("deliver", DeliverPackageInput(thread_id=state["thread_id"], package_id=pid))
        for pid in state.get("delivering", [])
    ]
    sends += [package_build(state, postings[pid]) for pid in state.get("retrying", [])]
    if state.get("reviewing"):
        sends.append("review")
    return sends or ["record"]
