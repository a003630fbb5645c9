"""CV import: real files in every supported format, the Awesome-CV fixture in detail, and bad inputs."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import docx
import pytest
import weasyprint
from markdown_it import MarkdownIt

from jobland.domain.models import Highlight, Profile
from jobland.domain.person import read_person
from jobland.domain.text import content_hash, stable_id
from jobland.tools.cv_import import CVImportError, import_profile
from tests.conftest import FIXTURES
from tests.support.hostile_files import docx_file, flate_bomb_pdf, looping_pdf, nested_json, zip_bomb_docx

AWESOME_CV = FIXTURES / "resumes" / "awesome-cv-resume.pdf"
SAMPLE_RESUME = FIXTURES / "jsonresume" / "sample.resume.json"
SAMPLE_JOB = FIXTURES / "jsonresume" / "sample.job.json"
EXAMPLE_CV = Path(__file__).resolve().parents[1] / "examples" / "cv" / "alex-morgan.md"


@pytest.fixture(scope="module")
def awesome_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(shutil.copy(AWESOME_CV, tmp_path_factory.mktemp("cv") / AWESOME_CV.name))


@pytest.fixture(scope="module")
def awesome(awesome_pdf: Path) -> Profile:
    return import_profile(awesome_pdf)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def job(profile: Profile, employer: str):
    return next(item for item in profile.work if item.name == employer)


def highlight_texts(profile: Profile) -> list[str]:
    return [h.text for _, h in profile.all_highlights()]


# --------------------------------------------------------------------------- the Awesome-CV PDF


def test_awesome_cv_header(awesome: Profile) -> None:
    basics = awesome.basics
    assert basics.name == "Byungjin Park"
    assert basics.label == "DevOps Engineer · Software Architect"
    assert basics.email == "posquit0.bj@gmail.com"
    assert basics.phone == "(+82) 10-9030-1843"
    assert basics.url == "www.posquit0.com"
    assert basics.location is not None and basics.location.city == "Seoul"
    assert {(p.network, p.username) for p in basics.profiles} == {("GitHub", "posquit0"), ("LinkedIn", "posquit0")}
    assert basics.summary.startswith("Seasoned SRE/DevOps leader")
    assert "Passionate to contribute" in basics.summary


def test_awesome_cv_sections_in_order(awesome: Profile) -> None:
    assert awesome.sections == [
        "Summary",
        "Work Experience",
        "Honors & Awards",
        "Community",
        "Certificates",
        "Education",
    ]


@pytest.mark.parametrize(
    ("employer", "position", "start", "end", "bullets"),
    [
        ("Dunamu Inc.", "DevOps Engineer", "Sep. 2023", "Mar. 2024", 2),
        (
            "Danggeun Pay Inc. (KarrotPay)",
            "Founding Member & Site Reliability Engineer & Infrastructure Team Lead",
            "Mar. 2021",
            "Jun. 2023",
            6,  # and its motto "Everything that matters.", which claims nothing (see test_a_motto_is_no_claim)
        ),
        ("Danggeun Market Inc.", "Site Reliability Engineer", "Feb. 2021", "Mar. 2021", 0),
        ("Kasa", "Founding Member & Director of Infrastructure Division", "Jun. 2018", "Jan. 2021", 9),
        ("Omnious. Co., Ltd.", "Software Architect", "Jun. 2017", "May. 2018", 6),
        ("PLAT Corp.", "Co-founder & Software Engineer", "Jan. 2016", "Jun. 2017", 3),
        (
            "R.O.K Cyber Command, MND",
            "Software Engineer & Security Researcher (Compulsory Military Service)",
            "Aug. 2014",
            "Apr. 2016",
            1,
        ),
        ("ShitOne Corp.", "Software Engineer", "Dec. 2011", "Feb. 2012", 2),
    ],
)
def test_awesome_cv_jobs(awesome: Profile, employer: str, position: str, start: str, end: str, bullets: int) -> None:
    item = job(awesome, employer)
    assert (item.position, item.startDate, item.endDate, item.location) == (position, start, end, "Seoul, S.Korea")
    assert len(item.highlights) == bullets


def test_awesome_cv_lists_every_job_once_in_order(awesome: Profile) -> None:
    assert [w.name for w in awesome.work] == [
        "Dunamu Inc.",
        "Danggeun Pay Inc. (KarrotPay)",
        "Danggeun Market Inc.",
        "Kasa",
        "Omnious. Co., Ltd.",
        "PLAT Corp.",
        "R.O.K Cyber Command, MND",
        "ShitOne Corp.",
    ]


def test_awesome_cv_keeps_words_apart(awesome: Profile) -> None:
    text = "\n".join(highlight_texts(awesome))
    for phrase in (
        "Designed Terraform modules to efficiently manage and scale infrastructure",
        "Led service mesh technology research",
        "(currently 3.6 million users)",
        "Implemented several API microservices in Node.js Koa",
    ):
        assert phrase in text
    for glued in ("DesignedTerraformmodules", "efficientlymanage", "servicemesh", "3.6million", "inNode.js"):
        assert glued not in text


def test_awesome_cv_rejoins_wrapped_bullets(awesome: Profile) -> None:
    dunamu = [h.text for h in job(awesome, "Dunamu Inc.").highlights]
    assert dunamu[0].endswith(
        "evaluating Istio, Cilium, Kuma, Consul, and AWS VPC Lattice for enhanced security and scalability."
    )
    assert dunamu[1].endswith("enabling standardized, repeatable deployments.")
    # Continuation lines never become bullets of their own, and page footers never enter a bullet.
    texts = highlight_texts(awesome)
    assert not any(t[0].islower() for t in texts)
    assert not any("Résumé" in t or "February 10, 2026" in t for t in texts)
    assert "partners’ on-premise network" in "\n".join(texts)


def test_awesome_cv_motto_is_the_entrys_tagline_not_a_highlight(awesome: Profile) -> None:
    """Awesome-CV's KarrotPay entry opens with the bullet "Everything that matters.": a motto, kept as the entry's
    summary (the person's words) but never a highlight that a CV, a letter or the truth check would cite."""
    karrot = job(awesome, "Danggeun Pay Inc. (KarrotPay)")
    assert karrot.summary == "Everything that matters."
    assert "Everything that matters." not in highlight_texts(awesome)
    assert karrot.highlights[0].text.startswith("Designed and provisioned the entire infrastructure on the AWS cloud")


def test_a_motto_is_no_claim(tmp_path: Path) -> None:
    """A bullet that names nothing (a quotation, a short phrase of function words around one other word) is the
    entry's tagline, in any entry and language; a short bullet that names a skill, a number or a deed stays."""
    cv = write(
        tmp_path,
        "cv.md",
        "# Dana Weber\n\ndana.weber@example.com\n\n## Experience\n\n### Data Engineer — Acme AG (2018 – 2021)\n\n"
        "- Always learning.\n- Mentored two juniors.\n- Led hiring.\n- Ran on-call for Kafka.\n- Cut costs by 30%\n\n"
        "### Datenarchitektin — Beispiel GmbH (2021 – heute)\n\n- Alles, was zählt.\n- Baute das Data Warehouse auf\n\n"
        "## Projects\n\n### pipeline-kit\n\n- “Make the easy path the right path.”\n- Airflow operators for dbt\n",
    )
    profile = import_profile(cv)
    acme, beispiel = profile.work
    assert [h.text for h in acme.highlights] == [
        "Mentored two juniors.",
        "Led hiring.",
        "Ran on-call for Kafka.",
        "Cut costs by 30%",
    ]
    assert acme.summary == "Always learning."
    assert ([h.text for h in beispiel.highlights], beispiel.summary) == (
        ["Baute das Data Warehouse auf"],
        "Alles, was zählt.",
    )
    (project,) = profile.projects
    assert ([h.text for h in project.highlights], project.description) == (
        ["Airflow operators for dbt"],
        "“Make the easy path the right path.”",
    )


def test_awesome_cv_soft_hyphens_are_normalised(awesome: Profile) -> None:
    dumped = awesome.model_dump_json()
    assert "\u00ad" not in dumped and "\\u00ad" not in dumped and "\ufffe" not in dumped
    assert "high-impact opportunities in fast-growing start-up companies" in awesome.basics.summary
    kasa = job(awesome, "Kasa")
    assert kasa.highlights[0].text.startswith("Designed on-boarding process")


def test_awesome_cv_awards_community_certificates_education(awesome: Profile) -> None:
    assert len(awesome.awards) == 11
    assert (awesome.awards[0].title, awesome.awards[0].date) == ("2nd Place, AWS ASEAN AI/ML GameDay", "2021")
    assert not any("International Awards" in a.title or "Domestic Awards" in a.title for a in awesome.awards)

    assert [(v.name, v.position, v.startDate, v.endDate) for v in awesome.volunteer] == [
        ("Amazon Web Services (AWS)", "AWS Community Builder (Container)", "2022", None),
        ("HashiCorp", "HashiCorp Ambassador", "2022", None),
        ("HashiCorp", "Organizer of HashiCorp Korea User Group", "2018", None),
    ]

    assert len(awesome.certificates) == 9
    first = awesome.certificates[0]
    assert (first.name, first.issuer, first.date) == (
        "AWS Certified Advanced Networking - Specialty",
        "Amazon Web Services (AWS)",
        "2023",
    )

    (school,) = awesome.education
    assert school.institution == "POSTECH(Pohang University of Science and Technology)"
    assert (school.studyType, school.area) == ("B.S.", "Computer Science and Engineering")
    assert (school.startDate, school.endDate) == ("Mar. 2010", "Aug. 2017")


def test_awesome_cv_skills_are_evidence_not_a_made_up_list(awesome: Profile) -> None:
    """The CV has no Skills section: none is invented, but every skill its bullets name is evidence."""
    assert awesome.skills == []
    evidence = read_person(awesome, date(2026, 1, 1)).evidence
    highlight_ids = {h.id for _, h in awesome.all_highlights()}
    for skill in ("Terraform", "Kubernetes", "AWS", "Kafka", "ArgoCD", "Ansible", "Docker", "Node.js"):
        assert set(evidence[skill]) & highlight_ids, skill


def test_awesome_cv_identity_and_highlight_ids_are_stable(awesome: Profile, awesome_pdf: Path) -> None:
    digest = content_hash(awesome_pdf.read_bytes())
    assert (awesome.id, awesome.content_hash, awesome.source) == (
        stable_id("prof", digest),
        digest,
        "awesome-cv-resume.pdf",
    )
    ids = [h.id for _, h in awesome.all_highlights()]
    assert len(ids) == len(set(ids)) == 29
    again = import_profile(awesome_pdf)
    assert [h.id for _, h in again.all_highlights()] == ids
    assert again == awesome
    dunamu = job(awesome, "Dunamu Inc.").highlights[1]
    assert dunamu == Highlight.make("work", "Dunamu Inc.", dunamu.text)


def test_a_spoken_languages_line_among_the_skills_is_the_persons_languages() -> None:
    """Dana's CV lists "Spoken languages: English (C2), German (B1), Polish (native)" among her skills: they are
    her languages, with their levels as written, and no skill; the screener's reader gives the same levels."""
    dana = import_profile(FIXTURES / "screening" / "personas" / "dana-weber.md")
    assert [(item.language, item.fluency) for item in dana.languages] == [
        ("English", "C2"),
        ("German", "B1"),
        ("Polish", "native"),
    ]
    assert [s.name for s in dana.skills] == ["Programming", "Data", "Cloud"]
    assert read_person(dana, date(2026, 12, 1)).languages == {"en": "C2", "de": "B1", "pl": "native"}


# --------------------------------------------------------------------------- JSON Resume


def test_json_resume_sample(tmp_path: Path) -> None:
    profile = import_profile(Path(shutil.copy(SAMPLE_RESUME, tmp_path / SAMPLE_RESUME.name)))
    assert profile.basics.name == "Richard Hendriks"
    assert profile.basics.location is not None and profile.basics.location.city == "San Francisco"
    (pied_piper,) = profile.work
    assert (pied_piper.name, pied_piper.position, pied_piper.startDate) == ("Pied Piper", "CEO/President", "2013-12-01")
    text = "Successfully won Techcrunch Disrupt"
    assert Highlight.make("work", "Pied Piper", text) in pied_piper.highlights
    assert profile.volunteer[0].name == "CoderDojo"
    assert profile.volunteer[0].highlights[0].text == "Awarded 'Teacher of the Month'"
    won = Highlight.make("projects", "Miss Direction", "Won award at AIHacks 2016")
    assert profile.projects[0].highlights[0] == won
    assert profile.skill_names()[:2] == ["Web Development", "HTML"]
    assert profile.education[0].studyType == "Bachelor"
    assert [(i.name, i.keywords) for i in profile.interests] == [("Wildlife", ["Ferrets", "Unicorns"])]
    assert "Work" in profile.sections and "Projects" in profile.sections
    assert profile.to_json_resume()["work"][0]["highlights"][1] == text


def test_json_resume_preferences_and_skills_as_evidence(tmp_path: Path) -> None:
    resume = {
        "basics": {"name": "Sam Rivera", "email": "sam@example.com"},
        "work": [{"name": "Acme", "position": "Data Engineer", "highlights": ["Ran Airflow and PostgreSQL at scale"]}],
        "meta": {
            "jobland": {
                "locations": ["Lisbon"],
                "remote": "remote_only",
                "salary_floor": 55000,
                "salary_currency": "EUR",
                "deal_breakers": ["gambling"],
            }
        },
    }
    profile = import_profile(write(tmp_path, "sam.json", json.dumps(resume)))
    assert profile.preferences.remote == "remote_only"
    assert profile.preferences.locations == ["Lisbon"]
    assert profile.preferences.salary_floor == 55000
    assert profile.skills == [], "no skills list is made up from the text"
    (ran,) = profile.work[0].highlights
    assert {"Airflow", "PostgreSQL"} <= {
        k for k, ids in read_person(profile, date(2026, 1, 1)).evidence.items() if ran.id in ids
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]", "top level must be an object"),
        ('{"basics": {"name": "A"}, "work": [{"name": "X", "highlights": [1]}]}', "work[0].highlights"),
        ('{"basics": {"name": "A"}, "work": {"name": "X"}}', '"work" must be a list'),
        ('{"basics": {"name": "A"},', "is not valid JSON (line 1"),
        ('{"basics": {"name": "A"}, "meta": {"jobland": {"remote": "sometimes"}}}', "remote_or_hybrid"),
        ('{"basics": {"name": ["A"]}}', "basics.name"),
        ('{"basics": {"name": "A"}, "meta": {"jobland": {"remote_ok": true}}}', "unknown keys remote_ok"),
    ],
)
def test_json_resume_shape_errors(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(CVImportError, match="resume.json") as error:
        import_profile(write(tmp_path, "resume.json", content))
    assert message in str(error.value)


def test_json_job_description_is_not_a_resume(tmp_path: Path) -> None:
    with pytest.raises(CVImportError, match="job posting"):
        import_profile(Path(shutil.copy(SAMPLE_JOB, tmp_path / SAMPLE_JOB.name)))


# --------------------------------------------------------------------------- Markdown, DOCX, HTML, text


def test_example_markdown_cv(tmp_path: Path) -> None:
    profile = import_profile(Path(shutil.copy(EXAMPLE_CV, tmp_path / EXAMPLE_CV.name)))
    assert profile.basics.name == "Alex Morgan"
    assert profile.basics.email == "alex.morgan@example.com"
    assert profile.basics.location is not None and profile.basics.location.city == "Berlin"
    assert profile.basics.summary.startswith("Senior backend engineer with nine years")
    assert [(w.name, w.position, w.startDate, w.endDate) for w in profile.work] == [
        ("Lumen Analytics GmbH", "Senior Backend Engineer", "Mar 2021", None),
        ("Parcelway SE", "Backend Engineer", "Jan 2018", "Feb 2021"),
        ("Datenwerk Consulting GmbH", "Software Engineer", "Sep 2015", "Dec 2017"),
    ]
    assert all(3 <= len(w.highlights) <= 5 and w.location for w in profile.work)
    assert {"Python", "FastAPI", "Django", "PostgreSQL", "Kafka", "Airflow", "AWS", "Kubernetes"} <= set(
        profile.skill_names()
    )
    assert [(e.institution, e.studyType, e.area) for e in profile.education] == [
        ("Technische Universität Berlin", "M.Sc.", "Computer Science"),
        ("University of Leeds", "B.Sc.", "Computer Science"),
    ]
    assert [(lang.language, lang.fluency) for lang in profile.languages] == [
        ("English", "native"),
        ("German", "fluent (C1)"),
    ]
    assert profile.sections == ["Summary", "Experience", "Skills", "Education", "Languages"]
    preferences = profile.preferences
    assert preferences.locations == ["Berlin", "Remote"]
    assert preferences.remote == "remote_or_hybrid"
    assert preferences.seniority == ["senior", "lead"]
    assert (preferences.salary_floor, preferences.salary_currency) == (70000, "EUR")
    assert preferences.required_languages == ["English", "German"]
    assert preferences.deal_breakers == ["crypto", "gambling", "on-call 24/7"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("Remote: sometimes", "Remote is one of remote_only, remote_or_hybrid, any, onsite_only"),
        ("Seniority: wizard", "Seniority values are intern, junior"),
        ("Salary floor: negotiable", 'write e.g. "70000 EUR"'),
        ("Favourite colour: blue", "the keys Locations, Remote"),
    ],
)
def test_markdown_preferences_errors(tmp_path: Path, line: str, message: str) -> None:
    cv = f"# Kim Lee\n\nkim@example.com\n\n## Experience\n\n- Built things\n\n## Preferences\n\n{line}\n"
    with pytest.raises(CVImportError, match="kim.md") as error:
        import_profile(write(tmp_path, "kim.md", cv))
    assert message in str(error.value)


def test_markdown_salary_notations(tmp_path: Path) -> None:
    cv = "# Kim Lee\n\n## Experience\n\n- Built things\n\n## Preferences\n\nSalary floor: €85k\nRemote: Remote only\n"
    preferences = import_profile(write(tmp_path, "kim.md", cv)).preferences
    assert (preferences.salary_floor, preferences.salary_currency, preferences.remote) == (85000, "EUR", "remote_only")


def test_docx_cv(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("Maria Schneider", 0)
    document.add_paragraph("Data Engineer")
    document.add_paragraph("Hamburg, Germany | maria.schneider@example.org | +49 40 1234567")
    document.add_heading("Profile", 1)
    document.add_paragraph(
        "Data engineer who builds reliable batch and streaming pipelines for logistics companies, "
        "with a soft spot for tidy SQL."
    )
    document.add_heading("Work Experience", 1)
    document.add_paragraph().add_run("Data Engineer, Nordwind Logistics GmbH").bold = True
    document.add_paragraph("Hamburg · 01/2020 – Present")
    document.add_paragraph("Built Kafka pipelines processing 2 million events a day", style="List Bullet")
    document.add_paragraph("Cut cloud cost by 25% with Terraform & spot instances", style="List Bullet")
    document.add_paragraph().add_run("Junior Data Analyst, Hafen Data AG").bold = True
    document.add_paragraph("Bremen · 2017 – 2019")
    document.add_paragraph("Automated weekly reports in Python and Pandas", style="List Bullet")
    document.add_heading("Education", 1)
    document.add_paragraph("M.Sc. Data Science, Universität Hamburg, 2015 – 2017")
    document.add_heading("Skills", 1)
    document.add_paragraph("Python, SQL, Airflow, Spark")
    document.add_heading("Languages", 1)
    document.add_paragraph("German (native), English (C1)")
    path = tmp_path / "maria.docx"
    document.save(str(path))

    profile = import_profile(path)
    assert profile.basics.name == "Maria Schneider"
    assert profile.basics.label == "Data Engineer"
    assert (profile.basics.email, profile.basics.phone) == ("maria.schneider@example.org", "+49 40 1234567")
    assert profile.basics.summary.startswith("Data engineer who builds")
    assert [(w.name, w.position, w.location, w.startDate, w.endDate) for w in profile.work] == [
        ("Nordwind Logistics GmbH", "Data Engineer", "Hamburg", "01/2020", None),
        ("Hafen Data AG", "Junior Data Analyst", "Bremen", "2017", "2019"),
    ]
    assert [h.text for h in profile.work[0].highlights] == [
        "Built Kafka pipelines processing 2 million events a day",
        "Cut cloud cost by 25% with Terraform & spot instances",
    ]
    (school,) = profile.education
    assert (school.institution, school.studyType, school.area) == ("Universität Hamburg", "M.Sc.", "Data Science")
    assert [s.name for s in profile.skills] == ["Python", "SQL", "Airflow", "Spark"]
    assert [(lang.language, lang.fluency) for lang in profile.languages] == [("German", "native"), ("English", "C1")]


def test_html_cv_with_german_headings(tmp_path: Path) -> None:
    html = """<!doctype html><html><head><title>CV</title><script>alert("x")</script></head><body>
    <h1>Jonas Weber</h1><p>Backend-Entwickler</p>
    <p>Köln, Deutschland · <a href="mailto:jonas@example.de">jonas@example.de</a></p>
    <h2>Berufserfahrung</h2>
    <h3>Senior Backend-Entwickler — Rheinwerk Software GmbH</h3>
    <p>Köln · 03/2019 – heute</p>
    <ul><li>Migrierte 20 Dienste nach <b>Kubernetes</b> und senkte die Kosten um 30&nbsp;%</li>
        <li>Führte Contract-Tests mit <i>pytest</i> ein</li></ul>
    <h2>Ausbildung</h2><p>B.Sc. Informatik, Universität zu Köln, 2012 – 2016</p>
    <h2>Kenntnisse</h2><ul><li>Python, Go, PostgreSQL</li></ul>
    </body></html>"""
    profile = import_profile(write(tmp_path, "jonas.html", html))
    assert profile.basics.name == "Jonas Weber"
    assert profile.basics.email == "jonas@example.de"
    assert profile.sections == ["Berufserfahrung", "Ausbildung", "Kenntnisse"]
    (job_item,) = profile.work
    assert (job_item.name, job_item.position, job_item.location) == (
        "Rheinwerk Software GmbH",
        "Senior Backend-Entwickler",
        "Köln",
    )
    assert (job_item.startDate, job_item.endDate) == ("03/2019", None)
    assert [h.text for h in job_item.highlights] == [
        "Migrierte 20 Dienste nach Kubernetes und senkte die Kosten um 30 %",
        "Führte Contract-Tests mit pytest ein",
    ]
    assert profile.education[0].institution == "Universität zu Köln"
    assert profile.skill_names() == ["Python", "Go", "PostgreSQL"]
    assert "alert" not in profile.model_dump_json()


def test_plain_text_cv_with_wrapped_bullets(tmp_path: Path) -> None:
    text = (
        "JORDAN LEE\n"
        "Frontend Developer\n"
        "Toronto, Canada | jordan.lee@example.net\n\n"
        "EXPERIENCE\n----------\n"
        "Frontend Developer at Maple Apps Inc.          2019 - 2023\n"
        "* Rebuilt the checkout in React and TypeScript, lifting conversion\n"
        "  by 12% across 40,000 monthly orders\n"
        "* Cut the JavaScript bundle by 35%\n\n"
        "EDUCATION\n---------\n"
        "B.A. Computer Science, University of Toronto   2014 - 2018\n"
    )
    profile = import_profile(write(tmp_path, "jordan.txt", text))
    assert profile.basics.name == "JORDAN LEE"
    assert profile.basics.location is not None and profile.basics.location.countryCode == "CA"
    (job_item,) = profile.work
    assert (job_item.name, job_item.position, job_item.startDate, job_item.endDate) == (
        "Maple Apps Inc.",
        "Frontend Developer",
        "2019",
        "2023",
    )
    assert [h.text for h in job_item.highlights] == [
        "Rebuilt the checkout in React and TypeScript, lifting conversion by 12% across 40,000 monthly orders",
        "Cut the JavaScript bundle by 35%",
    ]
    assert profile.education[0].institution == "University of Toronto"
    assert profile.skills == [], "the CV names no skills list: none is made up"
    assert {"React", "TypeScript", "JavaScript"} <= set(read_person(profile, date(2026, 1, 1)).evidence)


def test_markdown_cv_rendered_to_pdf_reads_back_the_same(tmp_path: Path) -> None:
    """The example CV as Markdown and as a PDF made from it (HTML through WeasyPrint, ragged right, list
    markers written last) gives the same jobs and the same highlight ids."""
    html = MarkdownIt().render(EXAMPLE_CV.read_text(encoding="utf-8"))
    pdf = tmp_path / "alex-morgan.pdf"
    weasyprint.HTML(string=f"<body style='font: 10pt sans-serif'>{html}</body>").write_pdf(pdf)

    from_markdown, from_pdf = import_profile(EXAMPLE_CV), import_profile(pdf)
    assert from_pdf.sections == from_markdown.sections
    assert from_pdf.basics.model_dump(exclude={"url"}) == from_markdown.basics.model_dump(exclude={"url"})
    assert from_pdf.work == from_markdown.work
    assert from_pdf.education == from_markdown.education
    assert from_pdf.skills == from_markdown.skills
    assert from_pdf.preferences == from_markdown.preferences


def test_one_line_items_without_dates_or_issuers(tmp_path: Path) -> None:
    cv = (
        "# Kim Lee\n\n## Certifications\n\n- Certified Kubernetes Administrator\n"
        "- AWS Solutions Architect, Amazon Web Services (2022)\n\n"
        "## Languages\n\nSwiss-German (native), English: fluent, French — basic\n"
    )
    profile = import_profile(write(tmp_path, "kim.md", cv))
    assert [(c.name, c.issuer, c.date) for c in profile.certificates] == [
        ("Certified Kubernetes Administrator", None, None),
        ("AWS Solutions Architect", "Amazon Web Services", "2022"),
    ]
    assert [(lang.language, lang.fluency) for lang in profile.languages] == [
        ("Swiss-German", "native"),
        ("English", "fluent"),
        ("French", "basic"),
    ]


def test_entries_with_the_place_after_the_dates(tmp_path: Path) -> None:
    """Company, title, dates with a duration, then the place, each on its own line (as LinkedIn exports write)."""
    text = (
        "Jane Roe\nSenior Backend Engineer at Foo\njane.roe@example.com\n\nExperience\n"
        "Foo GmbH\nSenior Backend Engineer\nMarch 2019 - Present (5 years 1 month)\nBerlin, Germany\n"
        "- Built the billing platform in Python\n"
        "Bar AG\nSoftware Engineer\nJanuary 2016 - February 2019 · 3 yrs 2 mos\nMunich, Germany\n"
        "- Wrote Go services\n"
    )
    profile = import_profile(write(tmp_path, "jane.txt", text))
    assert [(w.name, w.position, w.startDate, w.endDate, w.location, len(w.highlights)) for w in profile.work] == [
        ("Foo GmbH", "Senior Backend Engineer", "March 2019", None, "Berlin, Germany", 1),
        ("Bar AG", "Software Engineer", "January 2016", "February 2019", "Munich, Germany", 1),
    ]


# --------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("cv.pdf", b"", "cv.pdf is empty"),
        ("cv.md", b"  \n\n ", "cv.md is empty"),
        ("cv.pdf", os.urandom(4096), "cv.pdf is not a readable PDF (it may be corrupt or password-protected)"),
        ("cv.docx", b"PK\x03\x04 not really a zip", "cv.docx is not a readable Word document"),
        ("cv.odt", b"anything", ".odt files are not supported; give a PDF, DOCX, Markdown"),
        ("cv.doc", b"anything", "save it as .docx"),
        ("cv", b"anything", "files without an extension are not supported"),
        ("cv.txt", b"Name\x00\x01\x02", "holds binary data"),
        ("cv.txt", "Lebenslauf für Müller".encode("latin-1"), "save it with UTF-8 encoding"),
        (
            "pie.txt",
            b"Grandma's apple pie\n\nPreheat the oven to 180 C. Mix the flour with cold butter, "
            b"add the apples and bake for 45 minutes.\n",
            "found nothing that looks like a CV",
        ),
    ],
)
def test_bad_inputs_are_refused_with_advice(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    with pytest.raises(CVImportError) as error:
        import_profile(write(tmp_path, name, content))
    assert message in str(error.value)


def test_oversized_file_names_the_limit(tmp_path: Path) -> None:
    path = Path(shutil.copy(EXAMPLE_CV, tmp_path / EXAMPLE_CV.name))
    with pytest.raises(CVImportError, match=r"alex-morgan.md is \d\.\d KB, over the 1000 bytes limit for a CV"):
        import_profile(path, max_bytes=1000)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CVImportError, match="was not found"):
        import_profile(tmp_path / "nowhere.pdf")


def test_error_is_a_value_error() -> None:
    assert issubclass(CVImportError, ValueError)


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("bomb.docx", zip_bomb_docx, "bomb.docx unpacks to over 32.0 MB, more than a CV holds"),
        ("bomb.pdf", flate_bomb_pdf, "bomb.pdf unpacks to over 32.0 MB, more than a CV holds"),
        ("loop.pdf", looping_pdf, "loop.pdf is not a readable PDF"),
        ("deep.json", nested_json, "deep.json nests its JSON deeper than a JSON Resume does"),
        ("parts.docx", lambda: docx_file([b""], images=1000), "parts.docx holds 1003 files, more than the 1000"),
    ],
)
def test_bombs_loops_and_deep_nesting_are_refused_before_anything_is_unpacked(
    tmp_path: Path, name: str, make: Callable[[], bytes], message: str
) -> None:
    with pytest.raises(CVImportError) as error:
        import_profile(write(tmp_path, name, make()), max_unpacked_bytes=32 * 1024 * 1024)
    assert message in str(error.value)
