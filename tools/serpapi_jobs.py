"""Job discovery through SerpAPI's google_jobs engine (the official `serpapi` client).

Pages are followed by `serpapi_pagination.next` (which carries the next_page_token) until
`max_results`; every page is one call under the service's ServiceLimiter, which owns all retries.
Each Google Jobs result is read into the same PostingDraft the folder source uses, so salary,
workplace, seniority, skills, content hash and canonical key come from one set of readers.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import requests
import serpapi

from jobland.domain.dedupe import dedupe_postings, freshness
from jobland.domain.models import DiscardedPosting, JobPosting, SearchRequest
from jobland.domain.workplace import places_from_location
from jobland.tools.job_folder import (
    JobBatch,
    JobSourceError,
    PostingDraft,
    UnusablePosting,
    posting_from_draft,
)
from jobland.tools.ratelimit import RetryableError, ServiceLimiter, retry_after_seconds

SERVICE = "serpapi"
# SerpAPI meters searches per hour (plan dependent); one request a second and two at once stays well inside.
DEFAULT_LIMITS = {"max_concurrency": 2, "requests_per_second": 1.0}
REQUEST_TIMEOUT = 30.0
# SerpAPI answers a search without hits with an error body; that is an empty result, not a failure.
_NO_RESULTS = re.compile(r"hasn't returned any results", re.I)
_AGO = re.compile(r"\b(\d+|an?|one)\+?\s*(minute|hour|day|week|month|year)s?\s+ago\b", re.I)
_UNIT_DAYS = {"minute": 0, "hour": 0, "day": 1, "week": 7, "month": 30, "year": 365}
_OTHER_PLACES = re.compile(r"\(\s*\+\s*\d+\s+others?\s*\)", re.I)


class SerpApiJobSource:
    """google_jobs results for the request's query and first location, as JobPostings."""

    def __init__(
        self, api_key: str, *, base_url: str | None = None, max_results: int = 30, limiter: ServiceLimiter
    ) -> None:
        self.api_key = api_key
        self.base_url = base_url.rstrip("/") if base_url else None
        self.max_results = max_results
        self.limiter = limiter

    def _client(self) -> serpapi.Client:
        client = serpapi.Client(api_key=self.api_key, timeout=REQUEST_TIMEOUT)
        if self.base_url:
            client.BASE_DOMAIN = self.base_url
        return client

    async def fetch(self, request: SearchRequest, *, now: datetime) -> JobBatch:
        query = request.query.strip()
        if not query:
            raise JobSourceError(
                'SerpAPI needs a search query: give one (for example --query "senior Python backend, Berlin")'
            )
        params: dict[str, Any] = {"engine": "google_jobs", "q": query}
        if request.locations:
            params["location"] = request.locations[0]
        client = self._client()
        page = await self._page(functools.partial(client.search, params))
        jobs: list[dict] = []
        while True:
            jobs.extend(job for job in page.get("jobs_results") or [] if isinstance(job, dict))
            if len(jobs) >= self.max_results or not page.next_page_url:
                break
            page = await self._page(page.next_page)
        return batch_of_jobs(jobs[: self.max_results], now=now)

    async def _page(self, call: Callable[[], Any]) -> serpapi.SerpResults:
        return await self.limiter.call(lambda: asyncio.to_thread(_checked_page, call))


def _checked_page(call: Callable[[], Any]) -> serpapi.SerpResults | dict:
    """One page, with HTTP failures and error bodies turned into retryable or clear errors."""
    try:
        page = call()
    except serpapi.exceptions.TimeoutError as error:
        raise RetryableError(f"no answer in {REQUEST_TIMEOUT:g} s") from error
    except serpapi.HTTPError as error:
        status = error.status_code
        if status == -1 or isinstance(error, requests.ConnectionError):
            raise RetryableError(f"cannot connect ({error})") from error
        if status == 429 or status >= 500:
            headers = dict(error.response.headers) if error.response is not None else None
            raise RetryableError(
                f"HTTP {status}: {error.error or 'no reason given'}",
                status=status,
                retry_after=retry_after_seconds(headers),
            ) from error
        hint = " Check SERPAPI_API_KEY." if status in (401, 403) else ""
        raise JobSourceError(f"SerpAPI refused the search (HTTP {status}): {error.error or error}.{hint}") from error
    if not isinstance(page, serpapi.SerpResults):
        raise RetryableError(f"SerpAPI answered with something that is not JSON: {str(page)[:120]!r}")
    if message := page.get("error"):
        if _NO_RESULTS.search(str(message)):
            return serpapi.SerpResults({"jobs_results": []}, client=page.client)
        raise JobSourceError(f"SerpAPI: {message}. Check the query, location and SERPAPI_API_KEY.")
    return page


def batch_of_jobs(jobs: list[dict], *, now: datetime) -> JobBatch:
    """google_jobs results -> fresh, deduplicated postings, and the ones dropped with the reason."""
    postings: list[JobPosting] = []
    discarded: list[DiscardedPosting] = []
    for job in jobs:
        source = source_of(job)
        try:
            postings.append(posting_from_draft(draft_of_job(job, now), source, now))
        except UnusablePosting as problem:
            discarded.append(DiscardedPosting(source=source, title=str(job.get("title") or ""), reason=str(problem)))
    fresh, expired = freshness(postings, now)
    unique, duplicates = dedupe_postings(fresh)
    return JobBatch(postings=unique, discarded=[*discarded, *expired, *duplicates])


def source_of(job: dict) -> str:
    """'serpapi:LinkedIn' for a result Google found 'via LinkedIn'."""
    via = re.sub(r"^\s*via\s+", "", str(job.get("via") or ""), flags=re.I).strip()
    return f"{SERVICE}:{via}" if via else SERVICE


def posted_on(text: Any, now: datetime) -> date | None:
    """'3 days ago', 'an hour ago', '30+ days ago' -> the date that was, seen from `now`."""
    match = _AGO.search(str(text or ""))
    if not match:
        return None
    count = int(match.group(1)) if match.group(1).isdigit() else 1
    return (now - timedelta(days=count * _UNIT_DAYS[match.group(2).lower()])).date()


def _highlights(job: dict) -> dict[str, list[str]]:
    """job_highlights by lower-cased title: {'qualifications': [...], 'responsibilities': [...], 'benefits': [...]}."""
    found: dict[str, list[str]] = {}
    for block in job.get("job_highlights") or []:
        if isinstance(block, dict) and isinstance(block.get("items"), list):
            title = str(block.get("title") or "").strip().lower()
            found.setdefault(title, []).extend(str(item) for item in block["items"] if item)
    return found


def draft_of_job(job: dict, now: datetime) -> PostingDraft:
    extensions = job.get("detected_extensions") if isinstance(job.get("detected_extensions"), dict) else {}
    highlights = _highlights(job)
    location = _OTHER_PLACES.sub("", str(job.get("location") or "")).strip()
    places, workplace = places_from_location(location)
    if extensions.get("work_from_home"):
        workplace = True  # Google's flag: the job is remote
    description = str(job.get("description") or "").strip()
    if benefits := highlights.get("benefits"):
        description += "\n\nBenefits:\n" + "\n".join(f"- {item}" for item in benefits)
    apply_links = [o.get("link") for o in job.get("apply_options") or [] if isinstance(o, dict) and o.get("link")]
    return PostingDraft(
        title=job.get("title"),
        company=job.get("company_name"),
        places=places,
        workplace_hint=workplace,
        date_posted=posted_on(extensions.get("posted_at"), now),
        employment_type=extensions.get("schedule_type"),
        salary=extensions.get("salary"),
        description=description,
        qualifications=highlights.get("qualifications"),
        responsibilities=highlights.get("responsibilities"),
        identifier=job.get("job_id"),
        url=apply_links[0] if apply_links else job.get("share_link"),
    )
