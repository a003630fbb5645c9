"""record: the application log, one entry per package of the thread."""

from __future__ import annotations

from langgraph.runtime import Runtime

from domain.models import ApplicationLogEntry, PackageStatus
from domain.repository import Records
from graph.context import Context
from graph.state import JobLandState

_OUTCOMES = {
    PackageStatus.sent: "sent",
    PackageStatus.rejected: "rejected",
    PackageStatus.failed: "failed",
}


async def record(state: JobLandState, runtime: Runtime[Context]) -> dict:
    records = Records(runtime.store)
    thread_id = state["thread_id"]
    entries = []
    for ref in state.get("packages", []):
        pkg = await records.package(thread_id, ref.package_id)
        entries.append(
            ApplicationLogEntry(
                thread_id=thread_id,
                package_id=pkg.id,
                posting_id=pkg.posting_id,
                company=pkg.company,
                title=pkg.title,
                outcome=_OUTCOMES.get(pkg.status, "undecided"),
                detail=pkg.error or "",
            )
        )
    await records.put_applications(entries)
    return {"recorded": len(entries)}
