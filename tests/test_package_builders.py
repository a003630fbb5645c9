"""The package builders of the embedded default: researcher, CV writer, cover-letter writer, checks, PDFs.

Profiles and postings are built here from domain.models, so these tests do not depend on the importers.
"""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime
from psycopg_pool import PoolTimeout

from jobland.agents.cover_letter_writer import write_letter
from jobland.agents.cv_writer import plan_cv, tailor_cv
from jobland.agents.package_checker import check_package_contents
from jobland.agents.package_files import UnsafePackageId, package_file
from jobland.agents.researcher import dossier_from_posting
from jobland.domain.models import (
    PackageStatus,
    TailoredCV,
)
from jobland.domain.repository import Records
from jobland.graph.context import Context
from jobland.graph.state import BuildPackageInput, PackageBuildState, PackageRef
from jobland.tools.pdf import render_pdf, tex_engine, write_pdf_atomically
from tests.support.packages import (
    HOSTILE_HTML,
    HOSTILE_TEX,
    INJECTION,
    K8S_HIGHLIGHT,
    build_package_alone,
    make_package,
    make_posting,
    make_profile,
    store_with_pending_package,
)


def highlight_lines(cv: TailoredCV) -> list[str]:
    return [line.text for line in cv.lines if line.highlight_ids]


# --------------------------------------------------------------------------- researcher


def test_dossier_sorts_the_postings_sentences_by_topic_with_sources_and_leaves_unknown_topics_empty() -> None:
    posting = make_posting()
    dossier = dossier_from_posting(posting)

    assert [f.text for f in dossier.business] == [
        "Northwind Logistics moves freight across Europe.",
        "We build a routing platform used by 3,000 carriers and their customers.",
    ]
    assert [f.text for f in dossier.mission] == ["Our mission is to make every shipment traceable from dock to door."]
    assert [f.text for f in dossier.culture] == [
        "We value ownership, written communication and a kind, inclusive culture."
    ]
    assert dossier.unknown_topics() == ["products", "customers", "size", "stage", "locations", "team", "recent_news"]
    assert dossier.note is None, "the posting says what the company does"
    for fact in dossier.facts():
        assert fact.source == f"posting:{posting.id}" and fact.source_kind == "job_posting"
        assert fact.text in posting.description, "a fact is a sentence of the posting, never a paraphrase"
    quoted = " ".join(f.text for f in dossier.facts())
    assert "You will" not in quoted, "sentences about the role are not facts about the company"
    assert "jobs@northwind.example" not in quoted and "https://" not in quoted


def test_a_posting_that_says_nothing_about_the_company_gives_an_unknown_dossier_that_says_why() -> None:
    posting = make_posting(description="You will write Go services. Five years of experience required.")
    dossier = dossier_from_posting(posting)
    assert dossier.facts() == [] and dossier.unknown_topics() == list(dossier.TOPICS)
    assert dossier.note == (
        "The posting says nothing about what Northwind Logistics does or makes, and web research is not "
        "configured (set EXA_API_KEY to search the web)."
    )


# --------------------------------------------------------------------------- CV writer


def test_tailored_cv_shows_only_the_profiles_own_highlights_with_valid_ids() -> None:
    profile = make_profile()
    cv = tailor_cv(profile, make_posting(), max_lines=6)
    by_id = profile.highlight_by_id()
    for line in cv.lines:
        if line.highlight_ids:
            assert len(line.highlight_ids) == 1
            assert line.text == by_id[line.highlight_ids[0]].text
        else:
            assert line.source_fields, f"line {line.text!r} rests on nothing"
    for text in highlight_lines(cv):
        assert f"- {text}\n" in cv.markdown


@pytest.mark.parametrize("max_lines", [1, 3, 6, 100])
def test_tailored_cv_respects_the_page_budget(max_lines: int) -> None:
    profile = make_profile()
    cv = tailor_cv(profile, make_posting(), max_lines=max_lines)
    assert len(highlight_lines(cv)) == min(max_lines, len(profile.all_highlights()))
    assert cv.markdown.count("\n- ") >= len(highlight_lines(cv))


def test_a_kubernetes_posting_brings_the_kubernetes_highlight_first() -> None:
    profile = make_profile()
    master_order = [h.text for _, h in profile.all_highlights()]
    assert master_order.index(K8S_HIGHLIGHT) > 0
    cv = tailor_cv(profile, make_posting(), max_lines=4)
    assert highlight_lines(cv)[0] == K8S_HIGHLIGHT

    data_posting = make_posting(
        title="Data Engineer", skills=("Kafka",), description="We build streaming data products."
    )
    data_cv = tailor_cv(profile, data_posting, max_lines=2)
    assert "Built a Kafka event pipeline processing 2 million events per day" in highlight_lines(data_cv)


def test_skills_the_posting_requires_come_first_and_missing_ones_are_never_added() -> None:
    cv = tailor_cv(make_profile(), make_posting(skills=("Go", "Kubernetes", "Rust")), max_lines=6)
    skills_line = next(line.text for line in cv.lines if line.section == "Skills")
    # In the posting reader's order: "5+ years running production Kubernetes", then "Go or Rust".
    assert skills_line.split(" · ")[:2] == ["Kubernetes", "Go"]
    assert "Rust" not in cv.markdown and "Rust" not in cv.html
    assert "Infrastructure" not in skills_line, "a group label is not a skill"


def test_experience_is_reverse_chronological_with_the_headline_from_the_profile() -> None:
    cv = tailor_cv(make_profile(), make_posting(), max_lines=6)
    assert cv.markdown.index("Acme Cloud GmbH") < cv.markdown.index("Datawave AG")
    assert "Mar 2018 – Present" in cv.markdown and "Sep 2014 – Feb 2018" in cv.markdown
    assert "**Senior Platform Engineer**" in cv.markdown
    for heading in ("## Summary", "## Skills", "## Experience", "## Education", "## Certificates", "## Languages"):
        assert heading in cv.markdown


def test_package_files_are_named_by_package_id_only(tmp_path: Path) -> None:
    context = Context(home=str(tmp_path))
    assert package_file(context, "pkg_1a2b", "cv.pdf") == tmp_path / "packages" / "pkg_1a2b" / "cv.pdf"
    for hostile in ("../../etc", "a/b", "", "pkg 1"):
        with pytest.raises(UnsafePackageId):
            package_file(context, hostile, "cv.pdf")


# --------------------------------------------------------------------------- cover letter


def test_letter_names_company_and_role_and_every_line_rests_on_evidence() -> None:
    profile, posting = make_profile(), make_posting()
    cv = tailor_cv(profile, posting, max_lines=6)
    letter = write_letter(profile, posting, dossier_from_posting(posting), cv)

    assert letter.subject == "Application for Senior Site Reliability Engineer at Northwind Logistics"
    assert "Dear hiring team at Northwind Logistics," in letter.markdown
    assert "apply for the Senior Site Reliability Engineer role at Northwind Logistics." in letter.markdown
    assert len(letter.markdown.split()) < 350
    evidence = [line for line in letter.lines if line.section == "evidence"]
    k8s = next(h.id for _, h in profile.all_highlights() if h.text == K8S_HIGHLIGHT)
    assert evidence and evidence[0].highlight_ids == [k8s], "the letter opens its evidence with the Kubernetes line"
    assert "You ask for Kubernetes." in evidence[0].text and K8S_HIGHLIGHT[1:] in evidence[0].text
    company = next(line for line in letter.lines if line.section == "company")
    assert "“Northwind Logistics moves freight across Europe.”" in company.text
    assert f"posting:{posting.id}" in company.source_fields and "dossier.business[0]" in company.source_fields
    grounded = {"closing", "signoff"}  # the writer's own courtesy phrases
    assert all(line.highlight_ids or line.source_fields for line in letter.lines if line.section not in grounded)


# --------------------------------------------------------------------------- checks


def test_an_untampered_package_passes_every_check() -> None:
    profile, posting = make_profile(), make_posting()
    checks, flagged = check_package_contents(profile, posting, make_package(profile, posting))
    assert flagged == []
    assert {c.name: c.passed for c in checks} == {
        "truth": True,
        "ats": True,
        "posting_contacts": True,
        "outside_contacts": True,
    }
    ats = next(c for c in checks if c.name == "ats")
    assert any(d.startswith("required-skill coverage: master CV 2/4, tailored CV 2/4") for d in ats.details)


def test_ats_check_reports_lost_keywords_and_fails_without_a_standard_heading() -> None:
    profile = make_profile().model_copy(update={"skills": []})  # skills shown by highlights only
    posting = make_posting(skills=("Kubernetes", "Kafka"))
    package = make_package(profile, posting, tailor_cv(profile, posting, max_lines=1))
    checks, _ = check_package_contents(profile, posting, package)
    ats = next(c for c in checks if c.name == "ats")
    assert ats.passed
    assert "required-skill coverage: master CV 2/5, tailored CV 1/5" in ats.details
    assert "in the master CV but not in the tailored CV: Kafka" in ats.details

    renamed = package.cv.model_copy(update={"markdown": package.cv.markdown.replace("## Experience", "## Work")})
    checks, _ = check_package_contents(profile, posting, package.model_copy(update={"cv": renamed}))
    ats = next(c for c in checks if c.name == "ats")
    assert not ats.passed and "missing standard heading: Experience" in ats.details


def _tamper(cv: TailoredCV, old: str, new: str, *, section: str | None = None) -> TailoredCV:
    """Change one line of the CV the way a careless writer would: the text and the Markdown, not the evidence."""
    index = next(
        i for i, line in enumerate(cv.lines) if old in line.text and (section is None or line.section == section)
    )
    line = cv.lines[index]
    lines = [*cv.lines]
    lines[index] = line.model_copy(update={"text": line.text.replace(old, new)})
    return cv.model_copy(update={"lines": lines, "markdown": cv.markdown.replace(old, new)})


@pytest.mark.parametrize(
    ("old", "new", "section", "culprit"),
    [
        ("— Acme Cloud GmbH", "— Google", "Experience", "Google"),
        ("Cut cloud costs by 30%", "Cut cloud costs by 90%", None, "90"),
        ("Kubernetes · Go", "Kubernetes · Go · Rust", "Skills", "Rust"),
        ("Mar 2018 – Present", "Mar 2016 – Present", None, "2016"),
        ("Sep 2014 – Feb 2018", "Jan 2014 – Feb 2018", None, "Jan 2014"),
    ],
    ids=["invented-employer", "inflated-number", "added-skill", "shifted-start-year", "shifted-start-month"],
)
def test_checker_flags_tampered_claims(old: str, new: str, section: str | None, culprit: str) -> None:
    profile, posting = make_profile(), make_posting(skills=("Kubernetes", "Go"))
    cv = tailor_cv(profile, posting, max_lines=8)
    assert old in cv.markdown
    checks, flagged = check_package_contents(
        profile, posting, make_package(profile, posting, _tamper(cv, old, new, section=section))
    )
    truth = next(c for c in checks if c.name == "truth")
    assert not truth.passed
    assert len(flagged) == 1 and culprit in flagged[0] and new.split(" – ")[0].strip("— ") in flagged[0]
    assert truth.details == flagged


def test_checker_flags_a_line_without_evidence_and_an_unknown_highlight_id() -> None:
    profile, posting = make_profile(), make_posting()
    cv = tailor_cv(profile, posting, max_lines=6)
    added = cv.markdown.replace(f"- {K8S_HIGHLIGHT}\n", f"- {K8S_HIGHLIGHT}\n- Ran a team of 50 people\n")
    forged = [*cv.lines, cv.lines[-1].model_copy(update={"highlight_ids": ["hl_doesnotexist"]})]
    _, flagged = check_package_contents(
        profile, posting, make_package(profile, posting, cv.model_copy(update={"markdown": added, "lines": forged}))
    )
    assert any("Ran a team of 50 people" in f and "no evidence" in f for f in flagged)
    assert any("unknown highlight id hl_doesnotexist" in f for f in flagged)


def test_checker_flags_an_address_from_the_posting_in_a_document() -> None:
    profile, posting = make_profile(), make_posting()
    package = make_package(profile, posting)
    leaked = package.cover_letter.model_copy(
        update={"markdown": package.cover_letter.markdown + "\nWrite to jobs@northwind.example\n"}
    )
    checks, _ = check_package_contents(profile, posting, package.model_copy(update={"cover_letter": leaked}))
    contacts = next(c for c in checks if c.name == "posting_contacts")
    assert not contacts.passed and contacts.details == ["cover letter contains jobs@northwind.example from the posting"]


def test_hostile_fields_are_neutralised_and_pass_the_checks() -> None:
    profile = make_profile(name=HOSTILE_HTML, employer=HOSTILE_TEX)
    posting = make_posting(
        company=HOSTILE_TEX,
        title=f"{HOSTILE_HTML} Engineer",
        description=f"{INJECTION}. We build robots for warehouses.",
    )
    package = make_package(profile, posting)
    documents = [package.cv.html, package.cover_letter.html]
    assert all("<script>" not in d and "&lt;script&gt;" in d for d in documents)
    assert "R&amp;D_Labs 100% \\ {Ltd} $5 #1 ~^" in package.cv.html
    assert "x@evil.com" not in package.cover_letter.markdown + package.cover_letter.html
    assert [f.text for f in package.dossier.facts()] == ["We build robots for warehouses."]
    checks, flagged = check_package_contents(profile, posting, package)
    assert flagged == [] and all(c.passed for c in checks)


# --------------------------------------------------------------------------- PDF


def test_pdfs_parse_back_with_name_and_every_heading(tmp_path: Path) -> None:
    profile, posting = make_profile(name=HOSTILE_HTML), make_posting()
    package = make_package(profile, posting)
    cv_pdf = write_pdf_atomically(tmp_path / "cv.pdf", render_pdf(package.cv.html))
    letter_pdf = write_pdf_atomically(tmp_path / "letter.pdf", render_pdf(package.cover_letter.html))

    document = pdfium.PdfDocument(cv_pdf)
    text = " ".join("\n".join(page.get_textpage().get_text_range() for page in document).split()).casefold()
    document.close()
    assert HOSTILE_HTML.casefold() in text, "the name is printed as text, not run as markup"
    for heading in ("Summary", "Skills", "Experience", "Education", "Certificates", "Languages"):
        assert heading.casefold() in text
    assert K8S_HIGHLIGHT.casefold() in text

    files = {
        "cv": package.cv.model_copy(update={"pdf_file": "cv.pdf"}),
        "cover_letter": package.cover_letter.model_copy(update={"pdf_file": "letter.pdf"}),
    }
    checks, _ = check_package_contents(profile, posting, package.model_copy(update=files), home=tmp_path)
    pdf = next(c for c in checks if c.name == "pdf")
    assert pdf.passed, pdf.details
    letter_pdf.write_bytes(b"%PDF-1.7 truncated")
    checks, _ = check_package_contents(profile, posting, package.model_copy(update=files), home=tmp_path)
    assert not next(c for c in checks if c.name == "pdf").passed


@pytest.fixture
def http_hits() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server that records every request made to it."""
    hits: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"body { color: red }")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def test_pdf_rendering_never_fetches_a_url(http_hits: tuple[str, list[str]], tmp_path: Path) -> None:
    base, hits = http_hits
    secret = tmp_path / "secret.css"
    secret.write_text("body { color: red }")
    html = (
        f'<link rel="stylesheet" href="{base}/style.css"><img src="{base}/pixel.png">'
        f'<link rel="stylesheet" href="{secret.as_uri()}"><p style="background: url({base}/bg.png)">Hello</p>'
    )
    pdf = render_pdf(html, base_url=base)
    assert pdf.startswith(b"%PDF") and hits == []


def test_write_pdf_atomically_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "packages" / "pkg_1" / "cv.pdf"
    write_pdf_atomically(target, b"first")
    write_pdf_atomically(target, b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["cv.pdf"]


# --------------------------------------------------------------------------- the four nodes in a real graph


async def test_the_four_nodes_build_a_ready_package_with_files_on_disk(tmp_path: Path) -> None:
    profile, posting = make_profile(), make_posting()
    store = await store_with_pending_package(profile, posting)
    context = Context(home=str(tmp_path), cv_max_lines=6)

    result = await build_package_alone(store, context, "run-1")

    assert result["packages"] == [PackageRef(package_id="pkg_7f3a", posting_id=posting.id, status=PackageStatus.ready)]
    package = await Records(store).package("thread_1", "pkg_7f3a")
    assert package.status == PackageStatus.ready and package.flagged_claims == []
    assert [h.status for h in package.history] == ["pending", "researching", "generating", "checking", "ready"]
    assert {c.name: c.passed for c in package.checks} == {
        "truth": True,
        "ats": True,
        "pdf": True,
        "posting_contacts": True,
        "outside_contacts": True,
    }
    assert package.company == "Northwind Logistics" and package.screening.match_score == 84
    assert package.dossier == await Records(store).dossier(f"northwind-logistics:{posting.id}")
    assert package.cv.pdf_file == "packages/pkg_7f3a/cv.pdf"
    assert package.cover_letter.pdf_file == "packages/pkg_7f3a/cover_letter.pdf"
    folder = tmp_path / "packages" / "pkg_7f3a"
    typeset = ["cv-latex.pdf"] if tex_engine() else []  # the LaTeX source is compiled only where TeX is installed
    assert sorted(p.name for p in folder.iterdir()) == sorted(["cover_letter.pdf", "cv.pdf", "cv.tex", *typeset])
    assert (folder / "cv.pdf").read_bytes().startswith(b"%PDF")

    again = await build_package_alone(store, context, "run-2")  # a re-run after a crash gives the same package
    rebuilt = await Records(store).package("thread_1", "pkg_7f3a")
    assert again["packages"] == result["packages"]
    assert rebuilt.cv == package.cv and rebuilt.cover_letter == package.cover_letter
    assert [c.model_dump() for c in rebuilt.checks] == [c.model_dump() for c in package.checks]


async def test_a_hostile_posting_builds_a_ready_package_without_pdfs(tmp_path: Path) -> None:
    profile = make_profile()
    posting = make_posting(
        company=HOSTILE_TEX, title=HOSTILE_HTML, description=f"{INJECTION}. <img src=http://127.0.0.1:9/x>"
    )
    store = await store_with_pending_package(profile, posting)

    await build_package_alone(store, Context(home=str(tmp_path), render_pdf=False), "run-1")

    package = await Records(store).package("thread_1", "pkg_7f3a")
    assert package.status == PackageStatus.ready and package.flagged_claims == []
    assert package.cv.pdf_file is None and package.cover_letter.pdf_file is None
    assert "pdf" not in {c.name for c in package.checks}
    assert "<script>" not in package.cover_letter.html and "x@evil.com" not in package.cover_letter.markdown
    assert package.dossier.facts() == []
    assert not re.search(r"\.pdf$", " ".join(p.name for p in (tmp_path / "packages" / "pkg_7f3a").iterdir()))


async def test_a_package_stored_ready_stays_ready_when_what_comes_after_its_last_step_fails(tmp_path: Path) -> None:
    """The database answered the last step, then not the write after it (a terminated connection, a pool that
    found none in time): the package is built, and the batch must not try to make it failed."""

    async def built_then_lost(state: PackageBuildState, runtime: Runtime[Context]) -> dict:
        records = Records(runtime.store)
        package = await records.package(state["thread_id"], state["package_id"])
        for status in (
            PackageStatus.researching,
            PackageStatus.generating,
            PackageStatus.checking,
            PackageStatus.ready,
        ):
            package = await records.move_package(state["thread_id"], package, status)
        raise PoolTimeout("couldn't get a connection after 15.00 sec")

    steps = StateGraph(PackageBuildState, context_schema=Context, input_schema=BuildPackageInput)
    steps.add_node(built_then_lost)
    steps.add_edge(START, "built_then_lost")
    store = await store_with_pending_package(make_profile(), make_posting())

    result = await build_package_alone(store, Context(home=str(tmp_path), render_pdf=False), "run-1", steps.compile())

    package = await Records(store).package("thread_1", "pkg_7f3a")
    assert package.status == PackageStatus.ready and package.error is None
    assert [ref.status for ref in result["packages"]] == [PackageStatus.ready]


def test_plan_cv_refuses_a_profile_without_a_name() -> None:
    with pytest.raises(ValueError, match="no name"):
        plan_cv(make_profile(name=""), make_posting(), max_lines=4)
