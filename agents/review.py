"""review: ONE interrupt with every ready package; the person decides per package.

Packages that failed or timed out while being built come in the same interrupt as retry requests:
accept builds that one again (the others wait, decided or not), ignore or reject leaves it out.

The payload is a list of Agent Inbox HumanInterrupt dicts (action_request, config, description),
one per package. The resume value is a list of Decision dicts, a mapping from package id to a
HumanResponse-like dict ({"type": "accept" | "edit" | "reject" | "ignore", "args": {...}}), or what
Agent Inbox sends: a list of HumanResponses answering the interrupts in order (an accepted or edited
one also names its package in args.args.package_id).
Packages left without a valid decision are asked about again, so a thread never gets stuck.
Nothing here has a side effect before interrupt(): the node re-runs from its top on resume.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import Send, interrupt
from markdown_it import MarkdownIt
from pydantic import ValidationError

from agents.shortlist import package_build
from domain.models import UNFINISHED_STATUSES, ApplicationPackage, Decision, PackageStatus
from domain.repository import Records
from graph.context import Context
from graph.state import DeliverPackageInput, JobLandState

REVIEW_ACTION = "send_application"
RETRY_ACTION = "retry_package"


def _package_args(pkg: ApplicationPackage) -> dict[str, Any]:
    return {
        "package_id": pkg.id,
        "company": pkg.company,
        "title": pkg.title,
        "match_score": pkg.screening.match_score,
        "probability": pkg.screening.probability,
    }


def review_request(pkg: ApplicationPackage) -> dict[str, Any]:
    """One package as an Agent Inbox HumanInterrupt."""
    flags = "".join(f"\n- {claim}" for claim in pkg.flagged_claims)
    description = (
        f"**{pkg.title}** at **{pkg.company}**: match {pkg.screening.match_score}/100 "
        f"({pkg.screening.probability}).\n\n"
        + "\n".join(f"- {r}" for r in pkg.screening.reasons)
        + (f"\n\nUnsupported claims flagged by the truth check:{flags}" if flags else "")
    )
    return {
        "action_request": {
            "action": REVIEW_ACTION,
            "args": {
                **_package_args(pkg),
                "flagged_claims": pkg.flagged_claims,
                "cv_markdown": pkg.cv.markdown if pkg.cv else "",
                "cover_letter_markdown": pkg.cover_letter.markdown if pkg.cover_letter else "",
            },
        },
        "config": {"allow_accept": True, "allow_edit": True, "allow_ignore": True, "allow_respond": False},
        "description": description,
    }


def retry_request(pkg: ApplicationPackage) -> dict[str, Any]:
    """A package that failed or timed out, as a HumanInterrupt: accept builds it again, ignore leaves it out."""
    return {
        "action_request": {
            "action": RETRY_ACTION,
            "args": {
                **_package_args(pkg),
                "status": pkg.status.value,
                "error": pkg.error or "",
            },
        },
        "config": {"allow_accept": True, "allow_edit": False, "allow_ignore": True, "allow_respond": False},
        "description": (
            f"**{pkg.title}** at **{pkg.company}** is missing ({pkg.status.value}): {pkg.error or 'no reason given'}. "
            "Accept to build it again; ignore to leave it out."
        ),
    }


def is_retry_request(request: dict[str, Any]) -> bool:
    return request["action_request"]["action"] == RETRY_ACTION


def requested_package_id(request: dict[str, Any]) -> str:
    """The package a review request (one HumanInterrupt of the payload) asks about."""
    return request["action_request"]["args"]["package_id"]


def requested_package_ids(requests: Sequence[dict[str, Any]], *, missing: bool = False) -> list[str]:
    """The ready packages a review payload asks about, or (missing=True) the ones it offers to build again."""
    return [requested_package_id(r) for r in requests if is_retry_request(r) == missing]


def _from_inbox_response(package_id: str, response: dict[str, Any]) -> Decision:
    kind = response.get("type") or response.get("action")
    args = response.get("args") or {}
    if isinstance(args, dict) and isinstance(args.get("args"), dict):  # Agent Inbox nests edited args
        args = args["args"]
    action = {"accept": "accept", "edit": "edit", "reject": "reject", "ignore": "reject", "retry": "retry"}.get(
        str(kind)
    )
    if action is None:
        raise ValueError(f"unknown decision {kind!r}")
    return Decision(
        package_id=package_id,
        action=action,
        cv_markdown=args.get("cv_markdown") if isinstance(args, dict) else None,
        cover_letter_markdown=args.get("cover_letter_markdown") if isinstance(args, dict) else None,
    )


def _answered_package(response: dict[str, Any], position: int, asked_ids: Sequence[str]) -> str:
    """The package a HumanResponse answers: the one it names, else the interrupt at its position."""
    request = response.get("args")
    if isinstance(request, dict) and isinstance(request.get("args"), dict) and request["args"].get("package_id"):
        return str(request["args"]["package_id"])
    if position < len(asked_ids):
        return asked_ids[position]
    raise ValueError("a response with no package for it")


def parse_decisions(answer: Any, pending_ids: Sequence[str], missing_ids: Sequence[str] = ()) -> list[Decision]:
    """Valid decisions for the packages asked about (in interrupt order); anything else in the answer is ignored.

    pending_ids are ready packages (accept, edit, reject); missing_ids failed or timed-out ones, for which
    accept (or retry) means build again and reject (or ignore) means leave it out.
    """
    entries: list[Decision] = []
    if isinstance(answer, dict) and "decisions" in answer:
        answer = answer["decisions"]
    if isinstance(answer, dict):
        for package_id, response in answer.items():
            try:
                entries.append(
                    _from_inbox_response(
                        str(package_id), response if isinstance(response, dict) else {"type": response}
                    )
                )
            except (ValueError, ValidationError):
                continue
    elif isinstance(answer, list):
        for position, item in enumerate(answer):
            try:
                if isinstance(item, dict) and "type" in item:
                    entries.append(
                        _from_inbox_response(_answered_package(item, position, [*pending_ids, *missing_ids]), item)
                    )
                else:
                    entries.append(item if isinstance(item, Decision) else Decision.model_validate(item))
            except (ValueError, ValidationError):
                continue
    decided: dict[str, Decision] = {}
    asked = [*pending_ids, *missing_ids]
    for decision in entries:
        if decision.package_id in missing_ids:
            action = "reject" if decision.action == "reject" else "retry"
            decided[decision.package_id] = Decision(package_id=decision.package_id, action=action)
        elif decision.package_id in pending_ids and decision.action != "retry":
            if decision.action == "edit" and not (decision.cv_markdown or decision.cover_letter_markdown):
                decision = decision.model_copy(update={"action": "accept"})
            decided[decision.package_id] = decision
    return sorted(decided.values(), key=lambda d: asked.index(d.package_id))


_markdown = MarkdownIt("commonmark", {"html": False})  # raw HTML in edited text is shown, never run


def apply_decision(pkg: ApplicationPackage, decision: Decision) -> ApplicationPackage:
    if decision.action == "retry":
        return pkg.with_status(PackageStatus.pending, "the person asked to build it again")
    if decision.action == "reject":
        return pkg.with_status(PackageStatus.rejected, decision.note)
    updates: dict[str, Any] = {}
    if decision.action == "edit":
        if decision.cv_markdown and pkg.cv:
            html = _markdown.render(decision.cv_markdown)
            updates["cv"] = pkg.cv.model_copy(update={"markdown": decision.cv_markdown, "html": html, "pdf_file": None})
        if decision.cover_letter_markdown and pkg.cover_letter:
            html = _markdown.render(decision.cover_letter_markdown)
            updates["cover_letter"] = pkg.cover_letter.model_copy(
                update={"markdown": decision.cover_letter_markdown, "html": html, "pdf_file": None}
            )
    return pkg.model_copy(update=updates).with_status(PackageStatus.approved, "edited" if updates else None)


DECIDED_STATUSES = {"accept": PackageStatus.approved, "edit": PackageStatus.approved, "reject": PackageStatus.rejected}


async def review(state: JobLandState, runtime: Runtime[Context]) -> dict:
    records = Records(runtime.store)
    thread_id = state["thread_id"]
    earlier = state.get("decisions", [])
    decided_earlier = {d.package_id for d in earlier}
    packages = {ref.package_id: await records.package(thread_id, ref.package_id) for ref in state.get("packages", [])}
    # A package decided in a pass whose checkpoint a crash lost is asked about again (its answer comes back).
    waiting = [
        p
        for p in packages.values()
        if p.status == PackageStatus.ready
        or (p.status in (PackageStatus.approved, PackageStatus.rejected) and p.id not in decided_earlier)
    ]
    missing = [p for p in packages.values() if p.status in UNFINISHED_STATUSES and not p.was_approved]
    decisions: list[Decision] = []
    while waiting or missing:
        answer = interrupt([review_request(p) for p in waiting] + [retry_request(p) for p in missing])
        new = parse_decisions(answer, [p.id for p in waiting], [p.id for p in missing])
        decisions.extend(new)
        answered = {d.package_id for d in new}
        waiting = [p for p in waiting if p.id not in answered]
        missing = [p for p in missing if p.id not in answered]
        if not waiting or any(d.action == "retry" for d in new):
            break  # missing packages nobody asked to retry stay as they are; a retry is built first
    for decision in decisions:
        pkg = packages[decision.package_id]
        if pkg.status != DECIDED_STATUSES.get(decision.action):  # not stored already, before a crash
            await records.put_package(thread_id, apply_decision(pkg, decision))
    retrying = [d.package_id for d in decisions if d.action == "retry"]
    update: dict[str, Any] = {
        "decisions": [*earlier, *(d for d in decisions if d.action != "retry")],
        "retrying": retrying,
    }
    if retrying:
        update["build_deadline"] = time.time() + runtime.context.batch_budget_s
    return update


def route_after_review(state: JobLandState) -> list[Send] | Literal["record"]:
    """Packages to build again go back to build_package (then review); otherwise approved ones are delivered."""
    if retrying := state.get("retrying"):
        postings = {ref.package_id: ref.posting_id for ref in state.get("packages", [])}
        return [package_build(state, postings[pid]) for pid in retrying]
    approved = [d.package_id for d in state.get("decisions", []) if d.action in ("accept", "edit")]
    if not approved:
        return "record"
    return [Send("deliver", DeliverPackageInput(thread_id=state["thread_id"], package_id=pid)) for pid in approved]
