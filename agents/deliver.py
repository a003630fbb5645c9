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

from jobland.agents.interview_prep import with_interview_prep
from jobland.domain.failpoints import failpoint
from jobland.domain.models import (
    UNFINISHED_STATUSES,
    ApplicationPackage,
    DeadLetter,
    DeliveryReceipt,
    PackageStatus,
    utcnow,
)
from jobland.domain.repository import Records
from jobland.domain.text import slug
from jobland.graph.context import Context
from jobland.graph.state import DeliverPackageInput
from jobland.templates import render
from jobland.tools.leases import Guards, guards_for
from jobland.tools.mailers import make_mailer
from jobland.tools.outbox import Mailer
from jobland.tools.ratelimit import ServiceError

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
        if maintype == "text":
            # As text with its charset declared: RFC 7763 requires it of text/markdown ("—" arrives as "—").
            message.add_attachment(data.decode(), subtype=subtype, charset="utf-8", filename=filename)
        else:
            message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message


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


async def send_once(
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


async def _settle_sent(records: Records, thread_id: str, pkg: ApplicationPackage, receipt: DeliveryReceipt) -> None:
    """A package whose message went is `sent`, whatever stopped its bookkeeping before (no package stays sending)."""
    if pkg.status != PackageStatus.sent:
        await records.move_package(thread_id, pkg, PackageStatus.sent, receipt.location)
    if (letter := await records.dead_letter(pkg.id)) is not None and letter.resolution is None:
        await records.put_dead_letter(letter.resolved("retried"))


async def _record_sent(
    records: Records, guards: Guards, thread_id: str, pkg: ApplicationPackage, receipt: DeliveryReceipt
) -> DeliveryReceipt:
    # The send record first: from then on every process knows the message went, even if the rest is lost.
    await guards.finish_send(pkg.id, "sent", receipt.location)
    await records.put_delivery(receipt)
    await _settle_sent(records, thread_id, pkg, receipt)
    return receipt


async def send_package(
    records: Records,
    guards: Guards,
    context: Context,
    thread_id: str,
    pkg: ApplicationPackage,
    *,
    retry: bool,
    interrupted: bool,
) -> DeliveryReceipt | None:
    """Email one approved package whose send this process has claimed; its receipt, or None for a dead letter."""
    pkg = await with_interview_prep(records, pkg)  # deterministic, so a retry attaches the same sheet
    recipient = Address(display_name=header_text(context.user_name), addr_spec=context.user_email)
    message = compose_message(pkg, recipient, context.home_path)
    mailer = await asyncio.to_thread(make_mailer, context)  # may import a client library
    pkg = await records.move_package(thread_id, pkg, PackageStatus.sending, "sent again as asked" if retry else None)
    failpoint("deliver.before_send")
    outcome = await send_once(mailer, message, pkg.id, context, interrupted=interrupted)
    if isinstance(outcome, SendFailure):
        await guards.finish_send(pkg.id, "failed")
        await _dead_letter(records, context, thread_id, pkg, message, outcome)
        return None
    failpoint("deliver.after_send")
    receipt = DeliveryReceipt(
        package_id=pkg.id, message_id=message["Message-ID"], recipient=context.user_email, location=outcome
    )
    # Shielded: a sibling's failure cancelling this task must not leave a sent message unrecorded.
    return await asyncio.shield(_record_sent(records, guards, thread_id, pkg, receipt))


async def deliver_package(
    records: Records, guards: Guards, context: Context, thread_id: str, package_id: str, *, retry: bool = False
) -> DeliveryReceipt | None:
    """Deliver one approved package at most once, whichever process, retry or resume asks.

    Under the package's send lock the ledger is read, then the send record is claimed by an atomic insert
    before any byte goes to a mailer. A record left "sending" by a sender that is gone is an unknown
    outcome: the mailer is asked whether the message went, and it is never sent blind.
    """
    async with guards.package_lock(package_id, wait_s=context.send_timeout_s + 30) as held:
        if not held:
            return None  # another process is sending it right now and records what happens
        pkg = await records.package(thread_id, package_id)
        if (receipt := await records.delivery(package_id)) is not None:
            await _settle_sent(records, thread_id, pkg, receipt)
            return receipt
        if pkg.status in UNFINISHED_STATUSES and not retry:
            return None  # a dead letter waits for the person's choice: never resent by itself
        if not pkg.was_approved or pkg.status == PackageStatus.rejected:
            raise RuntimeError(f"package {package_id} is {pkg.status}, not approved: refusing to send it")
        claim = await guards.claim_send(package_id, thread_id, retry=retry)
        if claim.claimed:
            return await send_package(records, guards, context, thread_id, pkg, retry=retry, interrupted=False)
        if claim.record.state == "sent":  # it went; only the bookkeeping after the send was lost
            receipt = DeliveryReceipt(
                package_id=package_id,
                message_id=message_id_for(package_id),
                recipient=context.user_email,
                location=claim.record.location or "sent (recorded before a stop)",
            )
            return await _record_sent(records, guards, thread_id, pkg, receipt)
        if claim.record.state == "failed":
            return None  # a dead letter: only the person's retry sends it again
        # "sending", and its sender is gone (its lock was free): whether it went is looked up, never guessed.
        return await send_package(records, guards, context, thread_id, pkg, retry=retry, interrupted=True)


async def deliver(state: DeliverPackageInput, runtime: Runtime[Context]) -> dict:
    records, guards = Records(runtime.store), guards_for(runtime.store)
    receipt = await deliver_package(
        records, guards, runtime.context, state["thread_id"], state["package_id"], retry=state.get("retry", False)
    )
    return {"deliveries": [receipt]} if receipt else {}
