"""The big boards (Indeed, LinkedIn, Glassdoor, Google Jobs, ...) through python-jobspy, when it is installed.

JobSpy scrapes the boards' own sites and APIs (`pip install 'jobland[jobspy]'`); their terms of use
apply to whoever runs it. One search is one `jobspy.scrape_jobs` call in a thread, under the
"jobspy" ServiceLimiter; its result rows (JobPost fields: title, company, location, date_posted,
job_type, interval, min_amount, max_amount, currency, is_remote, description, job_url, ...) are read
into the same PostingDraft every source uses.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from jobland.domain.models import SearchRequest
from jobland.domain.workplace import places_from_location
from jobland.tools.job_folder import (
    JobBatch,
    JobSourceError,
    PostingDraft,
    batch_of_sourced_drafts,
)
from jobland.tools.ratelimit import RetryableError, ServiceLimiter

SERVICE = "jobspy"
# Scraping too fast gets a scraper blocked for hours: one search at a time, one retry.
DEFAULT_LIMITS = {"max_concurrency": 1, "max_attempts": 2, "base_delay": 5.0}
_INTERVALS = {"yearly": "YEAR", "monthly": "MONTH", "weekly": "WEEK", "daily": "DAY", "hourly": "HOUR"}

Scraper = Callable[..., Any]  # jobspy.scrape_jobs: keyword arguments in, a pandas DataFrame out


def installed_scraper() -> Scraper:
    """jobspy.scrape_jobs, or a clear error saying how to install it."""
    try:
        from jobspy import scrape_jobs
    except ImportError as error:
        raise JobSourceError(
            'the "jobspy" job source needs python-jobspy: pip install \'jobland[jobspy]\', or drop "jobspy"'
        ) from error
    return scrape_jobs


def _value(row: dict, key: str) -> Any:
    value = row.get(key)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _salary(row: dict) -> dict | None:
    low, high, interval = _value(row, "min_amount"), _value(row, "max_amount"), _value(row, "interval")
    if not (low or high) or interval not in _INTERVALS:
        return None
    value = {"minValue": low or high, "maxValue": high or low, "unitText": _INTERVALS[interval]}
    return {"currency": _value(row, "currency"), "value": value}


def draft_of_row(row: dict) -> PostingDraft:
    location = str(_value(row, "location") or "")
    places, workplace = places_from_location(location)
    remote = _value(row, "is_remote")
    return PostingDraft(
        title=_value(row, "title"),
        company=_value(row, "company") or "",
        company_url=_value(row, "company_url_direct") or _value(row, "company_url"),
        company_description=_value(row, "company_description"),
        places=places,
        workplace_hint=_value(row, "work_from_home_type") or (True if remote else workplace),
        date_posted=_value(row, "date_posted"),
        employment_type=_value(row, "job_type"),
        salary=_salary(row),
        description=_value(row, "description") or "",
        skills=_value(row, "skills"),
        seniority_hint=_value(row, "job_level"),
        experience=_value(row, "experience_range"),
        identifier=_value(row, "id"),
        url=_value(row, "job_url_direct") or _value(row, "job_url"),
        location_text=location,
    )


def batch_of_rows(rows: list[dict], *, now: datetime) -> JobBatch:
    """JobSpy result rows -> fresh, deduplicated postings, and the ones dropped with the reason."""
    drafts = [(draft_of_row(row), f"{SERVICE}:{_value(row, 'site') or 'unknown'}") for row in rows]
    return batch_of_sourced_drafts(drafts, now)


class JobSpyJobSource:
    """One JobSpy search over the configured sites for the request's query and first place."""

    def __init__(
        self,
        *,
        sites: tuple[str, ...],
        max_results: int,
        limiter: ServiceLimiter,
        country: str = "usa",
        scrape: Scraper | None = None,
    ) -> None:
        self.sites = sites
        self.max_results = max_results
        self.limiter = limiter
        self.country = country
        self.scrape = scrape

    async def fetch(self, request: SearchRequest, *, now: datetime) -> JobBatch:
        query = request.query.strip()
        if not query:
            raise JobSourceError('JobSpy needs a search query: give one (for example --query "python backend")')
        scrape = self.scrape or installed_scraper()
        options = {
            "site_name": list(self.sites),
            "search_term": query,
            "google_search_term": f"{query} jobs" + (f" in {request.locations[0]}" if request.locations else ""),
            "location": request.locations[0] if request.locations else None,
            "results_wanted": self.max_results,
            "country_indeed": self.country,
            "description_format": "markdown",
            "verbose": 0,
        }
        rows = await self.limiter.call(lambda: asyncio.to_thread(_scraped_rows, scrape, options))
        return await asyncio.to_thread(batch_of_rows, rows, now=now)


def _scraped_rows(scrape: Scraper, options: dict[str, Any]) -> list[dict]:
    """One scrape; every site failing is another attempt (a block or a timeout), bad arguments are not."""
    try:
        frame = scrape(**options)
    except ValueError as error:
        raise JobSourceError(f"JobSpy refused the search: {error}") from error
    rows = frame.to_dict("records")
    errors = dict(getattr(frame, "attrs", {}).get("errors") or {})
    if not rows and errors:
        raise RetryableError("every site failed: " + "; ".join(f"{site}: {e}" for site, e in errors.items()))
    return rows
