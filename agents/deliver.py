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


def make_mailer(context: Context) -> Mailer:
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
        location = await asyncio.to_thread(make_mailer(context).send, message, key=package_id)
        failpoint("deliver.after_send")
        receipt = DeliveryReceipt(
            package_id=package_id, message_id=message["Message-ID"], recipient=context.user_email, location=location
        )
        await records.put_delivery(receipt)
        await records.put_package(thread_id, pkg.with_status(PackageStatus.sent, location))
    return {"deliveries": [receipt]}
