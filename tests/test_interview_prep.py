"""The interview prep sheet: a pure function of profile, posting and package, attached to approved packages only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from langgraph.types import Command

from jobland.agents.interview_prep import prepare_interview
from jobland.agents.screener import screen_posting
from jobland.domain.models import ApplicationPackage, Decision, JobPosting, PackageStatus, Profile
from jobland.domain.posting_reader import facts_of
from jobland.domain.repository import Records
from jobland.graph.builder import open_graph
from jobland.templates import render
from jobland.tools.job_folder import load_folder
from tests.conftest import EXAMPLE_JOBS
from tests.support.graph_runs import context_for, outbox_messages, run_to_review
from tests.support.packages import make_package

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def package_for(profile: Profile, posting: JobPosting) -> ApplicationPackage:
    """A package as build_package leaves it: the real screener's verdict (missing must-haves and evidence)."""
    return make_package(profile, posting, screening=screen_posting(profile, posting, 0.8, now=NOW))


def example_posting(name: str) -> JobPosting:
    postings = load_folder(EXAMPLE_JOBS, now=NOW).postings
    return next(p for p in postings if p.source == f"folder:{name}")


def test_a_question_per_must_have_answered_by_the_screenings_evidence_as_star_prompts(
    example_profile: Profile,
) -> None:
    posting = example_posting("kiezkraft-senior-python-backend.json")
    package = package_for(example_profile, posting)
    prep = prepare_interview(example_profile, posting, package)

    asked = [q for q in prep.questions if q.source == "qualification"]
    must_haves = facts_of(posting).must_haves
    assert {q.requirement for q in asked} == {r.text for r in must_haves}, "one question per requirement line"
    for requirement in must_haves:
        assert any(requirement.label in q.question for q in asked), f"{requirement.label} is asked about"
    matched = {i for e in package.screening.evidence for i in e.highlight_ids}
    highlights = example_profile.highlight_by_id()
    evidence = [e for q in prep.questions for e in q.evidence]
    assert len(evidence) >= 8
    for item in evidence:
        assert item.highlight_id in matched, "evidence is what the screening matched, never matched again"
        assert highlights[item.highlight_id].text == item.text, "evidence is a profile highlight, quoted whole"
        assert item.star.startswith("Situation:") and "Result:" in item.star
    postgres = next(q for q in asked if "PostgreSQL" in q.question)
    assert any("PostgreSQL" in e.text for e in postgres.evidence)
    assert prep.gaps == [], "every must-have is shown: no gap, and fluent English is never one for a C1 speaker"
    assert not any("English" in q.requirement for q in prep.questions)
    assert prepare_interview(example_profile, posting, package_for(example_profile, posting)) == prep, "deterministic"

    sheet = render("interview_prep.md.j2", prep=prep)
    assert "Situation: what needed doing at Lumen Analytics GmbH" in sheet


def test_gaps_are_exactly_the_screenings_missing_must_haves(example_profile: Profile) -> None:
    posting = JobPosting(
        id="job_quiet",
        title="Senior Backend Engineer",
        hiringOrganization={"name": "Quiet Systems GmbH"},
        description="Fluent English is required; our working language is English.",
        qualifications=["Experience with Python and PostgreSQL", "Rust for our trading engine"],
        skills=["Python", "PostgreSQL", "Rust", "Haskell"],
        responsibilities=["Build Rust services for our trading engine"],
        source="test",
        content_hash="h",
        canonical_key="quiet",
    )
    package = package_for(example_profile, posting)
    assert set(package.screening.missing_skills) == {"Rust", "Haskell"}
    prep = prepare_interview(example_profile, posting, package)

    assert [g.topic for g in prep.gaps if g.kind == "missing_skill"] == package.screening.missing_skills
    assert {g.topic for g in prep.gaps} == {"Rust", "Haskell"}, "no other gap: English (C1) and Python are shown"
    rust = next(q for q in prep.questions if "Rust" in q.question and q.source == "qualification")
    assert rust.evidence == [], "no evidence is invented"
    assert not any(q.source == "responsibility" for q in prep.questions), "a duty nothing shows gets no question"

    # What the posting leaves out becomes a question for the interviewer.
    unknown = {a.basis for a in prep.questions_to_ask}
    assert {"unknown: baseSalary", "unknown: workplace", "unknown: recent_news"} <= unknown
    asked_topics = {"business", "products", "team", "stage", "recent_news"}
    assert {f"unknown: {t}" for t in set(package.dossier.unknown_topics()) & asked_topics} <= unknown
    assert "unknown: languages" not in unknown, "the posting names its working language"
    news = next(a for a in prep.questions_to_ask if a.basis == "unknown: recent_news")
    assert news.question.startswith("The posting does not say anything recent about the company")

    sheet = render("interview_prep.md.j2", prep=prep)
    assert "## Likely questions" in sheet and "## Gaps to prepare for" in sheet and "## Questions to ask" in sheet
    assert "**Haskell**" in sheet


def test_dossier_facts_become_questions_to_ask_with_their_sources(example_profile: Profile) -> None:
    posting = example_posting("tidewater-senior-backend-engineer-remote.json")
    package = package_for(example_profile, posting)
    prep = prepare_interview(example_profile, posting, package)
    facts = {f.text: f.source for f in package.dossier.facts()}
    quoted = [a for a in prep.questions_to_ask if a.question.startswith("The posting says")]
    assert quoted
    for ask in quoted:
        assert any(f'"{text}"' in ask.question and source == ask.basis for text, source in facts.items())
    motivation = next(q for q in prep.questions if q.source == "dossier")
    assert motivation.question.startswith("Why do you want to work at Tidewater Health?")


async def test_approved_package_email_carries_the_prep_sheet_and_a_rejected_one_has_none(
    database_url: str, home: Path
) -> None:
    async with open_graph(database_url, home) as graph:
        config = await run_to_review(graph, home, EXAMPLE_JOBS, uuid.uuid4().hex)
        pending = (await graph.aget_state(config)).interrupts[0]
        approved, *rejected = [r["action_request"]["args"]["package_id"] for r in pending.value]
        decisions = [Decision(package_id=approved, action="accept")]
        decisions += [Decision(package_id=p, action="reject") for p in rejected]
        await graph.ainvoke(
            Command(resume={pending.id: [d.model_dump() for d in decisions]}),
            config,
            context=context_for(home),
            durability="sync",
        )

        (message,) = outbox_messages(home)
        attachments = {part.get_filename(): part for part in message.iter_attachments()}
        (name,) = [n for n in attachments if n.startswith("interview-prep-")]
        assert name.endswith(".md")
        sheet = attachments[name].get_content()
        assert "## Likely questions" in sheet and "## Questions to ask" in sheet
        assert name in message.get_body(("plain",)).get_content(), "the email lists the sheet among its files"

        records = Records(graph.store)
        packages = {p.id: p for p in await records.packages(config["configurable"]["thread_id"])}
        sent = packages[approved]
        assert sent.status == PackageStatus.sent and sent.interview_prep is not None
        profile = await records.profile(sent.profile_id)
        ids = profile.highlight_by_id()
        assert all(e.highlight_id in ids for q in sent.interview_prep.questions for e in q.evidence)
        assert all(e.highlight_id in sheet for q in sent.interview_prep.questions for e in q.evidence)
        for package_id in rejected:
            assert packages[package_id].status == PackageStatus.rejected
            assert packages[package_id].interview_prep is None, "only approved packages get a prep sheet"
        assert message["X-JobLand-Package"] == approved
