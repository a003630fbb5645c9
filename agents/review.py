"""review: ONE interrupt with every ready package; the person decides per package.

The payload is a list of Agent Inbox HumanInterrupt dicts (action_request, config, description),
one per package. The resume value is a list of Decision dicts, a mapping from package id to a
HumanResponse-like dict ({"type": "accept" | "edit" | "reject" | "ignore", "args": {...}}), or what
Agent Inbox sends: a list of HumanResponses answering the interrupts in order (an accepted or edited
one also names its package in args.args.package_id).
Packages left without a valid decision are asked about again, so a thread never gets stuck.
Nothing here has a side effect before interrupt(): the node re-runs from its top on resume.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import Send, interrupt
from markdown_it import MarkdownIt
from pydantic import ValidationError

from domain.models import ApplicationPackage, Decision, PackageStatus
from domain.repository import Records
from graph.context import Context
from graph.state import DeliverPackageInput, JobLandState

REVIEW_ACTION = "send_application"


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
                "package_id": pkg.id,
                "company": pkg.company,
                "title": pkg.title,
                "match_score": pkg.screening.match_score,
                "probability": pkg.screening.probability,
                "flagged_claims": pkg.flagged_claims,
                "cv_markdown": pkg.cv.markdown if pkg.cv else "",
                "cover_letter_markdown": pkg.cover_letter.markdown if pkg.cover_letter else "",
            },
        },
        "config": {"allow_accept": True, "allow_edit": True, "allow_ignore": True, "allow_respond": False},
        "description": description,
    }


def requested_package_id(request: dict[str, Any]) -> str:
    """The package a review request (one HumanInterrupt of the payload) asks about."""
    return request["action_request"]["args"]["package_id"]


def _from_inbox_response(package_id: str, response: dict[str, Any]) -> Decision:
    kind = response.get("type") or response.get("action")
    args = response.get("args") or {}
    if isinstance(args, dict) and isinstance(args.get("args"), dict):  # Agent Inbox nests edited args
        args = args["args"]
    action = {"accept": "accept", "edit": "edit", "reject": "reject", "ignore": "reject"}.get(str(kind))
    if action is None:
        raise ValueError(f"unknown decision {kind!r}")
    return Decision(
        package_id=package_id,
        action=action,
        cv_markdown=args.get("cv_markdown") if isinstance(args, dict) else None,
        cover_letter_markdown=args.get("cover_letter_markdown") if isinstance(args, dict) else None,
    )


def _answered_package(response: dict[str, Any], position: int, pending_ids: Sequence[str]) -> str:
    """The package a HumanResponse answers: the one it names, else the interrupt at its position."""
    request = response.get("args")
    if isinstance(request, dict) and isinstance(request.get("args"), dict) and request["args"].get("package_id"):
        return str(request["args"]["package_id"])
    if position < len(pending_ids):
        return pending_ids[position]
    raise ValueError("a response with no package for it")


def parse_decisions(answer: Any, pending_ids: Sequence[str]) -> list[Decision]:
    """Valid decisions for pending packages (in interrupt order); anything else in the answer is ignored."""
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
                    entries.append(_from_inbox_response(_answered_package(item, position, pending_ids), item))
                else:
                    entries.append(item if isinstance(item, Decision) else Decision.model_validate(item))
            except (ValueError, ValidationError):
                continue
    decided: dict[str, Decision] = {}
    for decision in entries:
        if decision.package_id in pending_ids:
            if decision.action == "edit" and not (decision.cv_markdown or decision.cover_letter_markdown):
                decision = decision.model_copy(update={"action": "accept"})
            decided[decision.package_id] = decision
    return list(decided.values())


_markdown = MarkdownIt("commonmark", {"html": False})  # raw HTML in edited text is shown, never run


def apply_decision(pkg: ApplicationPackage, decision: Decision) -> ApplicationPackage:
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


async def review(state: JobLandState, runtime: Runtime[Context]) -> dict:
    records = Records(runtime.store)
    thread_id = state["thread_id"]
    packages = {ref.package_id: await records.package(thread_id, ref.package_id) for ref in state.get("packages", [])}
    waiting = [p for p in packages.values() if p.status == PackageStatus.ready]
    decisions: list[Decision] = []
    while waiting:
        answer = interrupt([review_request(p) for p in waiting])
        new = parse_decisions(answer, [p.id for p in waiting])
        decisions.extend(new)
        decided = {d.package_id for d in new}
        waiting = [p for p in waiting if p.id not in decided]
    for decision in decisions:
        await records.put_package(thread_id, apply_decision(packages[decision.package_id], decision))
    return {"decisions": decisions}


def route_to_delivery(state: JobLandState) -> list[Send] | Literal["record"]:
    """Only packages the person approved are delivered."""
    approved = [d.package_id for d in state.get("decisions", []) if d.action in ("accept", "edit")]
    if not approved:
        return "record"
    return [Send("deliver", DeliverPackageInput(thread_id=state["thread_id"], package_id=pid)) for pid in approved]
