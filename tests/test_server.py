"""The HTTP API as a client sees it: a real uvicorn on 127.0.0.1, real PostgreSQL, real files, httpx."""

from __future__ import annotations

import email
import email.policy
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from jobland.domain import failpoints
from tests.conftest import EXAMPLE_CV, FIXTURES
from tests.support.api import (
    ALICE,
    BOB,
    api_settings,
    chat,
    client,
    read_events,
    running_server,
    said,
    upload,
    wait_for,
)

pytestmark = pytest.mark.slow


def outbox(home: Path) -> list[email.message.EmailMessage]:
    files = sorted((home / "outbox").glob("*.eml")) if (home / "outbox").exists() else []
    return [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]


def test_cv_upload_limits_and_auth(base_url: str, home: Path, tmp_path: Path) -> None:
    with client(base_url) as api:
        first = upload(api, EXAMPLE_CV)
        assert first.status_code == 201, first.text
        cv = first.json()
        assert cv["name"] == "Alex Morgan" and cv["highlights"] >= 5 and cv["sections"]
        assert upload(api, EXAMPLE_CV, "renamed.md").json()["cv_id"] == cv["cv_id"], "same file, same id"
        stored = list((home / "uploads").glob("alice-*/*"))  # the uploader's own folder
        assert [p.name for p in stored] == [f"{cv['cv_id']}.md"]

        pdf = upload(api, FIXTURES / "resumes" / "awesome-cv-resume.pdf")
        assert pdf.status_code == 201 and pdf.json()["name"] == "Byungjin Park"

        huge = api.post("/api/cv", files={"file": ("cv.md", b"# A\n" + b"x" * (10 * 1024 * 1024))})
        assert huge.status_code == 413 and "10 MB" in huge.json()["detail"]
        exe = api.post("/api/cv", files={"file": ("cv.exe", b"MZ\x90\x00")})
        assert exe.status_code == 415 and ".pdf" in exe.json()["detail"]
        broken = api.post("/api/cv", files={"file": ("mine.pdf", b"%PDF-1.4 this is not really a PDF")})
        assert broken.status_code == 422 and "mine.pdf" in broken.json()["detail"], broken.text

        unknown_cv = api.post("/api/threads", json={"cv_id": "0" * 16})
        assert unknown_cv.status_code == 422 and "POST /api/cv" in unknown_cv.text
    with client(base_url, token=None) as anonymous:
        assert anonymous.get("/api/threads").status_code == 401
        assert anonymous.get("/healthz").json() == {"status": "ok"}
        assert anonymous.get("/docs").status_code == 200
        assert "/api/threads/{thread_id}/decisions" in anonymous.get("/openapi.json").json()["paths"]
    with client(base_url, token="wrong") as stranger:
        assert stranger.post("/api/cv", files={"file": ("cv.md", b"# A")}).status_code == 401


def test_a_run_through_the_api_pauses_for_review_and_sends_only_the_approved(base_url: str, home: Path) -> None:
    with client(base_url) as api, client(base_url, BOB) as bob:
        cv_id = upload(api, EXAMPLE_CV).json()["cv_id"]
        started = time.monotonic()
        created = api.post("/api/threads", json={"cv_id": cv_id, "max_packages": 4})
        assert created.status_code == 202, created.text
        thread_id = created.json()["thread_id"]
        assert created.json()["status_url"] == f"/api/threads/{thread_id}"

        with api.stream("GET", created.json()["events_url"]) as stream:
            events = list(read_events(stream))
        names = [name for name, _ in events]
        assert names[0] == "snapshot" and names[-1] == "done"
        progress = [data for name, data in events if name == "progress"]
        assert {"discover", "prepare_screening", "build_package"} <= {p["node"] for p in progress}
        assert max(p["screened"] for p in progress) >= 30
        (request,) = [data for name, data in events if name == "approval_request"]

        status = wait_for(api, thread_id, {"awaiting_review"})
        print(f"\nAPI run to the review pause: {time.monotonic() - started:.1f} s")
        assert status["progress"]["screened"] == status["progress"]["postings"] >= 30
        ids = status["awaiting_review"]
        assert 2 <= len(ids) <= 4 and ids == [p["package_id"] for p in request["packages"]]
        assert [t["thread_id"] for t in api.get("/api/threads").json()] == [thread_id]

        packages = api.get(f"/api/threads/{thread_id}/packages").json()
        assert {p["status"] for p in packages} == {"ready"} and [p["package_id"] for p in packages] == ids
        first = f"/api/threads/{thread_id}/packages/{ids[0]}"
        detail = api.get(first).json()
        assert detail["cv"]["markdown"].startswith("# Alex Morgan") and detail["master_cv_markdown"].startswith("# ")
        assert len(detail["master_cv_markdown"]) > len(detail["cv"]["markdown"]), "the master CV holds every highlight"
        pdf = api.get(f"{first}/files/cv.pdf")
        assert pdf.content.startswith(b"%PDF") and pdf.headers["content-type"] == "application/pdf"
        assert "attachment" in pdf.headers["content-disposition"]
        markdown = api.get(f"{first}/files/cv.md")
        assert markdown.text == detail["cv"]["markdown"] and markdown.headers["content-type"].startswith(
            "text/markdown"
        )
        assert "\\begin{document}" in api.get(f"{first}/files/cv.tex").text
        assert api.get(f"{first}/files/message.eml").status_code == 404, "nothing sent yet"
        assert api.get(f"{first}/files/secrets.txt").status_code == 404

        assert bob.get(f"/api/threads/{thread_id}").status_code == 404, "another user's thread does not exist"
        assert bob.get(first).status_code == 404
        assert bob.post(f"/api/threads/{thread_id}/decisions", json={"decisions": []}).status_code in (404, 422)
        assert bob.get("/api/threads").json() == []

        bad = api.post(
            f"/api/threads/{thread_id}/decisions", json={"decisions": [{"package_id": "nope", "action": "accept"}]}
        )
        assert bad.status_code == 422
        decisions = {
            "decisions": [{"package_id": ids[0], "action": "accept"}]
            + [{"package_id": pid, "action": "reject"} for pid in ids[1:]]
        }
        with ThreadPoolExecutor(2) as pool:  # a double click: two submissions at once
            answers = list(
                pool.map(
                    lambda _: api.post(f"/api/threads/{thread_id}/decisions", json=decisions).status_code, range(2)
                )
            )
        assert sorted(answers) == [202, 409]
        status = wait_for(api, thread_id, {"finished"})
        print(f"API run including delivery: {time.monotonic() - started:.1f} s")
        assert api.post(f"/api/threads/{thread_id}/decisions", json=decisions).status_code == 409
        assert api.post(f"/api/threads/{thread_id}/resume").status_code == 409

        messages = outbox(home)
        assert len(messages) == 1
        assert messages[0]["To"].addresses[0].addr_spec == "alice@example.com"
        assert messages[0]["X-JobLand-Package"] == ids[0]
        assert {p["package_id"]: p["status"] for p in status["packages"]} == {
            pid: "sent" if pid == ids[0] else "rejected" for pid in ids
        }
        eml = api.get(f"{first}/files/message.eml")
        assert eml.status_code == 200 and eml.headers["content-type"] == "message/rfc822"
        assert b"alice@example.com" in eml.content

        # The review page: its sign-in form trades the token for an HttpOnly session cookie.
        with httpx.Client(base_url=base_url, headers={"Origin": base_url}) as browser:
            assert browser.get(f"/review/{thread_id}").status_code == 401
            signed_in = browser.post(f"/review/{thread_id}/sign-in", data={"token": ALICE})
            assert signed_in.status_code == 303 and signed_in.headers["location"] == f"/review/{thread_id}"
            assert "httponly" in signed_in.headers["set-cookie"].lower()
            page = browser.get(f"/review/{thread_id}")
            assert page.status_code == 200 and thread_id in page.text
            assert browser.get(f"/api/threads/{thread_id}").json()["stage"] == "finished", "the cookie authenticates"
            assert browser.get("/static/review.js").status_code == 200
            assert browser.get("/static/review.css").headers["content-type"].startswith("text/css")
            assert browser.get("/static/..%2Fserver.py").status_code == 404
    assert len(outbox(home)) == 1, "still exactly one message"


def test_chat_searches_then_reads_a_review_reply(base_url: str, home: Path) -> None:
    with client(base_url) as api:
        cv_id = upload(api, EXAMPLE_CV).json()["cv_id"]
        events = chat(api, cv_id=cv_id, message="senior Python backend roles in Berlin or remote")
        names = [name for name, _ in events]
        assert "progress" in names and "approval_request" in names and "done" in names
        (request,) = [data for name, data in events if name == "approval_request"]
        thread_id = request["thread_id"]
        count = len(request["packages"])
        assert count >= 2
        text = said(events)
        assert "strong match" in text and f"1. {request['packages'][0]['title']} at" in text, text

        unclear = chat(api, thread_id=thread_id, message="hmm, maybe the first one?")
        assert [name for name, _ in unclear] == ["message"] and "by their numbers" in said(unclear)
        out_of_range = chat(api, thread_id=thread_id, message=f"approve {count + 1}")
        assert f"no package {count + 1}" in said(out_of_range)
        assert api.get(f"/api/threads/{thread_id}").json()["stage"] == "awaiting_review", "nothing was guessed"

        done = chat(api, thread_id=thread_id, message="approve 1, reject the rest")
        assert "delivered" in [name for name, _ in done] and dict(done)["done"]["stage"] == "finished"
        assert "Sent 1 package(s) to alice@example.com" in said(done)
        assert len(outbox(home)) == 1


def test_a_run_stopped_by_a_restart_is_resumed(database_url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = api_settings(database_url, home)
    # The first package's CV hangs, so the run is still under way whenever the server stops (which cancels it):
    # a fast machine finished the whole run within a fixed wait.
    failpoints.reset()
    monkeypatch.setenv("JOBLAND_FAILPOINTS", "write_cv.start=1:stall")
    with running_server(settings) as base, client(base) as api:
        cv_id = upload(api, EXAMPLE_CV).json()["cv_id"]
        thread_id = api.post("/api/threads", json={"cv_id": cv_id, "max_packages": 2}).json()["thread_id"]
        deadline = time.monotonic() + 60
        while not api.get(f"/api/threads/{thread_id}").json()["progress"]["screened"]:  # into the run
            assert time.monotonic() < deadline, "the run never screened a posting"
            time.sleep(0.05)
    monkeypatch.delenv("JOBLAND_FAILPOINTS")
    with running_server(settings) as base, client(base) as api:
        status = api.get(f"/api/threads/{thread_id}").json()
        assert status["stage"] == "interrupted", status
        assert api.post(f"/api/threads/{thread_id}/resume").status_code == 202
        status = wait_for(api, thread_id, {"awaiting_review"})
        assert 1 <= len(status["awaiting_review"]) <= 2
        assert status["progress"]["screened"] == status["progress"]["postings"] >= 30
