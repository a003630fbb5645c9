"""`langgraph dev` serves the graph from langgraph.json, on PostgreSQL, driven by the LangGraph SDK.

The server runs in a scratch folder (where it keeps its own run bookkeeping) with the repository's
langgraph.json, its paths pointed back at the repository.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from tests.conftest import EXAMPLE_CV, EXAMPLE_JOBS, ROOT, free_port, run_json

pytestmark = pytest.mark.slow  # starts processes, servers or whole pipeline runs

USER_EMAIL = "alex.morgan@example.com"
# Nothing may leave the machine: no tracing, no CLI analytics, no version check against PyPI.
OFFLINE_ENV = {
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGGRAPH_NO_VERSION_CHECK": "true",
}


def _rooted_config(workdir: Path) -> Path:
    """The repository's langgraph.json with its ./paths made absolute, written into workdir."""
    config = json.loads((ROOT / "langgraph.json").read_text())

    def rooted(path: str) -> str:
        return str(ROOT / path) if path.startswith(".") else path

    config["dependencies"] = [rooted(dep) for dep in config["dependencies"]]
    config["graphs"] = {name: rooted(path) for name, path in config["graphs"].items()}
    for section in ("checkpointer", "store"):
        config[section]["path"] = rooted(config[section]["path"])
    target = workdir / "langgraph.json"
    target.write_text(json.dumps(config))
    return target


@dataclass
class Studio:
    url: str
    log: Path

    def errors(self) -> str:
        text = re.sub(r"\x1b\[[0-9;]*m", "", self.log.read_text())  # the server's log is coloured
        return "\n".join(line for line in text.splitlines() if "error" in line.lower())[-3000:]


@pytest.fixture
def studio(tmp_path: Path, home: Path, database_url: str) -> Iterator[Studio]:
    """A `langgraph dev` server on a free loopback port."""
    workdir = tmp_path / "studio"
    workdir.mkdir()
    config = _rooted_config(workdir)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBLAND_")}
    env.update(OFFLINE_ENV, DATABASE_URL=database_url, JOBLAND_HOME=str(home), JOBLAND_EMAIL=USER_EMAIL)
    env.update(JOBLAND_CV=str(EXAMPLE_CV), JOBLAND_JOBS_DIR=str(EXAMPLE_JOBS))  # what a message alone searches with
    log = (workdir / "server.log").open("w")
    command = [sys.executable, "-m", "langgraph_cli", "dev", "--config", str(config)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-browser", "--no-reload"]
    started = time.monotonic()
    server = subprocess.Popen(
        command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while not _ready(url):
            if server.poll() is not None or time.monotonic() - started > 60:
                pytest.fail(f"langgraph dev did not start:\n{(workdir / 'server.log').read_text()[-3000:]}")
            time.sleep(0.1)
        print(f"langgraph dev ready in {time.monotonic() - started:.1f} s")
        yield Studio(url=url, log=workdir / "server.log")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
    blocking = [line for line in (workdir / "server.log").read_text().splitlines() if "BlockingError" in line]
    assert not blocking, f"blocking calls on the event loop: {blocking[:3]}"


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/ok", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


async def _run(client: LangGraphClient, studio: Studio, thread_id: str, **run: Any) -> float:
    """Start a run of the graph, wait for it to pause or end, and return its duration."""
    started = time.monotonic()
    created = await client.runs.create(thread_id, "jobland", **run)
    await client.runs.join(thread_id, created["run_id"])
    status = (await client.runs.get(thread_id, created["run_id"]))["status"]
    assert status == "success", f"run ended with {status}:\n{studio.errors()}"
    return time.monotonic() - started


async def test_studio_run_pauses_for_review_and_delivers_the_approved_package(
    studio: Studio, home: Path, database_url: str
) -> None:
    client = get_client(url=studio.url)
    context = {"user_email": USER_EMAIL, "home": str(home)}
    request = {"cv_path": str(EXAMPLE_CV), "jobs_dir": str(EXAMPLE_JOBS), "max_packages": 2}
    # Studio's context form starts from this machine's Settings.
    [assistant] = await client.assistants.search(graph_id="jobland")
    defaults = (await client.assistants.get_schemas(assistant["assistant_id"]))["context_schema"]["properties"]
    assert (defaults["user_email"]["default"], defaults["home"]["default"]) == (USER_EMAIL, str(home.resolve()))

    thread = await client.threads.create()
    thread_id = thread["thread_id"]

    elapsed = await _run(client, studio, thread_id, input={"request": request}, context=context)
    print(f"run to the review interrupt: {elapsed:.1f} s")

    state = await client.threads.get_state(thread_id)
    assert state["next"] == ["review"]
    [pending] = state["interrupts"]
    requests = pending["value"]
    assert len(requests) == 2
    for human_interrupt in requests:  # Agent Inbox's HumanInterrupt
        assert human_interrupt["action_request"]["action"] == "send_application"
        assert set(human_interrupt["config"]) == {"allow_accept", "allow_edit", "allow_respond", "allow_ignore"}
        assert human_interrupt["description"]
    approved, ignored = (r["action_request"]["args"]["package_id"] for r in requests)

    # What Agent Inbox sends: HumanResponses in interrupt order; accept echoes the action request.
    responses = [{"type": "accept", "args": requests[0]["action_request"]}, {"type": "ignore", "args": None}]
    elapsed = await _run(client, studio, thread_id, command={"resume": responses}, context=context)
    print(f"resume to delivery: {elapsed:.1f} s")

    state = await client.threads.get_state(thread_id)
    assert state["next"] == []
    decisions = {d["package_id"]: d["action"] for d in state["values"]["decisions"]}
    assert decisions == {approved: "accept", ignored: "reject"}
    [email] = (home / "outbox").glob("*.eml")
    message = message_from_bytes(email.read_bytes())
    assert parseaddr(message["To"])[1] == USER_EMAIL
    assert message["X-JobLand-Package"] == approved

    with psycopg.connect(database_url) as conn:
        [(checkpoints,)] = conn.execute("SELECT count(*) FROM checkpoints WHERE thread_id = %s", (thread_id,))
    assert checkpoints > 0


async def test_a_message_alone_runs_and_a_thread_started_by_the_cli_is_resumed_through_the_sdk(
    studio: Studio, home: Path, database_url: str
) -> None:
    client = get_client(url=studio.url)
    # A thread the CLI started (its id is a UUID, as the LangGraph server requires) ...
    started = await asyncio.to_thread(
        run_json, home, database_url, "run", "--cv", str(EXAMPLE_CV), "--jobs", str(EXAMPLE_JOBS), "--max-packages", "1",
        JOBLAND_EMAIL=USER_EMAIL,
    )  # fmt: skip
    thread_id, [waiting] = started["thread_id"], started["awaiting_review"]
    await client.threads.create(thread_id=thread_id, if_exists="do_nothing", graph_id="jobland")
    state = await client.threads.get_state(thread_id)
    [pending] = state["interrupts"]
    assert [r["action_request"]["args"]["package_id"] for r in pending["value"]] == [waiting["package_id"]]
    # ... is resumed through the SDK, answered the way LangChain's human-in-the-loop middleware answers.
    await _run(client, studio, thread_id, command={"resume": {"decisions": [{"type": "approve"}]}})
    assert (await client.threads.get_state(thread_id))["next"] == []
    [email] = (home / "outbox").glob("*.eml")
    assert message_from_bytes(email.read_bytes())["X-JobLand-Package"] == waiting["package_id"]
    status = await asyncio.to_thread(run_json, home, database_url, "status", thread_id)
    assert status["stage"] == "finished", "the CLI sees it finished"

    # Studio's simplest input: a message; the CV and the postings come from the configuration.
    thread = await client.threads.create()
    await _run(client, studio, thread["thread_id"], input={"message": "senior Python backend, Berlin or remote"})
    state = await client.threads.get_state(thread["thread_id"])
    assert state["values"]["request"]["cv_path"] == str(EXAMPLE_CV)
    assert state["interrupts"], "the search ran to the review"
