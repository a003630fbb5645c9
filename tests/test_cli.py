"""The `jobland` command as a person or a script uses it, in separate processes on PostgreSQL."""

from __future__ import annotations

import email
import email.policy
import json
import re
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_CV, FIXTURES, run_cli, start_run

pytestmark = pytest.mark.slow


def test_demo_runs_the_bundled_example_end_to_end(home: Path, database_url: str) -> None:
    """README's first command: the example CV and postings, through review, into the outbox."""
    result = run_cli(home, database_url, "demo", "--approve-all")
    assert "Screening postings" in result.stderr and "Building packages" in result.stderr, "progress bars"
    assert "Packages awaiting your review" in result.stdout
    sent = sorted((home / "outbox").glob("*.eml"))
    assert 3 <= len(sent) <= 5
    for path in sent:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert message["To"].addresses[0].addr_spec == "alex.morgan@example.com"
        assert str(path) in result.stdout


def test_profile_shows_what_was_understood(home: Path, database_url: str) -> None:
    table = run_cli(home, database_url, "profile", str(FIXTURES / "resumes" / "awesome-cv-resume.pdf"))
    assert "Byungjin Park" in table.stdout and "Dunamu Inc." in table.stdout and "Terraform" in table.stdout
    parsed = json.loads(run_cli(home, database_url, "profile", str(EXAMPLE_CV), "--format", "json").stdout)
    assert parsed["basics"]["name"] == "Alex Morgan"
    assert parsed["preferences"]["salary_floor"] == 70000
    assert all(h["id"].startswith("hl_") for job in parsed["work"] for h in job["highlights"])


def test_screen_json_for_scripts(home: Path, database_url: str, jobs_dir: Path) -> None:
    rows = json.loads(
        run_cli(
            home, database_url, "screen", "--cv", str(EXAMPLE_CV), "--jobs", str(jobs_dir), "--format", "json"
        ).stdout
    )
    assert len(rows) >= 30
    keys = {"source", "title", "company", "match_score", "probability", "reasons", "missing_skills", "deal_breakers"}
    assert all(set(r) == keys for r in rows)
    assert [r["match_score"] for r in rows] == sorted((r["match_score"] for r in rows), reverse=True)
    crypto = next(r for r in rows if r["source"].startswith("coinharbor"))
    assert crypto["probability"] == "Low" and any("crypto" in d for d in crypto["deal_breakers"])
    nurse = next(r for r in rows if r["source"].startswith("st-aldhelms"))
    assert nurse["probability"] == "Low"
    assert not (home / "outbox").exists() and not (home / "packages").exists(), "screening builds and sends nothing"


def test_threads_status_show_and_an_edited_package(
    home: Path, database_url: str, jobs_dir: Path, tmp_path: Path
) -> None:
    run = start_run(home, database_url, jobs_dir, "--query", "senior Python backend, Berlin or remote", max_packages=2)
    assert run.returncode == 0, run.stderr
    started = json.loads(run.stdout)
    thread = started["thread_id"]
    first, second = (p["package_id"] for p in started["awaiting_review"])

    threads = json.loads(run_cli(home, database_url, "threads", "--format", "json").stdout)
    assert threads[0]["thread_id"] == thread and threads[0]["stage"] == "awaiting_review"
    status = json.loads(run_cli(home, database_url, "status", thread, "--format", "json").stdout)
    assert status["high"] >= 2 and len(status["packages"]) == 2
    assert any("expired" in d["reason"] for d in status["discarded"])

    shown = json.loads(run_cli(home, database_url, "show", thread, first[:8], "--format", "json").stdout)
    assert shown["id"] == first and shown["cv"]["lines"] and shown["dossier"]["company"]
    table = run_cli(home, database_url, "show", thread, first).stdout
    assert "Tailored CV" in table and "Cover letter" in table and "Dossier" in table
    for columns in (80, 140):
        narrow = run_cli(home, database_url, "show", thread, first, COLUMNS=str(columns)).stdout
        lines = narrow.splitlines()
        documents = [line for line in lines if not line.startswith(("PDF: ", "LaTeX source: "))]
        assert max(map(len, documents)) <= columns, "documents wrap at the terminal's width"
        shown_words = set(re.findall(r"[\w@.+-]+", narrow))
        for line in shown["cv"]["lines"] + shown["cover_letter"]["lines"]:
            cut = [w for w in re.findall(r"[\w@.+-]+", line["text"]) if w not in shown_words]
            assert not cut, f"words cut at {columns} columns: {cut}"

    edited = tmp_path / "edited.md"
    edited.write_text(shown["cv"]["markdown"].replace("Summary", "Summary (edited by me)", 1))
    outcome = json.loads(
        run_cli(
            home,
            database_url,
            "review",
            thread,
            "--edit",
            first,
            "--cv-file",
            str(edited),
            "--reject",
            second,
            "--format",
            "json",
        ).stdout
    )
    assert {p["package_id"]: p["status"] for p in outcome["packages"]} == {first: "sent", second: "rejected"}
    (sent,) = (home / "outbox").glob("*.eml")
    message = email.message_from_bytes(sent.read_bytes(), policy=email.policy.default)
    attachments = {part.get_filename(): part for part in message.iter_attachments()}
    cv_md = next(part for name, part in attachments.items() if name.startswith("cv-") and name.endswith(".md"))
    assert "Summary (edited by me)" in cv_md.get_content()
    assert any(name.startswith("cv-") and name.endswith(".pdf") for name in attachments), "edited CV re-rendered"
    assert "Summary (edited by me)" in run_cli(home, database_url, "show", thread, first, "--version", "2").stdout


def test_unknown_thread_and_package_are_clear_errors(home: Path, database_url: str) -> None:
    missing = run_cli(home, database_url, "status", "nope", check=False)
    assert missing.returncode == 2 and "no thread 'nope'" in missing.stderr
    not_waiting = run_cli(home, database_url, "review", "nope", "--approve", "x", check=False)
    assert not_waiting.returncode == 2 and "jobland threads" in not_waiting.stderr
