"""Shared fixtures: a fresh PostgreSQL database per test session, data folders, CLI runner.

DATABASE_URL (CI sets it to the machine's PostgreSQL) names the server; without it the tests start
the embedded PostgreSQL, as a fresh laptop would.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from jobland.domain.models import Profile
from jobland.tools.cv_import import import_profile
from jobland.tools.embedded_postgres import embedded_database_url
from jobland.tools.postgres import postgres_persistence

# Tests never reach a real service: the machine's keys and endpoints for outside services are dropped.
for _variable in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "SERPAPI_API_KEY", "EXA_API_KEY"):
    os.environ.pop(_variable, None)

# The local API world's fixtures, for every test module.
pytest_plugins = tuple(
    f"tests.local_world.{name}" for name in ("openai", "serpapi", "exa", "gmail", "smtp", "sheets", "web")
)
# The shared factories' fixtures (servers, browsers), for every test module.
pytest_plugins += ("tests.support.api", "tests.support.browser", "tests.support.llm_answers")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
EXAMPLE_CV = ROOT / "examples" / "cv" / "alex-morgan.md"
EXAMPLE_JOBS = ROOT / "examples" / "jobs"


def _with_database(url: str, name: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**info)


async def _create_tables(url: str) -> None:
    async with postgres_persistence(url):
        pass


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = os.environ.get("DATABASE_URL") or embedded_database_url(tmp_path_factory.mktemp("embedded-pg"))
    name = f"jobland_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(server, name)
    asyncio.run(_create_tables(url))  # so that tests can watch the tables while a CLI process runs
    yield url
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "jobland-home"
    path.mkdir()
    return path


@pytest.fixture
def jobs_dir(tmp_path: Path) -> Path:
    """A private copy of the demo postings that a test may add files to."""
    target = tmp_path / "jobs"
    shutil.copytree(EXAMPLE_JOBS, target)
    return target


@pytest.fixture(scope="session")
def example_profile() -> Profile:
    return import_profile(EXAMPLE_CV)


def cli_env(home: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBLAND_")}
    env.update(
        JOBLAND_HOME=str(home), JOBLAND_EMAIL="alex.morgan@example.com", DATABASE_URL=database_url, COLUMNS="200"
    )
    env.update(extra)
    return env


def jobland_command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from jobland.cli import main; main()", *args]


def run_cli(
    home: Path,
    database_url: str,
    *args: str,
    check: bool = True,
    timeout: float = 300,
    stdin: str | None = None,
    **env: str,
) -> subprocess.CompletedProcess:
    """`jobland ARGS` with the test's data folder and database: in this process (typer's CliRunner), or in a
    process of its own when a failpoint may kill it."""
    if "JOBLAND_FAILPOINTS" in env:
        result = subprocess.run(
            jobland_command(*args),
            env=cli_env(home, database_url, **env),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
            input=stdin,
        )
    else:
        result = _run_in_process(cli_env(home, database_url, **env), args, stdin)
    if check and result.returncode != 0:
        raise AssertionError(f"jobland {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def _run_in_process(
    env: dict[str, str], args: tuple[str, ...], stdin: str | None = None
) -> subprocess.CompletedProcess:
    from typer.testing import CliRunner

    from jobland.cli import app

    # The process's own JOBLAND_* variables are unset for the command, as in a fresh process.
    overrides: dict[str, str | None] = {k: None for k in os.environ if k.startswith("JOBLAND_") and k not in env}
    overrides.update({k: v for k, v in env.items() if os.environ.get(k) != v})
    result = CliRunner().invoke(app, list(args), input=stdin, env=overrides, catch_exceptions=True)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, stderr)


def start_run(
    home: Path, database_url: str, jobs: Path, *options: str, max_packages: int = 3, **env: str
) -> subprocess.CompletedProcess:
    """`jobland run OPTIONS` of the example CV over `jobs`, its summary as JSON; in a process of its own when
    a failpoint may kill it."""
    return run_cli(
        home,
        database_url,
        "run",
        "--cv",
        str(EXAMPLE_CV),
        "--jobs",
        str(jobs),
        "--max-packages",
        str(max_packages),
        *options,
        "--format",
        "json",
        check=False,
        **env,
    )


def run_json(home: Path, database_url: str, *args: str, **env: str) -> Any:
    """A CLI command run with --format json, its output parsed."""
    return json.loads(run_cli(home, database_url, *args, "--format", "json", **env).stdout)


def free_port() -> int:
    """A free TCP port on loopback for a test server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def jobland_process(home: Path, database_url: str, *args: str) -> Iterator[subprocess.Popen]:
    """`jobland ARGS` running in a process of its own (stderr readable); killed at the end if still running."""
    process = subprocess.Popen(
        jobland_command(*args),
        env=cli_env(home, database_url),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


@contextmanager
def new_database(database_url: str) -> Iterator[str]:
    """A database of its own on the server of database_url, with JobLand's tables, dropped at the end."""
    name = f"jobland_fresh_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(database_url, name)
    try:
        asyncio.run(_create_tables(url))
        yield url
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_database(database_url: str) -> Iterator[str]:
    """A database of the test's own, as a new deployment starts with (no records left by other tests)."""
    with new_database(database_url) as url:
        yield url
