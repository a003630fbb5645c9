"""A job source that gives up does not sink the run: the others go on, and the failure is reported.

Exa is the local twin (tests/local_world/exa.py) answering 429/500; the folder source is the demo
postings. The failure shows in the thread's record, `jobland status`, the server's thread status and
the webhook's event body. A flaky Exa (30% of calls failing) costs retries, not packages.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from jobland.cli import app as cli_app
from jobland.domain.models import PackageStatus, SearchRequest
from jobland.domain.repository import Records
from jobland.graph.builder import open_graph
from jobland.graph.context import Context
from jobland.server import create_app
from jobland.service import Session
from jobland.settings import Settings
from jobland.webhooks import event_payload
from tests.conftest import EXAMPLE_CV, EXAMPLE_JOBS, run_cli
from tests.local_world.base import Fault
from tests.local_world.exa import API_KEY, FakeExa
from tests.local_world.openai import API_KEY as OPENAI_KEY
from tests.local_world.openai import FakeOpenAI

pytestmark = pytest.mark.slow  # starts processes, servers or whole pipeline runs

TOKEN = "token-0123456789"


def exa_context(home: Path, exa: FakeExa, **limits: float) -> Context:
    return Context(
        user_email="alex.morgan@example.com",
        home=str(home),
        render_pdf=False,
        job_sources=("folder", "exa"),
        exa_api_key=API_KEY,
        exa_base_url=exa.url,
        service_limits={"exa": {"base_delay": 0.01, **limits}},
    )


async def run_to_review_with_exa_refusing(database_url: str, home: Path, exa: FakeExa, settings: Settings) -> str:
    """A run on the folder and Exa, Exa answering 429 until it gives up; checks the webhook body on the way."""
    exa.fail_next(*[Fault(status=429, body={"error": "rate limited"})] * 3)
    thread_id = uuid.uuid4().hex
    config = {"configurable": {"thread_id": thread_id}}
    request = SearchRequest(cv_path=str(EXAMPLE_CV), jobs_dir=str(EXAMPLE_JOBS), query="python", max_packages=2)
    async with open_graph(database_url, home) as graph:
        await graph.ainvoke({"request": request}, config, context=exa_context(home, exa, max_attempts=3))
        snapshot = await graph.aget_state(config)
        assert snapshot.interrupts, "the run went on to review"
        assert len(snapshot.values["posting_ids"]) >= 30  # the folder's postings
        record = await Records(graph.store).thread(thread_id)
        body = await event_payload(Session(settings, graph), thread_id, "review_ready", snapshot, None)
    [failure] = record.source_failures
    assert failure.source == "exa" and "gave up after 3 attempt(s)" in failure.error and "429" in failure.error
    assert body["source_failures"] == [failure.model_dump()]
    return thread_id


def test_exa_giving_up_leaves_the_folder_postings_and_says_what_is_missing(
    database_url: str, home: Path, exa_world: FakeExa
) -> None:
    settings = Settings(home=home, database_url=database_url, email="alex.morgan@example.com", api_token=TOKEN)
    thread_id = asyncio.run(run_to_review_with_exa_refusing(database_url, home, exa_world, settings))
    failure = {
        "source": "exa",
        "error": 'exa: gave up after 3 attempt(s): Request failed with status code 429: {"error": "rate limited"}',
    }

    env = {"JOBLAND_HOME": str(home), "DATABASE_URL": database_url, "JOBLAND_EMAIL": "alex.morgan@example.com"}
    status = CliRunner().invoke(cli_app, ["status", thread_id, "--format", "json"], env=env)
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["source_failures"] == [failure]
    table = CliRunner().invoke(cli_app, ["status", thread_id], env={**env, "COLUMNS": "300"})
    assert "source exa gave up (its postings are missing): exa: gave up after 3 attempt(s)" in table.stdout

    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        thread = api.get(f"/api/threads/{thread_id}").raise_for_status().json()
    assert thread["source_failures"] == [failure]


async def test_every_source_giving_up_fails_discovery_naming_each(
    database_url: str, home: Path, exa_world: FakeExa, tmp_path: Path
) -> None:
    exa_world.fail_next(*[Fault(status=500)] * 2)
    request = SearchRequest(cv_path=str(EXAMPLE_CV), jobs_dir=str(tmp_path / "no-such-folder"), query="python")
    async with open_graph(database_url, home) as graph:
        config = {"configurable": {"thread_id": uuid.uuid4().hex}}
        try:
            await graph.ainvoke({"request": request}, config, context=exa_context(home, exa_world, max_attempts=2))
        except Exception as error:  # noqa: BLE001 - the message is what is checked
            message = str(error)
        assert message.startswith("every job source gave up: folder: ") and "exa: exa: gave up after 2" in message


async def test_thirty_percent_faults_on_exa_and_the_llm_cost_retries_not_packages(
    database_url: str, home: Path, exa_world: FakeExa, openai_server: FakeOpenAI
) -> None:
    faults = (Fault(status=429, headers={"Retry-After": "0"}), Fault(status=500), Fault(status=503))
    exa_world.fail_randomly(0.3, *faults, seed=16)
    openai_server.fail_randomly(0.3, *faults, seed=16)
    context = dataclasses.replace(
        exa_context(home, exa_world),
        llm_base_url=openai_server.base_url,
        llm_api_key=OPENAI_KEY,
        service_limits={"exa": {"base_delay": 0.01}, "openai": {"base_delay": 0.01}},
    )
    thread_id = uuid.uuid4().hex
    config = {"configurable": {"thread_id": thread_id}}
    request = SearchRequest(cv_path=str(EXAMPLE_CV), jobs_dir=str(EXAMPLE_JOBS), query="python", max_packages=3)
    async with open_graph(database_url, home) as graph:
        await graph.ainvoke({"request": request}, config, context=context, durability="sync")
        records = Records(graph.store)
        assert (await records.thread(thread_id)).source_failures == []
        packages = await records.packages(thread_id)
    assert len([r for r in exa_world.requests if r.path in ("/search", "/contents")]) >= 4, "discovery and research"
    assert len(openai_server.chat_requests()) >= 20
    assert packages and {p.status for p in packages} == {PackageStatus.ready}, [(p.status, p.error) for p in packages]


def test_a_first_step_whose_llm_gives_up_leaves_a_thread_to_resume(
    database_url: str, home: Path, openai_server: FakeOpenAI
) -> None:
    openai_server.fail_randomly(1.0, Fault(status=500))
    llm = {
        "JOBLAND_LLM_BASE_URL": openai_server.base_url,
        "JOBLAND_LLM_API_KEY": OPENAI_KEY,
        "JOBLAND_SERVICE_LIMITS": json.dumps({"openai": {"max_attempts": 2, "base_delay": 0.01}}),
        "JOBLAND_RENDER_PDF": "false",
    }
    thread_id = str(uuid.uuid4())
    args = ("--cv", str(EXAMPLE_CV), "--jobs", str(EXAMPLE_JOBS), "--query", "senior Python", "--max-packages", "2")
    failed = run_cli(home, database_url, "run", *args, "--thread-id", thread_id, check=False, **llm)
    assert failed.returncode == 2 and "openai: gave up after 2 attempt(s)" in failed.stderr, failed.stderr
    assert "Traceback" not in failed.stderr

    openai_server.fail_randomly(0.0)  # the provider is back
    resumed = run_cli(home, database_url, "resume", thread_id, "--format", "json", **llm)
    assert json.loads(resumed.stdout)["awaiting_review"], resumed.stdout
