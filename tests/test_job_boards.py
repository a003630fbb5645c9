"""Company career boards (Greenhouse, Lever, Ashby, Workday) over real HTTP, merged with a folder.

Each board fake (tests/local_world/<service>.py) speaks its API's documented shape. Lever and Workday
page (skip/limit, offset/limit): their boards are read over two pages. Greenhouse's Job Board API and
Ashby's posting API answer a whole board at once, so for them the two pages are two boards of the
service. Either way the opening that is also in the folder is kept once, from the folder.
"""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jobland.agents.discover import job_source, merge, source_names
from jobland.domain.models import JobPosting, SearchRequest
from jobland.domain.repository import Records
from jobland.graph.builder import open_graph
from jobland.graph.context import Context
from jobland.tools.job_folder import JobBatch, JobSourceError, load_folder
from tests.conftest import EXAMPLE_CV, EXAMPLE_JOBS
from tests.local_world.ashby import FakeAshby
from tests.local_world.base import Fault, LocalService
from tests.local_world.greenhouse import FakeGreenhouse
from tests.local_world.lever import FakeLever
from tests.local_world.workday import FakeWorkday

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
FOLDER_POSTING = "kiezkraft-senior-python-backend.json"
FAST = {"base_delay": 0.01, "requests_per_second": 100}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    shutil.copy(EXAMPLE_JOBS / FOLDER_POSTING, jobs / FOLDER_POSTING)
    return jobs


def openings(company: str, count: int, start: int = 0) -> list[JobPosting]:
    """`count` distinct openings at `company`: the demo postings, each under a title of its own."""
    demo = [p for p in load_folder(EXAMPLE_JOBS, now=NOW).postings if "kiezkraft" not in p.source]
    return [
        p.model_copy(update={"company": company, "title": f"{p.title} {chr(65 + i % 26)}{i}"})
        for i, p in enumerate(demo[start : start + count], start)
    ]


def board_world(service: str, same: JobPosting) -> tuple[LocalService, dict[str, list[str]], int]:
    """The service's fake with the folder's opening among others; the boards to list, and how many openings."""
    if service == "greenhouse":
        fake = FakeGreenhouse()
        fake.boards = {
            "kiezkraft": ("Kiezkraft GmbH", [*openings("", 3), same]),
            "spreewerk": ("Spreewerk", openings("", 4, 3)),
        }
        return fake, {service: ["kiezkraft", "spreewerk"]}, 8
    if service == "ashby":
        fake = FakeAshby()
        fake.boards = {"kiezkraft": [*openings("Kiezkraft", 3), same], "spreewerk": openings("Spreewerk", 4, 3)}
        fake.unlisted = {"kiezkraft": openings("Kiezkraft", 1, 9)}  # on the board, not published: left out
        return fake, {service: ["kiezkraft", "spreewerk"]}, 8
    if service == "lever":
        fake = FakeLever()
        fake.companies = {"kiezkraft": [*openings("Kiezkraft", 7), same]}  # pages of 5: 5 + 3
        return fake, {service: ["kiezkraft"]}, 8
    fake = FakeWorkday()
    fake.sites = {
        ("kiezkraft", "External"): ("kiezkraft.wd3.myworkdayjobs.com", [*openings("Kiezkraft GmbH", 24), same])
    }
    return fake, {service: ["kiezkraft/External@kiezkraft.wd3.myworkdayjobs.com"]}, 25


def board_context(service: str, fake: LocalService, boards: dict[str, list[str]], home: Path) -> Context:
    return Context(
        home=str(home),
        render_pdf=False,
        boards=boards,
        service_limits={service: FAST},
        **{f"{service}_base_url": fake.url},
    )


async def fetch_boards(context: Context, request: SearchRequest, page_size: int | None = None) -> list[JobBatch]:
    batches = []
    for name in source_names(context)[1:]:  # after "folder": the boards
        source = job_source(name, request, context)
        if page_size:
            source.page_size = page_size
        batches.append(await source.fetch(request, now=NOW))
    return batches


@pytest.mark.parametrize("service", ["greenhouse", "lever", "ashby", "workday"])
async def test_each_board_is_read_over_two_pages_and_its_copy_of_a_folder_posting_is_dropped(
    service: str, folder: Path, home: Path
) -> None:
    [same] = load_folder(folder, now=NOW).postings
    fake, boards, total = board_world(service, same)
    fake.start()
    try:
        fake.fail_next(Fault(status=503))  # one outage on the way: retried under the service's limiter
        context = board_context(service, fake, boards, home)
        request = SearchRequest(jobs_dir=str(folder), query="python")
        folder_batch = await job_source("folder", request, context).fetch(request, now=NOW)
        board_batches = await fetch_boards(context, request, page_size=5 if service == "lever" else None)
    finally:
        fake.stop()

    pages = [r for r in fake.requests if r.method == "POST" or "/job/" not in r.path]
    assert len([r for r in pages if r.path != "/v1/boards/kiezkraft"]) == 3, "two pages, and the one retried"
    assert sum(len(b.postings) for b in board_batches) == total
    merged = merge([folder_batch, *board_batches], NOW)
    assert len(merged.postings) == total  # the folder's and the board's openings, the shared one once
    [duplicate] = [d for d in merged.discarded if d.reason.startswith("duplicate")]
    assert duplicate.title == same.title and duplicate.source.startswith(f"{service}:")
    assert f"kept from folder:{FOLDER_POSTING}" in duplicate.reason

    board_copy = next(p for b in board_batches for p in b.postings if p.canonical_key == same.canonical_key)
    assert board_copy.jobLocation[0].address.addressLocality == "Berlin"
    assert board_copy.url and board_copy.url.startswith("https://") and board_copy.source.startswith(f"{service}:")
    if service in ("lever", "ashby"):  # the APIs that carry pay as fields
        assert (board_copy.baseSalary.minValue, board_copy.baseSalary.maxValue) == (80000, 95000)
    assert "PostgreSQL" in board_copy.skills and board_copy.facts.requirements


async def test_a_failing_board_is_a_source_failure_and_the_search_filters_board_postings(
    database_url: str, home: Path, folder: Path
) -> None:
    [same] = load_folder(folder, now=NOW).postings
    [london] = [p for p in load_folder(EXAMPLE_JOBS, now=NOW).postings if "thameslight" in p.source]
    fake = FakeGreenhouse()
    fake.boards = {"kiezkraft": ("Kiezkraft GmbH", [same]), "thameslight": ("Thameslight", [london])}
    fake.start()
    try:
        context = board_context("greenhouse", fake, {"greenhouse": ["kiezkraft", "thameslight", "no-such-board"]}, home)
        request = SearchRequest(
            cv_path=str(EXAMPLE_CV), jobs_dir=str(folder), query="python backend, London", mode="screen"
        )
        thread_id = uuid.uuid4().hex
        async with open_graph(database_url, home) as graph:
            config = {"configurable": {"thread_id": thread_id}}
            await graph.ainvoke({"message": request.query, "request": request}, config, context=context)
            result = (await graph.aget_state(config)).values
            records = Records(graph.store)
            record = await records.thread(thread_id)
            verdicts = await records.screenings(result["profile_id"], result["posting_ids"])
            postings = {p.id: p for p in await records.postings(result["posting_ids"])}
    finally:
        fake.stop()

    [london_id] = [i for i, p in postings.items() if p.source == "greenhouse:thameslight"]
    [failure] = record.source_failures
    assert failure.source == "greenhouse:no-such-board" and 'no board "no-such-board" (HTTP 404)' in failure.error
    assert len(result["posting_ids"]) == 2  # the folder's Berlin opening (its board copy dropped) and London's
    # The search's place, not the CV's home (Berlin), is what the board's Berlin opening is held to.
    berlin = verdicts[next(i for i in result["posting_ids"] if i != london_id)]
    assert any("your locations are London" in d for d in berlin.deal_breakers), berlin.deal_breakers
    assert not any("your locations" in d for d in verdicts[london_id].deal_breakers), verdicts[london_id]


async def test_a_malformed_workday_board_or_an_unknown_service_fails_the_run_before_any_request(home: Path) -> None:
    request = SearchRequest(query="python")
    with pytest.raises(JobSourceError, match='is not "tenant/site@host"'):
        job_source("workday:acme", request, Context(home=str(home)))
    with pytest.raises(JobSourceError, match='unknown job source "smartjobs:acme"'):
        job_source("smartjobs:acme", request, Context(home=str(home)))
