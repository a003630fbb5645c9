"""The optional JobSpy source: its result rows read like every source's, its failures like every source's.

JobSpy scrapes LinkedIn, Indeed and the other boards themselves; tests never reach them. One test runs
JobSpy's real `scrape_jobs` and Indeed scraper over HTTP against a local Indeed GraphQL API
(tests/local_world/indeed.py; the scraper's `api_url` points there, as SerpAPI's BASE_DOMAIN does).
The others hand the source recorded rows built with JobSpy's own JobPost model and DataFrame, as
`scrape_jobs` returns them (LinkedIn's HTML pages and the other sites are not faked here).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import pytest
from jobspy import model as jobspy_model
from jobspy.indeed import Indeed

from jobland.agents.discover import job_source
from jobland.domain.models import SearchRequest
from jobland.graph.context import Context
from jobland.tools.job_folder import JobSourceError, load_folder
from jobland.tools.jobspy_jobs import JobSpyJobSource, installed_scraper
from jobland.tools.ratelimit import ServiceError, ServiceLimiter
from tests.conftest import EXAMPLE_JOBS
from tests.local_world.indeed import FakeIndeed

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
RECORDED = [
    {
        "id": "in-5f2c0d8a9b1e4c3d",
        "site": "indeed",
        "job_url": "https://de.indeed.com/viewjob?jk=5f2c0d8a9b1e4c3d",
        "job_url_direct": "https://quellwerk.example/jobs/senior-python",
        "title": "Senior Python Engineer (m/w/d)",
        "company": "Quellwerk GmbH",
        "location": {"city": "Berlin", "state": "BE", "country": "germany"},
        "date_posted": date(2026, 11, 27),
        "job_type": ["fulltime"],
        "interval": "yearly",
        "min_amount": 80000.0,
        "max_amount": 95000.0,
        "currency": "EUR",
        "is_remote": False,
        "description": "Quellwerk builds payment APIs.\n\n**Requirements**\n\n* 5+ years of Python\n* PostgreSQL",
        "company_url": "https://de.indeed.com/cmp/Quellwerk",
    },
    {
        "id": "li-4077012345",
        "site": "linkedin",
        "job_url": "https://www.linkedin.com/jobs/view/4077012345",
        "title": "Senior Python Engineer",
        "company": "Quellwerk",
        "location": {"city": "Berlin", "country": "germany"},
        "date_posted": date(2026, 11, 28),
        "is_remote": False,
        "job_level": "mid-senior level",
        "description": "Quellwerk builds payment APIs in Python.",
    },
    {
        "id": "li-4077099999",
        "site": "linkedin",
        "job_url": "https://www.linkedin.com/jobs/view/4077099999",
        "title": "Data Engineer",
        "company": "Nordlicht Analytics",
        "location": {"country": "germany"},
        "date_posted": date(2026, 11, 29),
        "is_remote": True,
        "interval": "hourly",
        "min_amount": 60.0,
        "max_amount": 75.0,
        "currency": "EUR",
        "description": "Remote within Germany. Spark and Airflow.",
    },
]


def recorded_frame(rows: list[dict]) -> Any:
    """Rows as jobspy.scrape_jobs returns them: JobPost.model_dump() in a DataFrame with JobPost's columns."""
    posts = [jobspy_model.JobPost.model_validate(row) for row in rows]
    return pd.DataFrame([post.model_dump() for post in posts], columns=list(jobspy_model.JobPost.model_fields))


class RecordedScrape:
    """scrape_jobs's signature, answering recorded rows (or site errors) and keeping the arguments."""

    def __init__(self, rows: list[dict], errors: dict[str, str] | None = None) -> None:
        self.rows, self.errors, self.calls = rows, errors or {}, []

    def __call__(self, **options: Any) -> Any:
        self.calls.append(options)
        frame = recorded_frame(self.rows)
        frame.attrs = {"errors": self.errors, "warnings": {}}
        return frame


def source(scrape: RecordedScrape, **limits: float) -> JobSpyJobSource:
    return JobSpyJobSource(
        sites=("indeed", "linkedin"),
        max_results=20,
        country="germany",
        limiter=ServiceLimiter("jobspy", base_delay=0.01, **limits),
        scrape=scrape,
    )


async def test_rows_become_postings_normalised_and_deduplicated_like_every_source() -> None:
    scrape = RecordedScrape(RECORDED)
    request = SearchRequest(query="senior python", locations=["Berlin"])
    batch = await source(scrape).fetch(request, now=NOW)

    [call] = scrape.calls
    assert call["search_term"] == "senior python" and call["location"] == "Berlin"
    assert call["site_name"] == ["indeed", "linkedin"] and call["country_indeed"] == "germany"
    by_site = {p.source: p for p in batch.postings}
    assert set(by_site) == {"jobspy:indeed", "jobspy:linkedin"}  # the two Quellwerk rows are one opening
    [duplicate] = [d for d in batch.discarded if d.reason.startswith("duplicate")]
    assert duplicate.source == "jobspy:linkedin" and duplicate.title == "Senior Python Engineer"
    indeed = by_site["jobspy:indeed"]
    assert indeed.url == "https://quellwerk.example/jobs/senior-python"
    assert indeed.jobLocation[0].address.addressLocality == "Berlin" and indeed.employmentType == ["FULL_TIME"]
    assert (indeed.baseSalary.minValue, indeed.baseSalary.maxValue, indeed.baseSalary.unitText) == (
        80000,
        95000,
        "YEAR",
    )
    assert "PostgreSQL" in indeed.skills and indeed.datePosted == date(2026, 11, 27)
    data = by_site["jobspy:linkedin"]
    assert data.workplace == "remote" and data.baseSalary.unitText == "HOUR"


async def test_every_site_failing_is_retried_then_a_source_failure_and_a_query_is_needed() -> None:
    blocked = RecordedScrape([], errors={"indeed": "response status code 403 (blocked: use a proxy)"})
    with pytest.raises(ServiceError, match="gave up after 2 attempt.*403"):
        await source(blocked, max_attempts=2).fetch(SearchRequest(query="python"), now=NOW)
    assert len(blocked.calls) == 2
    with pytest.raises(JobSourceError, match="needs a search query"):
        await source(RecordedScrape(RECORDED)).fetch(SearchRequest(), now=NOW)


def test_the_configured_source_uses_the_installed_scraper() -> None:
    from jobspy import scrape_jobs

    configured = job_source("jobspy", SearchRequest(query="python"), Context(jobspy_sites=("indeed",)))
    assert isinstance(configured, JobSpyJobSource) and configured.sites == ("indeed",)
    assert installed_scraper() is scrape_jobs


async def test_jobspy_scrapes_a_local_indeed_over_http_page_by_page(monkeypatch: pytest.MonkeyPatch) -> None:
    indeed = FakeIndeed(page_size=3).start()
    try:
        indeed.postings = load_folder(EXAMPLE_JOBS, now=NOW).postings
        monkeypatch.setattr(Indeed, "api_url", f"{indeed.url}/graphql")
        live = JobSpyJobSource(
            sites=("indeed",), max_results=20, country="germany", limiter=ServiceLimiter("jobspy", base_delay=0.01)
        )
        batch = await live.fetch(SearchRequest(query="python", locations=["Berlin"]), now=NOW)
    finally:
        indeed.stop()

    queries = [r.json()["query"] for r in indeed.requests]
    assert len(queries) >= 2 and 'what: "python"' in queries[0] and 'where: "Berlin"' in queries[0]
    assert 'cursor: "3"' in queries[1], "the second page asked for by Indeed's cursor"
    wanted = {p.title for p in indeed.postings if "python" in f"{p.title} {p.description}".casefold()}
    assert {p.title for p in batch.postings} <= wanted and len(batch.postings) >= 4
    assert {p.source for p in batch.postings} == {"jobspy:indeed"}
    kiezkraft = next(p for p in batch.postings if p.company == "Kiezkraft GmbH")
    assert kiezkraft.jobLocation[0].address.addressLocality == "Berlin"
    assert (kiezkraft.baseSalary.minValue, kiezkraft.baseSalary.unitText) == (80000, "YEAR")
    assert kiezkraft.employmentType == ["FULL_TIME"] and "PostgreSQL" in kiezkraft.skills
