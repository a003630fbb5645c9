"""The review step through the `jobland` command: decisions take effect per package, and a kill while
approved packages are being delivered (the rest still undecided) sends nothing twice."""

from __future__ import annotations

import email
import email.policy
import signal
from collections import Counter
from pathlib import Path

import pytest

from jobland.settings import ApiUser, Settings
from tests.conftest import EXAMPLE_CV, run_cli, run_json
from tests.support.api import api_settings, chat, client, running_server, said, upload, wait_for

pytestmark = pytest.mark.slow


TOKEN = "ravi-token-0123456789"


def own_user(database_url: str, home: Path, **update: object) -> Settings:
    """The API with a user of this module's own: other modules' tests count their users' threads."""
    ravi = ApiUser(user_id="ravi", email="ravi@example.com", name="Ravi")
    return api_settings(database_url, home).model_copy(update={"api_tokens": {TOKEN: ravi}, **update})


def outbox_packages(home: Path) -> Counter[str]:
    files = sorted((home / "outbox").glob("*.eml")) if (home / "outbox").exists() else []
    return Counter(
        email.message_from_bytes(f.read_bytes(), policy=email.policy.default)["X-JobLand-Package"] for f in files
    )


def waiting_ids(home: Path, database_url: str, jobs: Path, packages: int) -> tuple[str, list[str]]:
    summary = run_json(
        home, database_url, "run", "--cv", str(EXAMPLE_CV), "--jobs", str(jobs), "--max-packages", str(packages)
    )
    ids = [w["package_id"] for w in summary["awaiting_review"]]
    assert len(ids) >= 4, summary
    return summary["thread_id"], ids


def test_approving_one_package_delivers_it_now_and_the_rest_keep_waiting(
    home: Path, database_url: str, jobs_dir: Path
) -> None:
    thread, ids = waiting_ids(home, database_url, jobs_dir, 6)
    first, rejected, rest = ids[0], ids[1], ids[2:]

    outcome = run_json(home, database_url, "review", thread, "--approve", first, "--reject", rejected)
    assert outbox_packages(home) == Counter({first: 1}), "the approved package went out at once"
    states = {p["package_id"]: p["status"] for p in outcome["packages"]}
    assert states[first] == "sent" and states[rejected] == "rejected"
    assert sorted(r["package_id"] for r in outcome["awaiting_review"]) == sorted(rest)
    status = run_json(home, database_url, "status", thread)
    assert status["stage"] == "awaiting_review"

    finished = run_json(home, database_url, "review", thread, "--done")
    assert finished["awaiting_review"] == []
    assert run_json(home, database_url, "status", thread)["stage"] == "finished"
    left = {p["package_id"]: p["status"] for p in finished["packages"]}
    assert all(left[pid] == "ready" for pid in rest), "undecided packages stay undecided"
    assert outbox_packages(home) == Counter({first: 1})


def test_a_kill_while_delivering_during_review_sends_nothing_twice(
    home: Path, database_url: str, jobs_dir: Path
) -> None:
    thread, ids = waiting_ids(home, database_url, jobs_dir, 4)
    approved, rest = ids[:2], ids[2:]
    args = ["review", thread, "--approve", approved[0], "--approve", approved[1]]
    # Killed right after the first email is written and before that is recorded; two packages stay undecided.
    crashed = run_cli(home, database_url, *args, check=False, JOBLAND_FAILPOINTS="deliver.after_send=1")
    assert crashed.returncode == -signal.SIGKILL
    stopped = run_json(home, database_url, "status", thread)
    assert stopped["stage"] == "interrupted" and "deliver" in stopped["next_steps"], stopped
    resumed = run_json(home, database_url, "resume", thread)
    assert sorted(r["package_id"] for r in resumed["awaiting_review"]) == sorted(rest)
    status = run_json(home, database_url, "status", thread)
    assert status["stage"] == "awaiting_review", status
    assert outbox_packages(home) == Counter({pid: 1 for pid in approved})
    assert {p["package_id"]: p["status"] for p in status["packages"]} == {
        **{pid: "sent" for pid in approved},
        **{pid: "ready" for pid in rest},
    }
    run_json(home, database_url, "review", thread, "--reject", rest[0], "--reject", rest[1])
    assert outbox_packages(home) == Counter({pid: 1 for pid in approved})


def test_the_api_takes_every_answer_shape_and_refuses_others_naming_them(
    home: Path, database_url: str, jobs_dir: Path
) -> None:
    settings = own_user(database_url, home, jobs_dir=jobs_dir)
    with running_server(settings) as base, client(base, TOKEN) as api:
        cv_id = upload(api, EXAMPLE_CV).raise_for_status().json()["cv_id"]
        thread = api.post("/api/threads", json={"cv_id": cv_id, "max_packages": 2}).raise_for_status().json()
        status = wait_for(api, thread["thread_id"], {"awaiting_review"})
        url = f"/api/threads/{thread['thread_id']}/decisions"
        refused = api.post(url, json={"decisions": [{"type": "maybe"}]})
        assert refused.status_code == 422 and "LangChain HITL" in refused.text and "Agent Inbox" in refused.text
        first, second = status["awaiting_review"]
        # LangChain's HITL middleware answers in request order: approve the first, leave the second for later.
        assert api.post(url, json={"decisions": [{"type": "approve"}]}).status_code == 202
        status = wait_for(api, thread["thread_id"], {"awaiting_review"})
        states = {p["package_id"]: p["status"] for p in status["packages"]}
        assert states == {first: "sent", second: "ready"} and status["awaiting_review"] == [second]
        assert api.post(url, json={"decisions": [], "done": True}).status_code == 202
        assert wait_for(api, thread["thread_id"], {"finished"})["awaiting_review"] == []


def test_chat_keeps_each_package_s_number_and_says_what_it_did(home: Path, database_url: str, jobs_dir: Path) -> None:
    settings = own_user(database_url, home, jobs_dir=jobs_dir)
    with running_server(settings) as base, client(base, TOKEN) as api:
        cv_id = upload(api, EXAMPLE_CV).raise_for_status().json()["cv_id"]
        events = chat(api, cv_id=cv_id, message="senior Python backend roles in Berlin or remote")
        (asked,) = [data for name, data in events if name == "approval_request"]
        thread_id, packages = asked["thread_id"], asked["packages"]
        assert len(packages) >= 3
        first, second, third = packages[:3]

        replied = chat(api, thread_id=thread_id, message="approve 1 and 3")
        text = said(replied)
        assert f"Approved 1 ({first['company']}), 3 ({third['company']})." in text, text
        (again,) = [data for name, data in replied if name == "approval_request"]
        assert f"2. {second['title']} at" in said(replied), "the rest keep their numbers"
        assert "1." not in said(replied).split("ready for your review:")[1], "no package is renumbered"
        assert again["packages"][0]["package_id"] == second["package_id"]

        decided = chat(api, thread_id=thread_id, message="reject 1")
        assert "package 1 was decided already" in said(decided)
        chat(api, thread_id=thread_id, message="reject the rest")
        assert api.get(f"/api/threads/{thread_id}").json()["stage"] == "finished"
        late = chat(api, thread_id=thread_id, message="approve 2")
        assert "nothing is waiting for a decision" in said(late)
        assert api.get(f"/api/threads/{thread_id}").json()["stage"] == "finished", "no new search was started"


def test_a_user_s_concurrent_runs_are_limited_with_a_clear_429(home: Path, database_url: str) -> None:
    settings = own_user(database_url, home, runs_per_user=1)
    with running_server(settings) as base, client(base, TOKEN) as api:
        cv_id = upload(api, EXAMPLE_CV).raise_for_status().json()["cv_id"]
        first = api.post("/api/threads", json={"cv_id": cv_id, "max_packages": 1})
        second = api.post("/api/threads", json={"cv_id": cv_id, "max_packages": 1})
        assert first.status_code == 202
        assert second.status_code == 429 and second.headers["Retry-After"] == "30", second.text
        assert "runs going already" in second.text
        wait_for(api, first.json()["thread_id"], {"awaiting_review", "finished"})
        assert api.post("/api/threads", json={"cv_id": cv_id, "max_packages": 1}).status_code == 202
