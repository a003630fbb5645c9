"""Failure semantics through the real graph and Postgres: package states, time budgets, partial batches,
retries from review and dead-letter deliveries (failpoints and the local SMTP world make things fail)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph.types import Command

from jobland.deliveries import mark_delivered, open_dead_letter, retry_delivery
from jobland.domain import failpoints
from jobland.domain.models import (
    PACKAGE_TRANSITIONS,
    ApplicationPackage,
    InvalidTransition,
    JobScreeningOutput,
    PackageStatus,
    SearchRequest,
)
from jobland.domain.repository import Records
from jobland.domain.review import is_retry_request, requested_package_ids
from jobland.graph.builder import open_graph
from jobland.graph.context import Context
from jobland.service import Session
from jobland.settings import Settings
from tests.conftest import EXAMPLE_CV, EXAMPLE_JOBS
from tests.local_world.base import Fault, Reply
from tests.local_world.gmail import FakeGmail
from tests.local_world.smtp import PASSWORD, USERNAME, LocalSmtp

S = PackageStatus


@pytest.fixture
def armed(monkeypatch: pytest.MonkeyPatch) -> Iterator[callable]:
    """Arm JOBLAND_FAILPOINTS in this process, counting passes from zero."""

    def arm(spec: str) -> None:
        monkeypatch.setenv("JOBLAND_FAILPOINTS", spec)
        failpoints.reset()

    yield arm
    failpoints.reset()


def blank_package() -> ApplicationPackage:
    screening = JobScreeningOutput(match_score=80, probability="High")
    return ApplicationPackage(
        id="pkg-1", posting_id="p", profile_id="x", company="Acme", title="Dev", screening=screening
    )


# ----------------------------------------------------------------------------- the transition table


def test_a_package_walks_the_whole_table_with_a_timestamp_per_step() -> None:
    pkg = blank_package()
    path = [S.researching, S.generating, S.checking, S.ready, S.approved, S.sending, S.sent]
    for status in path:
        pkg = pkg.with_status(status)
    assert [c.status for c in pkg.history] == path
    assert all(a.at <= b.at for a, b in zip(pkg.history, pkg.history[1:], strict=False))


def test_an_invalid_transition_raises_a_typed_error_naming_what_is_allowed() -> None:
    ready = blank_package().with_status(S.researching).with_status(S.generating).with_status(S.checking)
    ready = ready.with_status(S.ready)
    with pytest.raises(InvalidTransition, match="is ready; it cannot become sent .from ready: approved, rejected"):
        ready.with_status(S.sent)
    rejected = ready.with_status(S.rejected)
    with pytest.raises(InvalidTransition, match="nothing .it is final"):
        rejected.with_status(S.approved)
    assert PACKAGE_TRANSITIONS[S.sent] == frozenset()


def test_failure_keeps_its_reason_and_a_retry_clears_it() -> None:
    failed = blank_package().with_status(S.researching).with_status(S.failed, "exa: gave up after 4 attempt(s)")
    assert failed.error == "exa: gave up after 4 attempt(s)" and failed.history[-1].note == failed.error
    again = failed.with_status(S.pending, "asked again")
    assert again.error is None and [c.status for c in again.history] == [S.researching, S.failed, S.pending]


# ----------------------------------------------------------------------------- partial batches and budgets


def context_for(home: Path, **overrides) -> Context:
    # A user of its own: the session's database is shared, and the CLI tests list the local user's dead letters.
    return Context(
        user_id="failure-semantics", user_email="alex.morgan@example.com", home=str(home), render_pdf=False, **overrides
    )


async def run_to_review(graph, context: Context, thread_id: str, max_packages: int = 3) -> dict:
    request = SearchRequest(cv_path=str(EXAMPLE_CV), jobs_dir=str(EXAMPLE_JOBS), max_packages=max_packages)
    config = {"configurable": {"thread_id": thread_id}}
    await graph.ainvoke({"request": request}, config, context=context, durability="sync")
    return config


async def pending(graph, config: dict) -> tuple[str, list[dict]]:
    (interrupt,) = (await graph.aget_state(config)).interrupts
    return interrupt.id, interrupt.value


async def test_a_failed_package_leaves_the_batch_going_and_is_built_again_from_review(
    database_url: str, home: Path, armed
) -> None:
    armed("write_cv.start=2:raise")
    context = context_for(home)
    async with open_graph(database_url, home) as graph:
        records = Records(graph.store)
        config = await run_to_review(graph, context, thread := uuid.uuid4().hex[:12])
        interrupt_id, requests = await pending(graph, config)
        ready, (missing,) = (
            requested_package_ids(requests, missing=False),
            requested_package_ids(requests, missing=True),
        )
        assert len(ready) == 2, "review opens with the packages that were built"
        failed = await records.package(thread, missing)
        assert failed.status == "failed"
        assert failed.error == "failed while writing the CV: failpoint write_cv.start raised (JOBLAND_FAILPOINTS)"
        retry_ask = next(r for r in requests if is_retry_request(r))
        assert retry_ask["action_request"]["args"]["error"] == failed.error
        assert "Accept to build it again" in retry_ask["description"]

        # Approve one, build the failed one again; the other ready package is still waiting afterwards.
        answer = [{"package_id": ready[0], "action": "accept"}, {"package_id": missing, "action": "retry"}]
        await graph.ainvoke(Command(resume={interrupt_id: answer}), config, context=context, durability="sync")
        interrupt_id, requests = await pending(graph, config)
        assert sorted(requested_package_ids(requests, missing=False)) == sorted([ready[1], missing])
        assert requested_package_ids(requests, missing=True) == []
        rebuilt = await records.package(thread, missing)
        assert rebuilt.status == "ready" and rebuilt.error is None
        answer = [{"package_id": pid, "action": "accept"} for pid in (ready[1], missing)]
        final = await graph.ainvoke(Command(resume={interrupt_id: answer}), config, context=context, durability="sync")
        packages = {p.id: p for p in await records.packages(thread)}

    assert {p.status for p in packages.values()} == {S.sent}
    assert len(final["deliveries"]) == 3 and len(list((home / "outbox").glob("*.eml"))) == 3
    assert [c.status for c in packages[missing].history] == [
        S.pending, S.researching, S.generating, S.failed,
        S.pending, S.researching, S.generating, S.checking, S.ready, S.approved, S.sending, S.sent,
    ]  # fmt: skip
    untouched = packages[ready[0]]  # the others were not built again
    assert [c.status for c in untouched.history].count(S.researching) == 1


async def test_step_timeouts_and_the_batch_budget_time_packages_out_and_review_opens_on_time(
    database_url: str, home: Path, armed
) -> None:
    # One package hangs in research (only the batch budget stops it; its CV, written beside the research, is
    # done), another in its letter (its step limit does): that package's research is in, so it reached it.
    armed("research_company.start=1:stall,write_cover_letter.start=1:stall")
    context = context_for(home, batch_budget_s=6)
    started = time.monotonic()
    async with open_graph(database_url, home, {"write_cover_letter": 2}) as graph:
        config = await run_to_review(graph, context, thread := uuid.uuid4().hex[:12])
        waited = time.monotonic() - started
        _, requests = await pending(graph, config)
        packages = {p.id: p for p in await Records(graph.store).packages(thread)}
    reasons = sorted(packages[pid].error for pid in requested_package_ids(requests, missing=True))
    assert reasons == [
        "the batch's time budget (6 s) ran out while researching the company",
        "write_cover_letter took longer than its 2 s limit",
    ]
    assert {packages[pid].status for pid in requested_package_ids(requests, missing=True)} == {S.timeout}
    assert len(requested_package_ids(requests, missing=False)) == 1
    assert waited < 120, "review opened once the budget ended, not after an hour"


async def test_an_empty_batch_budget_times_every_package_out(database_url: str, home: Path) -> None:
    async with open_graph(database_url, home) as graph:
        config = await run_to_review(graph, context_for(home, batch_budget_s=1e-6), uuid.uuid4().hex[:12], 2)
        _, requests = await pending(graph, config)
    assert (
        len(requested_package_ids(requests, missing=True)) == 2 and requested_package_ids(requests, missing=False) == []
    )


# ----------------------------------------------------------------------------- dead letters


def smtp_context(home: Path, smtp: LocalSmtp) -> Context:
    return context_for(
        home,
        mailer="smtp",
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        smtp_username=USERNAME,
        smtp_password=PASSWORD,
        smtp_ca_file=str(smtp.ca_file),
        service_limits={"smtp": {"max_attempts": 2, "base_delay": 0.05}},
    )


async def approve_all(graph, context: Context, config: dict) -> dict:
    interrupt_id, requests = await pending(graph, config)
    answer = [{"package_id": pid, "action": "accept"} for pid in requested_package_ids(requests, missing=False)]
    return await graph.ainvoke(Command(resume={interrupt_id: answer}), config, context=context, durability="sync")


async def test_an_unknown_outcome_becomes_a_dead_letter_that_only_the_person_resends(
    database_url: str, home: Path, smtp_server: LocalSmtp
) -> None:
    smtp_server.handler.drop_after_data = 1  # the first message is accepted, then the line drops
    context = smtp_context(home, smtp_server)
    async with open_graph(database_url, home) as graph:
        records = Records(graph.store)
        config = await run_to_review(graph, context, thread := uuid.uuid4().hex[:12], max_packages=2)
        final = await approve_all(graph, context, config)
        assert len(final["deliveries"]) == 1 and len(smtp_server.handler.deliveries) == 2
        (letter,) = await records.dead_letters(thread_id=thread)
        assert letter.kind == "unknown_outcome" and "outcome is unknown" in letter.reason
        assert (await records.package(thread, letter.package_id)).status == "failed"

        # A resume, or the graph passing the package again, sends nothing by itself.
        await graph.ainvoke(None, config, context=context, durability="sync")
        assert len(smtp_server.handler.deliveries) == 2

        # The person says it did arrive: marked sent, never sent, and logged as sent.
        session = Session(Settings(home=home, email="alex.morgan@example.com"), graph)
        opened = await open_dead_letter(session, context.user_id, letter.package_id[:10])
        await graph.ainvoke(await mark_delivered(session, opened, context.user_email), config, context=context)
        package = await records.package(thread, letter.package_id)
        entry = await records.application(letter.package_id)
        resolved = await records.dead_letter(letter.package_id)
    assert package.status == "sent" and package.history[-1].note == "marked as sent by the person"
    assert entry.outcome == "sent" and resolved.resolution == "marked_sent"
    assert len(smtp_server.handler.deliveries) == 2


async def test_a_dead_letter_retried_by_the_person_is_sent_once(
    database_url: str, home: Path, smtp_server: LocalSmtp
) -> None:
    context = smtp_context(home, smtp_server)
    async with open_graph(database_url, home) as graph:
        records = Records(graph.store)
        config = await run_to_review(graph, context, thread := uuid.uuid4().hex[:12], max_packages=1)
        smtp_server.handler.busy_next = 2  # both attempts hear "451 try again later": the budget runs out
        await approve_all(graph, context, config)
        (letter,) = await records.dead_letters(thread_id=thread)
        assert letter.kind == "exhausted" and "gave up after 2 attempt(s)" in letter.reason
        assert smtp_server.handler.deliveries == []

        final = await graph.ainvoke(retry_delivery(letter), config, context=context, durability="sync")
        await graph.ainvoke(retry_delivery(letter), config, context=context, durability="sync")  # a double click
        package = await records.package(thread, letter.package_id)
        resolved = await records.dead_letter(letter.package_id)
    assert len(smtp_server.handler.deliveries) == 1
    assert package.status == "sent" and resolved.resolution == "retried"
    assert [c.status for c in package.history][-4:] == [S.sending, S.failed, S.sending, S.sent]
    assert final["deliveries"][-1].package_id == letter.package_id


async def test_a_send_interrupted_before_its_outcome_was_stored_is_never_blindly_resent(
    database_url: str, home: Path, smtp_server: LocalSmtp, armed
) -> None:
    context = smtp_context(home, smtp_server)
    async with open_graph(database_url, home) as graph:
        records = Records(graph.store)
        config = await run_to_review(graph, context, thread := uuid.uuid4().hex[:12], max_packages=1)
        armed("deliver.before_send=1:raise")  # the process "stops" with the package marked sending
        with pytest.raises(failpoints.FailpointError):
            await approve_all(graph, context, config)
        (package,) = await records.packages(thread)
        assert package.status == "sending"
        await graph.ainvoke(None, config, context=context, durability="sync")  # resume
        (package,) = await records.packages(thread)
        (letter,) = await records.dead_letters(thread_id=thread)
    assert smtp_server.handler.deliveries == [], "SMTP cannot tell whether it went: the person decides"
    assert package.status == "failed" and letter.kind == "unknown_outcome"
    assert "cannot tell whether the message went" in letter.reason


def gmail_context(home: Path, gmail: FakeGmail, tmp_path: Path, **overrides) -> Context:
    return context_for(
        home,
        mailer="gmail",
        gmail_token_file=str(gmail.write_token_file(tmp_path / "token.json")),
        gmail_api_endpoint=gmail.url,
        **overrides,
    )


async def test_an_unknown_gmail_outcome_is_looked_up_by_message_id_before_anything_else(
    database_url: str, home: Path, gmail_api: FakeGmail, tmp_path: Path
) -> None:
    # Gmail takes the message, then the answer is a 500: the lookup finds it, so it is sent, not a dead letter.
    gmail_api.lose_next_answers.append(Reply(500, {"error": {"code": 500, "message": "Backend Error"}}))
    context = gmail_context(home, gmail_api, tmp_path)
    async with open_graph(database_url, home) as graph:
        records = Records(graph.store)
        config = await run_to_review(graph, context, thread := uuid.uuid4().hex[:12], max_packages=1)
        final = await approve_all(graph, context, config)
        (package,) = await records.packages(thread)
        letters = await records.dead_letters(thread_id=thread)
    assert letters == [] and package.status == "sent" and len(gmail_api.sent) == 1
    assert final["deliveries"][0].location == f"gmail:{gmail_api.sent[0][0]}"


async def test_a_gmail_send_past_its_time_limit_times_out_into_a_dead_letter_and_a_retry_sends_once(
    database_url: str, home: Path, gmail_api: FakeGmail, tmp_path: Path
) -> None:
    context = gmail_context(home, gmail_api, tmp_path, send_timeout_s=1.5)
    async with open_graph(database_url, home) as graph:
        records = Records(graph.store)
        config = await run_to_review(graph, context, thread := uuid.uuid4().hex[:12], max_packages=1)
        gmail_api.fail_next(Fault(status=200, stall=4, path="/gmail/v1/users/me/messages/send"))
        await approve_all(graph, context, config)
        (package,) = await records.packages(thread)
        (letter,) = await records.dead_letters(thread_id=thread)
        assert package.status == "timeout" and letter.kind == "unknown_outcome"
        assert letter.reason == "no answer within 1.5 s; it may have gone"
        searches = [r for r in gmail_api.requests if r.path.endswith("/messages")]
        assert len(searches) == 2, "looked for it before sending, and again once the send timed out"

        await graph.ainvoke(retry_delivery(letter), config, context=context, durability="sync")
        (package,) = await records.packages(thread)
    assert package.status == "sent" and len(gmail_api.sent) == 1
