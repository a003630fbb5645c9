"""An edit at review is a new version of the package, rendered and checked like the first.

Five kinds of fabrication (an employer that never existed, an inflated title, a fake metric, a degree
never earned, a skill never mentioned) typed into the CV through the CLI (with $EDITOR), the HTTP API and
an Agent Inbox answer are each flagged, and the package is not sent until the person confirms those lines
by id; then the email carries the edited CV, laid out in the CV's own fonts on as many pages.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pypdfium2 as pdfium
import pytest

from jobland.agents.cv_document import CV_STYLES, read_cv_markdown, render_cv, render_latex
from jobland.agents.cv_writer import plan_cv
from jobland.domain.models import ApplicationPackage, JobPosting, Profile
from jobland.domain.review import review_request
from jobland.settings import ApiUser
from tests.conftest import EXAMPLE_CV, ROOT, cli_env, jobland_command, run_cli, run_json
from tests.support.api import api_settings, client, running_server, upload, wait_for
from tests.support.edits import FABRICATED, assert_styled_like, attached_cv, fabricate, pdf_fonts, sent_messages

pytestmark = pytest.mark.slow  # starts processes, servers or whole pipeline runs

INVENTED_LETTER_LINE = "As head of Google's search team I grew revenue by 40%."

# A user of this module's own: other modules count their users' threads.
EDITOR_TOKEN = "edith-token-0123456789"
EDITOR = ApiUser(user_id="edith", email="edith@example.com", name="Edith")


def assert_every_kind_flagged(unsupported: list[dict]) -> None:
    texts = [line["text"] for line in unsupported]
    for kind, written in FABRICATED.items():
        assert any(written in text for text in texts), f"{kind} not flagged: {texts}"


# --------------------------------------------------------------------------- the document model


@pytest.mark.parametrize("style", CV_STYLES)
def test_a_cv_s_markdown_reads_back_into_the_same_document(
    style: str, example_profile: Profile, kiezkraft: JobPosting
) -> None:
    document = plan_cv(example_profile, kiezkraft, max_lines=12)
    cv = render_cv(document, style)
    again = read_cv_markdown(cv.markdown)
    assert render_cv(again, style).html == cv.html and render_latex(again, style) == render_latex(document, style)


def test_text_outside_the_format_is_kept_never_dropped(example_profile: Profile, kiezkraft: JobPosting) -> None:
    markdown = render_cv(plan_cv(example_profile, kiezkraft, max_lines=6)).markdown
    loose = markdown.replace("## Skills", "A loose line above the skills.\n\n## Skills", 1)
    loose = loose.replace("## Education\n", "## Education\n\nA paragraph in the\nEducation section.\n", 1)
    written = render_cv(read_cv_markdown(loose)).markdown
    assert "A loose line above the skills." in written and "A paragraph in the Education section." in written


@pytest.fixture(scope="module")
def kiezkraft() -> JobPosting:
    from datetime import UTC, datetime

    from jobland.tools.job_folder import load_folder

    batch = load_folder(ROOT / "examples" / "jobs", now=datetime.now(UTC))
    return next(p for p in batch.postings if p.company.startswith("Kiezkraft"))


# --------------------------------------------------------------------------- the CLI


def waiting(home: Path, database_url: str, jobs: Path, packages: int) -> tuple[str, list[str]]:
    started = run_json(
        home, database_url, "run", "--cv", str(EXAMPLE_CV), "--jobs", str(jobs), "--max-packages", str(packages)
    )
    return started["thread_id"], [p["package_id"] for p in started["awaiting_review"]]


def editor(tmp_path: Path, body: str) -> str:
    """An $EDITOR command: a script that edits the file it is given (cv.md, then letter.md)."""
    script = tmp_path / "editor.py"
    script.write_text(f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n" + textwrap.dedent(body))
    return f"{sys.executable} {script}"


@pytest.mark.slow
def test_a_cli_edit_is_flagged_and_sent_only_once_the_lines_are_confirmed(
    home: Path, database_url: str, jobs_dir: Path, tmp_path: Path
) -> None:
    thread, (edited, other) = waiting(home, database_url, jobs_dir, 2)
    built = run_json(home, database_url, "show", thread, edited)

    # A mistyped path and an editor that fails stop before anything is submitted: the approval is not lost.
    for extra, env in (
        (["--cv-file", str(tmp_path / "no-such.md")], {}),
        ([], {"EDITOR": editor(tmp_path, "sys.exit(3)\n")}),
    ):
        refused = run_cli(
            home, database_url, "review", thread, "--approve", other, "--edit", edited, *extra, check=False, **env
        )
        assert refused.returncode == 2 and ("not found" in refused.stderr or "exited 3" in refused.stderr), refused
        assert {p["package_id"]: p["status"] for p in run_json(home, database_url, "status", thread)["packages"]} == {
            edited: "ready",
            other: "ready",
        }

    fabricating = editor(
        tmp_path,
        """
        from pathlib import Path
        from tests.test_edits import fabricate
        path = Path(sys.argv[1])
        if path.name == "cv.md":  # the letter opens next and is left as it is
            path.write_text(fabricate(path.read_text()))
        """,
    )
    outcome = run_json(home, database_url, "review", thread, "--edit", edited, EDITOR=fabricating)
    (held,) = [p for p in outcome["packages"] if p["package_id"] == edited]
    assert held["status"] == "ready" and held["version"] == 2 and sent_messages(home) == {}
    assert_every_kind_flagged(held["needs_confirmation"])
    ids = [line["id"] for line in held["needs_confirmation"]]

    shown = run_json(home, database_url, "show", thread, edited)
    truth = next(c for c in shown["checks"] if c["name"] == "truth")
    assert not truth["passed"] and shown["flagged_claims"], "show no longer says the truth check passed"
    assert shown["versions"][0]["cv"]["markdown"] == built["cv"]["markdown"], "the version as built is kept"
    assert shown["cover_letter"] == built["cover_letter"], "the letter, left as it was, is not rendered again"
    diff = run_json(home, database_url, "show", thread, edited, "--version", "2")["diff"]
    assert f"+### {FABRICATED['employer']}" in diff and diff.startswith("--- version 1/cv.md")

    # Approving without naming every flagged line does not send it either.
    partly = run_json(home, database_url, "review", thread, "--approve", edited, "--confirm-unsupported", ids[0])
    assert {p["package_id"]: p["status"] for p in partly["packages"]}[edited] == "ready" and sent_messages(home) == {}

    confirm = [arg for line_id in ids for arg in ("--confirm-unsupported", line_id)]
    done = run_json(home, database_url, "review", thread, "--approve", edited, *confirm)
    assert {p["package_id"]: p["status"] for p in done["packages"]}[edited] == "sent"
    pdf, markdown = attached_cv(sent_messages(home)[edited])
    assert FABRICATED["employer"] in markdown
    assert "Google" in "".join(page.get_textpage().get_text_range() for page in pdfium.PdfDocument(pdf))
    assert_styled_like(home, built["cv"]["pdf_file"], pdf)
    assert list(sent_messages(home)) == [edited], "the other package is still undecided"

    exported = run_json(home, database_url, "export", thread, edited, "--dir", str(tmp_path / "export"))
    names = sorted(Path(f).name for f in exported["files"])
    assert names == ["cv.json", "cv.md", "cv.pdf", "cv.tex", "dossier.md", "letter.md", "letter.pdf"]
    assert (tmp_path / "export" / "cv.md").read_text() == markdown

    # The letter, exported and edited in a file: an invented sentence is flagged, the layout is the letter's.
    run_json(home, database_url, "export", thread, other, "--dir", str(tmp_path / "other"))
    letter = tmp_path / "other" / "letter.md"
    letter.write_text(letter.read_text().replace("Kind regards,", f"{INVENTED_LETTER_LINE}\n\nKind regards,"))
    outcome = run_json(home, database_url, "review", thread, "--edit", other, "--letter-file", str(letter))
    (held,) = [p for p in outcome["packages"] if p["package_id"] == other]
    assert [line["text"] for line in held["needs_confirmation"]] == [INVENTED_LETTER_LINE]
    letter_v2 = run_json(home, database_url, "show", thread, other)["cover_letter"]
    for part in ('<p class="subject">', '<p class="signoff">', '<p class="signature">', 'class="contacts"'):
        assert part in letter_v2["html"], f"the edited letter keeps its layout: {part}"
    letter_v1 = run_json(home, database_url, "show", thread, other, "--version", "1")["cover_letter"]
    assert letter_v2["pdf_file"] != letter_v1["pdf_file"]
    letter_pdfs = [(home / v["pdf_file"]).read_bytes() for v in (letter_v1, letter_v2)]
    assert pdf_fonts(letter_pdfs[0]) == pdf_fonts(letter_pdfs[1])


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def converse(command: list[str], env: dict[str, str], replies: list[tuple[str, str]], timeout: float = 120) -> str:
    """Run a command in a terminal of its own (a pty), answering each prompt once its text shows; its output."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(command, stdin=terminal, stdout=terminal, stderr=terminal, env=env, cwd=ROOT)
    os.close(terminal)
    seen, position, deadline = "", 0, time.monotonic() + timeout
    try:
        while True:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    seen += _ANSI.sub("", os.read(controller, 65536).decode(errors="replace"))
                except OSError:  # the command ended and closed the terminal
                    break
            if replies and (found := seen.find(replies[0][0], position)) >= 0:
                position = found + len(replies[0][0])
                os.write(controller, (replies.pop(0)[1] + "\n").encode())
            if process.poll() is not None and not ready:
                break
            assert time.monotonic() < deadline, f"no prompt {replies[:1]} after {timeout} s:\n{seen}"
    finally:
        os.close(controller)
        process.wait(timeout=30)
    assert not replies, f"never asked {replies}:\n{seen}"
    return seen


@pytest.mark.slow
def test_in_a_terminal_a_failing_editor_asks_again_and_the_second_confirmation_sends(
    home: Path, database_url: str, jobs_dir: Path, tmp_path: Path
) -> None:
    thread, (edited, other) = waiting(home, database_url, jobs_dir, 2)
    failed_once = tmp_path / "failed-once"
    fails_then_fabricates = editor(
        tmp_path,
        f"""
        from pathlib import Path
        from tests.test_edits import fabricate
        if not Path({str(failed_once)!r}).exists():
            Path({str(failed_once)!r}).touch()
            sys.exit(1)
        path = Path(sys.argv[1])
        if path.name == "cv.md":
            path.write_text(fabricate(path.read_text()))
        """,
    )
    transcript = converse(
        jobland_command("review", thread),
        cli_env(home, database_url, EDITOR=fails_then_fabricates),
        [
            ("approve, reject, edit or skip", "e"),
            ("the editor again", ""),  # the editor exited 1: open it again, nothing decided is lost
            ("approve, reject, edit or skip", "a"),
            ("send it with these lines anyway?", "y"),
        ],
    )
    assert "exited 1" in transcript and FABRICATED["employer"] in transcript, transcript
    assert sorted(sent_messages(home)) == sorted([edited, other]), transcript
    pdf, markdown = attached_cv(sent_messages(home)[edited])
    assert FABRICATED["degree never earned"] in markdown


# --------------------------------------------------------------------------- the API and Agent Inbox


@contextmanager
def api_review(home: Path, database_url: str, jobs: Path, packages: int) -> Iterator[tuple[httpx.Client, str]]:
    """The HTTP API on loopback with a search of its own, paused for review: (client, thread id)."""
    settings = api_settings(database_url, home).model_copy(
        update={"jobs_dir": jobs, "api_tokens": {EDITOR_TOKEN: EDITOR}}
    )
    with running_server(settings) as base, client(base, EDITOR_TOKEN) as api:
        cv_id = upload(api, EXAMPLE_CV).raise_for_status().json()["cv_id"]
        started = api.post("/api/threads", json={"cv_id": cv_id, "max_packages": packages}).raise_for_status()
        yield api, started.json()["thread_id"]


@pytest.mark.slow
def test_api_and_agent_inbox_edits_are_flagged_and_sent_only_once_confirmed(
    home: Path, database_url: str, jobs_dir: Path
) -> None:
    with api_review(home, database_url, jobs_dir, 2) as (api, thread_id):
        first, second = wait_for(api, thread_id, {"awaiting_review"})["awaiting_review"]
        detail = api.get(f"/api/threads/{thread_id}/packages/{first}").raise_for_status().json()
        url = f"/api/threads/{thread_id}/decisions"

        # JobLand's own decision shape for the first package.
        edit = {"package_id": first, "action": "edit", "cv_markdown": fabricate(detail["cv"]["markdown"])}
        assert api.post(url, json={"decisions": [edit]}).status_code == 202
        status = wait_for(api, thread_id, {"awaiting_review"})
        summary = {p["package_id"]: p for p in status["packages"]}
        assert summary[first]["status"] == "ready" and summary[first]["version"] == 2
        assert_every_kind_flagged(summary[first]["unsupported_lines"])
        assert sorted(status["awaiting_review"]) == sorted([first, second]) and sent_messages(home) == {}
        versions = api.get(f"/api/threads/{thread_id}/packages/{first}").json()["versions"]
        assert [v["number"] for v in versions] == [1] and versions[0]["cv"]["markdown"] == detail["cv"]["markdown"]

        # Agent Inbox answers with every field of the request, edited where the person edited.
        request = asked(api, thread_id, second)
        args = {
            **request["action_request"]["args"],
            "cv_markdown": fabricate(request["action_request"]["args"]["cv_markdown"]),
        }
        inbox = {second: {"type": "edit", "args": {"action": request["action_request"]["action"], "args": args}}}
        assert api.post(url, json=inbox).status_code == 202
        status = wait_for(api, thread_id, {"awaiting_review"})
        summary = {p["package_id"]: p for p in status["packages"]}
        assert summary[second]["status"] == "ready" and summary[second]["version"] == 2
        assert_every_kind_flagged(summary[second]["unsupported_lines"])
        assert sent_messages(home) == {}, "neither edit went out without the confirmation"

        # The confirmations: JobLand's field for the first, the Inbox's edited args for the second.
        confirm_first = [line["id"] for line in summary[first]["unsupported_lines"]]
        accept = {"package_id": first, "action": "accept", "confirm_unsupported": confirm_first}
        assert api.post(url, json={"decisions": [accept]}).status_code == 202
        wait_for(api, thread_id, {"awaiting_review"})
        request = asked(api, thread_id, second)
        args = {**request["action_request"]["args"]}
        args["confirm_unsupported"] = [line["id"] for line in args["unsupported_lines"]]
        inbox = [{"type": "edit", "args": {"action": request["action_request"]["action"], "args": args}}]
        assert api.post(url, json=inbox).status_code == 202
        finished = wait_for(api, thread_id, {"finished"})
        assert {p["package_id"]: p["status"] for p in finished["packages"]} == {first: "sent", second: "sent"}
        for package_id in (first, second):
            pdf, markdown = attached_cv(sent_messages(home)[package_id])
            assert FABRICATED["employer"] in markdown
            built = api.get(f"/api/threads/{thread_id}/packages/{package_id}").json()["versions"][0]
            assert_styled_like(home, built["cv"]["pdf_file"], pdf)


def asked(api: httpx.Client, thread_id: str, package_id: str) -> dict:
    """The review request Agent Inbox shows for a package (the interrupt's, made by the same function)."""
    detail = api.get(f"/api/threads/{thread_id}/packages/{package_id}").raise_for_status().json()
    detail.pop("master_cv_markdown")
    return dict(review_request(ApplicationPackage.model_validate(detail)))
