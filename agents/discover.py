"""discover: job sources -> fresh, deduplicated JobPostings, stored; state keeps their ids."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from langgraph.runtime import Runtime

from domain.repository import Records
from graph.context import Context
from graph.state import JobLandState
from tools.job_folder import FolderJobSource, JobSourceError


async def discover(state: JobLandState, runtime: Runtime[Context]) -> dict:
    request = state["request"]
    if not request.jobs_dir:
        raise JobSourceError("no job source given: pass a folder of postings (for example examples/jobs)")
    source = FolderJobSource(Path(request.jobs_dir).expanduser())
    batch = await source.fetch(request, now=datetime.now(UTC))
    await Records(runtime.store).put_postings(batch.postings)
    return {"posting_ids": [p.id for p in batch.postings], "discarded": batch.discarded}
