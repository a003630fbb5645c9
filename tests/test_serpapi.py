"""SerpAPI google_jobs over real HTTP: paging, field mapping, errors, retries, and discovery merged with the folder."""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from jobland.domain.models import SearchRequest
from jobland.graph.builder import open_graph
from jobland.graph.context import Context
from jobland.tools.job_folder import JobSourceError, load_folder
from jobland.tools.ratelimit import ServiceError, ServiceLimiter
from jobland.tools.serpapi_jobs import SerpApiJobSource
from tests.conftest import EXAMPLE_CV, EXAMPLE_JOBS
from tests.local_world.base import Fault
from tests.local_world.serpapi import API_KEY, FakeSerpApi, google_job

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
POSTING = {
    "title": "Senior Python Engineer (m/w/d)",
    "company_name": "Quellwerk GmbH",
    "location": "Berlin, Germany (+2 others)",
    "via": "via LinkedIn",
    "share_link": "https://www.google.com/search?ibp=htl;jobs&q=python#htidocid=abc",
    "extensions": ["3 days ago", "Full-time", "Work from home"],
    "detected_extensions": {
        "posted_at": "3 days ago",
        "schedule_type": "Full-time",
        "work_from_home": True,
        "salary": "€80K–95K a year",
    },
    "description": "Quellwerk builds payment APIs in Python and PostgreSQL for European banks.",
    "job_highlights": [
        {"title": "Qualifications", "items": ["5+ years of Python experience", "PostgreSQL"]},
        {"title": "Responsibilities", "items": ["Design the ledger service", "Run it on Kubernetes"]},
        {"title": "Benefits", "items": ["30 days of holiday"]},
    ],
    "apply_options": [
        {"title": "Quellwerk", "link": "https://quellwerk.example/jobs/senior-python"},
        {"title": "LinkedIn", "link": "https://www.linkedin.com/jobs/view/1"},
    ],
    "job_id": "eyJqb2JfdGl0bGUiOiJTZW5pb3IifQ==",
}


def source(world: FakeSerpApi, *, max_results: int = 30, **limits: float) -> tuple[SerpApiJobSource, list[float]]:
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    limiter = ServiceLimiter("serpapi", sleep=record, **limits)
    return SerpApiJobSource(API_KEY, base_url=world.url, max_results=max_results, limiter=limiter), waits


async def test_pages_are_followed_by_next_page_token_up_to_max_results(serpapi_world: FakeSerpApi) -> None:
    jobs, _ = source(serpapi_world, max_results=25)
    batch = await jobs.fetch(SearchRequest(query="engineer", locations=["Berlin", "Remote"]), now=NOW)
    assert len(batch.postings) == 25
    assert [r.query.get("next_page_token") is not None for r in serpapi_world.requests] == [False, True, True]
    first = serpapi_world.requests[0].query
    assert first["engine"] == ["google_jobs"] and first["q"] == ["engineer"] and first["location"] == ["Berlin"]
    assert all(r.query["api_key"] == [API_KEY] for r in serpapi_world.requests)
    assert {p.source.split(":")[0] for p in batch.postings} == {"serpapi"}


async def test_every_google_jobs_field_is_mapped(serpapi_world: FakeSerpApi) -> None:
    serpapi_world.jobs = [POSTING]
    batch = await source(serpapi_world)[0].fetch(SearchRequest(query="python"), now=NOW)
    [posting] = batch.postings
    assert posting.title == "Senior Python Engineer (m/w/d)" and posting.company == "Quellwerk GmbH"
    assert posting.jobLocation[0].label() == "Berlin, Germany"
    assert posting.source == "serpapi:LinkedIn"
    assert posting.url == "https://quellwerk.example/jobs/senior-python", "the first apply option wins"
    assert posting.datePosted == date(2026, 11, 27)
    assert posting.employmentType == ["FULL_TIME"]
    assert posting.workplace == "remote"
    salary = posting.baseSalary
    assert (salary.currency, salary.minValue, salary.maxValue, salary.unitText) == ("EUR", 80000, 95000, "YEAR")
    assert posting.qualifications == ["5+ years of Python experience", "PostgreSQL"]
    assert posting.responsibilities == ["Design the ledger service", "Run it on Kubernetes"]
    assert "30 days of holiday" in posting.description and "payment APIs" in posting.description
    assert posting.identifier == POSTING["job_id"]
    assert posting.seniority == "senior" and {"Python", "PostgreSQL", "Kubernetes"} <= set(posting.skills)
    assert posting.canonical_key == "senior python engineer|quellwerk|berlin" and posting.content_hash


async def test_share_link_is_the_url_without_apply_options(serpapi_world: FakeSerpApi) -> None:
    serpapi_world.jobs = [{k: v for k, v in POSTING.items() if k != "apply_options"}]
    [posting] = (await source(serpapi_world)[0].fetch(SearchRequest(query="python"), now=NOW)).postings
    assert posting.url == POSTING["share_link"]


async def test_an_error_body_with_http_200_is_a_clear_error(serpapi_world: FakeSerpApi) -> None:
    serpapi_world.fail_next(Fault(status=200, body={"error": "Your account has run out of searches."}))
    with pytest.raises(JobSourceError, match="run out of searches.*SERPAPI_API_KEY"):
        await source(serpapi_world)[0].fetch(SearchRequest(query="python"), now=NOW)
    assert len(serpapi_world.requests) == 1, "an error body is not retried"


async def test_a_search_without_hits_is_empty_and_a_missing_query_is_refused(serpapi_world: FakeSerpApi) -> None:
    jobs, _ = source(serpapi_world)
    batch = await jobs.fetch(SearchRequest(query="underwater basket weaving"), now=NOW)
    assert batch.postings == [] and batch.discarded == []
    with pytest.raises(JobSourceError, match="needs a search query"):
        await jobs.fetch(SearchRequest(query="  "), now=NOW)


async def test_a_wrong_key_names_the_variable(serpapi_world: FakeSerpApi) -> None:
    limiter = ServiceLimiter("serpapi")
    jobs = SerpApiJobSource("wrong", base_url=serpapi_world.url, limiter=limiter)
    with pytest.raises(JobSourceError, match="HTTP 401.*Invalid API key.*SERPAPI_API_KEY"):
        await jobs.fetch(SearchRequest(query="python"), now=NOW)


async def test_429_waits_for_retry_after_then_succeeds(serpapi_world: FakeSerpApi) -> None:
    serpapi_world.fail_next(Fault(status=429, headers={"Retry-After": "7"}, body={"error": "Too many requests"}))
    jobs, waits = source(serpapi_world, max_results=5)
    batch = await jobs.fetch(SearchRequest(query="python"), now=NOW)
    assert len(batch.postings) == 5
    assert waits == [7.0] and len(serpapi_world.requests) == 2


async def test_500s_give_up_after_exactly_the_attempt_budget(serpapi_world: FakeSerpApi) -> None:
    serpapi_world.fail_next(*[Fault(status=500, body={"error": "Internal error"})] * 5)
    jobs, waits = source(serpapi_world, max_attempts=3, base_delay=0.01)
    with pytest.raises(ServiceError, match=r"gave up after 3 attempt\(s\): HTTP 500: Internal error") as failure:
        await jobs.fetch(SearchRequest(query="python"), now=NOW)
    assert failure.value.status == 500
    assert len(serpapi_world.requests) == 3 and len(waits) == 2


async def test_a_malformed_body_is_retried(serpapi_world: FakeSerpApi) -> None:
    serpapi_world.fail_next(Fault(status=200, raw=b"<html>gateway</html>", headers={"Content-Type": "text/plain"}))
    jobs, _ = source(serpapi_world, max_results=3, base_delay=0.01)
    assert len((await jobs.fetch(SearchRequest(query="python"), now=NOW)).postings) == 3
    assert len(serpapi_world.requests) == 2


def context_for(home: Path, world: FakeSerpApi, sources: tuple[str, ...]) -> Context:
    return Context(
        user_email="alex.morgan@example.com",
        home=str(home),
        render_pdf=False,
        job_sources=sources,
        serpapi_api_key=API_KEY,
        serpapi_base_url=world.url,
        service_limits={"serpapi": {"requests_per_second": 50}},
    )


async def test_discover_merges_serpapi_and_folder_and_keeps_one_of_each_job(
    database_url: str, home: Path, tmp_path: Path, serpapi_world: FakeSerpApi
) -> None:
    folder = tmp_path / "jobs"
    folder.mkdir()
    name = "kiezkraft-senior-python-backend.json"
    shutil.copy(EXAMPLE_JOBS / name, folder / name)
    [same] = load_folder(folder, now=NOW).postings
    serpapi_world.jobs = [google_job(same, 0, NOW), POSTING]  # the folder's job seen on Google, and one more

    request = SearchRequest(cv_path=str(EXAMPLE_CV), jobs_dir=str(folder), query="python", mode="screen")
    async with open_graph(database_url, home) as graph:
        config = {"configurable": {"thread_id": uuid.uuid4().hex}}
        context = context_for(home, serpapi_world, ("folder", "serpapi"))
        result = await graph.ainvoke({"request": request}, config, context=context)

    assert len(result["posting_ids"]) == len(result["screenings"]) == 2
    [duplicate] = [d for d in result["discarded"] if d.reason.startswith("duplicate")]
    # The folder's record knows more (validThrough, the company's site), so it is the one kept.
    assert duplicate.title == same.title and duplicate.source == "serpapi:LinkedIn"
    assert f"kept from folder:{name} (same title, company and location)" in duplicate.reason
    assert serpapi_world.requests, "SerpAPI was asked"


async def test_a_configured_source_without_its_key_names_the_variable(database_url: str, home: Path) -> None:
    request = SearchRequest(cv_path=str(EXAMPLE_CV), jobs_dir=str(EXAMPLE_JOBS), query="python", mode="screen")
    context = Context(home=str(home), render_pdf=False, job_sources=("folder", "serpapi"))
    async with open_graph(database_url, home) as graph:
        config = {"configurable": {"thread_id": uuid.uuid4().hex}}
        with pytest.raises(JobSourceError, match='"serpapi" is configured but SERPAPI_API_KEY is not set'):
            await graph.ainvoke({"request": request}, config, context=context)
