"""Shared by tests/test_scale_out.py and bench/scale.py: JobLand run as a deployment on this machine.

`jobland serve` and `jobland worker` processes on loopback, on one PostgreSQL and this machine's Redis (a
key prefix of the caller's own), against the local API world: the OpenAI fake for every LLM call and the
SMTP sink for every email, each gauging how many requests it answers at once.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

from tests.conftest import EXAMPLE_CV, EXAMPLE_JOBS, cli_env, free_port, jobland_command
from tests.local_world.openai import API_KEY, FakeOpenAI
from tests.local_world.smtp import PASSWORD, USERNAME, LocalSmtp, local_smtp
from tests.support.smtp_gauge import Gauge, slow_and_gauged

REDIS = "redis://127.0.0.1:6379/0"
# A few postings the demo CV matches (Python backend roles), so that every search finds packages to build.
SMALL_JOBS = (
    "elbdaten-senior-python-engineer.job.json",
    "fernweh-lead-python-engineer.html",
    "blitzlogistik-senior-backend-engineer.json",
    "coinharbor-senior-backend-engineer.html",
)


def small_jobs_folder(target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for name in SMALL_JOBS:
        shutil.copy(EXAMPLE_JOBS / name, target / name)
    return target


def user_tokens(count: int, tag: str) -> dict[str, dict[str, str]]:
    """JOBLAND_API_TOKENS for `count` users of the caller's own (the tag keeps them apart from other runs)."""
    return {
        f"scale-{tag}-token-{n:02d}-0123456789": {
            "user_id": f"scale-{tag}-{n:02d}",
            "email": f"user{n:02d}@example.com",
            "name": f"User {n:02d}",
        }
        for n in range(count)
    }


@dataclass
class Deployment:
    """The processes and fakes of one run; `env` is what every process is started with."""

    folder: Path
    env: dict[str, str]
    llm: FakeOpenAI
    smtp: LocalSmtp
    smtp_gauge: Gauge
    tokens: list[str]
    user_ids: list[str]
    apis: list[str] = field(default_factory=list)  # base URLs
    workers: list[subprocess.Popen] = field(default_factory=list)
    _api_processes: list[subprocess.Popen] = field(default_factory=list)

    def start_worker(self, concurrency: int = 1) -> subprocess.Popen:
        """A `jobland worker` in a process group of its own (its main process and its pool processes)."""
        number = len(self.workers)
        process = subprocess.Popen(
            jobland_command("worker", "--concurrency", str(concurrency)),
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=(self.folder / f"worker-{number}.log").open("w"),
            start_new_session=True,
        )
        self.workers.append(process)
        return process

    def start_api(self) -> str:
        """A `jobland serve` on a free loopback port, once it answers; its base URL."""
        port = free_port()
        process = subprocess.Popen(
            jobland_command("serve", "--port", str(port)),
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=(log := self.folder / f"api-{port}.log").open("w"),
            start_new_session=True,
        )
        self._api_processes.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the API process did not start"
            time.sleep(0.2)
        self.apis.append(base)
        return base

    def pool_pids(self, process: subprocess.Popen) -> set[int]:
        """The worker's pool processes: the ones that run segments (its main process only hands them out)."""
        found = subprocess.run(["ps", "-o", "pid=", "-g", str(process.pid)], capture_output=True, text=True)
        return {int(pid) for pid in found.stdout.split()} - {process.pid}

    def client(self, user: int) -> httpx.Client:
        """User `user`'s client, on API process user % 2 (half the users on each when there are two)."""
        base = self.apis[user % len(self.apis)]
        return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {self.tokens[user]}"}, timeout=60)

    def stop(self) -> None:
        for process in [*self.workers, *self._api_processes]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in [*self.workers, *self._api_processes]:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)


@contextmanager
def deployment(
    folder: Path,
    database_url: str,
    key_prefix: str,
    *,
    users: int,
    limits: dict[str, dict[str, float]],
    llm_latency: float,
    smtp_latency: float,
) -> Iterator[Deployment]:
    """The fakes and the environment; the caller starts the API and worker processes (stopped at the end)."""
    folder.mkdir(parents=True, exist_ok=True)
    tokens = user_tokens(users, key_prefix.strip(":").rsplit("-", 1)[-1])
    with ExitStack() as stack:
        llm = FakeOpenAI().start()
        stack.callback(llm.stop)
        llm.latency = llm_latency
        smtp = stack.enter_context(local_smtp(folder))
        gauge = slow_and_gauged(smtp, seconds=smtp_latency)
        env = cli_env(
            folder / "home",
            database_url,
            JOBLAND_BROKER_URL=REDIS,
            JOBLAND_BROKER_KEY_PREFIX=key_prefix,
            JOBLAND_API_TOKENS=json.dumps(tokens),
            JOBLAND_JOBS_DIR=str(small_jobs_folder(folder / "jobs")),
            JOBLAND_RENDER_PDF="false",
            JOBLAND_LLM_BASE_URL=llm.base_url,
            JOBLAND_LLM_API_KEY=API_KEY,
            JOBLAND_MAILER="smtp",
            JOBLAND_SMTP_HOST=smtp.host,
            JOBLAND_SMTP_PORT=str(smtp.port),
            JOBLAND_SMTP_USERNAME=USERNAME,
            JOBLAND_SMTP_PASSWORD=PASSWORD,
            JOBLAND_SMTP_CA_FILE=str(smtp.ca_file),
            JOBLAND_SERVICE_LIMITS=json.dumps(limits),
            JOBLAND_PARSE_TIMEOUT_S="30",  # a CV is read beside the workers' start-up, on a shared CPU
        )
        (folder / "home").mkdir(exist_ok=True)
        world = Deployment(folder, env, llm, smtp, gauge, list(tokens), [u["user_id"] for u in tokens.values()])
        stack.callback(world.stop)
        stack.callback(_forget_keys, key_prefix)
        yield world


def _forget_keys(key_prefix: str) -> None:
    keys = redis.Redis.from_url(REDIS)
    for key in keys.scan_iter(f"{key_prefix}*"):
        keys.delete(key)


def upload_cvs(world: Deployment) -> str:
    """The demo CV as every user's upload; its cv_id (a content hash: the same for every user).

    The first user on each API process uploads it through POST /api/cv; the others' copies are put where an
    upload is stored, as users who uploaded it earlier (reading a CV takes a process and seconds of CPU each,
    which would be most of the test on two cores).
    """
    ids = set()
    for user in range(len(world.apis)):
        with world.client(user) as api:
            answer = api.post("/api/cv", files={"file": (EXAMPLE_CV.name, EXAMPLE_CV.read_bytes())})
        assert answer.status_code == 201, answer.text
        ids.add(answer.json()["cv_id"])
    (cv_id,) = ids
    uploads = Path(world.env["JOBLAND_HOME"]) / "uploads"
    (stored,) = (uploads / world.user_ids[0]).glob(f"{cv_id}.*")
    for owner in world.user_ids[len(world.apis) :]:
        (uploads / owner).mkdir(parents=True, exist_ok=True)
        shutil.copy(stored, uploads / owner / stored.name)
    return cv_id


def start_search(api: httpx.Client, cv_id: str, max_packages: int) -> str:
    created = api.post("/api/threads", json={"cv_id": cv_id, "max_packages": max_packages})
    assert created.status_code == 202, created.text
    return created.json()["thread_id"]


def stage_of(api: httpx.Client, thread_id: str) -> dict:
    return api.get(f"/api/threads/{thread_id}").raise_for_status().json()
