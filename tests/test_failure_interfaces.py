"""Failure semantics as a person meets them: through the CLI (separate processes) and the HTTP API
(a real uvicorn), with failpoints breaking a package build and the local SMTP server refusing sends."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobland.domain import failpoints
from jobland.settings import ApiUser
from tests.conftest import EXAMPLE_CV, EXAMPLE_JOBS, run_cli, run_json
from tests.local_world.smtp import PASSWORD, USERNAME, LocalSmtp
from tests.support.api import (
    BROKEN_BUILD,
    SMTP_LIMITS,
    api_settings,
    client,
    running_server,
    smtp_env,
    upload,
    wait_for,
)

pytestmark = pytest.mark.slow

REASON = "failed while writing the CV: failpoint write_cv.start raised (JOBLAND_FAILPOINTS)"
FRANK, GINA = "frank-token-0123456789", "gina-token-0123456789"


def test_the_cli_shows_missing_packages_retries_them_and_resolves_dead_letters(
    home: Path, database_url: str, smtp_server: LocalSmtp
) -> None:
    env = smtp_env(smtp_server)
    thread = "cli-failures"
    run = ("run", "--cv", str(EXAMPLE_CV), "--jobs", str(EXAMPLE_JOBS), "--max-packages", "3", "--thread-id", thread)
    shown = run_cli(home, database_url, *run, JOBLAND_FAILPOINTS=BROKEN_BUILD, **env).stdout
    assert "Missing: these packages could not be built" in shown and "--retry ID" in shown
    assert "failpoint write_cv.start raised" in shown

    status = run_json(home, database_url, "status", thread, **env)
    (missing,) = [p for p in status["packages"] if p["status"] == "failed"]
    assert missing["error"] == REASON
    assert [h["status"] for h in missing["history"]] == ["pending", "researching", "generating", "failed"]
    assert all(h["at"] for h in missing["history"])
    table = run_cli(home, database_url, "status", thread, **env).stdout
    assert "pending " in table and "-> failed " in table and REASON in table
    assert f"jobland review {thread} --retry {missing['package_id']}" in table

    # Build the failed one again: the others are not rebuilt, and all three then wait for review.
    again = run_json(home, database_url, "review", thread, "--retry", missing["package_id"][:12], **env)
    assert again["awaiting_review"] and len(again["awaiting_review"]) == 3
    assert {p["status"] for p in again["packages"]} == {"ready"}

    # Every send hears "451 try again later": the attempts run out and each becomes a dead letter.
    smtp_server.handler.busy_next = 1000
    ids = [row["package_id"] for row in again["awaiting_review"]]
    approve = [arg for pid in ids[:2] for arg in ("--approve", pid)]
    run_cli(home, database_url, "review", thread, *approve, "--reject", ids[2], **env)
    letters = [d for d in run_json(home, database_url, "deliveries", **env) if d["thread_id"] == thread]
    assert sorted(d["package_id"] for d in letters) == sorted(ids[:2])
    assert {d["kind"] for d in letters} == {"exhausted"} and all("gave up after 2" in d["reason"] for d in letters)
    listed = run_cli(home, database_url, "deliveries", **env).stdout
    assert "attempts ran out" in listed and "jobland deliveries retry ID" in listed

    smtp_server.handler.busy_next = 0
    retried = run_json(home, database_url, "deliveries", "retry", ids[0][:12], **env)
    marked = run_json(home, database_url, "deliveries", "mark-sent", ids[1], **env)
    statuses = {p["package_id"]: p["status"] for p in marked["packages"]}
    assert statuses[ids[0]] == statuses[ids[1]] == "sent" and statuses[ids[2]] == "rejected"
    assert retried["packages"] and len(smtp_server.handler.deliveries) == 1, "mark-sent sends nothing"
    assert "nothing waits" in run_cli(home, database_url, "deliveries", **env).stdout
    again = run_cli(home, database_url, "deliveries", "retry", ids[0], check=False, **env)
    assert again.returncode == 2 and "was retried already" in again.stderr


def test_the_api_reports_states_retries_missing_packages_and_resolves_dead_letters(
    home: Path, database_url: str, smtp_server: LocalSmtp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBLAND_FAILPOINTS", BROKEN_BUILD)  # the server runs in this process
    failpoints.reset()
    settings = api_settings(database_url, home).model_copy(
        update={
            # Users of their own: the session's database is shared, and other tests count alice's threads.
            "api_tokens": {
                FRANK: ApiUser(user_id="frank", email="frank@example.com"),
                GINA: ApiUser(user_id="gina", email="gina@example.com"),
            },
            "render_pdf": False,
            "mailer": "smtp",
            "smtp_host": smtp_server.host,
            "smtp_port": smtp_server.port,
            "smtp_username": USERNAME,
            "smtp_password": PASSWORD,
            "smtp_ca_file": str(smtp_server.ca_file),
            "service_limits": SMTP_LIMITS,
        }
    )
    with running_server(settings) as base, client(base, FRANK) as api, client(base, GINA) as gina:
        cv_id = upload(api, EXAMPLE_CV).raise_for_status().json()["cv_id"]
        thread = api.post("/api/threads", json={"cv_id": cv_id, "max_packages": 3}).raise_for_status().json()
        status = wait_for(api, thread["thread_id"], {"awaiting_review", "failed"})
        assert status["stage"] == "awaiting_review" and len(status["awaiting_review"]) == 2
        (missing,) = status["missing"]
        by_id = {p["package_id"]: p for p in status["packages"]}
        assert by_id[missing]["status"] == "failed" and by_id[missing]["error"] == REASON
        assert [h["status"] for h in by_id[missing]["history"]] == ["pending", "researching", "generating", "failed"]
        assert [h["status"] for h in by_id[status["awaiting_review"][0]]["history"]][-2:] == ["checking", "ready"]

        url = f"/api/threads/{thread['thread_id']}/decisions"
        ready = status["awaiting_review"][0]
        for wrong in ({"package_id": ready, "action": "retry"}, {"package_id": missing, "action": "accept"}):
            refused = api.post(url, json={"decisions": [wrong]})
            assert refused.status_code == 422 and "'retry' is for packages that could not be built" in refused.text
        api.post(url, json={"decisions": [{"package_id": missing, "action": "retry"}]}).raise_for_status()
        status = wait_for(api, thread["thread_id"], {"awaiting_review", "failed"})
        assert status["missing"] == [] and len(status["awaiting_review"]) == 3

        smtp_server.handler.busy_next = 1000
        first, second, third = status["awaiting_review"]
        decisions = [{"package_id": p, "action": "accept"} for p in (first, second)]
        decisions.append({"package_id": third, "action": "reject"})
        api.post(url, json={"decisions": decisions}).raise_for_status()
        status = wait_for(api, thread["thread_id"], {"finished", "failed"})
        assert sorted(d["package_id"] for d in status["dead_letters"]) == sorted([first, second])
        letters = api.get("/api/deliveries").raise_for_status().json()
        assert sorted(d["package_id"] for d in letters) == sorted([first, second])
        assert gina.get("/api/deliveries").json() == []
        assert gina.post(f"/api/deliveries/{first}/retry").status_code == 404, "another user's dead letter"

        smtp_server.handler.busy_next = 0
        assert api.post(f"/api/deliveries/{first}/retry").status_code == 202
        wait_for(api, thread["thread_id"], {"finished", "failed"})
        assert api.post(f"/api/deliveries/{second}/mark-sent").status_code == 202
        status = wait_for(api, thread["thread_id"], {"finished", "failed"})
        assert api.post(f"/api/deliveries/{first}/retry").status_code == 409, "resolved already"
        assert api.get("/api/deliveries").json() == []
        resolved = api.get("/api/deliveries", params={"include_resolved": True}).json()
        assert {d["package_id"]: d["resolution"] for d in resolved} == {first: "retried", second: "marked_sent"}
    statuses = {p["package_id"]: p["status"] for p in status["packages"]}
    assert statuses == {first: "sent", second: "sent", third: "rejected"}
    assert len(smtp_server.handler.deliveries) == 1, "mark-sent sends nothing"
