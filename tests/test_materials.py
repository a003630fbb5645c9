"""Application materials: both CV styles in every format, page budget, ATS round trip, letter quality, truth.

Long-profile tests use the Awesome-CV sample imported through tools/cv_import, as a person's own CV would be.
"""

from __future__ import annotations

import csv
import re
import time
from datetime import UTC, date, datetime
from email.headerregistry import Address
from pathlib import Path

import pytest
from rich.console import Console

from jobland import terminal
from jobland.agents.cover_letter_writer import LETTER_PHRASES, word_count, write_letter
from jobland.agents.cv_document import CV_STYLES, render_latex
from jobland.agents.cv_layout import FittedCV, fit_to_pages, latex_pdf
from jobland.agents.cv_writer import (
    choose_highlights,
    least_relevant,
    plan_cv,
    posting_skills,
    render_cv,
    reverse_chronological,
    tailor_cv,
)
from jobland.agents.deliver import compose_message
from jobland.agents.package_checker import (
    check_package_contents,
    markdown_lines,
    pdf_check,
    skill_coverage,
    text_damage,
)
from jobland.agents.researcher import dossier_from_posting
from jobland.agents.screener import requirement_evidence
from jobland.commands import print_package
from jobland.domain.company_facts import short_name
from jobland.domain.languages import STOP_WORDS, text_language
from jobland.domain.models import CoverLetter, JobPosting, LanguageItem, Profile
from jobland.domain.posting_reader import facts_of, plain_title
from jobland.domain.repository import Records
from jobland.graph.context import Context
from jobland.settings import Settings
from jobland.tools.cv_import import import_profile
from jobland.tools.job_folder import load_folder
from jobland.tools.pdf import page_count, pdfium_text, render_pdf, tex_engine
from tests.conftest import FIXTURES
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

EXAMPLE_JOBS = Path(__file__).resolve().parent.parent / "examples" / "jobs"
EXAMPLE_CV = Path(__file__).resolve().parent.parent / "examples" / "cv" / "alex-morgan.md"


@pytest.fixture(scope="module")
def long_profile() -> Profile:
    return import_profile(FIXTURES / "resumes" / "awesome-cv-resume.pdf")


@pytest.fixture(scope="module")
def fitted(long_profile: Profile) -> dict[tuple[str, int], FittedCV]:
    """The long CV fitted to one and to two pages in each style, with the time each took."""
    posting = make_posting()
    results: dict[tuple[str, int], FittedCV] = {}
    for style in CV_STYLES:
        for pages in (1, 2):
            started = time.perf_counter()
            results[style, pages] = fit_to_pages(long_profile, posting, max_lines=80, pages=pages, style=style)
            print(
                f"{style}, {pages} page(s): {time.perf_counter() - started:.2f} s, {results[style, pages].cv.pages} pages"
            )
    return results


@pytest.fixture(scope="module")
def isarsoft() -> JobPosting:
    batch = load_folder(EXAMPLE_JOBS, now=datetime(2026, 11, 30, tzinfo=UTC))
    return next(p for p in batch.postings if p.source == "folder:isarsoft-senior-python-entwickler.html")


# --------------------------------------------------------------------------- styles, formats, escaping


@pytest.mark.parametrize("style", CV_STYLES)
def test_each_style_renders_markdown_html_and_latex_with_hostile_values_escaped(style: str) -> None:
    profile = make_profile(name=HOSTILE_HTML, employer=HOSTILE_TEX, summary=INJECTION)
    posting = make_posting(company=HOSTILE_TEX, title=f"{HOSTILE_HTML} Engineer")
    document = plan_cv(profile, posting, max_lines=6)
    cv, latex = render_cv(document, style), render_latex(document, style)

    assert cv.style == style and f'<body class="cv {style}">' in cv.html
    assert "<script>" not in cv.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in cv.html
    assert "R&amp;D_Labs 100% \\ {Ltd} $5 #1 ~^" in cv.html
    assert "\\<script\\>" in cv.markdown and "R&D\\_Labs 100% \\\\ \\{Ltd\\} $5 \\#1 ~^" in cv.markdown
    assert HOSTILE_TEX not in latex
    assert "R\\&D\\_Labs 100\\% \\textbackslash{} \\{Ltd\\} \\$5 \\#1 \\textasciitilde{}\\textasciicircum{}" in latex
    assert ("\\renewcommand{\\familydefault}{\\sfdefault}" in latex) == (style == "modern")
    assert latex.count("\\begin{itemize}") == latex.count("\\end{itemize}") and latex.rstrip().endswith(
        "\\end{document}"
    )
    assert render_pdf(cv.html).startswith(b"%PDF")


@pytest.mark.parametrize("style", CV_STYLES)
def test_a_contact_moves_to_the_next_line_whole_and_one_longer_than_a_line_breaks_inside_the_page(style: str) -> None:
    import pypdfium2 as pdfium

    profile = make_profile()
    long_url = "https://jane.example.org/" + "a-very-long-path-segment-" * 8 + "end"
    profile = profile.model_copy(update={"basics": profile.basics.model_copy(update={"url": long_url})})
    pdf = render_pdf(render_cv(plan_cv(profile, make_posting(), max_lines=6), style).html)

    page = pdfium.PdfDocument(pdf)[0]
    text, width = page.get_textpage(), page.get_width()
    read = text.get_text_range()
    lines = [line.strip() for line in read.splitlines()]
    assert max(text.get_charbox(i)[2] for i in range(text.count_chars())) < width  # nothing runs off the page
    letters = re.compile(r"[^a-z0-9]")  # a hyphen at a line end is read back as a soft one, or not at all
    assert not any(long_url in line for line in lines)  # broken inside ...
    assert letters.sub("", long_url) in letters.sub("", "".join(lines))  # ... with nothing lost
    for short in ("jane.doe@example.org", "+49 30 1234567"):  # never split inside
        assert any(short in line for line in lines), (short, lines[:8])


def test_an_unknown_style_is_refused_with_what_to_set() -> None:
    with pytest.raises(ValueError, match="JOBLAND_CV_STYLE"):
        tailor_cv(make_profile(), make_posting(), max_lines=4, style="fancy")


def test_style_pages_and_letter_words_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JOBLAND_EMAIL", "me@example.org")
    monkeypatch.setenv("JOBLAND_HOME", str(tmp_path))
    monkeypatch.setenv("JOBLAND_CV_STYLE", "modern")
    monkeypatch.setenv("JOBLAND_CV_PAGES", "1")
    monkeypatch.setenv("JOBLAND_LETTER_MAX_WORDS", "200")
    context = Settings().context()
    assert (context.cv_style, context.cv_pages, context.letter_max_words) == ("modern", 1, 200)
    monkeypatch.setenv("JOBLAND_CV_PAGES", "3")
    with pytest.raises(ValueError, match="cv_pages"):
        Settings()


def test_email_headers_carry_no_line_breaks_from_a_posting(tmp_path: Path) -> None:
    profile = make_profile()
    posting = make_posting(title="Engineer\r\nBcc: victim@example.com", company="Acme\nX-Evil: 1")
    package = make_package(profile, posting)
    message = compose_message(package, Address(display_name="Jane", addr_spec="jane@example.org"), tmp_path)
    assert "\r" not in message["Subject"] and "\n" not in message["Subject"]
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert "Bcc: victim@example.com" in message["Subject"]  # kept as text, on one line
    assert "\r\n" not in package.cover_letter.subject


def test_latex_source_is_compiled_only_by_an_installed_engine() -> None:
    source = render_latex(plan_cv(make_profile(), make_posting(), max_lines=6), "modern")
    pdf, note = latex_pdf(source)
    engine = tex_engine()
    if engine is None:
        print("no TeX engine on PATH (pdflatex, lualatex, xelatex, tectonic): checking that the source is kept and why")
        assert pdf is None and note is not None and "no TeX engine" in note and "kept as source only" in note
    else:
        print(f"compiling with {engine}")
        assert note is None and pdf is not None and pdf.startswith(b"%PDF")
        assert K8S_HIGHLIGHT in " ".join(pdfium_text(pdf).split())


# --------------------------------------------------------------------------- page budget


@pytest.mark.parametrize("style", CV_STYLES)
@pytest.mark.parametrize("pages", [1, 2])
def test_a_long_cv_fits_its_page_budget_by_dropping_whole_least_relevant_lines(
    fitted: dict[tuple[str, int], FittedCV], long_profile: Profile, style: str, pages: int
) -> None:
    result = fitted[style, pages]
    posting = make_posting()
    assert result.cv.pages is not None and result.cv.pages <= pages
    if pages == 1:  # the untrimmed CV does not fit: the budget really did trim it
        assert page_count(render_pdf(render_cv(plan_cv(long_profile, posting, max_lines=80), style).html)) > 1
    order = least_relevant(long_profile, posting, choose_highlights(long_profile, posting, 80))
    kept = {i for line in result.cv.lines for i in line.highlight_ids}
    kept |= {f for line in result.cv.lines for f in line.source_fields if f.startswith(("certificates", "awards"))}
    dropped = [key for key in order if key not in kept]
    assert dropped == order[: len(dropped)], "only the least relevant lines are left out"
    text = " ".join(pdfium_text(result.pdf).split())
    for line in result.cv.lines:
        if line.highlight_ids:
            assert " ".join(line.text.split()) in text, "a highlight is printed whole or not at all"


def test_a_long_cv_cuts_awards_and_old_jobs_before_the_recent_roles(
    fitted: dict[tuple[str, int], FittedCV], long_profile: Profile
) -> None:
    jobs = [item for _, item in reverse_chronological(long_profile.work)]
    total = sum(len(item.highlights) for item in jobs)
    assert len(long_profile.awards) == 11 and total == 29  # KarrotPay's motto is no highlight (tests/test_cv_import.py)
    for (style, pages), result in fitted.items():
        kept = {i for line in result.cv.lines for i in line.highlight_ids}
        per_job = [sum(1 for h in item.highlights if h.id in kept) for item in jobs]
        awards = [line for line in result.cv.lines if any(f.startswith("awards") for f in line.source_fields)]
        print(f"{style}, {pages} page(s): bullets per job, latest first {per_job}; awards {len(awards)} of 11")
        assert per_job[0] >= 1, "the latest job never ends with no bullet"
        if len(kept) < total:  # the budget cut: awards first, then the old jobs' lines
            assert awards == [], "awards go before any experience line"
            # Shares, not counts: a cut of one line must not read as the old jobs (with more lines) winning.
            have = [len(item.highlights) for item in jobs]
            recent, old = sum(per_job[:2]) / sum(have[:2]), sum(per_job[4:]) / sum(have[4:])
            assert recent >= old, "the recent jobs keep a larger share of their lines than the old ones"
    assert (
        fitted["classic", 2].cv.pages == 2
        and len({i for line in fitted["classic", 2].cv.lines for i in line.highlight_ids}) == total
    )


def test_one_page_keeps_fewer_lines_than_two(fitted: dict[tuple[str, int], FittedCV]) -> None:
    for style in CV_STYLES:
        one, two = (sum(1 for line in fitted[style, p].cv.lines if line.highlight_ids) for p in (1, 2))
        print(f"{style}: {one} highlights on 1 page, {two} on 2 pages")
        assert fitted[style, 1].cv.pages == 1 and fitted[style, 2].cv.pages == 2
        assert 0 < one < two


# --------------------------------------------------------------------------- ATS round trip


def _package_with_files(home: Path, profile: Profile, posting: JobPosting, result: FittedCV, tag: str):
    (home / f"cv-{tag}.pdf").write_bytes(result.pdf)
    package = make_package(profile, posting, result.cv.model_copy(update={"pdf_file": f"cv-{tag}.pdf"}))
    (home / f"letter-{tag}.pdf").write_bytes(render_pdf(package.cover_letter.html))
    letter = package.cover_letter.model_copy(update={"pdf_file": f"letter-{tag}.pdf"})
    return package.model_copy(update={"cover_letter": letter})


@pytest.mark.parametrize("style", CV_STYLES)
def test_every_pdf_parses_back_whole_with_pypdfium2_and_docling(
    fitted: dict[tuple[str, int], FittedCV], long_profile: Profile, tmp_path: Path, style: str
) -> None:
    posting = make_posting()
    for pages in (1, 2):
        package = _package_with_files(tmp_path, long_profile, posting, fitted[style, pages], f"{style}-{pages}")
        check = pdf_check(tmp_path, package, pages=pages)
        print("\n".join(check.details))
        assert check.passed, check.details
        cv_detail, letter_detail = check.details
        assert "pypdfium2 recovered 100% of" in cv_detail and "Docling 100%" in cv_detail
        assert "every heading and the contact line found" in cv_detail and f"of at most {pages} pages" in cv_detail
        assert (
            "pypdfium2 recovered 100% of" in letter_detail and "name, contact line and company found" in letter_detail
        )


def test_the_round_trip_fails_on_a_lost_heading_and_a_page_overrun(
    fitted: dict[tuple[str, int], FittedCV], long_profile: Profile, tmp_path: Path
) -> None:
    posting = make_posting()
    package = _package_with_files(tmp_path, long_profile, posting, fitted["classic", 2], "over")
    renamed = package.cv.model_copy(
        update={"markdown": package.cv.markdown.replace("## Education", "## Proficiencies")}
    )
    check = pdf_check(tmp_path, package.model_copy(update={"cv": renamed}), pages=1)
    assert not check.passed
    assert "lost Proficiencies" in check.details[0] and "2 of at most 1 pages: over the page budget" in check.details[0]


def test_ligatures_soft_hyphens_and_line_end_hyphens_are_damage() -> None:
    written = "Built an efficient high-impact hand-made pipeline"
    assert text_damage("Built an e\ufb03cient pipeline", written) == ["ligature 'ﬃ'"]
    assert text_damage("high\ufffeimpact", written) == ["soft hyphen"]
    assert text_damage("Built a pipe-\nline", written) == ["hyphenated “pipe-line”"]
    assert text_damage("an efficient hand-\nmade pipeline", written) == [], "a written hyphen may end a line"


def test_tailoring_raises_keyword_coverage_only_with_skills_the_profile_has() -> None:
    profile = make_profile()
    posting = make_posting(skills=("Kubernetes", "Go", "Rust", "Terraform", "Kafka"))
    cv = tailor_cv(profile, posting, max_lines=4)
    required = posting_skills(posting)
    master_text = "\n".join(str(v) for v in profile.model_dump(mode="json").values())
    master = set(skill_coverage(required, master_text))
    tailored = set(skill_coverage(required, "\n".join(markdown_lines(cv.markdown))))
    assert "Rust" in required and "Rust" not in master and "Rust" not in tailored
    assert tailored <= master
    checks, flagged = check_package_contents(profile, posting, make_package(profile, posting, cv))
    ats = next(c for c in checks if c.name == "ats")
    assert flagged == [] and "required but not in the master CV: Site Reliability Engineering, Rust" in ats.details


# --------------------------------------------------------------------------- the cover letter

LETTER_DAY = date(2026, 11, 30)
PERSONAS = FIXTURES / "screening" / "personas"
SCREENING_POSTINGS = FIXTURES / "screening" / "postings"
# The lines around the body: the checklist counts names in the body only.
FRAME = {"sender", "contact", "subject", "greeting", "signoff", "signature"}


@pytest.fixture(scope="module")
def letter_world() -> tuple[dict[str, Profile], dict[str, JobPosting]]:
    """The bundled example CV, the two personas of the screening set, and every posting they are tried on."""
    profiles = {
        "alex": import_profile(EXAMPLE_CV),
        "dana": import_profile(PERSONAS / "dana-weber.md"),
        "ben": import_profile(PERSONAS / "benedikt-maier.resume.json"),
    }
    now = datetime(2026, 11, 30, tzinfo=UTC)
    postings = {
        p.source.removeprefix("folder:"): p
        for folder in (EXAMPLE_JOBS, SCREENING_POSTINGS)
        for p in load_folder(folder, now=now).postings
    }
    return profiles, postings


def _recent_highlights(profile: Profile, years: int = 5) -> set[str]:
    """Highlights of the entries that ended in the last `years` years or have not ended."""
    recent = set()
    for item in profile.work:
        end = re.search(r"\d{4}", item.endDate or "")
        if item.endDate is None or not end or int(end.group(0)) >= LETTER_DAY.year - years:
            recent |= {h.id for h in item.highlights}
    return recent


def _named_once(phrase: str, text: str, profile: Profile) -> bool:
    """Whether the letter names a role or company once: not counting the company's own words it quotes, nor
    the person's own job titles ("as Senior Data Engineer at Kontor Payments GmbH")."""
    text = re.sub(r"[“„][^”“]*[”“]", " ", text)
    for item in profile.work:
        if item.position:
            text = re.sub(rf"{re.escape(item.position)}(?= (?:at|bei) {re.escape(item.name)})", " ", text)
    return len(re.findall(rf"(?<!\w){re.escape(phrase)}(?!\w)", text, re.IGNORECASE)) == 1


# The example CV's strong matches (examples/jobs/README.md), and every High pair of the labelled screening set.
EXAMPLE_HIGH = (
    "kiezkraft-senior-python-backend.json",
    "tidewater-senior-backend-engineer-remote.json",
    "nordlicht-senior-data-platform-engineer.md",
    "fernweh-lead-python-engineer.html",
    "ledgerline-senior-software-engineer-payments.json",
    "elbdaten-senior-python-engineer.job.json",
)
LABELLED_HIGH = tuple(
    (row["persona"], row["posting"])
    for row in csv.DictReader((FIXTURES / "screening" / "labels.tsv").open(encoding="utf-8"), delimiter="\t")
    if row["label"] == "High"
)
LETTER_PAIRS = (*(("alex", posting) for posting in EXAMPLE_HIGH), *LABELLED_HIGH)
# The postings whose team works in German, to a person who speaks it well: the letter is German.
GERMAN_LETTERS = {
    "d03-spreekiez-data-engineer.txt",
    "d25-backstube-senior-data-engineer.md",
    "b03-brezn-backend-entwickler.txt",
    "b11-kanzlei-backend.md",
    "b19-zahlwerk-backend.txt",
}
# What a company is and does; a line about the team or the job's place is not a fact about the company.
COMPANY_TOPICS = ("business", "products", "customers", "mission", "stage", "size", "recent_news", "culture")


def test_the_labelled_set_gives_the_letter_checklist_its_pairs() -> None:
    assert len(LABELLED_HIGH) == 22 and {persona for persona, _ in LABELLED_HIGH} == {"dana", "ben"}
    assert len(LETTER_PAIRS) == 28


@pytest.mark.parametrize(("persona", "posting_file"), LETTER_PAIRS)
def test_the_letter_passes_the_recruiters_checklist(
    letter_world: tuple[dict[str, Profile], dict[str, JobPosting]], persona: str, posting_file: str
) -> None:
    profiles, postings = letter_world
    profile, posting = profiles[persona], postings[posting_file]
    language = "de" if posting_file in GERMAN_LETTERS else "en"
    dossier = dossier_from_posting(posting)
    matched = requirement_evidence(profile, posting, LETTER_DAY)  # the screening's requirement-level evidence
    cv = tailor_cv(profile, posting, max_lines=12)
    letter = write_letter(profile, posting, dossier, cv, matched=matched, now=LETTER_DAY)
    print(f"\n--- {persona} / {posting_file} ({letter.language}, {word_count(letter.lines)} words)\n{letter.markdown}")

    body = [line for line in letter.lines if line.section not in FRAME]
    text = " ".join(line.text for line in body)
    assert _named_once(plain_title(posting.title), text, profile), "the role is named once"
    assert _named_once(short_name(posting.company), text, profile), "the company is named once"
    recent = _recent_highlights(profile)
    evidence = [line for line in body if line.section == "evidence"]
    cited = {i for line in body if line.section in ("evidence", "duties") for i in line.highlight_ids}
    assert cited and cited <= recent, "no evidence older than five years when recent evidence covers the must-have"
    tied = {found.requirement for found in matched if set(found.highlight_ids) & cited}
    assert len(tied) >= 2, f"at least two must-haves tied to recent evidence, got {tied}"
    openings = [" ".join(line.text.split()[:3]) for line in evidence]
    assert len(set(openings)) == len(openings), f"each evidence paragraph opens in its own words: {openings}"

    company_facts = [f for topic in COMPANY_TOPICS for f in getattr(dossier, topic)]
    company = [line for line in body if line.section == "company"]
    if company_facts:
        (line,) = company
        (fact,) = [f for f in company_facts if f.text in line.text]
        assert fact.source in line.source_fields and fact.source == f"posting:{posting.id}"
    else:  # nothing to say about the company: more of the person's own record instead, never filler
        duties = [line for line in body if line.section == "duties"]
        assert duties or len(evidence) >= 3 or company, "a duty of the posting or a third piece of evidence"
        for line in duties:
            assert line.highlight_ids and f"posting:{posting.id}" in line.source_fields

    other = "de" if language == "en" else "en"
    words = set(re.findall(r"[^\W\d_]+", text.casefold()))
    assert letter.language == language and not words & (STOP_WORDS[other] - {"in", "an"}), "one language"
    assert 180 <= word_count(letter.lines) <= 350
    assert not re.search(r"\w\.\.(?!\.)", letter.markdown), "no doubled period"
    greeting = next(line.text for line in letter.lines if line.section == "greeting")
    assert short_name(posting.company) == posting.company or posting.company not in greeting
    _, flagged = check_package_contents(profile, posting, make_package(profile, posting, cv, letter))
    assert flagged == []


def test_show_prints_why_a_dossier_is_thin(
    letter_world: tuple[dict[str, Profile], dict[str, JobPosting]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profiles, postings = letter_world
    posting = postings["b17-helix-senior-python.md"]  # says nothing about what the company does
    package = make_package(profiles["ben"], posting)
    assert package.dossier is not None and package.dossier.note
    console = Console(width=400, record=True)
    monkeypatch.setattr(terminal, "out", console)
    print_package(package, tmp_path, "thread_1")
    assert package.dossier.note in console.export_text()


def test_posting_language_is_told_by_stop_words(isarsoft: JobPosting) -> None:
    assert text_language("Wir suchen eine Entwicklerin, die mit uns und für unsere Kunden arbeitet.") == "de"
    assert text_language("We are looking for an engineer who will work with our team on the platform.") == "en"
    assert text_language("Python Django PostgreSQL") == "en", "no stop words: English"
    assert facts_of(isarsoft).written_in == "de" and facts_of(make_posting()).written_in == "en"
    batch = load_folder(EXAMPLE_JOBS, now=datetime(2026, 11, 30, tzinfo=UTC))
    german = sorted(p.source for p in batch.postings if facts_of(p).written_in == "de")
    assert german == ["folder:isarsoft-senior-python-entwickler.html"]


def test_the_working_language_decides_the_letters_language(isarsoft: JobPosting) -> None:
    profile = make_profile()
    cv = tailor_cv(profile, isarsoft, max_lines=8)
    dossier = dossier_from_posting(isarsoft)
    letter = write_letter(profile, isarsoft, dossier, cv)

    phrases = LETTER_PHRASES["de"]
    assert letter.language == "de" and '<html lang="de">' in letter.html
    assert letter.subject == f"Bewerbung als {plain_title(isarsoft.title)} bei Isarsoft GmbH"
    assert "Liebes Team von Isarsoft," in letter.markdown, (
        "the posting says du: a team greeting, not 'Damen und Herren'"
    )
    assert phrases["signoff_informal"] in letter.markdown and LETTER_PHRASES["en"]["signoff"] not in letter.markdown
    company = next(line for line in letter.lines if line.section == "company")
    assert "„Isarsoft entwickelt Software für Stadtwerke und Energieversorger" in company.text
    assert f"posting:{isarsoft.id}" in company.source_fields, "the dossier fact keeps its source"
    _, flagged = check_package_contents(profile, isarsoft, make_package(profile, isarsoft, cv))
    assert flagged == []

    english_only = profile.model_copy(update={"languages": [LanguageItem(language="English", fluency="Native")]})
    beginner = profile.model_copy(update={"languages": [LanguageItem(language="German", fluency="A2")]})
    for other in (english_only, beginner):
        assert write_letter(other, isarsoft, dossier, cv).language == "en"
    english_team = isarsoft.model_copy(
        update={"description": isarsoft.description + "\nUnsere Arbeitssprache ist Englisch.", "facts": None}
    )
    assert facts_of(english_team).language_of_work == "en"
    english = write_letter(profile, english_team, dossier_from_posting(english_team), cv)
    assert english.language == "en" and "Dear hiring team at Isarsoft," in english.markdown
    assert "company" not in {line.section for line in english.lines}, "a German fact is never quoted in English"


@pytest.mark.parametrize(
    ("company", "description", "greeting"),
    [
        ("Acme Co.", "Acme Co. builds routing software for carriers.", "Dear hiring team at Acme,"),
        ("Northwind GmbH", "Your contact: Ms Jana Schulz. We build routing software.", "Dear Ms Schulz,"),
        ("Northwind GmbH", "Questions? Ask our recruiter Lena Vogt.", "Dear Lena Vogt,"),
        ("Northwind GmbH", "You will join the Data Platform team in Hamburg.", "Dear Data Platform team,"),
        ("", "We build routing software for carriers.", "Dear hiring team,"),
    ],
)
def test_the_greeting_names_a_contact_or_a_team_never_a_legal_form(
    company: str, description: str, greeting: str
) -> None:
    profile, posting = make_profile(), make_posting(company=company, description=description)
    letter = write_letter(profile, posting, dossier_from_posting(posting), tailor_cv(profile, posting, max_lines=8))
    assert next(line.text for line in letter.lines if line.section == "greeting") == greeting
    assert not re.search(r"\w\.\.(?!\.)", letter.markdown), "no doubled period after Co."
    _, flagged = check_package_contents(profile, posting, make_package(profile, posting, letter=letter))
    assert flagged == []


def test_a_german_contact_is_greeted_formally() -> None:
    profile = make_profile()
    posting = make_posting(
        title="Senior Plattform-Ingenieur (m/w/d)",
        description="Wir betreiben die Plattform für 40 Stadtwerke. Ihre Ansprechpartnerin: Frau Dr. Jana Schulz.",
    )
    letter = write_letter(profile, posting, dossier_from_posting(posting), tailor_cv(profile, posting, max_lines=8))
    assert letter.language == "de" and "Sehr geehrte Frau Schulz," in letter.markdown
    assert "(m/w/d)" not in letter.markdown


def test_the_letter_opens_with_the_strongest_match_and_stays_under_the_word_limit() -> None:
    profile, posting = make_profile(), make_posting()
    cv = tailor_cv(profile, posting, max_lines=8)
    dossier = dossier_from_posting(posting)
    full = write_letter(profile, posting, dossier, cv)
    assert word_count(full.lines) <= Context().letter_max_words == 350
    short = write_letter(profile, posting, dossier, cv, max_words=120)
    print(f"letter words: {word_count(full.lines)} by default, {word_count(short.lines)} with a limit of 120")
    assert word_count(short.lines) <= 120 < word_count(full.lines)
    for letter in (full, short):
        evidence = [line for line in letter.lines if line.section == "evidence"]
        assert K8S_HIGHLIGHT[1:] in evidence[0].text, "the Kubernetes must-have is shown by the Kubernetes line"
        assert "Northwind Logistics" in letter.subject and "Senior Site Reliability Engineer" in letter.subject
    facts = [line for line in full.lines if line.section == "company"]
    assert len(facts) == 1 and f"posting:{posting.id}" in facts[0].source_fields


def _tamper_letter(letter: CoverLetter, section: str, old: str, new: str) -> CoverLetter:
    """A careless letter writer: the text and the Markdown change, the evidence does not."""
    index = next(i for i, line in enumerate(letter.lines) if line.section == section and old in line.text)
    lines = [*letter.lines]
    lines[index] = lines[index].model_copy(update={"text": lines[index].text.replace(old, new)})
    assert old in letter.markdown
    return letter.model_copy(update={"lines": lines, "markdown": letter.markdown.replace(old, new)})


@pytest.mark.parametrize(
    ("section", "old", "new", "culprit"),
    [
        ("opening", "Engineer at Acme Cloud GmbH.", "Engineer at Google.", "Google"),
        ("evidence", "migrated 40 services", "migrated 400 services", "400"),
        ("evidence", "using Helm and ArgoCD", "using Helm, Rust and ArgoCD", "Rust"),
        ("opening", "Engineer at Acme Cloud GmbH.", "Engineer at Acme Cloud GmbH since Mar 2016.", "Mar 2016"),
    ],
    ids=["invented-employer", "inflated-number", "added-skill", "shifted-date"],
)
def test_the_checker_flags_a_tampered_letter(section: str, old: str, new: str, culprit: str) -> None:
    profile, posting = make_profile(), make_posting()
    package = make_package(profile, posting)
    tampered = package.model_copy(update={"cover_letter": _tamper_letter(package.cover_letter, section, old, new)})
    checks, flagged = check_package_contents(profile, posting, tampered)
    assert not next(c for c in checks if c.name == "truth").passed
    assert len(flagged) == 1 and flagged[0].startswith("cover letter") and culprit in flagged[0]


def test_a_true_date_in_the_letter_is_not_flagged() -> None:
    profile, posting = make_profile(), make_posting()
    package = make_package(profile, posting)
    letter = _tamper_letter(
        package.cover_letter,
        "opening",
        "Engineer at Acme Cloud GmbH.",
        "Engineer at Acme Cloud GmbH since Mar 2018.",
    )
    _, flagged = check_package_contents(profile, posting, package.model_copy(update={"cover_letter": letter}))
    assert flagged == []


# --------------------------------------------------------------------------- the nodes


async def test_the_nodes_honour_style_page_budget_and_word_limit(tmp_path: Path) -> None:
    profile, posting = make_profile(), make_posting()
    store = await store_with_pending_package(profile, posting)
    context = Context(home=str(tmp_path), cv_style="modern", cv_pages=1, cv_max_lines=80, letter_max_words=160)

    await build_package_alone(store, context, "run-1")

    package = await Records(store).package("thread_1", "pkg_7f3a")
    assert package.cv.style == "modern" and package.cv.pages == 1
    assert word_count(package.cover_letter.lines) <= 160
    pdf = next(c for c in package.checks if c.name == "pdf")
    print("\n".join(pdf.details))
    assert pdf.passed and any("of at most 1 pages" in d for d in pdf.details)
    if tex_engine() is None:
        assert package.cv.latex_pdf_file is None and any("no TeX engine" in d for d in pdf.details)
    else:
        assert package.cv.latex_pdf_file == "packages/pkg_7f3a/cv-latex.pdf"
