"""JobLand as a deployment: 2 `jobland serve` and 2 `jobland worker` processes on one PostgreSQL and Redis.

20 users search at once through both APIs, the process running a segment is SIGKILLed mid-run, and every
promise is checked where it is kept: every run reaches review and delivers what was approved, exactly
once (the SMTP sink); no thread had two holders at once (the lease log); no service saw more requests
at once than its cap (gauges at the fakes, which every process shares).
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from tests.support.scale_out import Deployment, deployment, stage_of, start_search, upload_cvs

USERS = 20
LIMITS = {
    "openai": {"max_concurrency": 3, "max_attempts": 3, "base_delay": 0.05},
    "smtp": {"max_concurrency": 2, "max_attempts": 2, "base_delay": 0.05},
}


def rows(database_url: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def wait_for_all(
    world: Deployment, database_url: str, threads: dict[int, str], stages: set[str], timeout: float
) -> dict[int, dict]:
    deadline, done, last = time.monotonic() + timeout, {}, {}
    while len(done) < len(threads):
        for user, thread_id in threads.items():
            if user not in done:
                with world.client(user) as api:
                    last[user] = status = stage_of(api, thread_id)
                if status["stage"] in stages:
                    done[user] = status
        if time.monotonic() > deadline:
            stuck = {threads[u]: last[u]["stage"] for u in threads if u not in done}
            segments = rows(
                database_url,
                "SELECT thread_id, kind, state, starts, error FROM jobland_worker_runs WHERE thread_id = ANY(%s) "
                "ORDER BY queued_at",
                (list(stuck),),
            )
            raise AssertionError(f"not in {stages} after {timeout} s: {stuck}; their segments: {segments}")
        time.sleep(0.3)
    return done


def kill_a_running_segment(world: Deployment, database_url: str, timeout: float = 60) -> tuple[int, datetime]:
    """SIGKILL the first worker's pool process while it runs a segment; its pid and when."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pool = world.pool_pids(world.workers[0])
        running = rows(database_url, "SELECT worker FROM jobland_worker_runs WHERE state = 'running'")
        busy = [pid for pid in pool if any(f"pid {pid} on" in (worker or "") for (worker,) in running)]
        if busy:
            killed_at = datetime.now(UTC)
            os.kill(busy[0], signal.SIGKILL)
            return busy[0], killed_at
        time.sleep(0.05)
    raise AssertionError("the first worker never ran a segment")


def assert_one_holder_at_a_time(database_url: str, killed_pid: int, killed_at: datetime) -> int:
    """Per thread, each lease begins after the one before it ended (or after its holder was killed)."""
    log = rows(
        database_url,
        "SELECT thread_id, token, holder, acquired_at, released_at FROM jobland_thread_lease_log "
        "ORDER BY thread_id, token",
    )
    by_thread: dict[str, list[tuple]] = {}
    for entry in log:
        by_thread.setdefault(entry[0], []).append(entry)
    for thread_id, leases in by_thread.items():
        assert [lease[1] for lease in leases] == list(range(1, len(leases) + 1)), leases  # every lease logged
        for before, after in zip(leases, leases[1:], strict=False):
            if before[4] is None:  # its holder died holding it: only the killed process may have
                assert before[2].startswith(f"pid {killed_pid} on"), (thread_id, leases)
                assert after[3] > killed_at, (thread_id, leases)
            else:
                assert after[3] >= before[4], (thread_id, leases)
        unreleased = [lease for lease in leases if lease[4] is None]
        assert all(lease[2].startswith(f"pid {killed_pid} on") for lease in unreleased), (thread_id, leases)
    return len(log)


@pytest.mark.slow
def test_two_apis_and_two_workers_serve_20_users_through_a_killed_worker_within_every_budget(
    tmp_path: Path, fresh_database: str
) -> None:
    key_prefix = f"jobland-test-{uuid.uuid4().hex[:10]}:"
    with deployment(
        tmp_path / "deployment", fresh_database, key_prefix, users=USERS, limits=LIMITS, llm_latency=0.05,
        smtp_latency=0.1,
    ) as world:  # fmt: skip
        world.start_worker(), world.start_worker()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda _: world.start_api(), range(2)))
        cv_id = upload_cvs(world)
        with ThreadPoolExecutor(USERS) as pool:  # 20 users at once, half on each API process
            started = pool.map(lambda u: start_search(world.client(u), cv_id, max_packages=1), range(USERS))
            threads = dict(zip(range(USERS), started, strict=True))
        killed_pid, killed_at = kill_a_running_segment(world, fresh_database)

        reviews = wait_for_all(world, fresh_database, threads, {"awaiting_review", "failed"}, timeout=150)
        assert {u: r["stage"] for u, r in reviews.items()} == dict.fromkeys(threads, "awaiting_review"), reviews
        assert all(len(r["awaiting_review"]) == 1 for r in reviews.values()), reviews
        approved, rejected = set(), set()
        for user, review in reviews.items():  # even users approve their package, odd users reject theirs
            package_id = review["awaiting_review"][0]
            action = "accept" if user % 2 == 0 else "reject"
            (approved if action == "accept" else rejected).add(package_id)
            with world.client(user) as api:
                decided = api.post(
                    f"/api/threads/{threads[user]}/decisions",
                    json={"decisions": [{"package_id": package_id, "action": action}]},
                )
            assert decided.status_code == 202, decided.text
        finished = wait_for_all(world, fresh_database, threads, {"finished", "failed"}, timeout=90)
        assert {r["stage"] for r in finished.values()} == {"finished"}, finished

    deliveries = world.smtp.handler.deliveries
    assert Counter(d.message["X-JobLand-Package"] for d in deliveries) == Counter(dict.fromkeys(approved, 1))
    assert len({d.message["Message-ID"] for d in deliveries}) == len(deliveries) == len(approved)
    assert not rejected & {d.message["X-JobLand-Package"] for d in deliveries}

    runs = rows(fresh_database, "SELECT state, starts, worker FROM jobland_worker_runs")
    assert {state for state, _, _ in runs} == {"done"}, runs
    assert any(starts >= 2 for _, starts, _ in runs), "the killed segment was never run again"
    assert len({worker.split(",")[0] for _, _, worker in runs if worker}) == 2  # both workers took work
    assert assert_one_holder_at_a_time(fresh_database, killed_pid, killed_at) >= 3 * USERS

    # The budgets held across all four processes, measured where the requests arrive.
    assert 1 <= world.llm.peak_in_flight <= LIMITS["openai"]["max_concurrency"]
    assert 1 <= world.smtp_gauge.peak <= LIMITS["smtp"]["max_concurrency"]
