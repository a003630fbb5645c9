"""Webhooks: signed, retried, logged, SSRF-checked; through the sender, the run log, the HTTP API and the CLI.

The receiver is a real HTTP server on 127.0.0.1; allow_loopback lets JobLand call it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jobland.domain.models import SearchRequest, ThreadRecord
from jobland.graph.builder import open_graph
from jobland.service import Session
from jobland.settings import ApiUser, Settings
from jobland.tools.ratelimit import ServiceError, ServiceLimiter
from jobland.tools.webhooks import WebhookAttempt, WebhookSender, WebhookURLError, check_webhook_url, webhook_signature
from jobland.webhooks import WebhookNotConfigured, announce, check_run_webhook
from tests.conftest import EXAMPLE_CV, EXAMPLE_JOBS, free_port, run_cli
from tests.local_world.base import Fault, LocalService, Reply, Request
from tests.support.api import BOB, api_settings, client, running_server, upload, wait_for

pytestmark = pytest.mark.slow  # starts processes, servers or whole pipeline runs

SECRET = "test-webhook-secret-0123456789"
# Its own API user, so that other modules' tests on the shared database do not see these threads.
WENDY = "wendy-token-0123456789"
# Short backoff, three attempts: a receiver's 500s are retried within a second.
FAST_RETRIES = {"webhook": {"max_attempts": 3, "base_delay": 0.05, "max_delay": 0.2}}
# A few postings (three strong Python matches among them) keep each run short.
SMALL_JOB_SET = (
    "elbdaten-senior-python-engineer.job.json",
    "kiezkraft-senior-python-backend.json",
    "spreewerk-senior-python-developer.json",
    "st-aldhelms-icu-staff-nurse.json",
    "hanse-senior-accountant.md",
)


@pytest.fixture
def receiver() -> Iterator[LocalService]:
    service = LocalService("webhook-receiver")
    service.route("POST", "/", lambda request: Reply(200, {"received": True}))
    yield service.start()
    service.stop()


@pytest.fixture
def small_jobs(tmp_path: Path) -> Path:
    folder = tmp_path / "small-jobs"
    folder.mkdir()
    for name in SMALL_JOB_SET:
        shutil.copy(EXAMPLE_JOBS / name, folder / name)
    return folder


def verified(request: Request) -> dict:
    """The body of a webhook request whose signature checks out with the secret (as README shows)."""
    expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, request.headers["x-jobland-signature-256"]), "signature"
    return request.json()


def calls_of(receiver: LocalService, event: str) -> list[Request]:
    return [r for r in receiver.requests if r.headers.get("x-jobland-event") == event]


class Attempts(list[WebhookAttempt]):
    async def __call__(self, attempt: WebhookAttempt) -> None:
        self.append(attempt)


def sender(attempts: Attempts, waits: list[float] | None = None) -> WebhookSender:
    async def no_wait(seconds: float) -> None:
        if waits is not None:
            waits.append(seconds)

    limiter = ServiceLimiter("webhook", max_attempts=3, base_delay=0.01, sleep=no_wait)
    return WebhookSender(SECRET, allow_loopback=True, limiter=limiter, on_attempt=attempts)


# ----------------------------------------------------------------------------- the URL check


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/hook",
        "http://10.0.0.1/hook",
        "http://192.168.1.1/hook",
        "http://172.16.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://127.0.0.1/hook",
        "http://localhost:8080/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://user:pass@93.184.215.14/hook",
        "http://[2002:a00:1::1]/hook",  # 6to4 around 10.0.0.1
        "http:///hook",
    ],
)
async def test_forbidden_webhook_urls_are_refused(url: str) -> None:
    with pytest.raises(WebhookURLError, match="webhook|http|credentials"):
        await check_webhook_url(url, allow_loopback=False)


async def test_allow_loopback_admits_loopback_and_nothing_else_private() -> None:
    await check_webhook_url("http://93.184.215.14/hook", allow_loopback=False)  # a public address
    for url in ("http://127.0.0.1:9/hook", "http://[::1]/hook", "http://localhost/hook"):
        await check_webhook_url(url, allow_loopback=True)
    for url in ("http://10.0.0.1/hook", "http://169.254.169.254/", "http://0.0.0.0/", "http://192.168.1.1/"):
        with pytest.raises(WebhookURLError, match="public address"):
            await check_webhook_url(url, allow_loopback=True)


async def test_a_webhook_needs_a_secret(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, webhook_secret=None, allow_loopback=True)
    with pytest.raises(WebhookNotConfigured, match="JOBLAND_WEBHOOK_SECRET"):
        await check_run_webhook(settings, "http://127.0.0.1:9/hook")


# ----------------------------------------------------------------------------- the sender


async def test_calls_are_signed_with_the_secret(receiver: LocalService) -> None:
    attempts = Attempts()
    status = await sender(attempts).send(f"{receiver.url}/hook", "completed", "whd_1", {"event": "completed", "n": 1})
    assert status == 200 and [(a.attempt, a.outcome, a.status_code) for a in attempts] == [(1, "ok", 200)]
    (request,) = receiver.requests
    assert verified(request) == {"event": "completed", "n": 1}
    assert request.headers["x-jobland-signature-256"] == webhook_signature(SECRET, request.body)
    assert request.headers["x-jobland-event"] == "completed" and request.headers["x-jobland-delivery"] == "whd_1"
    assert request.headers["user-agent"] == "JobLand-Webhook"
    assert request.headers["content-type"] == "application/json"
    assert webhook_signature("another secret", request.body) != request.headers["x-jobland-signature-256"]


@pytest.mark.parametrize("forbidden", ["http://169.254.169.254/latest/meta-data", "http://10.0.0.1/x"])
async def test_a_redirect_to_a_forbidden_address_fails_without_retries(receiver: LocalService, forbidden: str) -> None:
    receiver.fail_next(Fault(302, headers={"Location": forbidden}))
    attempts = Attempts()
    with pytest.raises(ServiceError, match="forbidden URL"):
        await sender(attempts).send(f"{receiver.url}/hook", "completed", "whd_2", {})
    assert len(receiver.requests) == 1, "never retried"
    (attempt,) = attempts
    assert attempt.outcome == "failed" and attempt.status_code == 302
    # Refused by the check before any connection: a connection attempt would have failed differently.
    assert forbidden.split("/")[2] in attempt.error and "public address" in attempt.error


async def test_redirects_are_followed_with_the_same_signed_body_up_to_a_limit(receiver: LocalService) -> None:
    receiver.fail_next(Fault(307, headers={"Location": "/moved"}))
    attempts = Attempts()
    assert await sender(attempts).send(f"{receiver.url}/hook", "completed", "whd_3", {"x": 1}) == 200
    assert [r.path for r in receiver.requests] == ["/hook", "/moved"]
    assert {verified(r)["x"] for r in receiver.requests} == {1}

    receiver.fail_next(*[Fault(302, headers={"Location": f"/hop{i}"}) for i in range(4)])
    with pytest.raises(ServiceError, match="more than 3"):
        await sender(Attempts()).send(f"{receiver.url}/hook", "completed", "whd_4", {})


async def test_429_waits_as_told_and_other_4xx_are_not_retried(receiver: LocalService) -> None:
    receiver.fail_next(Fault(429, headers={"Retry-After": "2"}))
    attempts, waits = Attempts(), []
    assert await sender(attempts, waits).send(f"{receiver.url}/hook", "completed", "whd_5", {}) == 200
    assert waits == [2.0] and [a.outcome for a in attempts] == ["retrying", "ok"]

    receiver.fail_next(Fault(404))
    attempts = Attempts()
    with pytest.raises(ServiceError, match="HTTP 404"):
        await sender(attempts).send(f"{receiver.url}/hook", "completed", "whd_6", {})
    assert [(a.outcome, a.status_code) for a in attempts] == [("failed", 404)]


async def test_connection_errors_are_retried_then_given_up() -> None:
    attempts = Attempts()
    nobody = f"http://127.0.0.1:{free_port()}/hook"
    with pytest.raises(ServiceError, match="gave up after 3 attempt"):
        await sender(attempts).send(nobody, "completed", "whd_7", {})
    assert [a.outcome for a in attempts] == ["retrying", "retrying", "failed"]
    assert all("ConnectError" in a.error and a.status_code is None for a in attempts)


# ----------------------------------------------------------------------------- the run's log


async def test_attempts_are_logged_and_a_state_is_delivered_once(
    receiver: LocalService, database_url: str, home: Path
) -> None:
    settings = Settings(
        home=home,
        database_url=database_url,
        webhook_secret=SECRET,
        allow_loopback=True,
        service_limits=FAST_RETRIES,
    )
    async with open_graph(database_url, home) as graph:
        s = Session(settings, graph)
        request = SearchRequest(cv_path=str(EXAMPLE_CV))
        await s.records.put_thread(ThreadRecord(thread_id="hooked", request=request, webhook_url=f"{receiver.url}/h"))
        payload = {"thread_id": "hooked", "packages": [], "review_path": "/review/hooked"}

        receiver.fail_next(Fault(500), Fault(500))
        last = await announce(s, "hooked", "review_ready", payload, checkpoint_id="cp-1")
        assert last is not None and last.outcome == "ok"
        calls = await s.records.webhook_calls("hooked")
        assert [(c.attempt, c.status_code, c.outcome) for c in calls] == [
            (1, 500, "retrying"),
            (2, 500, "retrying"),
            (3, 200, "ok"),
        ]
        assert len({c.delivery_id for c in calls}) == 1 and len(receiver.requests) == 3
        assert {r.headers["x-jobland-delivery"] for r in receiver.requests} == {calls[0].delivery_id}
        assert len({r.body for r in receiver.requests}) == 1, "every attempt carries the same signed body"

        assert await announce(s, "hooked", "review_ready", payload, checkpoint_id="cp-1") is None, "announced already"
        assert len(receiver.requests) == 3

        receiver.fail_next(*[Fault(500)] * 5)
        given_up = await announce(s, "hooked", "failed", {"thread_id": "hooked", "error": "boom"}, checkpoint_id="cp-2")
        assert given_up is not None and given_up.outcome == "failed" and given_up.status_code == 500
        failed = [c for c in await s.records.webhook_calls("hooked") if c.event == "failed"]
        assert [c.outcome for c in failed] == ["retrying", "retrying", "failed"], "the budget of 3 attempts"


# ----------------------------------------------------------------------------- through the HTTP API


def webhook_log(api: httpx.Client, thread_id: str, event: str, outcome: str, timeout: float = 30) -> list[dict]:
    """The thread's webhook log once it holds an attempt of event with outcome (announcing runs in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        log = api.get(f"/api/threads/{thread_id}/webhooks").raise_for_status().json()
        if any(c["event"] == event and c["outcome"] == outcome for c in log):
            return log
        assert time.monotonic() < deadline, f"no {outcome} {event} call after {timeout} s: {log}"
        time.sleep(0.1)


def test_the_api_announces_review_and_completion_and_refuses_private_urls(
    receiver: LocalService, database_url: str, home: Path, small_jobs: Path
) -> None:
    shared = api_settings(database_url, home)
    settings = shared.model_copy(
        update={
            "webhook_secret": SECRET,
            "allow_loopback": True,
            "service_limits": FAST_RETRIES,
            "jobs_dir": small_jobs,
            "render_pdf": False,
            "api_tokens": {**shared.api_tokens, WENDY: ApiUser(user_id="wendy", email="wendy@example.com")},
        }
    )
    with running_server(settings) as base, client(base, WENDY) as api, client(base, BOB) as bob:
        cv_id = upload(api, EXAMPLE_CV).json()["cv_id"]
        private = api.post("/api/threads", json={"cv_id": cv_id, "webhook_url": "http://10.0.0.1/hook"})
        assert private.status_code == 422 and "10.0.0.1 is a private address" in private.json()["detail"]
        assert api.get("/api/threads").json() == [], "no thread was started"

        receiver.fail_next(Fault(500), Fault(500))  # the first announcement gets there on its third attempt
        created = api.post(
            "/api/threads", json={"cv_id": cv_id, "max_packages": 2, "webhook_url": f"{receiver.url}/hook"}
        )
        assert created.status_code == 202, created.text
        thread_id = created.json()["thread_id"]
        log = webhook_log(api, thread_id, "review_ready", "ok")
        assert [(c["attempt"], c["outcome"]) for c in log] == [(1, "retrying"), (2, "retrying"), (3, "ok")]
        status = wait_for(api, thread_id, {"awaiting_review"})
        assert status["error"] is None, "the 500s did not touch the run"

        *_, ready = calls_of(receiver, "review_ready")
        body = verified(ready)
        assert body["event"] == "review_ready" and body["thread_id"] == thread_id
        assert body["delivery_id"] == ready.headers["x-jobland-delivery"] == log[-1]["delivery_id"]
        assert [p["package_id"] for p in body["packages"]] == status["awaiting_review"]
        assert {"title", "company", "match_score"} <= set(body["packages"][0])
        assert body["review_path"] == f"/review/{thread_id}"
        assert api.get(f"/api/threads/{thread_id}").status_code == 200, "status re-read: no second announcement"
        assert bob.get(f"/api/threads/{thread_id}/webhooks").status_code == 404, "the log is the owner's"

        first, *rest = status["awaiting_review"]
        decisions = [{"package_id": first, "action": "accept"}] + [{"package_id": p, "action": "reject"} for p in rest]
        assert api.post(f"/api/threads/{thread_id}/decisions", json={"decisions": decisions}).status_code == 202
        webhook_log(api, thread_id, "completed", "ok")
        wait_for(api, thread_id, {"finished"})
        (completed,) = calls_of(receiver, "completed")
        body = verified(completed)
        assert [p["package_id"] for p in body["sent"]] == [first]
        assert body["counts"]["delivered"] == 1 and body["counts"]["postings"] >= 3
        assert len(calls_of(receiver, "review_ready")) == 3, "review_ready was not announced again"


# ----------------------------------------------------------------------------- through the CLI


def test_the_cli_announces_review_and_failure_and_refuses_private_urls(
    receiver: LocalService, database_url: str, home: Path, small_jobs: Path, tmp_path: Path
) -> None:
    env = {
        "JOBLAND_WEBHOOK_SECRET": SECRET,
        "JOBLAND_WEBHOOK_ALLOW_LOOPBACK": "true",
        "JOBLAND_SERVICE_LIMITS": json.dumps(FAST_RETRIES),
        "JOBLAND_RENDER_PDF": "false",
    }
    run = ("run", "--cv", str(EXAMPLE_CV), "--jobs", str(small_jobs), "--max-packages", "1", "--format", "json")
    private = run_cli(home, database_url, *run, "--webhook", "http://10.0.0.1/x", check=False, **env)
    assert private.returncode == 2 and "10.0.0.1 is a private address" in private.stderr, private.stderr
    assert receiver.requests == []

    started = json.loads(run_cli(home, database_url, *run, "--webhook", f"{receiver.url}/hook", **env).stdout)
    (ready,) = calls_of(receiver, "review_ready")
    body = verified(ready)
    assert body["thread_id"] == started["thread_id"]
    assert [p["package_id"] for p in body["packages"]] == [p["package_id"] for p in started["awaiting_review"]]
    status = run_cli(home, database_url, "status", started["thread_id"], **env).stdout
    assert "webhook review_ready attempt 1 at " in status and ": ok (HTTP 200)" in status

    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 this is not really a PDF")
    failing = [arg if arg != str(EXAMPLE_CV) else str(broken) for arg in run]
    failed_run = run_cli(home, database_url, *failing, "--webhook", f"{receiver.url}/hook", check=False, **env)
    assert failed_run.returncode == 2 and "broken.pdf" in failed_run.stderr
    (failed,) = calls_of(receiver, "failed")
    assert "broken.pdf" in verified(failed)["error"]
