"""deliver: email one approved package to the person's own address, at most once.

The package's interview prep sheet is written here, so only approved packages get one.

Runs after review, once per approved package (Send). The recipient comes from the run context,
never from a posting, a page or a model. The delivery ledger in the Store and the mailer's own
per-key idempotency together make a resume, a retry or a second worker send nothing twice.
"""

from __future__ import annotations

import asyncio
import re
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from langgraph.runtime import Runtime

from agents.interview_prep import with_interview_prep
from agents.package_files import render_pdf_file
from domain.failpoints import failpoint
from domain.models import ApplicationPackage, DeliveryReceipt, PackageStatus, utcnow
from domain.repository import Records
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


async def deliver(state: DeliverPackageInput, runtime: Runtime[Context]) -> dict:
    context = runtime.context
    records = Records(runtime.store)
    thread_id, package_id = state["thread_id"], state["package_id"]
    receipt = await records.delivery(package_id)
    if receipt is None:
        pkg = await records.package(thread_id, package_id)
        if pkg.status not in (PackageStatus.approved, PackageStatus.sent):
            raise RuntimeError(f"package {package_id} is {pkg.status}, not approved: refusing to send it")
        pkg = await _render_missing_pdfs(pkg, context)
        pkg = await with_interview_prep(records, pkg)  # deterministic, so a retry attaches the same sheet
        recipient = Address(display_name=header_text(context.user_name), addr_spec=context.user_email)
        message = compose_message(pkg, recipient, context.home_path)
        mailer = await asyncio.to_thread(make_mailer, context)  # may import a client library
        try:
            location = await asyncio.to_thread(mailer.send, message, key=package_id)
        except ServiceError as exc:
            # Attempts ran out, or the outcome is unknown: the package says why; nothing is resent by itself.
            await records.put_package(
                thread_id, pkg.model_copy(update={"error": str(exc)}).with_status(PackageStatus.failed, str(exc))
            )
            return {}
        failpoint("deliver.after_send")
        receipt = DeliveryReceipt(
            package_id=package_id, message_id=message["Message-ID"], recipient=context.user_email, location=location
        )
        await records.put_delivery(receipt)
        await records.put_package(thread_id, pkg.with_status(PackageStatus.sent, location))
    return {"deliveries": [receipt]}
