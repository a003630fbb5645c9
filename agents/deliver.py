"""deliver: email one approved package to the person's own address, at most once.

The package's interview prep sheet is written here, so only approved packages get one.

Runs after review, once per approved package (Send). The recipient comes from the run context,
never from a posting, a page or a model. The delivery ledger in the Store and the mailer's own
per-key idempotency together make a resume, a retry or a second worker send nothing twice.

A send whose attempts ran out, or whose outcome is unknown (the connection dropped after the data
went out, the send outlived its time limit, or the process stopped while sending), becomes a dead
letter: the package is failed or timeout, nothing resends it by itself, and the person chooses retry
or mark-as-sent. Before a dead letter is made of an unknown outcome, the mailer is asked whether the
message went (Gmail searches for its Message-ID).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Literal

from langgraph.runtime import Runtime

from agents.interview_prep import with_interview_prep
from agents.package_files import render_pdf_file
from domain.failpoints import failpoint
from domain.models import (
    UNFINISHED_STATUSES,
    ApplicationPackage,
    DeadLetter,
    DeliveryReceipt,
    PackageStatus,
    utcnow,
)
from domain.repository import RecordNotFound, Records
from domain.text import slug
from graph.context import Context
from graph.state import DeliverPackageInput
from templates import render
from tools.outbox import Mailer, OutboxMailer
from tools.ratelimit import ServiceError, ServiceLimiter, configured_limiter
from tools.smtp import SmtpMailer

_LINE_BREAKS = re.compile(r"[\r\n\t\x00-\x1f\x7f]+")


def header_text(value: str, limit: int = 150) -> str:
    """Text safe for an email header: no CR/LF or control characters (no header injection)."""
    return _LINE_BREAKS.sub(" ", value).strip()[:limit]


def message_id_for(package_id: str) -> str:
    """Deterministic, so a sent package can be recognised later."""
    return f"<{slug(package_id, max_len=80)}@jobland.local>"


def attachments_for(pkg: ApplicationPackage, home: Path) -> list[tuple[str, bytes, str, str]]:
    """(file name, data, maintype, subtype) for every document of the package."""
    company = slug(pkg.company)
    files: list[tuple[str, bytes, str, str]] = []
    for document, name in ((pkg.cv, "cv"), (pkg.cover_letter, "cover-letter")):
        if document is None:
            continue
        if document.pdf_file:
            files.append((f"{name}-{company}.pdf", (home / document.pdf_file).read_bytes(), "application", "pdf"))
        files.append((f"{name}-{company}.md", document.markdown.encode(), "text", "markdown"))
    if pkg.dossier:
        files.append(
            (f"dossier-{company}.md", render("dossier.md.j2", dossier=pkg.dossier).encode(), "text", "markdown")
        )
    if pkg.interview_prep:
        prep = render("interview_prep.md.j2", prep=pkg.interview_prep).encode()
        files.append((f"interview-prep-{company}.md", prep, "text", "markdown"))
    return files


def compose_message(pkg: ApplicationPackage, recipient: Address, home: Path) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = header_text(f"Application package: {pkg.title} at {pkg.company}")
    message["From"] = Address(display_name="JobLand", addr_spec=recipient.addr_spec)
    message["To"] = recipient
    message["Message-ID"] = message_id_for(pkg.id)
    message["Date"] = format_datetime(utcnow())
    message["X-JobLand-Package"] = pkg.id
    files = attachments_for(pkg, home)
    message.set_content(
        render("email.txt.j2", package=pkg, user_name=recipient.display_name, attachments=[f[0] for f in files])
    )
    for filename, data, maintype, subtype in files:
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message


# Published limits: Gmail allows 250 quota units per user per second and a send costs 100.
MAILER_LIMITS = {"gmail": {"max_concurrency": 2, "requests_per_second": 2.0}, "smtp": {"max_concurrency": 2}}


def _limiter(context: Context, service: str) -> ServiceLimiter:
    return configured_limiter(service, MAILER_LIMITS[service], context.service_limits.get(service))


def make_mailer(context: Context) -> Mailer:
    """The configured mailer; a missing setting is named, with the variable that sets it."""
    if context.mailer == "gmail":
        if not context.gmail_token_file:
            raise ValueError(
                "mailer is gmail but JOBLAND_GMAIL_TOKEN_FILE is not set: point it at your OAuth token file"
            )
        from tools.gmail import GmailMailer  # the Google client takes 0.3 s to import: only when used

        return GmailMailer(
            context.gmail_token_file, api_endpoint=context.gmail_api_endpoint, limiter=_limiter(context, "gmail")
        )
    if context.mailer == "smtp":
        if not context.smtp_host:
            raise ValueError("mailer is smtp but JOBLAND_SMTP_HOST is not set: name your SMTP server")
        return SmtpMailer(
            context.smtp_host,
            context.smtp_port,
            username=context.smtp_username,
            password=context.smtp_password,
            starttls=context.smtp_starttls,
            ca_file=context.smtp_ca_file,
            limiter=_limiter(context, "smtp"),
        )
    if context.mailer != "outbox":
        raise ValueError(f"unknown mailer {context.mailer!r}: set JOBLAND_MAILER to outbox, gmail or smtp")
    return OutboxMailer(context.outbox_dir)


async def _render_missing_pdfs(pkg: ApplicationPackage, context: Context) -> ApplicationPackage:
    """Edited documents lost their PDF at review; render it again from the edited text."""
    updates = {}
    for field, document in (("cv", pkg.cv), ("cover_letter", pkg.cover_letter)):
        if document is None or document.pdf_file or not context.render_pdf:
            continue
        pdf_file = await render_pdf_file(context, pkg.id, f"{field}-edited.pdf", document.html)
        updates[field] = document.model_copy(update={"pdf_file": pdf_file})
    return pkg.model_copy(update=updates) if updates else pkg


async def _find_sent(mailer: Mailer, message: EmailMessage, key: str) -> str | None:
    """Where the message went if the mailer can tell; a failing lookup tells nothing."""
    try:
        return await asyncio.to_thread(mailer.find_sent, message, key=key)
    except ServiceError:
        return None


@dataclass(frozen=True)
class SendFailure:
    """Why a send did not go through, and how the package ends (a dead letter)."""

    status: PackageStatus
    kind: Literal["exhausted", "unknown_outcome"]
    reason: str


async def _dead_letter(
    records: Records,
    context: Context,
    thread_id: str,
    pkg: ApplicationPackage,
    message: EmailMessage,
    failure: SendFailure,
) -> None:
    letter = DeadLetter(
        package_id=pkg.id,
        thread_id=thread_id,
        owner=context.user_id,
        company=pkg.company,
        title=pkg.title,
        kind=failure.kind,
        reason=failure.reason,
        mailer=context.mailer,
        message_id=message["Message-ID"],
    )
    await records.put_dead_letter(letter)
    await records.move_package(thread_id, pkg, failure.status, failure.reason)


async def _send(
    mailer: Mailer, message: EmailMessage, key: str, context: Context, *, interrupted: bool
) -> str | SendFailure:
    """Where the message went, or why it did not go through; an unknown outcome is looked up, never resent."""
    if interrupted:  # an earlier attempt began and its end was never stored
        location = await _find_sent(mailer, message, key)
        if location is not None:
            return location
        if not mailer.absence_is_certain:
            reason = f"the process stopped while sending; {context.mailer} cannot tell whether the message went"
            return SendFailure(PackageStatus.failed, "unknown_outcome", reason)
    try:
        send = asyncio.to_thread(mailer.send, message, key=key)
        return await asyncio.wait_for(send, timeout=context.send_timeout_s)
    except TimeoutError:
        found = await _find_sent(mailer, message, key)
        reason = f"no answer within {context.send_timeout_s:g} s; it may have gone"
        return found or SendFailure(PackageStatus.timeout, "unknown_outcome", reason)
    except ServiceError as exc:
        if not exc.outcome_unknown:
            return SendFailure(PackageStatus.failed, "exhausted", str(exc))
        return await _find_sent(mailer, message, key) or SendFailure(PackageStatus.failed, "unknown_outcome", str(exc))


async def send_package(
    records: Records, context: Context, thread_id: str, pkg: ApplicationPackage, *, retry: bool
) -> DeliveryReceipt | None:
    """Email one approved package; its receipt, or None when it became a dead letter."""
    interrupted = pkg.status == PackageStatus.sending
    pkg = await _render_missing_pdfs(pkg, context)
    pkg = await with_interview_prep(records, pkg)  # deterministic, so a retry attaches the same sheet
    recipient = Address(display_name=header_text(context.user_name), addr_spec=context.user_email)
    message = compose_message(pkg, recipient, context.home_path)
    mailer = await asyncio.to_thread(make_mailer, context)  # may import a client library
    pkg = await records.move_package(thread_id, pkg, PackageStatus.sending, "sent again as asked" if retry else None)
    failpoint("deliver.before_send")
    outcome = await _send(mailer, message, pkg.id, context, interrupted=interrupted)
    if isinstance(outcome, SendFailure):
        await _dead_letter(records, context, thread_id, pkg, message, outcome)
        return None
    failpoint("deliver.after_send")
    receipt = DeliveryReceipt(
        package_id=pkg.id, message_id=message["Message-ID"], recipient=context.user_email, location=outcome
    )
    await records.put_delivery(receipt)
    await records.move_package(thread_id, pkg, PackageStatus.sent, outcome)
    if (letter := await records.dead_letter(pkg.id)) is not None and letter.resolution is None:
        await records.put_dead_letter(letter.resolved("retried"))
    return receipt


async def mark_sent(records: Records, thread_id: str, package_id: str, who: str) -> DeliveryReceipt:
    """The person says a dead letter's message did go out (or they sent it themselves): never send it again."""
    letter = await records.dead_letter(package_id)
    if letter is None or letter.thread_id != thread_id:
        raise RecordNotFound(f"no dead letter for package {package_id}; `jobland deliveries` lists them")
    pkg = await records.package(thread_id, package_id)
    receipt = await records.delivery(package_id)  # a retry that got through meanwhile keeps its own receipt
    if receipt is None:
        receipt = DeliveryReceipt(
            package_id=package_id, message_id=letter.message_id, recipient=who, location="marked as sent by the person"
        )
        await records.put_delivery(receipt)  # the ledger first: from now on nothing sends it
    if pkg.status != PackageStatus.sent:
        await records.move_package(thread_id, pkg, PackageStatus.sent, receipt.location)
    await records.put_dead_letter(letter.resolved("marked_sent"))
    return receipt


async def deliver(state: DeliverPackageInput, runtime: Runtime[Context]) -> dict:
    records = Records(runtime.store)
    thread_id, package_id = state["thread_id"], state["package_id"]
    receipt = await records.delivery(package_id)
    if receipt is None:
        pkg = await records.package(thread_id, package_id)
        if pkg.status in UNFINISHED_STATUSES and not state.get("retry"):
            return {}  # a dead letter waits for the person's choice: never resent by itself
        if not pkg.was_approved or pkg.status == PackageStatus.rejected:
            raise RuntimeError(f"package {package_id} is {pkg.status}, not approved: refusing to send it")
        receipt = await send_package(records, runtime.context, thread_id, pkg, retry=state.get("retry", False))
        if receipt is None:
            return {}
    return {"deliveries": [receipt]}
