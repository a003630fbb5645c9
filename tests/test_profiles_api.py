"""Profiling as its own resource over HTTP: a real uvicorn on 127.0.0.1, real PostgreSQL, real CV files.

The database is shared by the whole test session and profiles are stored by content hash, so each test uploads
bytes that nothing has parsed before (a real CV with a unique comment at its end).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from jobland.domain.models import ProfilingJob, utcnow
from jobland.domain.repository import Records
from jobland.domain.text import content_hash
from jobland.profiling import MAX_PARSES, store_upload, stored_upload
from jobland.settings import ApiUser, Settings
from jobland.tools.postgres import postgres_persistence
from tests.conftest import EXAMPLE_CV, FIXTURES, ROOT
from tests.support.api import api_settings, client, running_server

pytestmark = pytest.mark.slow

AWESOME_CV = FIXTURES / "resumes" / "awesome-cv-resume.pdf"
CAROL, DAVE = "carol-token-0123456789", "dave-token-0123456789"


def profiles_settings(database_url: str, home: Path) -> Settings:
    """The test server's settings with users of this module's own: their threads stay out of other tests' lists."""
    users = {
        CAROL: ApiUser(user_id="carol", email="carol@example.com"),
        DAVE: ApiUser(user_id="dave", email="dave@example.com"),
    }
    return api_settings(database_url, home).model_copy(update={"api_tokens": users})


def fresh_pdf() -> bytes:
    """The Awesome-CV resume with a unique PDF comment after its end: readers ignore it, the hash changes."""
    return AWESOME_CV.read_bytes() + f"\n% {uuid.uuid4().hex}\n".encode()


def fresh_markdown() -> bytes:
    return EXAMPLE_CV.read_bytes() + f"\n<!-- {uuid.uuid4().hex} -->\n".encode()


def post_cv(api: httpx.Client, name: str, data: bytes) -> httpx.Response:
    return api.post("/api/profiles", files={"file": (name, data)})


def finished(api: httpx.Client, profile_id: str, timeout: float = 60) -> dict:
    """The job once it is completed or failed."""
    deadline = time.monotonic() + timeout
    while True:
        job = api.get(f"/api/profiles/{profile_id}").raise_for_status().json()
        if job["status"] in ("completed", "failed"):
            return job
        assert job["status"] in ("pending", "processing"), job
        assert time.monotonic() < deadline, f"still {job['status']} after {timeout} s"
        time.sleep(0.05)


@pytest.fixture
def base_url(database_url: str, home: Path) -> Iterator[str]:
    with running_server(profiles_settings(database_url, home)) as base:
        yield base


def test_a_cv_is_profiled_in_the_background_and_parsed_once(base_url: str, home: Path) -> None:
    data = fresh_pdf()
    with client(base_url, CAROL) as api, client(base_url, DAVE) as dave:
        with ThreadPoolExecutor(2) as pool:  # a double click: the same file twice at once
            first, second = pool.map(lambda _: post_cv(api, "Byungjin Park CV.pdf", data), range(2))
        assert first.status_code == second.status_code == 202, first.text
        profile_id = first.json()["profile_id"]
        assert profile_id == content_hash(data) == second.json()["profile_id"]
        assert first.json()["status_url"] == f"/api/profiles/{profile_id}"
        assert first.json()["result_url"] == f"/api/profiles/{profile_id}/result"
        again = post_cv(api, "renamed.pdf", data)
        assert again.status_code == 202 and again.json()["profile_id"] == profile_id
        assert again.json()["status"] != "failed"

        job = finished(api, profile_id)
        assert job["status"] == "completed" and job["error"] is None, job
        assert job["file_name"] == "Byungjin Park CV.pdf" and job["parses"] == 1
        assert job["created_at"] <= job["started_at"] <= job["finished_at"]
        assert job["result_url"] == f"/api/profiles/{profile_id}/result"
        profile = api.get(job["result_url"]).raise_for_status().json()
        assert profile["basics"]["name"] == "Byungjin Park" and profile["source"] == "Byungjin Park CV.pdf"
        highlights = [h["text"] for item in profile["work"] for h in item["highlights"]]
        assert len(highlights) >= 10 and any("efficiently manage and scale" in h for h in highlights), highlights

        after = post_cv(api, "Byungjin Park CV.pdf", data)
        assert after.status_code == 202 and after.json()["status"] == "completed"
        assert api.get(f"/api/profiles/{profile_id}").json()["parses"] == 1, "recognised by its hash, not parsed again"

        assert dave.get(f"/api/profiles/{profile_id}").status_code == 404, "another user's profile does not exist"
        assert dave.get(f"/api/profiles/{profile_id}/result").status_code == 404
        assert api.get(f"/api/profiles/{'0' * 16}").status_code == 404

        created = api.post("/api/threads", json={"cv_id": profile_id, "max_packages": 1})
        assert created.status_code == 202, created.text


def test_a_corrupt_pdf_fails_with_a_readable_error(base_url: str, home: Path) -> None:
    whole = AWESOME_CV.read_bytes()
    data = whole[: len(whole) // 2] + f"\n% {uuid.uuid4().hex}\n".encode()
    with client(base_url, CAROL) as api:
        accepted = post_cv(api, "my cv.pdf", data)
        assert accepted.status_code == 202 and accepted.json()["status"] == "pending"
        profile_id = accepted.json()["profile_id"]
        job = finished(api, profile_id)
        assert job["status"] == "failed" and job["finished_at"], job
        assert job["error"].startswith("my cv.pdf is not a readable PDF") and "export it again" in job["error"]
        assert profile_id not in job["error"] and str(home) not in job["error"], "no server file name or path"

        result = api.get(job["result_url"])
        assert result.status_code == 422 and result.json()["detail"] == job["error"]
        again = post_cv(api, "my cv.pdf", data)
        assert again.json() == accepted.json() | {"status": "failed"}, "same bytes, same failure"
        assert api.get(f"/api/profiles/{profile_id}").json()["parses"] == 1
        unusable = api.post("/api/threads", json={"cv_id": profile_id})
        assert unusable.status_code == 422, "a file that cannot be read is not kept"


def test_bad_uploads_are_refused_before_any_job(base_url: str, home: Path) -> None:
    with client(base_url, CAROL) as api:
        empty = post_cv(api, "cv.pdf", b"")
        assert empty.status_code == 422 and "cv.pdf is empty" in empty.json()["detail"]
        blank = post_cv(api, "cv.md", b" \n\n")
        assert blank.status_code == 422
        huge = post_cv(api, "cv.pdf", b"%PDF-1.7\n" + b"0" * (50 * 1024 * 1024))
        assert huge.status_code == 413 and "10 MB" in huge.json()["detail"]
        exe = post_cv(api, "cv.exe", b"MZ\x90\x00")
        assert exe.status_code == 415 and ".pdf" in exe.json()["detail"]
        assert not (home / "uploads").exists(), "nothing stored"
        for data in (b"", b" \n\n", b"MZ\x90\x00"):
            assert api.get(f"/api/profiles/{content_hash(data)}").status_code == 404, "no job made"
        assert api.get("/api/profiles/not-a-hash").status_code == 422
    with client(base_url, token=None) as anonymous:
        assert post_cv(anonymous, "cv.md", fresh_markdown()).status_code == 401
        assert anonymous.get(f"/api/profiles/{'0' * 16}").status_code == 401
        paths = anonymous.get("/openapi.json").json()["paths"]
        assert {"/api/profiles", "/api/profiles/{profile_id}", "/api/profiles/{profile_id}/result"} <= set(paths)


def test_a_cv_read_by_post_api_cv_is_not_parsed_again(base_url: str) -> None:
    data = fresh_markdown()
    with client(base_url, CAROL) as api:
        assert api.post("/api/cv", files={"file": ("cv.md", data)}).status_code == 201
        job = finished(api, post_cv(api, "cv.md", data).json()["profile_id"])
        assert job["status"] == "completed" and job["parses"] == 0, job
        assert api.get(job["result_url"]).json()["basics"]["name"] == "Alex Morgan"


def leave_processing(database_url: str, home: Path, data: bytes, parses: int = 1) -> ProfilingJob:
    """What a server that died while parsing leaves behind: the stored upload and a job marked processing."""
    store_upload(home, "carol", "alex.md", data)
    job = ProfilingJob(
        profile_id=content_hash(data),
        owner="carol",
        file_name="alex.md",
        status="processing",
        started_at=utcnow(),
        parses=parses,
    )

    async def put() -> None:
        async with postgres_persistence(database_url) as (_, store):
            await Records(store).put_profiling_job(job)

    asyncio.run(put())
    return job


def test_a_job_left_processing_by_a_crash_is_finished_after_a_restart(database_url: str, home: Path) -> None:
    settings = profiles_settings(database_url, home)
    data = fresh_markdown()
    with running_server(settings) as base, client(base, CAROL) as api:
        job = leave_processing(database_url, home, data)
        status = api.get(f"/api/profiles/{job.profile_id}").json()
        assert status["status"] == "processing" and status["file_name"] == "alex.md"
        busy = api.get(f"/api/profiles/{job.profile_id}/result")
        assert busy.status_code == 409 and "still processing" in busy.json()["detail"]
        assert f"GET /api/profiles/{job.profile_id}" in busy.json()["detail"]
        resubmitted = post_cv(api, "alex.md", data).json()
        assert resubmitted["profile_id"] == job.profile_id and resubmitted["status"] == "processing"
    with running_server(settings) as base, client(base, CAROL) as api:
        status = finished(api, job.profile_id)
        assert status["status"] == "completed" and status["parses"] == 2, status
        assert api.get(status["result_url"]).json()["basics"]["name"] == "Alex Morgan"
        assert api.post("/api/threads", json={"cv_id": job.profile_id, "max_packages": 1}).status_code == 202


def test_a_file_being_read_at_every_stop_is_failed_at_the_next_start_not_read_again(
    database_url: str, home: Path
) -> None:
    job = leave_processing(database_url, home, fresh_markdown(), parses=MAX_PARSES)
    with running_server(profiles_settings(database_url, home)) as base, client(base, CAROL) as api:
        status = api.get(f"/api/profiles/{job.profile_id}").json()
        assert status["status"] == "failed" and status["parses"] == MAX_PARSES, status
        assert f"alex.md was being read each of the {MAX_PARSES} times the server stopped" in status["error"]
        assert api.get(status["result_url"]).status_code == 422
        assert stored_upload(home, "carol", job.profile_id) is None, "not kept: no usable cv_id"
        assert api.post("/api/threads", json={"cv_id": job.profile_id}).status_code == 422


def built_before_the_read() -> tuple[int, int, bool]:
    """In a child of the fork server: whether the place tables and the converter are there already, and
    kept from the collector (whose first pass would copy them into the child)."""
    import gc

    from jobland.domain import places
    from jobland.tools import cv_import

    frozen = gc.get_freeze_count() > 0
    return places._cities.cache_info().currsize, cv_import._docling_converter.cache_info().currsize, frozen


# In a process of its own: the fork server's preload counts only at its first start, made here by the PDF
# renderers' own (as in a server that built a package before its first upload).
WARM_CHILD = """
import asyncio
import jobland.profiling
from jobland.tools.bounded import Limits, run_bounded, start_fork_server
from jobland.tools.cv_import import PARSER_MODULES
from tests.test_profiles_api import built_before_the_read

start_fork_server(("jobland.tools.pdf",))
print(asyncio.run(run_bounded(built_before_the_read, Limits(30, 256 << 20), preload=PARSER_MODULES)))
"""


def test_each_bounded_read_starts_with_the_place_tables_and_the_converter_built_and_frozen() -> None:
    # Built in every child instead, they took 1.2 s of each upload's 8 s limit; on a loaded machine, all of it.
    run = subprocess.run([sys.executable, "-c", WARM_CHILD], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "(1, 1, True)"
