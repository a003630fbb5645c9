"""Every document template renders with realistic values, and hostile fields are escaped for its target."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from jobland.agents.cover_letter_writer import write_letter
from jobland.agents.cv_writer import plan_cv, tailor_cv
from jobland.agents.interview_prep import prepare_interview
from jobland.agents.researcher import dossier_from_posting
from jobland.domain.models import ApplicationPackage, JobScreeningOutput
from jobland.domain.replies import ReplyProposal
from jobland.domain.watches import SavedSearch, WatchRun
from jobland.templates import render, template_names
from tests.support.packages import HOSTILE_HTML, HOSTILE_TEX, INJECTION, make_posting, make_profile

HOSTILE_POSTING = make_posting(
    company=HOSTILE_TEX,
    title=f"{HOSTILE_HTML} Engineer",
    description=f"{INJECTION}. Our mission is to ship {HOSTILE_HTML} safely, with {HOSTILE_TEX} care.",
)
HOSTILE_PROFILE = make_profile(name=HOSTILE_HTML, employer=HOSTILE_TEX, summary=INJECTION)


def _letter_lines() -> dict[str, object]:
    cv = tailor_cv(HOSTILE_PROFILE, HOSTILE_POSTING, max_lines=6)
    letter = write_letter(HOSTILE_PROFILE, HOSTILE_POSTING, dossier_from_posting(HOSTILE_POSTING), cv)
    return {"lines": letter.lines, "subject": letter.subject, "language": letter.language}


def _email() -> dict[str, object]:
    package = ApplicationPackage(
        id="pkg_1",
        posting_id=HOSTILE_POSTING.id,
        profile_id=HOSTILE_PROFILE.id,
        company=HOSTILE_POSTING.company,
        title=HOSTILE_POSTING.title,
        screening=JobScreeningOutput(match_score=81, probability="High"),
        flagged_claims=[f"CV, Experience: “{INJECTION}” (not in the cited evidence: x)"],
    )
    return {"package": package, "attachments": ["cv.pdf", "cover_letter.pdf"], "user_name": "Jane Doe"}


def _watch_digest() -> dict[str, object]:
    watch = SavedSearch(key="k1", owner="local", name="python-berlin", query=INJECTION, cv_path="cv.md", every_s=86400)
    ready = {
        "title": HOSTILE_POSTING.title,
        "company": HOSTILE_POSTING.company,
        "match_score": 81,
        "probability": "High",
    }
    return {
        "user_name": "Jane Doe",
        "watch": watch,
        "run": WatchRun(watch_key="k1", number=2, slot=1, thread_id="t-1", screened=3),
        "at": "2026-12-02 06:00",
        "ready": [{**ready, "flagged": 1}],
        "missing": [{"title": "Data Engineer", "company": "Globex", "error": "timed out after 900 s"}],
        "replies": [
            ReplyProposal(
                package_id="pkg-1",
                company="Globex",
                title="Data Engineer",
                gmail_id="m-1",
                subject=INJECTION,
                sender="jobs@globex.example",
                date=datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
                kind="interview",
                matched_by="domain",
                current_status="sent",
                proposed_status="interviewing",
            )
        ],
        "review_url": "http://127.0.0.1:8000/review/t-1",
        "thread_id": "t-1",
    }


# Values for each template, as its caller passes them.
VALUES: dict[str, Callable[[], dict[str, object]]] = {
    "cv.md.j2": lambda: {"cv": plan_cv(HOSTILE_PROFILE, HOSTILE_POSTING, max_lines=6)},
    # Both styles are rendered in every format by tests/test_materials.py.
    "cv.html.j2": lambda: {"cv": plan_cv(HOSTILE_PROFILE, HOSTILE_POSTING, max_lines=6), "style": "modern"},
    "cv.tex.j2": lambda: {"cv": plan_cv(HOSTILE_PROFILE, HOSTILE_POSTING, max_lines=6), "style": "classic"},
    "cover_letter.md.j2": _letter_lines,
    "cover_letter.html.j2": _letter_lines,
    "dossier.md.j2": lambda: {"dossier": dossier_from_posting(HOSTILE_POSTING)},
    "email.txt.j2": _email,
    "interview_prep.md.j2": lambda: {"prep": prepare_interview(HOSTILE_PROFILE, HOSTILE_POSTING, _email()["package"])},
    # The review page is a shell that templates/review.js fills; only the thread id reaches its HTML.
    "review.html.j2": lambda: {
        "thread_id": HOSTILE_HTML,
        "api_base": "/api",
        "csrf_token": "csrf-0123",
        "user_name": HOSTILE_HTML,
    },
    "sign_in.html.j2": lambda: {"thread_id": HOSTILE_HTML, "action": "/sign-in", "problem": HOSTILE_HTML},
    "home.html.j2": lambda: {
        "api_base": "/api",
        "csrf_token": "csrf-0123",
        "user_name": HOSTILE_HTML,
        "cv_types": [".pdf", ".md"],
        "statuses": ["sent", "applied"],
    },
    "docs.html.j2": lambda: {"openapi_url": "/openapi.json"},
    "watch_digest.txt.j2": _watch_digest,
}
# Pages the server serves, with the one script each loads from its own origin (the CSP allows no other).
PAGE_SCRIPTS = {
    "review.html.j2": "review.js",
    "sign_in.html.j2": "sign_in.js",
    "docs.html.j2": "docs.js",
    "home.html.j2": "home.js",
}


def test_every_template_has_values_here() -> None:
    assert sorted(VALUES) == template_names(), "a new template needs realistic values in VALUES"


@pytest.mark.parametrize("name", template_names())
def test_template_renders_and_escapes_for_its_target(name: str) -> None:
    if name not in VALUES:
        pytest.fail(f"add values for {name} to VALUES in tests/test_templates.py")
    text = render(name, **VALUES[name]())
    assert len(text) > 200

    if name in PAGE_SCRIPTS:
        assert HOSTILE_HTML not in text and "<script>" not in text, "no inline script"
        assert "&lt;script&gt;" in text or name == "docs.html.j2", "a hostile thread id shows as text"
        assert f'src="/static/{PAGE_SCRIPTS[name]}"' in text and "http" not in text, "everything from the same origin"
    elif name.endswith(".html.j2"):
        assert "<script>" not in text and "&lt;script&gt;" in text
        assert "R&amp;D_Labs 100% \\ {Ltd} $5 #1 ~^" in text
        assert "@page" in text and "size: A4" in text, "the CSS is embedded, so rendering needs no fetch"
    elif name.endswith(".md.j2"):
        assert "<script>" not in text and "\\<script\\>" in text
        assert "R&D\\_Labs 100% \\\\ \\{Ltd\\} $5 \\#1 ~^" in text
    elif name.endswith(".tex.j2"):
        assert "R\\&D\\_Labs 100\\% \\textbackslash{} \\{Ltd\\} \\$5 \\#1 \\textasciitilde{}\\textasciicircum{}" in text
        assert HOSTILE_TEX not in text
        assert "\\begin{document}" in text and text.rstrip().endswith("\\end{document}")
        assert text.count("\\begin{itemize}") == text.count("\\end{itemize}")
    elif name == "watch_digest.txt.j2":  # plain text: shown as written
        assert HOSTILE_TEX in text and "81/100 (High), 1 unsupported claim(s) flagged" in text
        assert "timed out after 900 s" in text and "http://127.0.0.1:8000/review/t-1" in text
    else:  # plain text: shown as written
        assert name == "email.txt.j2"
        assert HOSTILE_TEX in text and "81/100" in text and "cv.pdf" in text
        assert "review every document before you send it on" in text


def test_cv_markdown_lines_follow_the_evidence_map() -> None:
    cv = tailor_cv(HOSTILE_PROFILE, HOSTILE_POSTING, max_lines=6)
    first_lines = cv.markdown.splitlines()[:5]
    assert first_lines[0] == "# \\<script\\>alert(1)\\</script\\>"
    assert "**Senior Platform Engineer**" in first_lines
    assert "### Senior Platform Engineer — R&D\\_Labs 100% \\\\ \\{Ltd\\} $5 \\#1 ~^" in cv.markdown


def test_dossier_markdown_marks_unknown_topics_and_sources() -> None:
    text = render("dossier.md.j2", dossier=dossier_from_posting(HOSTILE_POSTING))
    assert "## Recent news\n\nunknown" in text and "## Culture\n\nunknown" in text
    assert f"(source: posting:{HOSTILE_POSTING.id.replace('_', chr(92) + '_')}, the job posting itself)" in text
    assert "x@evil.com" not in text
