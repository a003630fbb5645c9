"""PostgreSQL connections terminated under a run, a server and a command: retried, never a lost package.

The faults are real: the test ends the app's backends with pg_terminate_backend, as a database
restart, a failover or an idle-connection reaper would.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import typer
from fastapi.testclient import TestClient
from langgraph.types import Command

from jobland.commands import run_async
from jobland.domain.models import PackageStatus, SearchRequest
from jobland.domain.repository import Records
from jobland.graph.builder import open_graph
from jobland.graph.context import Context
from jobland.server import create_app
from jobland.settings import Settings
from jobland.tools.postgres import server_wrote_since
from tests.conftest import EXAMPLE_CV, EXAMPLE_JOBS

pytestmark = pytest.mark.slow  # starts processes, servers or whole pipeline runs

# pg_terminate_backend's timeout: 0 returns once the backend is signalled; more, once it has written why and gone.
TERMINATE_OTHERS = (
    "SELECT count(pg_terminate_backend(pid, %(wait_ms)s)) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)
# The connections a failover ends are the open ones. Ending those still being opened as well, on a loaded
# machine, fails the pool's connection attempts, and psycopg_pool waits 1, 2, 4... s before the next one.
TERMINATE_OPEN = f"{TERMINATE_OTHERS} AND backend_start < now() - interval '0.5 seconds'"
MAX_SEARCHES = 10


def terminate_app_connections(database_url: str, *, wait_ms: int = 0) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return conn.execute(TERMINATE_OTHERS, {"wait_ms": wait_ms}).fetchone()[0]


@contextlib.contextmanager
def terminating(database_url: str, every_s: float) -> Iterator[list[int]]:
    """Ends every other open connection to the database every `every_s` seconds; yields the counts ended.

    From a thread of its own, as a failover comes from outside: on a loaded machine, a task on the run's own
    event loop got a turn only between the run's steps, and ended too few connections to test anything.
    """
    ended: list[int] = []
    stop = threading.Event()

    def loop() -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            while not stop.wait(every_s):
                ended.append(conn.execute(TERMINATE_OPEN, {"wait_ms": 0}).fetchone()[0])

    terminator = threading.Thread(target=loop, name="terminator", daemon=True)
    terminator.start()
    try:
        yield ended
    finally:
        stop.set()
        terminator.join(timeout=30)


async def test_a_run_whose_connections_keep_being_terminated_finishes_with_every_package(
    database_url: str, home: Path
) -> None:
    """Searches run one after another on one graph until at least 3 connections were ended under them: on a
    fast machine one search takes under the half second a connection must be open to be ended."""
    context = Context(user_email="alex.morgan@example.com", home=str(home), render_pdf=False)
    request = SearchRequest(cv_path=str(EXAMPLE_CV), jobs_dir=str(EXAMPLE_JOBS), max_packages=4)
    sent = 0
    async with open_graph(database_url, home) as graph:
        with terminating(database_url, every_s=0.25) as ended:
            for _ in range(MAX_SEARCHES):
                config = {"configurable": {"thread_id": uuid.uuid4().hex}}
                await graph.ainvoke({"request": request}, config, context=context, durability="sync")
                [pending] = (await graph.aget_state(config)).interrupts
                ids = [r["action_request"]["args"]["package_id"] for r in pending.value]
                answer = {pending.id: [{"package_id": pid, "action": "accept"} for pid in ids]}
                await graph.ainvoke(Command(resume=answer), config, context=context, durability="sync")

                values = (await graph.aget_state(config)).values
                assert len(values["screenings"]) == len(values["posting_ids"]) >= 30
                assert len(ids) == len(values["shortlist"]) >= 2
                packages = await Records(graph.store).packages(values["thread_id"])
                assert {p.id for p in packages} == set(ids)
                assert {p.status for p in packages} == {PackageStatus.sent}, [(p.status, p.error) for p in packages]
                sent += len(ids)
                if sum(ended) >= 3:
                    break
        assert sum(ended) >= 3, f"the faults did not happen: {ended}"
        assert len(list((home / "outbox").glob("*.eml"))) == sent


def test_the_first_request_after_idle_connections_were_terminated_answers(database_url: str, home: Path) -> None:
    settings = Settings(home=home, database_url=database_url, email="owner@example.com", api_token="token-0123456789")
    with TestClient(create_app(settings), headers={"Authorization": "Bearer token-0123456789"}) as api:
        assert api.get("/api/threads").status_code == 200
        assert terminate_app_connections(database_url) >= 1  # the pool's idle connections
        assert api.get("/api/threads").status_code == 200
        assert terminate_app_connections(database_url) >= 1
        assert api.get("/api/threads").status_code == 200


async def test_a_command_whose_connections_are_terminated_goes_on(database_url: str, home: Path) -> None:
    async with open_graph(database_url, home) as graph:
        records = Records(graph.store)
        before = await records.threads()
        assert terminate_app_connections(database_url) >= 1
        assert await records.threads() == before  # a fresh connection, not an error
        assert terminate_app_connections(database_url) >= 1
        assert (await graph.aget_state({"configurable": {"thread_id": "nobody"}})).values == {}


async def test_the_pool_queries_only_a_connection_the_server_wrote_to_and_replaces_a_terminated_one_unseen(
    database_url: str, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An idle connection with nothing to read is handed out with no check query; one the server ended (it wrote
    why, then closed it) is found by its check and replaced before any operation sees it: no retry is logged."""
    async with open_graph(database_url, home) as graph:
        records = Records(graph.store)
        before = await records.threads()
        closed = await psycopg.AsyncConnection.connect(database_url)
        await closed.close()
        assert server_wrote_since(closed), "a closed connection is sent to the check, which discards it"
        async with graph.store.conn.connection() as conn:
            assert not server_wrote_since(conn)
            pid = (await (await conn.execute("SELECT pg_backend_pid()")).fetchone())["pg_backend_pid"]
        with psycopg.connect(database_url, autocommit=True) as other:
            assert other.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchone()[0]
        async with graph.store.conn.connection() as conn:  # the pool's check replaced the ended one
            assert (await (await conn.execute("SELECT pg_backend_pid() AS pid")).fetchone())["pid"] != pid
        assert terminate_app_connections(database_url, wait_ms=5000) >= 1
        with caplog.at_level(logging.WARNING, logger="jobland.tools.postgres"):
            assert await records.threads() == before
        assert not [r for r in caplog.records if "lost its database connection" in r.getMessage()]


def test_an_outage_the_retries_cannot_bridge_is_one_line_saying_what_to_do(capsys: pytest.CaptureFixture) -> None:
    async def lost() -> None:
        raise psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly")

    with pytest.raises(typer.Exit) as exit_info:
        run_async(lost)
    assert exit_info.value.exit_code == 2
    said = capsys.readouterr().err
    line = " ".join(said.split())  # one message; the console wraps it to the terminal's width
    assert (
        said.startswith("error: lost the connection to PostgreSQL (consuming input failed") and "Traceback" not in said
    )
    assert "check that it is running" in line.lower() and "jobland resume" in line
