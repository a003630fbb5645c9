"""The interview prep sheet: a pure function of profile, posting and package, attached to approved packages only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from langgraph.types import Command

from jobland.agents.interview_prep import prepare_interview
from jobland.agents.researcher import dossier_from_posting
from jobland.agents.screener import assess
from jobland.domain.models import ApplicationPackage, Decision, JobPosting, JobScreeningOutput, PackageStatus, Profile
from jobland.domain.repository import Records
from jobland.graph.builder import open_graph
from jobland.templates import render
from jobland.tools.job_folder import load_folder
from tests.conftest import EXAMPLE_JOBS
from tests.support.graph_runs import context_for, outbox_messages, run_to_review


def package_for(profile: Profile, posting: JobPosting) -> ApplicationPackage:
    """A package as build_package leaves it: the real screener's missing skills and evidence, the researcher's dossier."""
    found = assess(profile, posting)
    return ApplicationPackage(
        id="pkg_test",
        posting_id=posting.id,
        profile_id=profile.id,
        company=posting.company,
        title=posting.title,
        screening=JobScreeningOutput(
            match_score=80,
            probability="High",
            missing_skills=found.missing,
            evidence=found.coverage_found.evidence,
        ),
        dossier=dossier_from_posting(posting),
    )


def example_posting(name: str) -> JobPosting:
    postings = load_folder(EXAMPLE_JOBS, now=datetime.now(UTC)).postings
    return next(p for p in postings if p.source == f"folder:{name}")


def test_questions_rest_on_the_postings_requirements_and_the_profiles_highlights(example_profile: Profile) -> None:
    posting = example_posting("kiezkraft-senior-python-backend.json")
    prep = prepare_interview(example_profile, posting, package_for(example_profile, posting))

    requirements = {*posting.qualifications, *posting.responsibilities}
    listed = [q for q in prep.questions if q.source in ("qualification", "responsibility")]
    assert {q.requirement for q in listed} == requirements, "one question per qualification and responsibility"
    assert all(q.requirement in q.question for q in listed)

    highlights = example_profile.highlight_by_id()
    evidence = [e for q in prep.questions for e in q.evidence]
    assert len(evidence) >= 8
    for item in evidence:
        assert highlights[item.highlight_id].text == item.text, "evidence is a profile highlight, quoted whole"
    kafka = next(q for q in prep.questions if "Kafka" in q.requirement)
    assert all("Kafka" in e.text for e in kafka.evidence) and kafka.evidence

    assert prepare_interview(example_profile, posting, package_for(example_profile, posting)) == prep, "deterministic"


def test_gaps_are_the_missing_skills_and_the_requirements_without_evidence(example_profile: Profile) -> None:
    posting = JobPosting(
        id="job_quiet",
        title="Senior Backend Engineer",
        hiringOrganization={"name": "Quiet Systems GmbH"},
        qualifications=["Experience with Python and PostgreSQL", "A valid helicopter pilot licence"],
        responsibilities=["Build Rust services for our trading engine"],
        skills=["Python", "PostgreSQL", "Rust", "Haskell"],
        source="test",
        content_hash="h",
        canonical_key="quiet",
    )
    package = package_for(example_profile, posting)
    assert set(package.screening.missing_skills) == {"Rust", "Haskell"}
    prep = prepare_interview(example_profile, posting, package)

    missing = [g.topic for g in prep.gaps if g.kind == "missing_skill"]
    assert missing == package.screening.missing_skills
    unsupported = {g.topic for g in prep.gaps if g.kind == "no_evidence"}
    assert "A valid helicopter pilot licence" in unsupported
    assert "Experience with Python and PostgreSQL" not in unsupported
    assert not any(q.evidence for q in prep.questions if "helicopter" in q.requirement), "no evidence is invented"

    # The posting says nothing about the company: every topic becomes a question for the interviewer.
    unknown = {a.basis for a in prep.questions_to_ask}
    assert {"unknown: mission", "unknown: products", "unknown: culture", "unknown: recent_news"} <= unknown
    assert "unknown: baseSalary" in unknown and "unknown: workplace" in unknown
    team = next(a for a in prep.questions_to_ask if a.basis == "unknown: culture")
    assert team.question.startswith("The posting does not say how the team is organised")

    sheet = render("interview_prep.md.j2", prep=prep)
    assert "## Likely questions" in sheet and "## Gaps to prepare for" in sheet and "## Questions to ask" in sheet
    assert "helicopter pilot licence" in sheet


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
