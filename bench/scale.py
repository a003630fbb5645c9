"""Benchmark: throughput of 1, 2 and 4 `jobland worker`s on one batch, against the bound the service limits set.

    python bench/scale.py [--workers 1 2 4] [--users 6] [--max-packages 2] [--llm-latency 0.5]
                          [--smtp-latency 0.2] [--database-url URL]

Each round is a deployment of its own on this machine (tests/support/scale_out.py): one `jobland serve`, N
`jobland worker`s (one segment at a time each), a fresh PostgreSQL database, this machine's Redis under a key
prefix of its own, the local OpenAI fake answering every LLM call after a fixed latency and the local SMTP
sink taking each message in after a fixed latency. The batch is the same every round: --users users each
search the same small jobs folder at once through the API, every package is approved, and the clock stops
when every thread is finished (delivered). Workers are started and ready before the clock starts.

The bound is what the service limits allow: for each service, its work (requests the fake answered times
its latency) over its allowed concurrency (the same limits the processes are given); the larger of the two
is the bound, which no number of workers can beat. Prints a table; writes bench/results/scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the local API world lives with the tests

from tests.conftest import _create_tables, _with_database  # noqa: E402
from tests.support.scale_out import Deployment, deployment, stage_of, start_search, upload_cvs  # noqa: E402

LIMITS = {
    "openai": {"max_concurrency": 4, "max_attempts": 3, "base_delay": 0.05},
    "smtp": {"max_concurrency": 2, "max_attempts": 2, "base_delay": 0.05},
}


def wait_for_all(world: Deployment, threads: dict[int, str], stages: set[str], timeout: float) -> dict[int, dict]:
    deadline, done = time.monotonic() + timeout, {}
    while len(done) < len(threads):
        for user, thread_id in threads.items():
            if user not in done:
                with world.client(user) as api:
                    status = stage_of(api, thread_id)
                if status["stage"] in stages:
                    done[user] = status
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(threads) - len(done)} threads not in {stages} after {timeout} s")
        time.sleep(0.2)
    return done


def wait_ready(world: Deployment, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    logs = [world.folder / f"worker-{n}.log" for n in range(len(world.workers))]
    while not all(" ready." in log.read_text() for log in logs):
        if time.monotonic() > deadline:
            raise SystemExit("the workers did not start")
        time.sleep(0.2)


def one_round(server_url: str, workers: int, args: argparse.Namespace, folder: Path) -> dict:
    name = f"jobland_scale_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database_url = _with_database(server_url, name)
    import asyncio

    asyncio.run(_create_tables(database_url))
    try:
        with deployment(
            folder,
            database_url,
            f"jobland-bench-{uuid.uuid4().hex[:10]}:",
            users=args.users,
            limits=LIMITS,
            llm_latency=args.llm_latency,
            smtp_latency=args.smtp_latency,
        ) as world:
            world.start_api()
            cv_id = upload_cvs(world)
            for _ in range(workers):
                world.start_worker()
            wait_ready(world)
            began = time.monotonic()
            with ThreadPoolExecutor(args.users) as pool:
                started = pool.map(lambda u: start_search(world.client(u), cv_id, args.max_packages), range(args.users))
                threads = dict(zip(range(args.users), started, strict=True))
            reviews = wait_for_all(world, threads, {"awaiting_review", "failed"}, timeout=900)
            to_review = time.monotonic() - began
            failed = [threads[u] for u, r in reviews.items() if r["stage"] != "awaiting_review"]
            if failed:
                raise SystemExit(f"runs failed: {failed}")
            for user, review in reviews.items():
                decisions = [{"package_id": p, "action": "accept"} for p in review["awaiting_review"]]
                with world.client(user) as api:
                    api.post(
                        f"/api/threads/{threads[user]}/decisions", json={"decisions": decisions}
                    ).raise_for_status()
            wait_for_all(world, threads, {"finished", "failed"}, timeout=900)
            wall = time.monotonic() - began
            llm_calls, emails = len(world.llm.requests), len(world.smtp.handler.deliveries)
            packages = sum(len(r["awaiting_review"]) for r in reviews.values())
            if emails != packages:
                raise SystemExit(f"{emails} emails for {packages} approved packages")
            llm_bound = llm_calls * args.llm_latency / LIMITS["openai"]["max_concurrency"]
            smtp_bound = emails * args.smtp_latency / LIMITS["smtp"]["max_concurrency"]
            bound = max(llm_bound, smtp_bound)
            return {
                "workers": workers,
                "threads": args.users,
                "packages": packages,
                "llm_calls": llm_calls,
                "emails": emails,
                "wall_s": round(wall, 2),
                "to_review_s": round(to_review, 2),
                "packages_per_min": round(packages / wall * 60, 1),
                "bound_s": round(bound, 2),
                "ratio_to_bound": round(wall / bound, 2),
                "peak_llm_in_flight": world.llm.peak_in_flight,
                "peak_smtp_in_flight": world.smtp_gauge.peak,
            }
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--users", type=int, default=6)
    parser.add_argument("--max-packages", type=int, default=2)
    parser.add_argument("--llm-latency", type=float, default=0.5, help="seconds the LLM fake takes per call")
    parser.add_argument("--smtp-latency", type=float, default=0.2, help="seconds the SMTP sink takes per message")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args()
    if not args.database_url:
        raise SystemExit("give --database-url (or DATABASE_URL): a PostgreSQL server to create databases on")
    with tempfile.TemporaryDirectory(prefix="jobland-scale-") as scratch:
        results = [one_round(args.database_url, n, args, Path(scratch) / f"workers-{n}") for n in args.workers]
    print(f"{'workers':>7} {'threads':>7} {'pkgs':>5} {'LLM calls':>9} {'emails':>6} {'wall s':>7} "
          f"{'pkgs/min':>8} {'bound s':>7} {'x bound':>7} {'LLM peak':>8} {'SMTP peak':>9}")  # fmt: skip
    for r in results:
        print(
            f"{r['workers']:>7} {r['threads']:>7} {r['packages']:>5} {r['llm_calls']:>9} {r['emails']:>6} "
            f"{r['wall_s']:>7} {r['packages_per_min']:>8} {r['bound_s']:>7} {r['ratio_to_bound']:>7} "
            f"{r['peak_llm_in_flight']:>8} {r['peak_smtp_in_flight']:>9}"
        )
    out = ROOT / "bench" / "results" / "scale.json"
    out.write_text(
        json.dumps(
            {
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "cpus": os.cpu_count(),
                "load_average_after": [round(x, 1) for x in os.getloadavg()],  # the machine is shared
                "llm_latency_s": args.llm_latency,
                "smtp_latency_s": args.smtp_latency,
                "limits": LIMITS,
                "rounds": results,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
