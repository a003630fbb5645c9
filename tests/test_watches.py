"""Saved searches: each run screens only what no earlier run saw, stops at review, and mails ONE digest."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from jobland.domain.replies import ReplyProposal
from jobland.domain.watches import SavedSearch, WatchInputError, WatchRun, is_due, next_due, parse_every, watch_key
from jobland.graph.context import Context
from jobland.tools.job_folder import load_file
from jobland.tools.leases import THREAD_LOCKS
from jobland.watches import BEAT_CHECK_S, WATCH_TASK, beat_schedule, compose_digest
from tests.conftest import EXAMPLE_CV, EXAMPLE_JOBS, ROOT, cli_env, jobland_command, run_cli, run_json
from tests.local_world.greenhouse import FakeGreenhouse
from tests.local_world.smtp import LocalSmtp
from tests.support.api import BOB, api_settings, client, running_server, smtp_env, upload

FIRST = ("tidewater-senior-backend-engineer-remote.json", "hanse-senior-accountant.md")  # one High, one Low
ADDED = "elbdaten-senior-python-engineer.job.json"  # High


@pytest.fixture
def watch_jobs(tmp_path: Path) -> Path:
    folder = tmp_path / "watched-jobs"
    folder.mkdir()
    for name in FIRST:
        shutil.copy(EXAMPLE_JOBS / name, folder / name)
    return folder


def unique_name() -> str:
    return f"w-{uuid.uuid4().hex[:10]}"  # the database is shared by the tests; the CLI owner is always "local"


def add(home: Path, database_url: str, name: str, jobs: Path, **env: str) -> None:
    run_cli(
        home, database_url, "watch", "add", name, "--cv", str(EXAMPLE_CV), "--jobs", str(jobs),
        "--query", "senior python backend", "--every", "1d", "--max-packages", "3", **env,
    )  # fmt: skip


def outbox_digests(home: Path) -> list[Path]:
    return sorted((home / "outbox").glob("digest-*.eml")) if (home / "outbox").exists() else []


# ----------------------------------------------------------------------------- pure parts


def test_periods_names_and_slots() -> None:
    assert [parse_every(t) for t in ("30m", "12h", "1d", "2w")] == [1800, 43200, 86400, 1209600]
    for bad in ("1x", "d", "1m", "100d", ""):
        with pytest.raises(WatchInputError, match="period"):
            parse_every(bad)
    watch = SavedSearch(key=watch_key("local", "daily"), owner="local", name="daily", cv_path="cv.md", every_s=86400)
    now = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
    ran = WatchRun(watch_key=watch.key, number=1, slot=watch.slot(now), thread_id="t")
    assert is_due(watch, None, now) and not is_due(watch, ran, now + timedelta(hours=17))
    assert is_due(watch, ran, now + timedelta(hours=18)), "a new UTC day is a new slot"
    assert next_due(watch, ran, now) == datetime(2026, 12, 3, tzinfo=UTC)
    assert watch_key("a.b", "x") != watch_key("a", "b.x") and "." not in watch_key("a.b", "x")


def test_beat_asks_the_workers_to_run_the_due_watches_with_one_entry_read_at_each_tick() -> None:
    from jobland.workers import celery_app

    app = celery_app("redis://127.0.0.1:6379/15", "jobland-test:", 60.0)
    assert (
        app.conf.beat_schedule
        == beat_schedule()
        == {
            "jobland-watches-due": {
                "task": WATCH_TASK,
                "schedule": timedelta(seconds=BEAT_CHECK_S),
                "options": {"expires": float(BEAT_CHECK_S)},
            }
        }
    )
    assert WATCH_TASK in app.tasks, "a worker runs what beat asks for"


def test_the_digest_tells_of_employers_replies_that_await_confirmation() -> None:
    watch = SavedSearch(key="k1", owner="local", name="daily", cv_path="cv.md", every_s=86400)
    run = WatchRun(watch_key="k1", number=3, slot=1, thread_id="t-3", screened=1)
    reply = ReplyProposal(
        package_id="pkg-1",
        company="Globex",
        title="Data Engineer",
        gmail_id="m-1",
        subject="Einladung zum Gespräch",
        sender="jobs@globex.example",
        date=datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
        kind="interview",
        matched_by="domain",
        current_status="sent",
        proposed_status="interviewing",
    )
    context = Context(user_email="me@example.org", user_name="Jane")
    body = compose_digest(context, watch, run, [], [reply]).get_content()
    assert '- Globex, Data Engineer: "Einladung zum Gespräch" (2026-12-01): sent -> interviewing' in body
    assert "jobland applications check-replies --apply" in body
    assert "Replies from employers" not in compose_digest(context, watch, run, [], []).get_content()


# ----------------------------------------------------------------------------- the done-when test


def test_a_watch_screens_only_what_is_new_and_sends_one_digest_per_run(
    home: Path, fresh_database: str, tmp_path: Path, smtp_server: LocalSmtp
) -> None:
    database_url = fresh_database  # `watch run` runs every due watch in the database: only this test's
    folder = tmp_path / "own-postings"
    folder.mkdir()
    shutil.copy(EXAMPLE_JOBS / FIRST[1], folder)  # a Low one in the person's folder
    board = FakeGreenhouse().start()  # and a company board on Greenhouse with a High one
    now = datetime.now(UTC)
    board.boards["tidewater"] = ("Tidewater Health", load_file(EXAMPLE_JOBS / FIRST[0], now=now).postings)
    env = {
        **smtp_env(smtp_server),
        "JOBLAND_BOARDS": json.dumps({"greenhouse": ["tidewater"]}),
        "JOBLAND_GREENHOUSE_BASE_URL": board.url,
    }
    try:
        name = unique_name()
        add(home, database_url, name, folder, **env)

        (first,) = run_json(home, database_url, "watch", "run", name, **env)
        assert first["ran"] and first["run"]["screened"] == 2 and len(first["run"]["packages"]) == 1
        assert first["run"]["digest"] == "sent"
        (digest,) = smtp_server.handler.deliveries
        assert digest.recipients == ["alex.morgan@example.com"], "the digest goes to the person's own address only"
        thread = first["run"]["thread_id"]
        body = digest.message.get_body().get_content()
        assert f"http://127.0.0.1:8000/review/{thread}" in body and "Tidewater Health" in body
        # The run stopped at review: nothing but the digest went out, and nothing goes without an approval.
        assert run_json(home, database_url, "status", thread)["stage"] == "awaiting_review"

        added = load_file(EXAMPLE_JOBS / ADDED, now=now).postings
        board.boards["tidewater"][1].extend(added)  # the board adds one opening
        (second,) = run_json(home, database_url, "watch", "run", name, **env)
        assert second["run"]["screened"] == 1, "only the added posting is screened"
        assert len(smtp_server.handler.deliveries) == 2
        assert added[0].title in smtp_server.handler.deliveries[1].message.get_body().get_content()

        (third,) = run_json(home, database_url, "watch", "run", name, **env)
        assert third["run"]["screened"] == 0 and third["run"]["digest"] is None
        assert len(smtp_server.handler.deliveries) == 2, "a run with nothing new sends nothing"

        # Due runs (cron, timers, beat) run it once per period: it ran in this one already.
        (due,) = run_json(home, database_url, "watch", "run", **env)
        assert due["ran"] is False and due["note"].startswith("not due until")
        (listed,) = run_json(home, database_url, "watch", "list")
        assert [r["number"] for r in listed["runs"]] == [3, 2, 1] and listed["every"] == "1d"

        run_cli(home, database_url, "watch", "remove", name)
        gone = run_cli(home, database_url, "watch", "run", name, check=False)
        assert gone.returncode == 2 and "no watch" in gone.stderr
        add(home, database_url, name, folder, **env)  # the same name again starts afresh, digest included
        (again,) = run_json(home, database_url, "watch", "run", name, **env)
        assert again["run"]["screened"] == 3 and again["run"]["digest"] == "sent"
        assert len(smtp_server.handler.deliveries) == 3
    finally:
        board.stop()


def test_a_second_process_running_the_watch_is_refused(home: Path, database_url: str, watch_jobs: Path) -> None:
    name = unique_name()
    add(home, database_url, name, watch_jobs)
    with psycopg.connect(database_url, autocommit=True) as other:  # another process holds the watch's lease
        other.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (THREAD_LOCKS, f"watch:{watch_key('local', name)}"))
        refused = run_cli(home, database_url, "watch", "run", name, check=False)
    assert refused.returncode == 2 and "is being run by another JobLand process" in refused.stderr
    assert not outbox_digests(home)
    (ran,) = run_json(home, database_url, "watch", "run", name)  # once it let go
    assert ran["run"]["number"] == 1 and len(outbox_digests(home)) == 1


def test_a_digest_whose_attempts_ran_out_is_sent_by_the_next_run(
    home: Path, database_url: str, watch_jobs: Path, smtp_server: LocalSmtp
) -> None:
    env = smtp_env(smtp_server)
    name = unique_name()
    add(home, database_url, name, watch_jobs, **env)
    smtp_server.handler.busy_next = 1000  # every send hears "451 try again later"
    failed = run_cli(home, database_url, "watch", "run", name, check=False, **env)
    assert failed.returncode == 2 and "was not sent (smtp: gave up after 2" in failed.stderr
    assert not smtp_server.handler.deliveries
    smtp_server.handler.busy_next = 0
    (finished,) = run_json(home, database_url, "watch", "run", name, **env)
    assert finished["run"]["number"] == 1 and finished["run"]["digest"] == "sent"
    assert len(smtp_server.handler.deliveries) == 1


def test_invalid_input_gets_a_clear_error(home: Path, database_url: str, watch_jobs: Path) -> None:
    for args, said in (
        (["Bad Name", "--every", "1d"], "not usable"),
        ([unique_name(), "--every", "2x"], "period '2x' is not usable"),
        ([unique_name(), "--every", "1d", "--jobs", str(watch_jobs / "nope")], "job folder not found"),
    ):
        result = run_cli(home, database_url, "watch", "add", *args, "--cv", str(EXAMPLE_CV), check=False)
        assert result.returncode == 2 and said in result.stderr, result.stderr
    name = unique_name()
    add(home, database_url, name, watch_jobs)
    again = run_cli(home, database_url, "watch", "add", name, "--cv", str(EXAMPLE_CV), "--every", "1d", check=False)
    assert again.returncode == 2 and "exists already" in again.stderr


# ----------------------------------------------------------------------------- crashes


def _killed_run(home: Path, database_url: str, name: str, failpoint: str) -> None:
    result = subprocess.run(
        jobland_command("watch", "run", name),
        env=cli_env(home, database_url, JOBLAND_FAILPOINTS=f"{failpoint}=1", JOBLAND_RENDER_PDF="false"),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == -9, result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("failpoint", ["watch.before_digest", "watch.after_digest_send"])
def test_a_kill_between_screening_and_digest_neither_loses_nor_doubles_it(
    home: Path, database_url: str, watch_jobs: Path, failpoint: str
) -> None:
    name = unique_name()
    add(home, database_url, name, watch_jobs)
    _killed_run(home, database_url, name, failpoint)
    assert len(outbox_digests(home)) == (failpoint == "watch.after_digest_send")
    (finished,) = run_json(home, database_url, "watch", "run", name, JOBLAND_RENDER_PDF="false")
    assert finished["run"]["number"] == 1 and "a stop had cut short" in finished["note"]
    assert finished["run"]["digest"] == "sent" and len(outbox_digests(home)) == 1
    (after,) = run_json(home, database_url, "watch", "run", name, JOBLAND_RENDER_PDF="false")
    assert after["run"]["number"] == 2 and after["run"]["screened"] == 0 and len(outbox_digests(home)) == 1


@pytest.mark.slow
def test_two_watch_runs_at_once_run_it_once(home: Path, fresh_database: str, watch_jobs: Path) -> None:
    database_url = fresh_database  # `watch run` runs every due watch in the database: only this test's
    name = unique_name()
    add(home, database_url, name, watch_jobs)
    env = cli_env(home, database_url, JOBLAND_RENDER_PDF="false")
    runs = [
        subprocess.Popen(
            jobland_command("watch", "run", "--format", "json"), env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outcomes = [o for p in runs for o in json.loads(p.communicate(timeout=300)[0]) if o["watch"] == name]
    assert sorted(o["ran"] for o in outcomes) == [False, True], outcomes  # the other was refused or found it done
    assert len(outbox_digests(home)) == 1


# ----------------------------------------------------------------------------- the API


@pytest.mark.slow
def test_watches_over_the_api_are_owner_scoped(database_url: str, home: Path, watch_jobs: Path) -> None:
    settings = api_settings(database_url, home).model_copy(update={"jobs_dir": watch_jobs, "render_pdf": False})
    with running_server(settings) as base, client(base) as alice, client(base, BOB) as bob:
        cv_id = upload(alice, EXAMPLE_CV).raise_for_status().json()["cv_id"]
        name = unique_name()
        body = {"name": name, "cv_id": cv_id, "query": "senior python backend", "every": "12h"}
        created = alice.post("/api/watches", json=body)
        assert created.status_code == 201 and created.json()["every"] == "12h", created.text
        assert alice.post("/api/watches", json=body).status_code == 409
        assert alice.post("/api/watches", json={**body, "name": unique_name(), "every": "1x"}).status_code == 422
        assert bob.get(f"/api/watches/{name}").status_code == 404 and name not in str(bob.get("/api/watches").json())

        accepted = alice.post(f"/api/watches/{name}/run")
        assert accepted.status_code == 202 and accepted.json()["status_url"] == f"/api/watches/{name}"
        deadline = time.monotonic() + 60
        while (view := alice.get(f"/api/watches/{name}").json())["running"] or not view["runs"]:
            assert time.monotonic() < deadline, view
            time.sleep(0.1)
        (run,) = view["runs"]
        assert run["status"] == "done" and run["screened"] == 2 and run["digest"] == "sent", view
        digest = Path(run["digest_location"]).read_text()
        assert "To: Alice Example <alice@example.com>" in digest and f"/review/{run['thread_id']}" in digest
        assert alice.get(f"/api/threads/{run['thread_id']}").json()["stage"] == "awaiting_review"

        assert bob.delete(f"/api/watches/{name}").status_code == 404
        assert alice.delete(f"/api/watches/{name}").status_code == 204
        assert alice.get(f"/api/watches/{name}").status_code == 404
