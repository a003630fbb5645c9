"""discover: job sources -> fresh, deduplicated JobPostings, stored; state keeps their ids.

The sources named in context.job_sources are fetched concurrently and merged; freshness and the
cross-source dedupe then run over all of them, so the same opening found twice reaches the screener once.
A source that gives up (its retries spent, its key refused) does not sink the others: the search goes
on with what the rest found, and the failure is kept on the thread's record, where `jobland status`,
the server's thread status and events, and the webhook read it. Only when every source fails does
discovery fail.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

from langgraph.runtime import Runtime

from jobland.domain.dedupe import dedupe_postings, freshness
from jobland.domain.models import SearchRequest, SourceFailure
from jobland.domain.repository import Records
from jobland.graph.context import Context
from jobland.graph.state import JobLandState
from jobland.tools import exa, serpapi_jobs
from jobland.tools.job_folder import FolderJobSource, JobBatch, JobSource, JobSourceError
from jobland.tools.ratelimit import ServiceError, configured_limiter

log = logging.getLogger(__name__)


def _required_key(value: str | None, variable: str, source: str) -> str:
    if not value:
        raise JobSourceError(
            f'job source "{source}" is configured but {variable} is not set: set it, or drop "{source}"'
        )
    return value


def job_source(name: str, request: SearchRequest, context: Context) -> JobSource:
    if name == "folder":
        if not request.jobs_dir:
            raise JobSourceError("no job source given: pass a folder of postings (for example examples/jobs)")
        return FolderJobSource(Path(request.jobs_dir).expanduser())
    if name == "serpapi":
        return serpapi_jobs.SerpApiJobSource(
            _required_key(context.serpapi_api_key, "SERPAPI_API_KEY", name),
            base_url=context.serpapi_base_url,
            max_results=context.serpapi_max_results,
            limiter=configured_limiter(
                serpapi_jobs.SERVICE, serpapi_jobs.DEFAULT_LIMITS, context.service_limits.get(serpapi_jobs.SERVICE)
            ),
        )
    if name == "exa":
        client = exa.ExaClient(
            _required_key(context.exa_api_key, "EXA_API_KEY", name),
            base_url=context.exa_base_url,
            limiter=configured_limiter(exa.SERVICE, exa.DEFAULT_LIMITS, context.service_limits.get(exa.SERVICE)),
        )
        return exa.ExaJobSource(client)
    raise JobSourceError(f'unknown job source "{name}": use "folder", "serpapi" or "exa"')


def merge(batches: list[JobBatch], now: datetime) -> JobBatch:
    """All sources' postings through one freshness and dedupe pass; every discard keeps its reason."""
    fresh, expired = freshness([p for batch in batches for p in batch.postings], now)
    unique, duplicates = dedupe_postings(fresh)
    dropped = [d for batch in batches for d in batch.discarded]
    return JobBatch(postings=unique, discarded=[*dropped, *expired, *duplicates])


async def fetch_or_failure(source: JobSource, request: SearchRequest, now: datetime) -> JobBatch | Exception:
    """The source's postings, or why it gave up."""
    try:
        return await source.fetch(request, now=now)
    except (ServiceError, JobSourceError) as failure:
        return failure


async def discover(state: JobLandState, runtime: Runtime[Context]) -> dict:
    request = state["request"]
    names = tuple(dict.fromkeys(runtime.context.job_sources)) or ("folder",)
    sources = [job_source(name, request, runtime.context) for name in names]
    now = datetime.now(UTC)
    results = await asyncio.gather(*(fetch_or_failure(source, request, now) for source in sources))
    batches = [result for result in results if isinstance(result, JobBatch)]
    failed = {name: result for name, result in zip(names, results, strict=True) if isinstance(result, Exception)}
    if not batches:
        if len(failed) == 1:
            raise next(iter(failed.values()))
        raise JobSourceError("every job source gave up: " + "; ".join(f"{n}: {e}" for n, e in failed.items()))
    for name, failure in failed.items():
        log.warning("job source %s gave up; going on with the others: %s", name, failure)
    batch = batches[0] if len(batches) == 1 else merge(batches, now)
    records = Records(runtime.store)
    await records.put_postings(batch.postings)
    await record_source_failures(
        records,
        state.get("thread_id"),
        [SourceFailure(source=name, error=str(failure)) for name, failure in failed.items()],
    )
    return {"posting_ids": [p.id for p in batch.postings], "discarded": batch.discarded}


async def record_source_failures(records: Records, thread_id: str | None, failures: list[SourceFailure]) -> None:
    """Keep this search's failed sources on the thread's record (a later search clears them)."""
    record = await records.thread(thread_id) if thread_id else None
    if record is not None and (record.source_failures or failures):
        await records.put_thread(record.model_copy(update={"source_failures": failures}))
