"""discover: job sources -> fresh, deduplicated JobPostings, stored; state keeps their ids.

The sources named in context.job_sources ("folder" being the person's own postings: a folder, a file, a
link or pasted text) and every company board listed in context.boards are fetched concurrently and
merged; freshness and the cross-source dedupe then run over all of them, so the same opening found
twice reaches the screener once. A source that gives up (its retries spent, its key refused) does not sink the others: the search goes
on with what the rest found, and the failure is kept on the thread's record, where `jobland status`,
the server's thread status and events, and the webhook read it. Only when every source fails does
discovery fail.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import UTC, datetime
from pathlib import Path

from langgraph.runtime import Runtime

from jobland.domain.dedupe import dedupe_postings, freshness
from jobland.domain.models import SearchRequest, SourceFailure
from jobland.domain.repository import Records
from jobland.domain.watches import WatchRecords
from jobland.graph.context import Context
from jobland.graph.state import JobLandState
from jobland.tools import ashby, exa, greenhouse, job_boards, jobspy_jobs, lever, serpapi_jobs, workday
from jobland.tools.job_boards import BoardJobSource
from jobland.tools.job_folder import (
    FileJobSource,
    FolderJobSource,
    JobBatch,
    JobSource,
    JobSourceError,
    TextJobSource,
)
from jobland.tools.posting_url import PostingURLSource
from jobland.tools.ratelimit import ServiceError, ServiceLimiter, configured_limiter

log = logging.getLogger(__name__)


BOARD_SOURCES: dict[str, type[BoardJobSource]] = {
    greenhouse.SERVICE: greenhouse.GreenhouseJobSource,
    lever.SERVICE: lever.LeverJobSource,
    ashby.SERVICE: ashby.AshbyJobSource,
    workday.SERVICE: workday.WorkdayJobSource,
}
_NAMES = '"folder", "serpapi", "exa", "jobspy", or a board such as "greenhouse:acme"'


def _required_key(value: str | None, variable: str, source: str) -> str:
    if not value:
        raise JobSourceError(
            f'job source "{source}" is configured but {variable} is not set: set it, or drop "{source}"'
        )
    return value


def source_names(context: Context) -> tuple[str, ...]:
    """The configured sources, then every company board listed in context.boards ("greenhouse:acme")."""
    boards = [f"{service}:{board}" for service, listed in context.boards.items() for board in listed]
    return tuple(dict.fromkeys([*(context.job_sources or ("folder",)), *boards]))


def own_postings(request: SearchRequest, context: Context) -> JobSource:
    """The person's own postings: pasted text, a link, one file or a folder (in that order)."""
    if request.posting_text:
        return TextJobSource(request.posting_text)
    if request.posting_url:
        return PostingURLSource(request.posting_url, allow_loopback=context.allow_loopback)
    if not request.jobs_dir:
        raise JobSourceError("no job source given: pass a folder of postings (for example examples/jobs)")
    path = Path(request.jobs_dir).expanduser()
    return FileJobSource(path) if path.is_file() else FolderJobSource(path)


def _limiter(service: str, defaults: dict, context: Context, shared: dict[str, ServiceLimiter]) -> ServiceLimiter:
    """One limiter per service for a whole search: two boards of one service share its budget."""
    if service not in shared:
        shared[service] = configured_limiter(service, defaults, context.service_limits.get(service))
    return shared[service]


def board_source(name: str, context: Context, limiters: dict[str, ServiceLimiter]) -> JobSource:
    service, _, board = name.partition(":")
    source_class = BOARD_SOURCES.get(service)
    if source_class is None or not board.strip():
        raise JobSourceError(f'unknown job source "{name}": use {_NAMES}')
    base_urls = {
        greenhouse.SERVICE: context.greenhouse_base_url,
        lever.SERVICE: context.lever_base_url,
        ashby.SERVICE: context.ashby_base_url,
        workday.SERVICE: context.workday_base_url,
    }
    if service == workday.SERVICE:
        workday.workday_board(board)  # a malformed board fails the run now, not as a source failure
    return source_class(
        board=board.strip(),
        limiter=_limiter(service, job_boards.DEFAULT_LIMITS, context, limiters),
        base_url=base_urls[service],
        max_results=context.board_max_results,
    )


def job_source(
    name: str, request: SearchRequest, context: Context, limiters: dict[str, ServiceLimiter] | None = None
) -> JobSource:
    limiters = {} if limiters is None else limiters
    if name == "folder":
        return own_postings(request, context)
    if name == "serpapi":
        return serpapi_jobs.SerpApiJobSource(
            _required_key(context.serpapi_api_key, "SERPAPI_API_KEY", name),
            base_url=context.serpapi_base_url,
            max_results=context.serpapi_max_results,
            limiter=_limiter(serpapi_jobs.SERVICE, serpapi_jobs.DEFAULT_LIMITS, context, limiters),
        )
    if name == "exa":
        client = exa.ExaClient(
            _required_key(context.exa_api_key, "EXA_API_KEY", name),
            base_url=context.exa_base_url,
            limiter=_limiter(exa.SERVICE, exa.DEFAULT_LIMITS, context, limiters),
        )
        return exa.ExaJobSource(client)
    if name == "jobspy":
        return jobspy_jobs.JobSpyJobSource(
            sites=context.jobspy_sites,
            max_results=context.jobspy_max_results,
            country=context.jobspy_country,
            limiter=_limiter(jobspy_jobs.SERVICE, jobspy_jobs.DEFAULT_LIMITS, context, limiters),
        )
    return board_source(name, context, limiters)


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
    names = source_names(runtime.context)
    limiters: dict[str, ServiceLimiter] = {}
    sources = [job_source(name, request, runtime.context, limiters) for name in names]
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
    if request.watch_key:  # a saved search's run: what an earlier run screened is not screened again
        batch = dataclasses.replace(
            batch, postings=await WatchRecords(runtime.store).unseen(request.watch_key, batch.postings)
        )
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
