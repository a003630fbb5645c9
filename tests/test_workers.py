"""Runs on Celery workers over this machine's Redis: real `jobland worker` processes, the API enqueueing.

Every test uses a Redis key prefix of its own (queues and limits), so test runs never share a queue.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
from langgraph.types import Command

from jobland.deliveries import retry_delivery
from jobland.domain.models import DeadLetter, Decision, SearchRequest
from jobland.service import open_session, review_command
from jobland.settings import Settings
from jobland.workers import WorkerQueue, decode_segment, encode_segment, visibility_timeout_s
from tests.conftest import EXAMPLE_CV, cli_env, jobland_command, run_cli
from tests.local_world.smtp import LocalSmtp
from tests.support.api import ALICE, api_settings, client, running_server, smtp_env, upload, user_id, wait_for
from tests.support.smtp_gauge import slow_and_gauged

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def key_prefix() -> Iterator[str]:
    prefix = f"jobland-test-{uuid.uuid4().hex[:10]}:"
    yield prefix
    keys = redis.Redis.from_url(REDIS)
    for key in keys.scan_iter(f"{prefix}*"):
        keys.delete(key)


def worker_env(home: Path, database_url: str, key_prefix: str, **extra: str) -> dict[str, str]:
    given = {"JOBLAND_BROKER_URL": REDIS, "JOBLAND_BROKER_KEY_PREFIX": key_prefix, "JOBLAND_RENDER_PDF": "false"}
    return cli_env(home, database_url, **{**given, **extra})


@contextmanager
def workers(count: int, env: dict[str, str]) -> Iterator[list[subprocess.Popen]]:
    """`jobland worker` processes (a main process and one pool process each), stopped with SIGTERM."""
    logs = Path(env["JOBLAND_HOME"])
    started = [
        subprocess.Popen(
            jobland_command("worker"), env=env, stdout=subprocess.DEVNULL, stderr=(logs / f"worker-{n}.log").open("w")
        )
        for n in range(count)
    ]
    try:
        yield started
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def broker_settings(database_url: str, home: Path, key_prefix: str, **extra) -> Settings:
    settings = api_settings(database_url, home)
    return settings.model_copy(
        update={"broker_url": REDIS, "broker_key_prefix": key_prefix, "render_pdf": False, **extra}
    )


def run_rows(database_url: str, thread_id: str) -> list[dict]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        cursor = conn.execute(
            "SELECT kind, state, error, starts, worker, started_at, finished_at FROM jobland_worker_runs "
            "WHERE thread_id = %s ORDER BY queued_at",
            (thread_id,),
        )
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def wait_until(condition, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def start_search(api: httpx.Client, cv_id: str, max_packages: int) -> str:
    created = api.post("/api/threads", json={"cv_id": cv_id, "max_packages": max_packages})
    assert created.status_code == 202, created.text
    return created.json()["thread_id"]


def upload_cv(api: httpx.Client) -> str:
    answer = upload(api, EXAMPLE_CV)
    assert answer.status_code == 201, answer.text
    return answer.json()["cv_id"]


def approve_all(api: httpx.Client, thread_id: str, package_ids: list[str]) -> None:
    decisions = {"decisions": [{"package_id": pid, "action": "accept"} for pid in package_ids]}
    answer = api.post(f"/api/threads/{thread_id}/decisions", json=decisions)
    assert answer.status_code == 202, answer.text


def sent(smtp: LocalSmtp) -> Counter[str]:
    return Counter(d.message["X-JobLand-Package"] for d in smtp.handler.deliveries)


def test_visibility_timeout_outlasts_the_batch_budget_and_the_longest_step(home: Path) -> None:
    settings = Settings(home=home, batch_budget_s=3600)
    assert visibility_timeout_s(settings) > 3600 + 600  # the default budget plus deliver's 600 s limit


def mailer_settings(smtp: LocalSmtp) -> dict:
    """The SMTP settings of smtp_env, for a Settings object (the API server runs in this process)."""
    env = smtp_env(smtp)
    return {
        "mailer": "smtp",
        "smtp_host": env["JOBLAND_SMTP_HOST"],
        "smtp_port": int(env["JOBLAND_SMTP_PORT"]),
        "smtp_username": env["JOBLAND_SMTP_USERNAME"],
        "smtp_password": env["JOBLAND_SMTP_PASSWORD"],
        "smtp_ca_file": env["JOBLAND_SMTP_CA_FILE"],
        "service_limits": json.loads(env["JOBLAND_SERVICE_LIMITS"]),
    }


async def _enqueue_again(settings: Settings, thread_id: str, request: SearchRequest, user: str) -> None:
    """What a second API replica asking for the same thread would queue."""
    async with open_session(settings) as s:
        context = dataclasses.replace(settings.context(), user_id=user)
        await WorkerQueue(s).enqueue(thread_id, {"request": request}, context)


@pytest.mark.slow
def test_two_workers_share_the_work_and_one_smtp_budget_survive_a_kill_and_never_advance_one_thread_at_once(
    home: Path, database_url: str, key_prefix: str, smtp_server: LocalSmtp
) -> None:
    """Two searches through the API (202 at once) on two `jobland worker`s, one search queued twice; a pool
    process SIGKILLs itself mid-build; then both searches deliver at once through one SMTP budget of 1."""
    gauge = slow_and_gauged(smtp_server, seconds=0.5)
    one_at_a_time = {"smtp": {"max_concurrency": 1, "max_attempts": 2, "base_delay": 0.05}}
    settings = broker_settings(database_url, home, key_prefix, **mailer_settings(smtp_server))
    settings = settings.model_copy(update={"service_limits": one_at_a_time})
    env = worker_env(
        home,
        database_url,
        key_prefix,
        **{
            **smtp_env(smtp_server),
            "JOBLAND_SERVICE_LIMITS": json.dumps(one_at_a_time),
            # Each pool process SIGKILLs itself when it stores its 3rd package; that build is delivered again.
            "JOBLAND_FAILPOINTS": "check_package.after_store=3",
        },
    )
    with running_server(settings) as base, client(base, ALICE) as api:
        cv_id = upload_cv(api)  # read before the workers start: their start-up would slow the read past its limit
        with workers(2, env):
            first, second = start_search(api, cv_id, max_packages=4), start_search(api, cv_id, max_packages=4)
            # The API answers 202 before its background task writes the run's row: wait for the row too.
            wait_until(lambda: any(row["state"] != "queued" for row in run_rows(database_url, first)[:1]))
            asyncio.run(_enqueue_again(settings, first, _request_of(settings, first), user_id(settings)))
            reviews = {t: wait_for(api, t, {"awaiting_review", "failed"}, timeout=240) for t in (first, second)}
            assert all(r["stage"] == "awaiting_review" and len(r["awaiting_review"]) == 4 for r in reviews.values())
            for thread_id, review in reviews.items():
                approve_all(api, thread_id, review["awaiting_review"])
            for thread_id in reviews:
                assert wait_for(api, thread_id, {"finished", "failed"}, timeout=120)["stage"] == "finished"
    ids = [pid for review in reviews.values() for pid in review["awaiting_review"]]
    assert sent(smtp_server) == Counter({pid: 1 for pid in ids})
    rows = {t: run_rows(database_url, t) for t in reviews}
    assert all(r["state"] == "done" for thread_rows in rows.values() for r in thread_rows), rows
    # The second start of the first search never ran beside the first: it found the thread started.
    starts = [r for r in rows[first] if r["kind"] == "start"]
    assert sorted(r["error"] is None for r in starts) == [False, True]
    assert "started already" in next(r["error"] for r in starts if r["error"])
    # A batch's builds and deliveries ran as tasks of their own on both workers; a killed build ran again.
    builds = [r for thread_rows in rows.values() for r in thread_rows if r["kind"] == "build_package"]
    deliveries = [r for thread_rows in rows.values() for r in thread_rows if r["kind"] == "deliver"]
    assert len(builds) == len(deliveries) == 8
    assert len({worker_of(r) for r in builds}) == len({worker_of(r) for r in deliveries}) == 2
    assert any(r["starts"] >= 2 for r in builds), builds
    # Deliveries on the two workers overlapped, yet the SMTP server never took in two messages at once.
    assert any(
        a["started_at"] < b["finished_at"] and b["started_at"] < a["finished_at"]
        for a in deliveries
        for b in deliveries
        if worker_of(a) != worker_of(b)
    ), deliveries
    assert gauge.peak == 1


def worker_of(row: dict) -> str:
    return row["worker"].split(",")[0]  # the Celery worker's name; the pid after it changes when one is killed


def _request_of(settings: Settings, thread_id: str) -> SearchRequest:
    async def read() -> SearchRequest:
        async with open_session(settings) as s:
            return (await s.records.thread(thread_id)).request

    return asyncio.run(read())


def test_the_cli_hands_a_run_to_the_workers_and_returns_at_once(
    home: Path, database_url: str, key_prefix: str, jobs_dir: Path
) -> None:
    env = {"JOBLAND_BROKER_URL": REDIS, "JOBLAND_BROKER_KEY_PREFIX": key_prefix}
    result = run_cli(home, database_url, "run", "--cv", str(EXAMPLE_CV), "--jobs", str(jobs_dir), **env)
    assert "queued for the workers" in result.stdout, result.stdout
    thread_id = result.stdout.split("jobland status ")[1].split("`")[0]
    assert [(r["kind"], r["state"]) for r in run_rows(database_url, thread_id)] == [("start", "queued")]
    assert redis.Redis.from_url(REDIS).llen(f"{key_prefix}jobland") == 1  # the message waits for a worker
    status = json.loads(run_cli(home, database_url, "status", thread_id, "--format", "json", **env).stdout)
    assert status["stage"] == "interrupted"  # nothing advanced it in this process


def test_every_kind_of_segment_crosses_the_broker_as_json_and_back(jobs_dir: Path) -> None:
    request = SearchRequest(cv_path=str(EXAMPLE_CV), jobs_dir=str(jobs_dir), max_packages=2)
    decisions = [Decision(package_id="pkg_1", action="accept"), Decision(package_id="pkg_2", action="reject")]
    letter = DeadLetter(
        package_id="pkg_1", thread_id="t1", owner="alice", company="Acme", title="Engineer",
        kind="exhausted", reason="gave up", mailer="smtp", message_id="<pkg_1@jobland.local>",
    )  # fmt: skip
    segments = [
        {"request": request, "message": "python in Berlin"},
        None,
        review_command("interrupt-1", decisions, done=True),
        retry_delivery(letter),
        Command(goto="record"),
    ]
    for payload in segments:
        wire = json.loads(json.dumps(encode_segment(payload)))
        again = decode_segment(wire)
        if isinstance(payload, Command):
            assert (again.resume, again.goto) == (payload.resume, payload.goto)
        else:
            assert again == payload
