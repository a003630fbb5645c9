"""The review contract: what the review interrupt asks, and every answer shape it accepts, parsed in one place.

The question is a list of Agent Inbox `HumanInterrupt`s, one per package (ready ones to decide, missing
ones to build again). Answers come in three shapes, all read by `parse_answer`:

- JobLand's own: a list of `Decision`s, or `{"decisions": [Decision, ...], "done": bool}`;
- Agent Inbox: a list of `HumanResponse`s in interrupt order (`accept`, `edit`, `ignore`, `response`),
  or a mapping package id -> HumanResponse;
- LangChain's human-in-the-loop middleware: `{"decisions": [{"type": "approve" | "edit" | "reject", ...}]}`
  in the order of the action requests, an edit carrying `edited_action.args`.

`done: true` ends the review with whatever is still undecided left as it is. An edit whose lines the
master CV does not support is sent only with `confirm_unsupported` naming each of those lines by id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, NotRequired

from pydantic import ValidationError
from typing_extensions import TypedDict

from jobland.domain.models import PACKAGE_TRANSITIONS, ApplicationPackage, Decision, PackageStatus, UnsupportedLine

REVIEW_ACTION = "send_application"
RETRY_ACTION = "retry_package"


class ActionRequest(TypedDict):
    action: str
    args: dict[str, Any]


class HumanInterruptConfig(TypedDict):
    allow_ignore: bool
    allow_respond: bool
    allow_edit: bool
    allow_accept: bool


class HumanInterrupt(TypedDict):
    """Agent Inbox's question shape (executive-ai-assistant's `HumanInterrupt`)."""

    action_request: ActionRequest
    config: HumanInterruptConfig
    description: NotRequired[str]


class HumanResponse(TypedDict):
    """Agent Inbox's answer shape; `args` is the (edited) ActionRequest, a text, or None."""

    type: Literal["accept", "ignore", "response", "edit"]
    args: NotRequired[ActionRequest | str | dict[str, Any] | None]


class EditedAction(TypedDict):
    name: str
    args: dict[str, Any]


class HITLDecision(TypedDict):
    """One answer of LangChain's HumanInTheLoopMiddleware."""

    type: Literal["approve", "edit", "reject"]
    edited_action: NotRequired[EditedAction]
    message: NotRequired[str]


ACCEPTED_SHAPES = (
    'a list of decisions [{"package_id", "action": "accept|edit|reject|retry"}], '
    '{"decisions": [...], "done": true|false}, Agent Inbox HumanResponses [{"type": "accept|edit|ignore"}], '
    'or LangChain HITL {"decisions": [{"type": "approve|edit|reject"}]}'
)

# Every answer type, in every shape, as a JobLand action.
_ACTIONS = {
    "accept": "accept",
    "approve": "accept",
    "edit": "edit",
    "reject": "reject",
    "ignore": "reject",
    "retry": "retry",
}


DECIDED_STATUSES = {"accept": PackageStatus.approved, "edit": PackageStatus.approved, "reject": PackageStatus.rejected}


def can_apply(pkg: ApplicationPackage, decision: Decision) -> bool:
    """Whether the package, as stored, can still take this decision (a rejection is final, a send may have begun)."""
    target = DECIDED_STATUSES.get(decision.action, PackageStatus.pending)
    return pkg.status == target or target in PACKAGE_TRANSITIONS[pkg.status]


class UnreadableAnswer(ValueError):
    """An answer in none of the accepted shapes."""


def _package_args(pkg: ApplicationPackage) -> dict[str, Any]:
    return {
        "package_id": pkg.id,
        "company": pkg.company,
        "title": pkg.title,
        "match_score": pkg.screening.match_score,
        "probability": pkg.screening.probability,
    }


def unconfirmed_lines(pkg: ApplicationPackage, decision: Decision) -> list[UnsupportedLine]:
    """The unsupported lines of the package's edit that this decision does not confirm by id: while there are
    any, the package is not sent (it stays waiting, with its flags)."""
    if decision.action not in ("accept", "edit"):
        return []
    return [line for line in pkg.unsupported_lines if line.id not in decision.confirm_unsupported]


def confirmation_needed(lines: Sequence[UnsupportedLine]) -> str:
    """Why a package waits: its edit's unsupported lines, each with the id that confirms it."""
    listed = "".join(f"\n- `{line.id}`: “{line.text}” ({'; '.join(line.problems)})" for line in lines)
    return (
        "Your edit has lines your master CV does not support; it is sent only once you confirm each by id "
        f"(confirm_unsupported):{listed}"
    )


def review_request(pkg: ApplicationPackage) -> HumanInterrupt:
    """One ready package as an Agent Inbox HumanInterrupt."""
    flags = "".join(f"\n- {claim}" for claim in pkg.flagged_claims)
    description = (
        f"**{pkg.title}** at **{pkg.company}**: match {pkg.screening.match_score}/100 "
        f"({pkg.screening.probability}).\n\n"
        + "\n".join(f"- {r}" for r in pkg.screening.reasons)
        + (f"\n\nUnsupported claims flagged by the truth check:{flags}" if flags else "")
        + (f"\n\n{confirmation_needed(pkg.unsupported_lines)}" if pkg.unsupported_lines else "")
    )
    return {
        "action_request": {
            "action": REVIEW_ACTION,
            "args": {
                **_package_args(pkg),
                "flagged_claims": pkg.flagged_claims,
                "version": len(pkg.versions) + 1,
                "unsupported_lines": [line.model_dump(mode="json") for line in pkg.unsupported_lines],
                "confirm_unsupported": [],
                "cv_markdown": pkg.cv.markdown if pkg.cv else "",
                "cover_letter_markdown": pkg.cover_letter.markdown if pkg.cover_letter else "",
            },
        },
        "config": {"allow_accept": True, "allow_edit": True, "allow_ignore": True, "allow_respond": False},
        "description": description,
    }


def retry_request(pkg: ApplicationPackage) -> HumanInterrupt:
    """A package that failed or timed out, as a HumanInterrupt: accept builds it again, ignore leaves it out."""
    return {
        "action_request": {
            "action": RETRY_ACTION,
            "args": {**_package_args(pkg), "status": pkg.status.value, "error": pkg.error or ""},
        },
        "config": {"allow_accept": True, "allow_edit": False, "allow_ignore": True, "allow_respond": False},
        "description": (
            f"**{pkg.title}** at **{pkg.company}** is missing ({pkg.status.value}): {pkg.error or 'no reason given'}. "
            "Accept to build it again; ignore to leave it out."
        ),
    }


def is_retry_request(request: HumanInterrupt | dict[str, Any]) -> bool:
    return request["action_request"]["action"] == RETRY_ACTION


def requested_package_id(request: HumanInterrupt | dict[str, Any]) -> str:
    """The package a review request (one HumanInterrupt of the payload) asks about."""
    return request["action_request"]["args"]["package_id"]


def requested_package_ids(requests: Sequence[HumanInterrupt | dict[str, Any]], *, missing: bool = False) -> list[str]:
    """The ready packages a review payload asks about, or (missing=True) the ones it offers to build again."""
    return [requested_package_id(r) for r in requests if is_retry_request(r) == missing]


def _edited_args(response: dict[str, Any]) -> dict[str, Any]:
    """The edited fields of a response: Agent Inbox nests them in args.args, HITL in edited_action.args."""
    for holder in (response.get("args"), response.get("edited_action")):
        if isinstance(holder, dict):
            inner = holder.get("args")
            return inner if isinstance(inner, dict) else holder
    return {}


def _from_response(package_id: str, response: dict[str, Any], asked: dict[str, HumanInterrupt]) -> Decision:
    kind = response.get("type") or response.get("action")
    action = _ACTIONS.get(str(kind))
    if action is None:
        raise UnreadableAnswer(f"unknown decision type {kind!r}")
    if action == "accept" and package_id in asked and is_retry_request(asked[package_id]):
        action = "retry"  # accepting a retry request means: build it again
    args = _edited_args(response) if action == "edit" else {}
    if action == "edit" and package_id in asked:
        # Agent Inbox and HITL send every field back: only a field that differs from what was asked is an edit.
        shown = asked[package_id]["action_request"]["args"]
        args = {k: v for k, v in args.items() if v != shown.get(k)}
    return Decision(
        package_id=package_id,
        action=action,
        cv_markdown=args.get("cv_markdown") or None,
        cover_letter_markdown=args.get("cover_letter_markdown") or None,
        confirm_unsupported=[str(i) for i in args.get("confirm_unsupported") or []],
        note=response.get("message") if isinstance(response.get("message"), str) else None,
    )


def _answered_package(response: dict[str, Any], position: int, asked_ids: Sequence[str]) -> str:
    """The package a response answers: the one it names, else the request at its position."""
    for holder in (response.get("args"), response.get("edited_action")):
        if isinstance(holder, dict) and isinstance(holder.get("args"), dict) and holder["args"].get("package_id"):
            return str(holder["args"]["package_id"])
    if response.get("package_id"):
        return str(response["package_id"])
    if position < len(asked_ids):
        return asked_ids[position]
    raise UnreadableAnswer("a response with no package for it")


def _entries(answer: Any, asked: dict[str, HumanInterrupt]) -> list[Decision]:
    asked_ids = list(asked)
    if isinstance(answer, dict):
        return [
            _from_response(str(pid), response if isinstance(response, dict) else {"type": response}, asked)
            for pid, response in answer.items()
        ]
    if not isinstance(answer, list):
        raise UnreadableAnswer(f"an answer must be a list or an object, not {type(answer).__name__}")
    entries = []
    for position, item in enumerate(answer):
        if isinstance(item, Decision):
            entries.append(item)
        elif isinstance(item, dict) and "action" in item and "package_id" in item:
            entries.append(Decision.model_validate(item))
        elif isinstance(item, dict) and "type" in item:
            entries.append(_from_response(_answered_package(item, position, asked_ids), item, asked))
        else:
            raise UnreadableAnswer(f"answer {position + 1} is in none of the accepted shapes")
    return entries


def parse_answer(answer: Any, requests: Sequence[HumanInterrupt]) -> tuple[list[Decision], bool]:
    """(the decisions of an answer, one per package, last one wins; whether the person is done reviewing).

    An edit that changes nothing is an accept. Raises UnreadableAnswer for a shape none of the three is.
    Whether each decision fits what was asked is `misfits`' question.
    """
    done = False
    if isinstance(answer, dict) and "decisions" in answer:
        done = bool(answer.get("done", False))
        answer = answer["decisions"]
    asked = {requested_package_id(r): r for r in requests}
    try:
        entries = _entries(answer, asked)
    except ValidationError as exc:
        raise UnreadableAnswer(f"{exc.errors()[0]['msg']}; accepted shapes: {ACCEPTED_SHAPES}") from exc
    decided: dict[str, Decision] = {}
    for decision in entries:
        if decision.action == "edit" and not (decision.cv_markdown or decision.cover_letter_markdown):
            decision = decision.model_copy(update={"action": "accept"})
        decided[decision.package_id] = decision
    order = {pid: n for n, pid in enumerate(asked)}
    return sorted(decided.values(), key=lambda d: order.get(d.package_id, len(order))), done


def misfits(decisions: Sequence[Decision], requests: Sequence[HumanInterrupt]) -> dict[str, str]:
    """Decisions that do not fit the question, with why: package id -> reason."""
    asked = {requested_package_id(r): r for r in requests}
    why = {}
    for d in decisions:
        if d.package_id not in asked:
            why[d.package_id] = "is not waiting for a decision"
        elif d.action != "reject" and (d.action == "retry") != is_retry_request(asked[d.package_id]):
            why[d.package_id] = (
                "'retry' is for packages that could not be built (status.missing), accept/edit for ready ones; "
                "reject works for both"
            )
    return why
