"""At most once across processes: concurrent CLI approvals, two servers, slow mailers, two resumes.

Every process here is a real `jobland` process on the same PostgreSQL; the mail servers are the local
SMTP server (aiosmtpd) and the local Gmail API, which count what they receive. The thread lease and the
send claim (tools/leases.py) are what make these hold.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from jobland.domain.models import SearchRequest, ThreadRecord
from jobland.domain.repository import Records
from jobland.settings import Settings
from jobland.tools.leases import PostgresGuards
from jobland.tools.postgres import postgres_persistence
from tests.conftest import EXAMPLE_CV, cli_env, free_port, jobland_command, run_cli, run_json
from tests.local_world.gmail import FakeGmail
from tests.local_world.smtp import LocalSmtp
from tests.support.api import client, running_server, smtp_env

pytestmark = pytest.mark.slow

TOKEN = "concurrency-token-0123456789"


def gmail_env(gmail: FakeGmail, folder: Path) -> dict[str, str]:
    return {
        "JOBLAND_MAILER": "gmail",
        "JOBLAND_GMAIL_TOKEN_FILE": str(gmail.write_token_file(folder / "gmail-token.json")),
        "JOBLAND_GMAIL_API_ENDPOINT": gmail.url,
        "JOBLAND_RENDER_PDF": "false",
    }


def run_to_review(home: Path, database_url: str, jobs: Path, packages: int, **env: str) -> tuple[str, list[str]]:
    summary = run_json(
        home, database_url, "run", "--cv", str(EXAMPLE_CV), "--jobs", str(jobs), "--max-packages", str(packages), **env
    )
    ids = [w["package_id"] for w in summary["awaiting_review"]]
    assert len(ids) == packages, summary
    return summary["thread_id"], ids


def review_args(thread: str, approve: list[str], reject: list[str]) -> list[str]:
    args = ["review", thread]
    for pid in approve:
        args += ["--approve", pid]
    for pid in reject:
        args += ["--reject", pid]
    return args


def at_once(home: Path, database_url: str, commands: list[list[str]], **env: str) -> list[subprocess.CompletedProcess]:
    """Start every command before waiting for any, as a person double-clicking or a script would."""
    processes = [
        subprocess.Popen(
            jobland_command(*args),
            env=cli_env(home, database_url, **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    results = []
    for args, process in zip(commands, processes, strict=True):
        stdout, stderr = process.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(args, process.returncode, stdout, stderr))
    return results


def assert_clear_refusals(results: list[subprocess.CompletedProcess]) -> None:
    """Whoever did not get the thread was told so in one line; nobody crashed."""
    for result in results:
        assert "Traceback" not in result.stderr, result.stderr
        if result.returncode != 0:
            assert result.returncode == 2, result.stderr
            assert "is being advanced by pid" in result.stderr or "not waiting for review" in result.stderr, (
                result.stderr
            )


def sent_package_ids(messages: list) -> Counter[str]:
    return Counter(m["X-JobLand-Package"] for m in messages)


def test_twenty_concurrent_cli_approvals_send_each_package_once_over_smtp(
    home: Path, database_url: str, jobs_dir: Path, smtp_server: LocalSmtp
) -> None:
    env = smtp_env(smtp_server)
    thread, ids = run_to_review(home, database_url, jobs_dir, 4, **env)
    approve, reject = ids[:3], ids[3:]
    results = at_once(home, database_url, [review_args(thread, approve, reject)] * 20, **env)

    assert sum(r.returncode == 0 for r in results) == 1, "exactly one process applied the decisions"
    assert_clear_refusals(results)
    sent = sent_package_ids([d.message for d in smtp_server.handler.deliveries])
    assert sent == Counter({pid: 1 for pid in approve}), "each approved package once, no rejected one"
    status = run_json(home, database_url, "status", thread, **env)
    assert {p["package_id"]: p["status"] for p in status["packages"]} == {
        **{pid: "sent" for pid in approve},
        **{pid: "rejected" for pid in reject},
    }


def test_concurrent_cli_approvals_with_a_gmail_that_answers_slowly_send_once(
    home: Path, database_url: str, jobs_dir: Path, gmail_api: FakeGmail, tmp_path: Path
) -> None:
    env = gmail_env(gmail_api, tmp_path)
    thread, ids = run_to_review(home, database_url, jobs_dir, 2, **env)
    gmail_api.latency = 3.0  # every answer takes 3 s: the others arrive while the first is still sending
    results = at_once(home, database_url, [review_args(thread, ids, [])] * 8, **env)

    assert sum(r.returncode == 0 for r in results) == 1
    assert_clear_refusals(results)
    assert sent_package_ids(gmail_api.messages) == Counter({pid: 1 for pid in ids})


def test_two_resumes_at_once_run_the_thread_once(home: Path, database_url: str, jobs_dir: Path) -> None:
    crashed = run_cli(
        home, database_url, "run", "--cv", str(EXAMPLE_CV), "--jobs", str(jobs_dir), "--max-packages", "3",
        check=False, JOBLAND_FAILPOINTS="check_package.after_store=2",
    )  # fmt: skip
    assert crashed.returncode != 0
    thread = run_json(home, database_url, "threads")[0]["thread_id"]
    results = at_once(home, database_url, [["resume", thread, "--format", "json"]] * 2)
    resumed = [r for r in results if r.returncode == 0]
    assert len(resumed) == 1, [r.stderr for r in results]
    (other,) = [r for r in results if r.returncode != 0]
    assert "is being advanced by pid" in other.stderr or "waiting for your review" in other.stderr, other.stderr
    assert len(json.loads(resumed[0].stdout)["awaiting_review"]) == 3


@contextmanager
def jobland_server(home: Path, database_url: str, **env: str) -> Iterator[httpx.Client]:
    """A real `jobland serve` process; its client authenticates as the one local user."""
    port = free_port()
    process = subprocess.Popen(
        jobland_command("serve", "--port", str(port)),
        env=cli_env(home, database_url, JOBLAND_API_TOKEN=TOKEN, **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stderr.read()
            try:
                if api.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        yield api
    finally:
        api.close()
        process.terminate()
        process.wait(timeout=30)


def test_two_servers_on_one_database_send_each_approved_package_once(
    home: Path, database_url: str, jobs_dir: Path, smtp_server: LocalSmtp
) -> None:
    env = smtp_env(smtp_server)
    thread, ids = run_to_review(home, database_url, jobs_dir, 3, **env)
    decisions = {"decisions": [{"package_id": pid, "action": "accept"} for pid in ids]}
    with jobland_server(home, database_url, **env) as first, jobland_server(home, database_url, **env) as second:
        answers = []
        for _ in range(3):  # double clicks on both servers
            answers += [first.post(f"/api/threads/{thread}/decisions", json=decisions)]
            answers += [second.post(f"/api/threads/{thread}/decisions", json=decisions)]
        codes = Counter(a.status_code for a in answers)
        assert codes[202] == 1 and codes[409] == len(answers) - 1, [a.text for a in answers]
        deadline = time.monotonic() + 120
        while first.get(f"/api/threads/{thread}").json()["stage"] != "finished":
            assert time.monotonic() < deadline
            time.sleep(0.2)
    assert sent_package_ids([d.message for d in smtp_server.handler.deliveries]) == Counter({pid: 1 for pid in ids})


def test_a_decision_asked_again_after_a_crash_may_change_until_it_is_final(
    home: Path, database_url: str, jobs_dir: Path
) -> None:
    thread, (first, second) = run_to_review(home, database_url, jobs_dir, 2)
    # Killed after the decisions were stored and before the checkpoint that holds them.
    crashed = run_cli(
        home, database_url, *review_args(thread, [first], [second]), check=False,
        JOBLAND_FAILPOINTS="review.after_store=1",
    )  # fmt: skip
    assert crashed.returncode != 0
    assert run_json(home, database_url, "status", thread)["stage"] == "awaiting_review"
    refused = run_cli(home, database_url, *review_args(thread, [first, second], []), check=False)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "is rejected: that decision was stored before a stop and is final" in refused.stderr
    changed = run_json(home, database_url, *review_args(thread, [], [first, second]))
    assert {p["package_id"]: p["status"] for p in changed["packages"]} == {first: "rejected", second: "rejected"}
    assert not (home / "outbox").exists() or not list((home / "outbox").glob("*.eml")), "nothing was sent"


@contextmanager
def lease_held_elsewhere(database_url: str, thread_id: str) -> Iterator[None]:
    """The thread's lease held by another holder (a thread of this process, on a connection of its own)."""
    holding, release = threading.Event(), threading.Event()

    async def hold() -> None:
        async with PostgresGuards(database_url).thread_lease(thread_id):
            holding.set()
            await asyncio.to_thread(release.wait, 60)

    holder = threading.Thread(target=asyncio.run, args=(hold(),))
    holder.start()
    try:
        assert holding.wait(30)
        yield
    finally:
        release.set()
        holder.join(30)


def test_the_cli_and_the_api_answer_the_same_about_one_thread(home: Path, database_url: str, jobs_dir: Path) -> None:
    """One stage, one resume rule, one decision check, whichever face asks (thread recorded, no checkpoint yet)."""
    thread = "7d7c1f2e-8a51-4c4b-9f8e-0c2b5f0f6a11"
    request = SearchRequest(cv_path=str(EXAMPLE_CV), jobs_dir=str(jobs_dir), max_packages=1)

    async def record() -> None:
        async with postgres_persistence(database_url) as (_, store):
            await Records(store).put_thread(ThreadRecord(thread_id=thread, owner="local", request=request))

    asyncio.run(record())
    settings = Settings(home=home, database_url=database_url, email="alex.morgan@example.com", api_token=TOKEN)
    with running_server(settings) as base, client(base, TOKEN) as api:

        def both() -> tuple[str, str]:
            return run_json(home, database_url, "status", thread)["stage"], api.get(f"/api/threads/{thread}").json()[
                "stage"
            ]

        assert both() == ("interrupted", "interrupted"), "recorded before its first checkpoint: it can be run"
        with lease_held_elsewhere(database_url, thread):
            assert both() == ("running", "running"), "a worker or another command advances it now"
        run_json(home, database_url, "resume", thread)
        assert both() == ("awaiting_review", "awaiting_review")
        bogus = [{"package_id": "pkg_missing", "action": "accept"}]
        refused_api = api.post(f"/api/threads/{thread}/decisions", json={"decisions": bogus})
        refused_cli = run_cli(home, database_url, "review", thread, "--approve", "pkg_missing", check=False)
        assert refused_api.status_code == 422 and refused_cli.returncode == 2
        assert api.post(f"/api/threads/{thread}/resume").status_code == 409, "waiting for review: nothing to resume"
        assert "waiting for your review" in run_cli(home, database_url, "resume", thread, check=False).stderr


def test_the_thread_list_says_running_while_a_process_holds_the_thread(
    home: Path, database_url: str, jobs_dir: Path
) -> None:
    thread, _ = run_to_review(home, database_url, jobs_dir, 1)
    listed = {t["thread_id"]: t["stage"] for t in run_json(home, database_url, "threads")}
    assert listed[thread] == "awaiting_review"
    with lease_held_elsewhere(database_url, thread):
        listed = {t["thread_id"]: t["stage"] for t in run_json(home, database_url, "threads")}
        assert listed[thread] == "running"
        busy = run_cli(home, database_url, "review", thread, "--done", check=False)
        assert busy.returncode == 2 and "is being advanced by pid" in busy.stderr
    listed = {t["thread_id"]: t["stage"] for t in run_json(home, database_url, "threads")}
    assert listed[thread] == "awaiting_review"
