"""Gmail API and SMTP mailers against the local world: real HTTP, real SMTP with STARTTLS."""

# ruff: noqa: F811 - the local world's fixtures are imported by name and used as parameters

from __future__ import annotations

import asyncio
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest
from langgraph.types import Command

from jobland.agents.deliver import message_id_for
from jobland.domain.models import Decision, SearchRequest
from jobland.domain.repository import Records
from jobland.graph.builder import open_graph
from jobland.graph.context import Context
from jobland.tools.gmail import GmailMailer
from jobland.tools.mailers import make_mailer
from jobland.tools.ratelimit import ServiceError, ServiceLimiter
from jobland.tools.smtp import SmtpMailer
from tests.conftest import EXAMPLE_CV, EXAMPLE_JOBS
from tests.local_world.base import Fault, Reply
from tests.local_world.gmail import FakeGmail
from tests.local_world.smtp import PASSWORD, USERNAME, LocalSmtp

USER = "alex.morgan@example.com"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40  # binary, so a lossy encoding would show


def package_message(package_id: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = "Application package: Backend Engineer at Acme"
    message["From"] = f"JobLand <{USER}>"
    message["To"] = f"Alex Morgan <{USER}>"
    message["Message-ID"] = message_id_for(package_id)
    message.set_content("Your package is attached.")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="cv-acme.pdf")
    message.add_attachment(b"# CV\n", maintype="text", subtype="markdown", filename="cv-acme.md")
    return message


def gmail_mailer(service: FakeGmail, tmp_path: Path) -> GmailMailer:
    token = service.write_token_file(tmp_path / "gmail-token.json")
    return GmailMailer(token, api_endpoint=service.url, limiter=ServiceLimiter("gmail"), timeout=2)


def sends(service: FakeGmail) -> int:
    return sum(1 for r in service.requests if r.path.endswith("/messages/send"))


def attachments(message: EmailMessage) -> dict[str, bytes]:
    return {part.get_filename(): part.get_payload(decode=True) for part in message.iter_attachments()}


async def test_gmail_sends_the_raw_message_with_its_attachments(gmail_api: FakeGmail, tmp_path: Path) -> None:
    mailer = gmail_mailer(gmail_api, tmp_path)
    location = await asyncio.to_thread(mailer.send, package_message("pkg-1"), key="pkg-1")
    ((gmail_id, _),) = gmail_api.sent
    assert location == f"gmail:{gmail_id}"
    (received,) = gmail_api.messages
    assert received["Message-ID"] == message_id_for("pkg-1") == "<pkg-1@jobland.local>"
    assert received["To"].addresses[0].addr_spec == USER
    assert attachments(received) == {"cv-acme.pdf": PDF, "cv-acme.md": b"# CV\n"}
    send = next(r for r in gmail_api.requests if r.path.endswith("/messages/send"))
    assert send.headers["authorization"].startswith("Bearer ")


async def test_gmail_a_second_send_finds_the_message_id_and_sends_nothing(gmail_api: FakeGmail, tmp_path: Path) -> None:
    mailer = gmail_mailer(gmail_api, tmp_path)
    first = await asyncio.to_thread(mailer.send, package_message("pkg-2"), key="pkg-2")
    again = await asyncio.to_thread(gmail_mailer(gmail_api, tmp_path).send, package_message("pkg-2"), key="pkg-2")
    assert again == first and sends(gmail_api) == 1
    searches = [r.query["q"][0] for r in gmail_api.requests if r.path.endswith("/messages")]
    assert searches == ["rfc822msgid:pkg-2@jobland.local"] * 2


async def test_gmail_500_after_the_send_is_unknown_and_the_retry_finds_it(gmail_api: FakeGmail, tmp_path: Path) -> None:
    gmail_api.lose_next_answers.append(Reply(500, {"error": {"code": 500, "message": "Backend Error"}}))
    mailer = gmail_mailer(gmail_api, tmp_path)
    with pytest.raises(ServiceError, match="outcome is unknown"):
        await asyncio.to_thread(mailer.send, package_message("pkg-3"), key="pkg-3")
    assert sends(gmail_api) == 1, "an accepted-maybe send is never retried blindly"
    location = await asyncio.to_thread(mailer.send, package_message("pkg-3"), key="pkg-3")
    assert sends(gmail_api) == 1 and len(gmail_api.sent) == 1
    assert location == f"gmail:{gmail_api.sent[0][0]}"


async def test_gmail_lost_answer_is_unknown_not_resent(gmail_api: FakeGmail, tmp_path: Path) -> None:
    gmail_api.fail_next(Fault(status=200, stall=3, path="/gmail/v1/users/me/messages/send"))
    with pytest.raises(ServiceError, match="outcome is unknown"):
        await asyncio.to_thread(gmail_mailer(gmail_api, tmp_path).send, package_message("pkg-4"), key="pkg-4")
    assert sends(gmail_api) == 1


async def test_gmail_429_waits_retry_after_then_sends_once(gmail_api: FakeGmail, tmp_path: Path) -> None:
    gmail_api.fail_next(
        Fault(
            status=429,
            headers={"retry-after": "1"},
            body={"error": {"code": 429}},
            path="/gmail/v1/users/me/messages/send",
        )
    )
    started = time.monotonic()
    location = await asyncio.to_thread(gmail_mailer(gmail_api, tmp_path).send, package_message("pkg-5"), key="pkg-5")
    assert time.monotonic() - started >= 1.0
    assert sends(gmail_api) == 2 and len(gmail_api.sent) == 1 and location == f"gmail:{gmail_api.sent[0][0]}"


def smtp_mailer(server: LocalSmtp, **kwargs) -> SmtpMailer:
    return SmtpMailer(
        server.host,
        server.port,
        username=USERNAME,
        password=PASSWORD,
        starttls=True,
        ca_file=str(server.ca_file),
        limiter=ServiceLimiter("smtp", base_delay=0.05),
        timeout=5,
        **kwargs,
    )


async def test_smtp_starttls_login_and_only_the_user_as_recipient(smtp_server: LocalSmtp) -> None:
    message = package_message("pkg-6")
    message["Cc"] = "someone.else@example.com"  # not an envelope recipient: only To is
    location = await asyncio.to_thread(smtp_mailer(smtp_server).send, message, key="pkg-6")
    assert location == "smtp:<pkg-6@jobland.local>"
    (delivery,) = smtp_server.handler.deliveries
    assert delivery.recipients == [USER]
    assert delivery.message["Message-ID"] == "<pkg-6@jobland.local>"
    assert attachments(delivery.message) == {"cv-acme.pdf": PDF, "cv-acme.md": b"# CV\n"}


async def test_smtp_drop_after_data_is_unknown_and_not_retried(smtp_server: LocalSmtp) -> None:
    smtp_server.handler.drop_after_data = 1
    with pytest.raises(ServiceError, match="outcome is unknown"):
        await asyncio.to_thread(smtp_mailer(smtp_server).send, package_message("pkg-8"), key="pkg-8")
    assert len(smtp_server.handler.deliveries) == 1


async def test_smtp_server_down_is_retried_then_fails_clearly(tmp_path: Path) -> None:
    from tests.conftest import free_port

    port = free_port()
    mailer = SmtpMailer(
        "127.0.0.1", port, username=None, password=None, limiter=ServiceLimiter("smtp", max_attempts=2, base_delay=0.05)
    )
    with pytest.raises(ServiceError, match=f"gave up after 2 attempt.*127.0.0.1:{port}"):
        await asyncio.to_thread(mailer.send, package_message("pkg-9"), key="pkg-9")


def test_missing_mailer_settings_name_the_variable() -> None:
    with pytest.raises(ValueError, match="JOBLAND_GMAIL_TOKEN_FILE"):
        make_mailer(Context(mailer="gmail"))
    with pytest.raises(ValueError, match="JOBLAND_SMTP_HOST"):
        make_mailer(Context(mailer="smtp"))


async def test_graph_delivers_one_approved_package_through_gmail(
    database_url: str, home: Path, gmail_api: FakeGmail, tmp_path: Path
) -> None:
    context = Context(
        user_id="mailer-tests",  # a user of its own: the CLI tests list the local user's dead letters
        user_email=USER,
        user_name="Alex Morgan",
        home=str(home),
        render_pdf=False,
        mailer="gmail",
        gmail_token_file=str(gmail_api.write_token_file(tmp_path / "token.json")),
        gmail_api_endpoint=gmail_api.url,
    )
    config = {"configurable": {"thread_id": uuid.uuid4().hex}}
    request = SearchRequest(cv_path=str(EXAMPLE_CV), jobs_dir=str(EXAMPLE_JOBS), max_packages=2)
    async with open_graph(database_url, home) as graph:
        await graph.ainvoke({"request": request}, config, context=context, durability="sync")
        pending = (await graph.aget_state(config)).interrupts[0]
        ids = [r["action_request"]["args"]["package_id"] for r in pending.value]
        decisions = [Decision(package_id=ids[0], action="accept")] + [
            Decision(package_id=i, action="reject") for i in ids[1:]
        ]
        resume = Command(resume={pending.id: [d.model_dump() for d in decisions]})
        await graph.ainvoke(resume, config, context=context, durability="sync")
    assert sends(gmail_api) == 1
    (received,) = gmail_api.messages
    assert received["To"].addresses[0].addr_spec == USER
    assert received["Message-ID"] == message_id_for(ids[0]) and received["X-JobLand-Package"] == ids[0]
    assert not (home / "outbox").exists(), "the outbox is not used when Gmail is configured"


async def test_graph_marks_a_package_failed_when_gmail_attempts_run_out(
    database_url: str, home: Path, gmail_api: FakeGmail, tmp_path: Path
) -> None:
    context = Context(
        user_id="mailer-tests",
        user_email=USER,
        home=str(home),
        render_pdf=False,
        mailer="gmail",
        gmail_token_file=str(gmail_api.write_token_file(tmp_path / "token.json")),
        gmail_api_endpoint=gmail_api.url,
        service_limits={"gmail": {"max_attempts": 2, "max_concurrency": 1}},
    )
    config = {"configurable": {"thread_id": uuid.uuid4().hex}}
    request = SearchRequest(cv_path=str(EXAMPLE_CV), jobs_dir=str(EXAMPLE_JOBS), max_packages=1)
    async with open_graph(database_url, home) as graph:
        await graph.ainvoke({"request": request}, config, context=context, durability="sync")
        pending = (await graph.aget_state(config)).interrupts[0]
        (package_id,) = [r["action_request"]["args"]["package_id"] for r in pending.value]
        # The service is unreachable for the message search itself: nothing was sent, the budget runs out.
        gmail_api.fail_next(*[Fault(status=503, path="/gmail/v1/users/me/messages") for _ in range(4)])
        resume = Command(resume={pending.id: [Decision(package_id=package_id, action="accept").model_dump()]})
        final = await graph.ainvoke(resume, config, context=context, durability="sync")
        package = await Records(graph.store).package(final["thread_id"], package_id)
        log = {e.package_id: e for e in await Records(graph.store).applications()}
    assert sends(gmail_api) == 0 and gmail_api.messages == []
    assert package.status == "failed" and "gave up after 2 attempt" in package.error
    assert final["deliveries"] == [] and log[package_id].outcome == "failed"
