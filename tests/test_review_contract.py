"""The review contract (domain/review.py): every answer shape the review accepts, read in one place."""

from __future__ import annotations

import pytest

from jobland.domain.models import ApplicationPackage, Decision, JobScreeningOutput, PackageStatus
from jobland.domain.review import (
    UnreadableAnswer,
    can_apply,
    misfits,
    parse_answer,
    retry_request,
    review_request,
)


def package(pid: str, status: PackageStatus = PackageStatus.ready) -> ApplicationPackage:
    screening = JobScreeningOutput(match_score=80, probability="High")
    return ApplicationPackage(
        id=pid, posting_id="p", profile_id="x", company="Acme", title="Dev", screening=screening, status=status
    )


READY, OTHER, MISSING = package("pkg-a"), package("pkg-b"), package("pkg-c", PackageStatus.failed)
REQUESTS = [review_request(READY), review_request(OTHER), retry_request(MISSING)]


def actions(answer: object) -> tuple[dict[str, str], bool]:
    decisions, done = parse_answer(answer, REQUESTS)
    return {d.package_id: d.action for d in decisions}, done


def test_jobland_decisions_with_and_without_done() -> None:
    assert actions([{"package_id": "pkg-a", "action": "accept"}]) == ({"pkg-a": "accept"}, False)
    native = {"decisions": [Decision(package_id="pkg-b", action="reject")], "done": True}
    assert actions(native) == ({"pkg-b": "reject"}, True)
    assert actions({"decisions": [], "done": True}) == ({}, True)


def test_agent_inbox_responses_answer_in_interrupt_order() -> None:
    responses = [
        {"type": "accept", "args": REQUESTS[0]["action_request"]},
        {"type": "ignore", "args": None},
        {"type": "accept", "args": REQUESTS[2]["action_request"]},  # accepting a retry request builds it again
    ]
    assert actions(responses) == ({"pkg-a": "accept", "pkg-b": "reject", "pkg-c": "retry"}, False)


def test_an_agent_inbox_edit_returning_every_field_changes_only_what_was_edited() -> None:
    shown = REQUESTS[0]["action_request"]
    unchanged = {"type": "edit", "args": {"action": shown["action"], "args": dict(shown["args"])}}
    assert actions([unchanged]) == ({"pkg-a": "accept"}, False), "an edit that changes nothing is an accept"
    edited_args = {**shown["args"], "cv_markdown": "# Jane\n\nEdited."}
    (decision,), _ = parse_answer(
        [{"type": "edit", "args": {"action": shown["action"], "args": edited_args}}], REQUESTS
    )
    assert decision.action == "edit" and decision.cv_markdown == "# Jane\n\nEdited."
    assert decision.cover_letter_markdown is None, "the letter sent back unchanged is not an edit of it"


def test_langchain_hitl_decisions_approve_edit_reject() -> None:
    hitl = {
        "decisions": [
            {"type": "approve"},
            {"type": "edit", "edited_action": {"name": "send_application", "args": {"cover_letter_markdown": "New"}}},
            {"type": "reject", "message": "not now"},
        ]
    }
    decisions, done = parse_answer(hitl, REQUESTS)
    assert [(d.package_id, d.action) for d in decisions] == [
        ("pkg-a", "accept"),
        ("pkg-b", "edit"),
        ("pkg-c", "reject"),
    ]
    assert decisions[1].cover_letter_markdown == "New" and decisions[2].note == "not now" and not done


@pytest.mark.parametrize("answer", ["yes", 42, [{"type": "maybe"}], [["pkg-a", "accept"]], [{"package_id": "pkg-a"}]])
def test_an_unknown_shape_is_refused_naming_the_accepted_ones(answer: object) -> None:
    with pytest.raises(UnreadableAnswer) as refused:
        parse_answer(answer, REQUESTS)
    assert str(refused.value), "the faces add the accepted shapes to this reason"


def test_misfits_and_final_decisions() -> None:
    wrong = [Decision(package_id="pkg-a", action="retry"), Decision(package_id="pkg-c", action="accept")]
    assert set(misfits(wrong, REQUESTS)) == {"pkg-a", "pkg-c"}
    assert misfits([Decision(package_id="pkg-c", action="reject")], REQUESTS) == {}
    approved = READY.with_status(PackageStatus.approved)
    assert can_apply(approved, Decision(package_id="pkg-a", action="reject")), "approved -> rejected before a send"
    rejected = READY.with_status(PackageStatus.rejected)
    assert not can_apply(rejected, Decision(package_id="pkg-a", action="accept")), "a rejection is final"
    sending = approved.with_status(PackageStatus.sending)
    assert not can_apply(sending, Decision(package_id="pkg-a", action="reject")), "a send has begun"
