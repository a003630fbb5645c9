"""CV shapes people really write: each job and school heading form reads to the right employer, title, place,
dates, degree and school. The shapes are the team's own, small, one per row; the LinkedIn-style two-column PDF
is a fixture (tests/fixtures/resumes/linkedin-style.pdf, made from linkedin-style.html by WeasyPrint)."""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import docx
import pytest
import weasyprint

from jobland.domain.json_resume import iso_date, profile_to_json_resume
from jobland.domain.languages import named_language
from jobland.domain.models import Profile
from jobland.domain.person import is_language_group, spoken_languages
from jobland.tools.cv_import import import_profile
from tests.conftest import FIXTURES
from tests.test_cv_import import write
from tests.test_json_resume import schema_errors

RESUMES = FIXTURES / "resumes"


@dataclass(frozen=True)
class Job:
    employer: str
    title: str
    place: str | None
    start: str | None  # ISO 8601, as iso_date reads the CV's own form
    end: str | None  # None: up to now


@dataclass(frozen=True)
class School:
    degree: str  # studyType
    area: str | None
    school: str
    start: str | None
    end: str | None


SENIOR = Job("Example GmbH", "Senior Data Engineer", "Berlin", "2021", None)
JUNIOR = Job("Acme AG", "Data Engineer", "Munich", "2018", "2021")
MASTER = School("M.Sc.", "Computer Science", "TU Berlin", "2014", "2016")

HEADER = "# Dana Weber\n\ndana.weber@example.com · +49 30 1234567\n\n"
BULLETS = "- Built the event pipeline on Kafka and Spark for 40 teams\n- Cut warehouse costs by 30%\n"
JUNIOR_BULLETS = "- Moved nightly ETL jobs to Airflow\n"


def markdown(work: str, education: str, *, work_heading: str = "Experience", edu_heading: str = "Education") -> str:
    return f"{HEADER}## {work_heading}\n\n{work}\n## {edu_heading}\n\n{education}\n"


# (id, file name, content: str | bytes, jobs, schools)
SHAPES: list[tuple[str, str, str | bytes, list[Job], list[School]]] = [
    (
        "md-title-dash-company-city-parenthesised-dates",
        "cv.md",
        markdown(
            "### Senior Data Engineer — Example GmbH, Berlin (2021 – present)\n\n" + BULLETS + "\n"
            "### Data Engineer — Acme AG, Munich (2018 – 2021)\n\n" + JUNIOR_BULLETS,
            "### M.Sc. Computer Science — TU Berlin (2014 – 2016)\n",
        ),
        [SENIOR, JUNIOR],
        [MASTER],
    ),
    (
        "md-company-pipe-title-pipe-dates",
        "cv.md",
        markdown(
            "### Example GmbH | Senior Data Engineer | 2021 – present\n\nBerlin\n\n" + BULLETS + "\n"
            "### Acme AG | Data Engineer | 2018 – 2021\n\nMunich\n\n" + JUNIOR_BULLETS,
            "### TU Berlin | M.Sc. Computer Science | 2014 – 2016\n",
        ),
        [SENIOR, JUNIOR],
        [MASTER],
    ),
    (
        "md-company-pipe-title-pipe-place-pipe-dates",
        "cv.md",
        markdown(
            "**Example GmbH | Senior Data Engineer | Berlin | Mar 2021 – Present**\n\n" + BULLETS + "\n"
            "**Acme AG | Data Engineer | Munich | Jan 2018 – Feb 2021**\n\n" + JUNIOR_BULLETS,
            "**TU Berlin | M.Sc. Computer Science | 2014 – 2016**\n",
        ),
        [
            Job("Example GmbH", "Senior Data Engineer", "Berlin", "2021-03", None),
            Job("Acme AG", "Data Engineer", "Munich", "2018-01", "2021-02"),
        ],
        [MASTER],
    ),
    (
        "md-dates-on-their-own-line",
        "cv.md",
        markdown(
            "### Senior Data Engineer\n\nExample GmbH, Berlin\n\n2021 – present\n\n" + BULLETS + "\n"
            "### Data Engineer\n\nAcme AG, Munich\n\n2018 – 2021\n\n" + JUNIOR_BULLETS,
            "### M.Sc. Computer Science\n\nTU Berlin\n\n2014 – 2016\n",
        ),
        [SENIOR, JUNIOR],
        [MASTER],
    ),
    (
        "md-company-heading-title-line-place-and-dates-line",
        "cv.md",
        markdown(
            "### Example GmbH\n\n*Senior Data Engineer*\n\nBerlin · 03/2021 – today\n\n" + BULLETS + "\n"
            "### Acme AG\n\n*Data Engineer*\n\nMunich · 01/2018 – 02/2021\n\n" + JUNIOR_BULLETS,
            "### TU Berlin\n\nM.Sc. Computer Science\n\n10/2014 – 09/2016\n",
        ),
        [
            Job("Example GmbH", "Senior Data Engineer", "Berlin", "2021-03", None),
            Job("Acme AG", "Data Engineer", "Munich", "2018-01", "2021-02"),
        ],
        [School("M.Sc.", "Computer Science", "TU Berlin", "2014-10", "2016-09")],
    ),
    (
        "md-title-at-company-dates-pipe-place",
        "cv.md",
        markdown(
            "### Senior Data Engineer at Example GmbH\n\n2021-03 – present | Berlin\n\n" + BULLETS + "\n"
            "### Data Engineer at Acme AG\n\n2018-01 – 2021-02 | Munich\n\n" + JUNIOR_BULLETS,
            "### Master of Science in Computer Science, TU Berlin\n\n2014 – 2016\n",
        ),
        [
            Job("Example GmbH", "Senior Data Engineer", "Berlin", "2021-03", None),
            Job("Acme AG", "Data Engineer", "Munich", "2018-01", "2021-02"),
        ],
        [School("Master of Science", "Computer Science", "TU Berlin", "2014", "2016")],
    ),
    (
        "md-title-comma-company-then-place-and-month-dates",
        "cv.md",
        markdown(
            "### Senior Data Engineer, Example GmbH\n\nBerlin, Germany · March 2021 – Present\n\n" + BULLETS + "\n"
            "### Data Engineer, Acme AG\n\nMunich, Germany · January 2018 – February 2021\n\n" + JUNIOR_BULLETS,
            "### TU Berlin\n\nM.Sc. in Computer Science · 2014 – 2016\n",
        ),
        [
            Job("Example GmbH", "Senior Data Engineer", "Berlin, Germany", "2021-03", None),
            Job("Acme AG", "Data Engineer", "Munich, Germany", "2018-01", "2021-02"),
        ],
        [MASTER],
    ),
    (
        "md-title-at-sign-company-parenthesised-place-dash-dates",
        "cv.md",
        markdown(
            "### Senior Data Engineer @ Example GmbH (Berlin) — 2021–present\n\n" + BULLETS + "\n"
            "### Data Engineer @ Acme AG (Munich) — 2018–2021\n\n" + JUNIOR_BULLETS,
            "### M.Sc. Computer Science — TU Berlin, 2014–2016\n",
        ),
        [SENIOR, JUNIOR],
        [MASTER],
    ),
    (
        "md-bold-company-dash-place-italic-title-dates",
        "cv.md",
        markdown(
            "**Example GmbH** — Berlin\n*Senior Data Engineer* · Mar 2021 – Present\n\n" + BULLETS + "\n"
            "**Acme AG** — Munich\n*Data Engineer* · Jan 2018 – Feb 2021\n\n" + JUNIOR_BULLETS,
            "**TU Berlin** — Berlin\n*M.Sc. Computer Science* · 2014 – 2016\n",
        ),
        [
            Job("Example GmbH", "Senior Data Engineer", "Berlin", "2021-03", None),
            Job("Acme AG", "Data Engineer", "Munich", "2018-01", "2021-02"),
        ],
        [MASTER],
    ),
    (
        "md-dates-heading-then-title-company-place",
        "cv.md",
        markdown(
            "### 2021 – present\n\n**Senior Data Engineer**, Example GmbH, Berlin\n\n" + BULLETS + "\n"
            "### 2018 – 2021\n\n**Data Engineer**, Acme AG, Munich\n\n" + JUNIOR_BULLETS,
            "### 2014 – 2016\n\n**M.Sc. Computer Science**, TU Berlin\n",
        ),
        [SENIOR, JUNIOR],
        [MASTER],
    ),
    (
        "md-german-headings-seit",
        "lebenslauf.md",
        markdown(
            "### Senior Data Engineer — Example GmbH, Berlin (seit 2021)\n\n" + BULLETS + "\n"
            "### Data Engineer — Acme AG, München (2018 – 2021)\n\n" + JUNIOR_BULLETS,
            "### M.Sc. Informatik — Technische Universität Berlin (2014 – 2016)\n",
            work_heading="Berufserfahrung",
            edu_heading="Ausbildung",
        ),
        [SENIOR, Job("Acme AG", "Data Engineer", "München", "2018", "2021")],
        [School("M.Sc.", "Informatik", "Technische Universität Berlin", "2014", "2016")],
    ),
    (
        "md-table-rows",
        "cv.md",
        markdown(
            "| Example GmbH | Senior Data Engineer | Berlin | 2021 – present |\n|---|---|---|---|\n\n" + BULLETS + "\n"
            "| Acme AG | Data Engineer | Munich | 2018 – 2021 |\n|---|---|---|---|\n\n" + JUNIOR_BULLETS,
            "| TU Berlin | M.Sc. Computer Science | 2014 – 2016 |\n|---|---|---|\n",
        ),
        [SENIOR, JUNIOR],
        [MASTER],
    ),
    (
        "md-education-bachelor-and-master-one-line-each",
        "cv.md",
        markdown(
            "### Senior Data Engineer — Example GmbH, Berlin (2021 – present)\n\n" + BULLETS,
            "- M.Sc. Computer Science, TU Berlin, 2014 – 2016\n"
            "- B.Sc. Mathematics, University of Leipzig, 2010 – 2014\n",
        ),
        [SENIOR],
        [MASTER, School("B.Sc.", "Mathematics", "University of Leipzig", "2010", "2014")],
    ),
    (
        "txt-caps-headings-company-dash-title",
        "cv.txt",
        "DANA WEBER\ndana.weber@example.com | +49 30 1234567\n\nEXPERIENCE\n\n"
        "Example GmbH — Senior Data Engineer\nBerlin, Germany | Jan 2021 – Present\n" + BULLETS + "\n"
        "Acme AG — Data Engineer\nMunich, Germany | Jan 2018 – Feb 2021\n" + JUNIOR_BULLETS + "\n"
        "EDUCATION\n\nTU Berlin — M.Sc. Computer Science\n2014 – 2016\n",
        [
            Job("Example GmbH", "Senior Data Engineer", "Berlin, Germany", "2021-01", None),
            Job("Acme AG", "Data Engineer", "Munich, Germany", "2018-01", "2021-02"),
        ],
        [MASTER],
    ),
    (
        "txt-three-lines-title-company-dates",
        "cv.txt",
        "Dana Weber\ndana.weber@example.com\n\nWork Experience\n\n"
        "Senior Data Engineer\nExample GmbH, Berlin\n2021 - present\n" + BULLETS + "\n"
        "Data Engineer\nAcme AG, Munich\n2018 - 2021\n" + JUNIOR_BULLETS + "\n"
        "Education\n\nM.Sc. Computer Science\nTU Berlin\n2014 - 2016\n",
        [SENIOR, JUNIOR],
        [MASTER],
    ),
    (
        "txt-tab-separated-dates",
        "cv.txt",
        "Dana Weber\ndana.weber@example.com\n\nProfessional Experience\n\n"
        "Senior Data Engineer, Example GmbH, Berlin\t2021 – present\n" + BULLETS + "\n"
        "Data Engineer, Acme AG, Munich\t2018 – 2021\n" + JUNIOR_BULLETS + "\n"
        "Education\n\nM.Sc. Computer Science, TU Berlin\t2014 – 2016\n",
        [SENIOR, JUNIOR],
        [MASTER],
    ),
]


def _docx(paragraphs: list[tuple[str, str]]) -> bytes:
    """A Word file from (style, text) paragraphs, as Word writes headings and body text."""
    document = docx.Document()
    for style, text in paragraphs:
        if style.startswith("Heading"):
            document.add_heading(text, level=int(style[-1]))
        elif style == "bullet":
            document.add_paragraph(text, style="List Bullet")
        else:
            document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


_DOCX_BULLETS = [("bullet", "Built the event pipeline on Kafka and Spark for 40 teams"), ("bullet", "Cut costs by 30%")]
SHAPES += [
    (
        "docx-title-dash-company-city-dates",
        "cv.docx",
        _docx(
            [
                ("Title", "Dana Weber"),
                ("Normal", "dana.weber@example.com · +49 30 1234567"),
                ("Heading1", "Experience"),
                ("Heading2", "Senior Data Engineer — Example GmbH, Berlin (2021 – present)"),
                *_DOCX_BULLETS,
                ("Heading2", "Data Engineer — Acme AG, Munich (2018 – 2021)"),
                ("bullet", "Moved nightly ETL jobs to Airflow"),
                ("Heading1", "Education"),
                ("Heading2", "M.Sc. Computer Science — TU Berlin (2014 – 2016)"),
            ]
        ),
        [SENIOR, JUNIOR],
        [MASTER],
    ),
    (
        "docx-company-pipe-title-pipe-dates",
        "cv.docx",
        _docx(
            [
                ("Title", "Dana Weber"),
                ("Normal", "dana.weber@example.com"),
                ("Heading1", "Work Experience"),
                ("Heading2", "Example GmbH | Senior Data Engineer | 2021 – present"),
                ("Normal", "Berlin"),
                *_DOCX_BULLETS,
                ("Heading2", "Acme AG | Data Engineer | 2018 – 2021"),
                ("Normal", "Munich"),
                ("bullet", "Moved nightly ETL jobs to Airflow"),
                ("Heading1", "Education"),
                ("Heading2", "TU Berlin | M.Sc. Computer Science | 2014 – 2016"),
            ]
        ),
        [SENIOR, JUNIOR],
        [MASTER],
    ),
    (
        "docx-dates-on-their-own-line",
        "cv.docx",
        _docx(
            [
                ("Title", "Dana Weber"),
                ("Normal", "dana.weber@example.com"),
                ("Heading1", "Experience"),
                ("Heading2", "Senior Data Engineer"),
                ("Normal", "Example GmbH, Berlin"),
                ("Normal", "March 2021 – present"),
                *_DOCX_BULLETS,
                ("Heading2", "Data Engineer"),
                ("Normal", "Acme AG, Munich"),
                ("Normal", "January 2018 – February 2021"),
                ("bullet", "Moved nightly ETL jobs to Airflow"),
                ("Heading1", "Education"),
                ("Heading2", "Master of Science in Computer Science"),
                ("Normal", "TU Berlin"),
                ("Normal", "2014 – 2016"),
            ]
        ),
        [
            Job("Example GmbH", "Senior Data Engineer", "Berlin", "2021-03", None),
            Job("Acme AG", "Data Engineer", "Munich", "2018-01", "2021-02"),
        ],
        [School("Master of Science", "Computer Science", "TU Berlin", "2014", "2016")],
    ),
]

_PDF_PAGE = """<html><head><style>
  @page {{ size: A4; margin: 18mm }} body {{ font-family: sans-serif; font-size: 10pt }}
  .row {{ display: flex; justify-content: space-between }} h1 {{ font-size: 18pt }} h2 {{ font-size: 13pt }}
</style></head><body>{body}</body></html>"""
SHAPES.append(
    (
        "pdf-one-column-right-aligned-dates",
        "cv.pdf",
        weasyprint.HTML(
            string=_PDF_PAGE.format(
                body="<h1>Dana Weber</h1><p>dana.weber@example.com · +49 30 1234567</p><h2>Experience</h2>"
                "<div class='row'><b>Senior Data Engineer — Example GmbH, Berlin</b><span>2021 – present</span></div>"
                "<ul><li>Built the event pipeline on Kafka and Spark for 40 teams</li><li>Cut costs by 30%</li></ul>"
                "<div class='row'><b>Data Engineer — Acme AG, Munich</b><span>2018 – 2021</span></div>"
                "<ul><li>Moved nightly ETL jobs to Airflow</li></ul><h2>Education</h2>"
                "<div class='row'><b>M.Sc. Computer Science — TU Berlin</b><span>2014 – 2016</span></div>"
            )
        ).write_pdf(),
        [SENIOR, JUNIOR],
        [MASTER],
    )
)


LINKEDIN = RESUMES / "linkedin-style" / "linkedin-style.pdf"
SHAPES.append(
    (
        "pdf-linkedin-two-columns-roles-under-one-company",
        "linkedin-style.pdf",
        LINKEDIN.read_bytes(),
        [
            Job("Lumen Analytics GmbH", "Staff Data Engineer", "Berlin, Germany", "2023-01", None),
            Job("Lumen Analytics GmbH", "Senior Data Engineer", "Berlin, Germany", "2019-10", "2022-12"),
            Job("Nordwind Logistics SE", "Data Engineer", "Hamburg, Germany", "2017-03", "2019-09"),
            Job("Kestrel Insights Ltd", "Junior Data Analyst", "Manchester, United Kingdom", "2015-07", "2017-02"),
            # split by the page break: its title on page 1, its dates and place on page 2
            Job("University of Manchester", "Teaching Assistant", "Manchester, United Kingdom", "2014-09", "2015-06"),
        ],
        [
            School("Master of Science", "Data Science", "University of Manchester", "2014", "2015"),
            School("Bachelor of Science", "Mathematics", "University of Leeds", "2011", "2014"),
        ],
    )
)


def _jobs(profile: Profile) -> list[Job]:
    return [Job(w.name, w.position or "", w.location, iso_date(w.startDate), iso_date(w.endDate)) for w in profile.work]


def _schools(profile: Profile) -> list[School]:
    return [
        School(e.studyType or "", e.area, e.institution, iso_date(e.startDate), iso_date(e.endDate))
        for e in profile.education
    ]


@pytest.mark.parametrize(("name", "content", "jobs", "schools"), [s[1:] for s in SHAPES], ids=[s[0] for s in SHAPES])
def test_cv_shape(tmp_path: Path, name: str, content: str | bytes, jobs: list[Job], schools: list[School]) -> None:
    profile = import_profile(write(tmp_path, name, content))
    assert _jobs(profile) == jobs
    assert _schools(profile) == schools
    if name != LINKEDIN.name:
        assert profile.skills == [], "the CV has no skills list: none is made up"
    for _, highlight in profile.all_highlights():
        assert highlight.text[:1].isalnum(), f"a highlight starts with punctuation: {highlight.text!r}"


# --------------------------------------------------------------------------- spoken languages

SKILLS = "## Skills\n\n- Programming: Python, SQL\n"
GERMAN_CV = "# Dana Weber\n\ndana.weber@example.com · +49 30 1234567\n\n## Berufserfahrung\n\n"
GERMAN_JOB = "### Data Engineer — Acme AG, München (2018 – 2021)\n\n- Nächtliche ETL-Jobs nach Airflow migriert\n\n"
# (id, file name, content, the languages as the CV writes them, the levels the one reader reads from them)
LANGUAGE_SHAPES: list[tuple[str, str, str | bytes, list[tuple[str, str | None]], dict[str, str | None]]] = [
    (
        "md-skills-line-spoken-languages",
        "cv.md",
        f"{HEADER}{SKILLS}- Spoken languages: German (native), English (C1)\n",
        [("German", "native"), ("English", "C1")],
        {"de": "native", "en": "C1"},
    ),
    (
        "md-header-line-languages-fluent",
        "cv.md",
        f"{HEADER}Languages: German (native), English (fluent)\n\n{SKILLS}",
        [("German", "native"), ("English", "fluent")],
        {"de": "native", "en": "C1"},
    ),
    (
        "md-summary-line-spoken-languages",
        "cv.md",
        f"{HEADER}## Summary\n\nData engineer with seven years of pipelines.\nSpoken languages: Polish — B2\n\n{SKILLS}",
        [("Polish", "B2")],
        {"pl": "B2"},
    ),
    (
        "md-german-line-sprachen",
        "cv.md",
        f"{GERMAN_CV}{GERMAN_JOB}## Kenntnisse\n\n- IT: Python, SQL\n"
        "- Sprachen: Deutsch (Muttersprache), Englisch fließend, Französisch – Grundkenntnisse\n",
        [("Deutsch", "Muttersprache"), ("Englisch", "fließend"), ("Französisch", "Grundkenntnisse")],
        {"de": "native", "en": "C1", "fr": "A2"},
    ),
    (
        "md-languages-section-bullets",
        "cv.md",
        f"{HEADER}{SKILLS}\n## Languages\n\n- German — native\n- English: C1\n- Spanish (B2)\n- Kölsch (fluent)\n",
        [("German", "native"), ("English", "C1"), ("Spanish", "B2"), ("Kölsch", "fluent")],
        {"de": "native", "en": "C1", "es": "B2"},  # Kölsch is kept as written; no ISO 639-1 code names it
    ),
    (
        "md-german-section-sprachkenntnisse",
        "cv.md",
        f"{GERMAN_CV}{GERMAN_JOB}## Kenntnisse\n\n- IT: Python, SQL\n\n## Sprachkenntnisse\n\n"
        "- Deutsch: Muttersprache\n- Englisch: verhandlungssicher (C1)\n- Polnisch – gute Kenntnisse\n",
        [("Deutsch", "Muttersprache"), ("Englisch", "verhandlungssicher (C1)"), ("Polnisch", "gute Kenntnisse")],
        {"de": "native", "en": "C1", "pl": "B2"},
    ),
    (
        "md-programming-languages-stay-skills",
        "cv.md",
        f"{HEADER}{SKILLS}- Languages: Python, Go, Rust\n",
        [],
        {},
    ),
    (
        "json-resume-languages-and-a-spoken-languages-skill-group",
        "cv.json",
        json.dumps(
            {
                "basics": {"name": "Dana Weber", "email": "dana.weber@example.com"},
                "skills": [
                    {"name": "Data", "keywords": ["Python", "SQL"]},
                    {"name": "Spoken languages", "keywords": ["English (C1)", "Polish"]},
                ],
                "languages": [{"language": "German", "fluency": "Native speaker"}],
            }
        ),
        [("German", "Native speaker"), ("English", "C1"), ("Polish", None)],
        {"de": "native", "en": "C1", "pl": None},
    ),
    (
        "docx-skills-paragraph-and-languages-line",
        "cv.docx",
        _docx(
            [
                ("Title", "Dana Weber"),
                ("Normal", "dana.weber@example.com · +49 30 1234567"),
                ("Heading1", "Skills"),
                ("Normal", "Python, SQL, Airflow"),
                ("Normal", "Languages: German (native), English (C1)"),
            ]
        ),
        [("German", "native"), ("English", "C1")],
        {"de": "native", "en": "C1"},
    ),
    (
        "pdf-languages-section-levels-right-aligned",
        "cv.pdf",
        weasyprint.HTML(
            string=_PDF_PAGE.format(
                body="<h1>Dana Weber</h1><p>dana.weber@example.com · +49 30 1234567</p><h2>Skills</h2>"
                "<p>Python, SQL, Airflow</p><h2>Languages</h2>"
                "<div class='row'><span>German</span><span>Native</span></div>"
                "<div class='row'><span>English</span><span>Fluent (C2)</span></div>"
            )
        ).write_pdf(),
        [("German", "Native"), ("English", "Fluent (C2)")],
        {"de": "native", "en": "C2"},
    ),
]


@pytest.mark.parametrize(
    ("name", "content", "languages", "levels"), [s[1:] for s in LANGUAGE_SHAPES], ids=[s[0] for s in LANGUAGE_SHAPES]
)
def test_spoken_languages_shape(
    tmp_path: Path, name: str, content: str | bytes, languages: list[tuple[str, str | None]], levels: dict
) -> None:
    """Spoken languages land in profile.languages, with the level as written, from any shape; the one reader
    (domain.languages through domain.person) reads CEFR levels from them; none is ever a skill."""
    profile = import_profile(write(tmp_path, name, content))
    assert [(item.language, item.fluency) for item in profile.languages] == languages
    assert spoken_languages(profile) == levels
    assert not [n for n in profile.skill_names() if named_language(n)], "a spoken language is listed as a skill"
    assert not any(is_language_group(s) for s in profile.skills), "Languages: Python, Go lists no spoken language"
    assert "Python" in profile.skill_names(), "the skills around the languages stay skills"
    exported = profile_to_json_resume(profile)
    assert [(item["language"], item.get("fluency")) for item in exported.get("languages", [])] == languages
    assert schema_errors(exported) == []


def test_shapes_cover_at_least_twenty_forms() -> None:
    assert len(SHAPES) >= 20 and len({s[0] for s in SHAPES}) == len(SHAPES)
    assert len(LANGUAGE_SHAPES) >= 5 and len({s[0] for s in LANGUAGE_SHAPES}) == len(LANGUAGE_SHAPES)


def test_linkedin_sidebar_is_read_as_its_own_column(tmp_path: Path) -> None:
    """The sidebar's sections (Contact, Top Skills, Languages, Certifications, Honors-Awards) stay whole and apart
    from the main column: no sidebar line lands in a job, no job line in the sidebar."""
    profile = import_profile(Path(shutil.copy(LINKEDIN, tmp_path / LINKEDIN.name)))
    basics = profile.basics
    assert (basics.name, basics.email) == ("Miriam Okafor", "miriam.okafor@example.com")
    assert basics.label == "Staff Data Engineer at Lumen Analytics GmbH | Streaming, Lakehouse, Data Platform"
    assert [(p.network, p.url) for p in basics.profiles] == [
        ("LinkedIn", "https://www.linkedin.com/in/miriam-okafor-data")
    ]
    assert basics.summary is not None
    assert basics.summary.split("\n\n") == [
        "Data engineer with nine years of building batch and streaming platforms for product and finance teams. "
        "I care about data that people can trust: tested pipelines, clear ownership and documented models.",
        "Lately I have led the move from nightly batch jobs to streaming, and I mentor the engineers who join the "
        "platform team. I am open to staff or principal roles in Berlin or remote within the EU.",
    ]
    assert profile.skill_names() == ["Apache Spark", "dbt", "Data Modeling"], "only the skills the CV lists"
    assert [(lang.language, lang.fluency) for lang in profile.languages] == [
        ("English", "Native or Bilingual"),
        ("German", "Professional Working"),
    ]
    assert [c.name for c in profile.certificates] == [
        "Google Cloud Professional Data Engineer",
        "Databricks Certified Data Engineer Associate",
    ]
    assert [(a.title, a.date) for a in profile.awards] == [("Data Team of the Year", "2022")]
    # Each role's description paragraph holds its claims: kept whole, as citable highlights.
    assert [h.text for h in profile.work[0].highlights] == [
        "Lead the streaming platform used by 14 product teams; moved 120 pipelines from nightly batch to Kafka "
        "and Flink with end-to-end latency under two minutes."
    ]
    assert [len(w.highlights) for w in profile.work] == [1, 1, 1, 2, 1]
    assert "Page 1 of 2" not in json.dumps(profile.model_dump(mode="json"))
    assert profile.sections[:3] == ["Summary", "Experience", "Education"], "the main column reads on to page 2"
