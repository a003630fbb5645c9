"""Shared by the test modules: api."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn

from jobland.server import create_app
from jobland.settings import ApiUser, Settings
from tests.conftest import EXAMPLE_JOBS, free_port
from tests.local_world.smtp import PASSWORD, USERNAME, LocalSmtp

ALICE, BOB = "alice-token-0123456789", "bob-token-0123456789"


def api_settings(database_url: str, home: Path) -> Settings:
    """The server's settings, with an Alice and a Bob of this call's own: the database is shared by the tests,
    so what another test's Alice started never shows in this one's lists (user_id() gives their ids)."""
    users = uuid.uuid4().hex[:8]
    return Settings(
        home=home,
        database_url=database_url,
        email="owner@example.com",
        jobs_dir=EXAMPLE_JOBS,
        api_tokens={
            ALICE: ApiUser(user_id=f"alice-{users}", email="alice@example.com", name="Alice Example"),
            BOB: ApiUser(user_id=f"bob-{users}", email="bob@example.com", name="Bob"),
        },
    )


def user_id(settings: Settings, token: str = ALICE) -> str:
    return settings.api_tokens[token].user_id


@contextmanager
def running_server(settings: Settings) -> Iterator[str]:
    """uvicorn serving create_app(settings) in a background thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        assert not thread.is_alive(), "the server did not stop"


@pytest.fixture
def base_url(database_url: str, home: Path) -> Iterator[str]:
    with running_server(api_settings(database_url, home)) as base:
        yield base


def client(base: str, token: str | None = ALICE) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base, headers=headers, timeout=60)


def upload(api: httpx.Client, path: Path, name: str | None = None) -> httpx.Response:
    return api.post("/api/cv", files={"file": (name or path.name, path.read_bytes())})


def wait_for(api: httpx.Client, thread_id: str, stages: set[str], timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = api.get(f"/api/threads/{thread_id}").raise_for_status().json()
        if status["stage"] in stages:
            return status
        assert status["stage"] in ("running", "delivering"), status
        assert time.monotonic() < deadline, f"still {status['stage']} after {timeout} s"
        time.sleep(0.1)


def read_events(response: httpx.Response) -> Iterator[tuple[str, dict]]:
    """(event, JSON data) pairs of a Server-Sent Events stream."""
    event, data = "message", []
    for line in response.iter_lines():
        if line.startswith("event:"):
            event = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").strip())
        elif not line and data:
            yield event, json.loads("\n".join(data))
            event, data = "message", []


def chat(api: httpx.Client, **body: str) -> list[tuple[str, dict]]:
    with api.stream("POST", "/api/chat", json=body) as stream:
        assert stream.status_code == 200, stream.read()
        return list(read_events(stream))


def said(events: list[tuple[str, dict]]) -> str:
    return " ".join(data["text"] for name, data in events if name == "message")


BROKEN_BUILD = "write_cv.start=2:raise"


SMTP_LIMITS = {"smtp": {"max_attempts": 2, "base_delay": 0.05}}


def smtp_env(smtp: LocalSmtp) -> dict[str, str]:
    return {
        "JOBLAND_MAILER": "smtp",
        "JOBLAND_SMTP_HOST": smtp.host,
        "JOBLAND_SMTP_PORT": str(smtp.port),
        "JOBLAND_SMTP_USERNAME": USERNAME,
        "JOBLAND_SMTP_PASSWORD": PASSWORD,
        "JOBLAND_SMTP_CA_FILE": str(smtp.ca_file),
        "JOBLAND_SERVICE_LIMITS": json.dumps(SMTP_LIMITS),
        "JOBLAND_RENDER_PDF": "false",
    }
