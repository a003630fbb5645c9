"""record: the application log, one entry per package of the thread.

A delivered package starts as status "sent" (ready to apply); the person moves it along with
`jobland applications set`. Recording again (a resume, a retry) keeps what the person set.
The entry keeps the posting's canonical key, so the screener knows the posting when it comes back.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from langgraph.runtime import Runtime

from jobland.domain.models import (
    ApplicationLogEntry,
    ApplicationPackage,
    ApplicationStatusChange,
    DeliveryReceipt,
    PackageStatus,
)
from jobland.domain.repository import Records
from jobland.graph.context import Context
from jobland.graph.state import JobLandState, PackageRef

_OUTCOMES = {
    PackageStatus.sent: "sent",
    PackageStatus.rejected: "rejected",
    PackageStatus.failed: "failed",
    PackageStatus.timeout: "failed",
}


def delivered_files(pkg: ApplicationPackage, receipt: DeliveryReceipt | None, home: Path) -> list[str]:
    """The email in the outbox and the package's PDFs, as absolute paths."""
    files = [receipt.location] if receipt else []
    files += [str(home / d.pdf_file) for d in (pkg.cv, pkg.cover_letter) if d and d.pdf_file]
    return files


async def _entry(records: Records, thread_id: str, ref: PackageRef, context: Context) -> ApplicationLogEntry:
    pkg, posting, previous, receipt = await asyncio.gather(
        records.package(thread_id, ref.package_id),
        records.posting(ref.posting_id),
        records.application(ref.package_id),
        records.delivery(ref.package_id),
    )
    outcome = _OUTCOMES.get(pkg.status, "undecided")
    if previous is not None and previous.outcome == outcome:
        return previous
    return ApplicationLogEntry(
        thread_id=thread_id,
        package_id=pkg.id,
        posting_id=pkg.posting_id,
        company=pkg.company,
        title=pkg.title,
        outcome=outcome,
        detail=pkg.error or "",
        owner=context.user_id,
        posting_url=posting.url,
        canonical_key=posting.canonical_key,
        files=delivered_files(pkg, receipt, context.home_path) if outcome == "sent" else [],
        status=outcome,
        history=[ApplicationStatusChange(status=outcome)],
    )


async def record(state: JobLandState, runtime: Runtime[Context]) -> dict:
    records = Records(runtime.store)
    thread_id = state["thread_id"]
    entries = [await _entry(records, thread_id, ref, runtime.context) for ref in state.get("packages", [])]
    await records.put_applications(entries)
    return {"recorded": len(entries)}
