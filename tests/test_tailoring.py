"""Tailoring a recruiter would do (issue 13, item 2), table-driven over the bundled example CV and the two
personas of the labelled screening set, each with postings labelled High for them: every package CV keeps
its degrees and employers, no bullet opens with punctuation, the summary names the role's field, the CV
fits its page budget, the latest job keeps a bullet, and the truth check finds nothing to flag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest

from jobland.agents.cv_layout import fit_to_pages
from jobland.agents.cv_writer import plan_cv, reverse_chronological
from jobland.agents.intake import parse_search_message
from jobland.agents.package_checker import check_package_contents
from jobland.agents.screener import screen_posting, with_search
from jobland.domain.models import (
    Basics,
    EducationItem,
    Highlight,
    JobPosting,
    JobScreeningOutput,
    Profile,
    WorkItem,
)
from jobland.domain.posting_reader import facts_of
from jobland.domain.roles import ROLE_FAMILIES, families_named
from jobland.domain.search_reader import read_search
from jobland.domain.text import ascii_fold
from jobland.graph.context import Context
from jobland.tools.cv_import import import_profile
from jobland.tools.job_folder import load_folder
from tests.conftest import EXAMPLE_CV, EXAMPLE_JOBS, FIXTURES
from tests.support.packages import make_package

NOW = datetime(2026, 12, 1, tzinfo=UTC)
SET = FIXTURES / "screening"
# Persona -> (CV, the search they type, postings labelled High for them in tests/fixtures/screening/labels.tsv
# or, for the example CV, the bundled demo's postings it is meant for).
CASES = {
    "alex": (
        EXAMPLE_CV,
        "senior Python backend, Berlin or remote",
        ("kiezkraft-senior-python-backend.json", "tidewater-senior-backend-engineer-remote.json"),
    ),
    "dana": (
        SET / "personas" / "dana-weber.md",
        "data engineer roles, Berlin or remote within the EU",
        ("d01-kontrast-senior-data-engineer.html", "d02-nordwind-data-engineer-remote-eu.md"),
    ),
    "ben": (
        SET / "personas" / "benedikt-maier.resume.json",
        "senior Python backend, Munich or remote, at least 75k",
        ("b01-alpenpay-senior-python-backend.html", "b17-helix-senior-python.md"),
    ),
}
_OPENS_WITH_A_WORD = re.compile(r"^[\w(\"“$€£]")


@dataclass(frozen=True)
class Built:
    profile: Profile
    posting: JobPosting
    screening: JobScreeningOutput


@cache
def _postings(folder: Path) -> dict[str, JobPosting]:
    return {p.source.removeprefix("folder:"): p for p in load_folder(folder, now=NOW).postings}


@cache
def _profile(path: Path) -> Profile:
    return import_profile(path)


def screened(persona: str, name: str) -> Built:
    cv, query, _ = CASES[persona]
    folder = EXAMPLE_JOBS if persona == "alex" else SET / "postings"
    request = parse_search_message(query)
    profile = with_search(_profile(cv), request)
    posting = _postings(folder)[name]
    screening = screen_posting(profile, posting, 0.8, now=NOW, search=read_search(request.query))
    return Built(profile, posting, screening)


def names_the_field(text: str, family: str | None) -> bool:
    folded = ascii_fold(text)
    return family is not None and (
        family in families_named(text) or any(ascii_fold(p) in folded for p in ROLE_FAMILIES.get(family, ()))
    )


@pytest.mark.parametrize(
    ("persona", "name"), [(persona, name) for persona, (_, _, names) in CASES.items() for name in names]
)
def test_every_package_cv_is_whole_tailored_within_budget_and_true(persona: str, name: str) -> None:
    built = screened(persona, name)
    profile, posting, screening = built.profile, built.posting, built.screening
    assert screening.probability == "High", screening.reasons
    context = Context()
    fitted = fit_to_pages(
        profile,
        posting,
        max_lines=context.cv_max_lines,
        pages=context.cv_pages,
        style=context.cv_style,
        evidence=screening.evidence,
    )
    cv = fitted.cv
    assert cv.pages is not None and cv.pages <= context.cv_pages, "the CV fits its page budget"

    education = [line.text for line in cv.lines if line.section == "Education"]
    for item in profile.education:
        assert item.institution and any(item.institution in text for text in education)
        degree = item.studyType or item.area
        assert degree and any(degree in text for text in education), f"the degree of {item.institution} is kept"
    titles = [line.text for line in cv.lines if line.section == "Experience" and not line.highlight_ids]
    for item in profile.work:
        assert item.name and any(item.name in text for text in titles), f"{item.name} is on the CV"

    bullets = [line for line in cv.lines if line.highlight_ids]
    assert bullets and all(_OPENS_WITH_A_WORD.match(line.text) for line in bullets), "no bullet opens with punctuation"
    _, latest = reverse_chronological(profile.work)[0]
    assert {h.id for h in latest.highlights} & {i for line in bullets for i in line.highlight_ids}, (
        "the latest job keeps a bullet"
    )
    shown = {i for e in screening.evidence for i in e.highlight_ids}
    assert sum(1 for line in bullets if set(line.highlight_ids) & shown) >= len(bullets) / 2, (
        "most bullets are the screening's evidence"
    )

    summary = next(line.text for line in cv.lines if line.section == "Summary")
    assert names_the_field(summary, facts_of(posting).family), summary

    package = make_package(profile, posting, cv, screening=screening)
    _, flagged = check_package_contents(profile, posting, package)
    assert flagged == [], "\n".join(flagged)


def _person_looking_for_data_work() -> Profile:
    def job(employer: str, position: str, start: str, end: str | None, *texts: str) -> WorkItem:
        highlights = [Highlight.make("work", employer, t) for t in texts]
        return WorkItem(name=employer, position=position, startDate=start, endDate=end, highlights=highlights)

    return Profile(
        id="prof_mira",
        source="mira.json",
        content_hash="mira-1",
        basics=Basics(
            name="Mira Lang",
            label="Backend Engineer",
            summary="Backend engineer who builds Python APIs on PostgreSQL. I run Django services in production. "
            "Now looking for a senior data engineering role.",
        ),
        work=[
            job("Parcelhub", "Backend Engineer", "2020-01", None, ": Built Django REST APIs on PostgreSQL"),
            job("Datafarm", "Junior Developer", "2016-01", "2019-12", "Wrote reports in Excel"),
        ],
        education=[EducationItem(institution="TU Dresden", studyType="BSc", area="Computer Science")],
    )


def test_the_summary_leaves_out_what_the_person_looks_for_in_another_field_and_no_bullet_opens_with_a_colon() -> None:
    profile = _person_looking_for_data_work()
    posting = JobPosting(
        id="job_api",
        title="Backend Engineer (Python)",
        hiringOrganization={"name": "Kiosk GmbH"},
        qualifications=["Python and Django", "PostgreSQL"],
        source="test",
        content_hash="k",
        canonical_key="kiosk",
    )
    document = plan_cv(profile, posting, max_lines=6)
    (summary,) = [line for section in document.sections if section.title == "Summary" for line in section.lines]
    assert summary.text.startswith("Backend engineer who builds Python APIs on PostgreSQL.")
    assert "data engineering" not in summary.text
    bullets = [h.text for section in document.sections for entry in section.entries for h in entry.highlights]
    assert bullets[0] == "Built Django REST APIs on PostgreSQL"
