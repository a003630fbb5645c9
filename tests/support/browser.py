"""Shared by the test modules: browser."""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from tests.conftest import EXAMPLE_CV, EXAMPLE_JOBS, ROOT, cli_env, free_port

CHROMIUM = Path("/usr/bin/chromium")


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


HOSTILE_TITLE = "Senior Python Engineer <img src=x onerror=alert('title')>"


HOSTILE_COMPANY = "Riptide <script>alert('company')</script> Health"


@pytest.fixture
def review_jobs(tmp_path: Path) -> Path:
    """Three good matches (one of them hostile) and one poor one: a short run with a few packages."""
    folder = tmp_path / "review-jobs"
    folder.mkdir()
    for name in (
        "ledgerline-senior-software-engineer-payments.json",
        "kiezkraft-senior-python-backend.json",
        "hanse-senior-accountant.md",
    ):
        shutil.copy(EXAMPLE_JOBS / name, folder / name)
    posting = json.loads((EXAMPLE_JOBS / "tidewater-senior-backend-engineer-remote.json").read_text())
    posting["title"] = HOSTILE_TITLE
    posting["hiringOrganization"]["name"] = HOSTILE_COMPANY
    posting["description"] += "<p>Our mission: <img src=x onerror=alert('mission')> healthy backs for everyone.</p>"
    posting["url"] = "javascript:alert('url')"
    (folder / "riptide-hostile.json").write_text(json.dumps(posting))
    return folder


@contextmanager
def serving(home: Path, database_url: str, jobs: Path, **env: str) -> Iterator[tuple[str, str]]:
    """uvicorn serving server.py on a free loopback port: (base URL, API token)."""
    token = secrets.token_urlsafe(16)
    port = free_port()
    environment = cli_env(home, database_url, JOBLAND_API_TOKEN=token, JOBLAND_JOBS_DIR=str(jobs), **env)
    log = home / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "jobland.server:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=environment,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the server did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield base, token
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def start_search(base: str, token: str) -> str:
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=auth, timeout=60) as client:
        upload = client.post("/api/cv", files={"file": (EXAMPLE_CV.name, EXAMPLE_CV.read_bytes(), "text/markdown")})
        assert upload.status_code == 201, upload.text
        created = client.post("/api/threads", json={"cv_id": upload.json()["cv_id"], "query": "senior Python backend"})
        assert created.status_code == 202, created.text
        return created.json()["thread_id"]


def sign_in(page: Page, base: str, thread_id: str, token: str) -> None:
    """Open the review link (the token in its fragment) and press Sign in, as the person does."""
    page.goto(f"{base}/review/{thread_id}#token={token}")
    assert page.url == f"{base}/review/{thread_id}", "the token leaves the address bar before anything is sent"
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#thread-id")).to_have_text(thread_id)


def console_errors(page: Page) -> list[str]:
    """Errors the page's scripts raise or log, CSP violations among them ("Refused to ..."); filled as they come.

    A response's status (the sign-in form's 401, a missing favicon) is the tests' own business, not an error.
    """
    errors: list[str] = []

    def logged(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    page.on("console", logged)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)|\son[a-z]+\s*=", re.IGNORECASE)


def browser_client(base: str, **kwargs) -> httpx.Client:
    """A client that sends what a browser sends from the server's own page."""
    return httpx.Client(base_url=base, headers={"Origin": base}, timeout=30, **kwargs)


SCREENSHOTS = Path("/tmp/jobland-review-page")


@pytest.fixture
def review_server(database_url: str, home: Path, review_jobs: Path) -> Iterator[tuple[str, str]]:
    with serving(home, database_url, review_jobs) as served:
        yield served
