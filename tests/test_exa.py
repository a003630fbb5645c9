"""Exa over real HTTP: job-board search mapped to postings, company research material with URLs, errors and retries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobland.domain.models import SearchRequest
from jobland.graph.builder import open_graph
from jobland.graph.context import Context
from jobland.tools.exa import ExaClient, ExaJobSource, ExaResearch, company_from_url, title_and_company
from jobland.tools.ratelimit import ServiceError, ServiceLimiter
from tests.conftest import EXAMPLE_CV
from tests.local_world.base import Fault
from tests.local_world.exa import API_KEY, FakeExa, Page

NOW = datetime.now(UTC)  # the fake's pages are dated relative to the real clock


def client(world: FakeExa, *, key: str = API_KEY, **limits: float) -> tuple[ExaClient, list[float]]:
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    return ExaClient(key, base_url=world.url, limiter=ServiceLimiter("exa", sleep=record, **limits)), waits


def test_board_urls_and_titles_give_title_and_company() -> None:
    assert company_from_url("https://boards.greenhouse.io/acme-robotics/jobs/123") == "Acme Robotics"
    assert company_from_url("https://jobs.lever.co/acme/0f1e") == "Acme"
    assert company_from_url("https://acme.recruitee.com/o/python-dev") == "Acme"
    assert company_from_url("https://example.com/careers/1") == ""
    cases = {
        ("Job Application for Senior Engineer - Platform at Acme GmbH", "https://boards.greenhouse.io/acme/jobs/1"): (
            "Senior Engineer - Platform",
            "Acme GmbH",
        ),
        ("Acme - Backend Developer", "https://jobs.lever.co/acme/0f1e"): ("Backend Developer", "Acme"),
        ("Data Engineer @ Acme Robotics", "https://jobs.ashbyhq.com/acme-robotics/9"): (
            "Data Engineer",
            "Acme Robotics",
        ),
    }
    for (title, url), expected in cases.items():
        assert title_and_company(title, url) == expected


async def test_job_search_sends_boards_and_freshness_and_maps_pages(exa_world: FakeExa) -> None:
    exa, _ = client(exa_world)
    batch = await ExaJobSource(exa, max_results=10).fetch(
        SearchRequest(query="python engineer", locations=["Berlin"]), now=NOW
    )
    [sent] = exa_world.requests
    assert sent.path == "/search" and sent.headers["x-api-key"] == API_KEY
    body = sent.json()
    assert body["query"] == "python engineer job opening in Berlin" and body["numResults"] == 10
    assert {"boards.greenhouse.io", "jobs.lever.co", "jobs.ashbyhq.com"} <= set(body["includeDomains"])
    assert body["startPublishedDate"] == (NOW - timedelta(days=30)).date().isoformat()
    assert body["contents"] == {"text": {"maxCharacters": 10000}}

    assert len(batch.postings) >= 5
    kiezkraft = next(p for p in batch.postings if p.company == "Kiezkraft GmbH")
    assert kiezkraft.title == "Senior Python Backend Engineer"
    assert kiezkraft.url.startswith(("https://boards.greenhouse.io/kiezkraft/", "https://jobs.lever.co/kiezkraft/"))
    assert kiezkraft.source.startswith("exa:") and kiezkraft.datePosted is not None
    assert kiezkraft.jobLocation[0].address.addressLocality == "Berlin"
    assert kiezkraft.baseSalary and kiezkraft.baseSalary.currency == "EUR"
    assert "Python" in kiezkraft.skills and kiezkraft.qualifications


async def test_research_material_keeps_every_url(exa_world: FakeExa) -> None:
    exa, _ = client(exa_world)
    posting_url = next(p.url for p in exa_world.pages if p.category == "job" and p.company == "Kiezkraft GmbH")
    material = await ExaResearch(exa).company_material("Kiezkraft GmbH", posting_url, now=NOW)
    urls = [item.url for item in material]
    assert urls == ["https://kiezkraft.example/about", "https://news.example/kiezkraft-new-office", posting_url]
    assert all(item.text and item.title and item.published_date for item in material)
    searches = [r.json() for r in exa_world.requests if r.path == "/search"]
    assert sorted(s["category"] for s in searches) == ["company", "news"]
    assert next(s for s in searches if s["category"] == "news")["startPublishedDate"]
    [contents] = [r.json() for r in exa_world.requests if r.path == "/contents"]
    assert contents["urls"] == [posting_url]


async def test_a_refused_key_is_a_clear_error_and_not_retried(exa_world: FakeExa) -> None:
    exa, _ = client(exa_world, key="wrong")
    with pytest.raises(ServiceError, match="HTTP 401.*EXA_API_KEY"):
        await exa.search("Kiezkraft", category="company")
    assert len(exa_world.requests) == 1


async def test_429_and_500_are_retried_within_the_budget(exa_world: FakeExa) -> None:
    exa_world.fail_next(Fault(status=429, body={"error": "rate limited"}), Fault(status=503))
    exa, waits = client(exa_world, base_delay=0.01)
    assert await exa.search("Kiezkraft", category="company")
    assert len(exa_world.requests) == 3 and len(waits) == 2

    exa_world.requests.clear()
    exa_world.fail_next(*[Fault(status=500)] * 4)
    exa, _ = client(exa_world, max_attempts=3, base_delay=0.01)
    with pytest.raises(ServiceError, match=r"gave up after 3 attempt\(s\)"):
        await exa.contents(["https://kiezkraft.example/about"])
    assert len(exa_world.requests) == 3


async def test_discover_with_exa_stores_board_postings(database_url: str, home: Path, exa_world: FakeExa) -> None:
    exa_world.pages = [
        Page(
            url="https://jobs.ashbyhq.com/quellwerk/7",
            title="Senior Python Engineer @ Quellwerk",
            text="Location: Berlin, Germany\nSalary: €80K–95K a year\n\nBuild payment APIs in Python and PostgreSQL.",
            published=NOW - timedelta(days=2),
            category="job",
            company="Quellwerk",
        )
    ]
    request = SearchRequest(cv_path=str(EXAMPLE_CV), query="python", mode="screen")
    context = Context(
        home=str(home), render_pdf=False, job_sources=("exa",), exa_api_key=API_KEY, exa_base_url=exa_world.url
    )
    async with open_graph(database_url, home) as graph:
        config = {"configurable": {"thread_id": uuid.uuid4().hex}}
        result = await graph.ainvoke({"request": request}, config, context=context)
    [screening] = result["screenings"]
    assert len(result["posting_ids"]) == 1 and screening.posting_id == result["posting_ids"][0]
