"""Interview preparation for an approved package: likely questions, best evidence, gaps, questions to ask.

Deterministic and extractive: each likely question quotes a requirement of the posting (or a fact of
the dossier), each piece of evidence is a master-CV highlight with its id (for a must-have, the
highlights the screening matched to it; otherwise those sharing its skills or words), each gap is a missing skill
of the screening or a requirement no highlight shows, and a topic the posting says nothing about is
named as unknown and turned into a question for the interviewer, never guessed.
"""

from __future__ import annotations

import asyncio

from jobland.agents.cv_writer import (
    content_words,
    one_line,
    posting_skills,
    profile_skills,
    rank_highlights,
    skill_keys,
)
from jobland.domain.models import (
    ApplicationPackage,
    CompanyDossier,
    Highlight,
    InterviewPrep,
    InterviewQuestion,
    JobPosting,
    JobScreeningOutput,
    PrepEvidence,
    PrepGap,
    Profile,
    QuestionToAsk,
)
from jobland.domain.posting_facts import Requirement
from jobland.domain.posting_reader import facts_of
from jobland.domain.repository import Records
from jobland.domain.skills import canonical_skill, extract_skills

MAX_QUESTIONS = 12
EVIDENCE_PER_QUESTION = 2
# Without a shared skill, a highlight must share this many content words with a requirement to count as evidence.
MIN_SHARED_WORDS = 2
# A shared skill says more than a shared word (as in cv_writer's ranking).
SKILL_WEIGHT = 10

_QUESTION_FORMS = {
    "qualification": 'The posting asks for "{}". What in your experience shows it?',
    "responsibility": 'The role involves "{}". Tell me about a time you did this: what was your part, and the result?',
    "skill": "How have you used {} in your work?",
    "dossier": 'Why do you want to work at {company}? (The posting says: "{}")',
}
# Per dossier topic: what an unknown topic leaves open, and what to ask about a known fact.
_UNKNOWN_TOPICS = {
    "mission": "what the company is for: ask what problem it exists to solve and how this role moves that forward.",
    "products": "what the company sells or who uses it: ask who the customers are and what the team builds next.",
    "culture": (
        "how the team is organised or works together: ask how big the team is, who you would report to, "
        "and how work is planned and reviewed."
    ),
    "recent_news": "anything recent about the company: ask what changed in the last year and what the next milestone is.",
}
_FACT_FOLLOW_UPS = {
    "mission": "ask how this role contributes to it.",
    "products": "ask which part of it this role works on and what comes next.",
    "culture": "ask what that looks like in a normal week.",
    "recent_news": "ask what it means for this team.",
}


def _requirements(posting: JobPosting) -> list[tuple[str, str]]:
    """(source, text): the qualifications, the responsibilities, then the required skills no listed item names."""
    listed = [("qualification", one_line(q)) for q in posting.qualifications]
    listed += [("responsibility", one_line(r)) for r in posting.responsibilities]
    listed = list(dict.fromkeys((source, text) for source, text in listed if text))
    # A skill the posting reader found in a listed item already has its question.
    items = [text for _, text in listed]
    named = {s for r in facts_of(posting).requirements if any(r.text in text for text in items) for s in r.any_of}
    listed += [("skill", skill) for skill in posting_skills(posting) if skill not in named]
    return listed[:MAX_QUESTIONS]


def screened_evidence(posting: JobPosting, screening: JobScreeningOutput) -> list[tuple[Requirement, list[str]]]:
    """Each must-have of the posting with the highlight ids the screening matched to it."""
    matched = {e.requirement: e.highlight_ids for e in screening.evidence}
    return [(r, matched[r.label]) for r in facts_of(posting).must_haves if matched.get(r.label)]


def _matched_evidence(
    text: str, matched: list[tuple[Requirement, list[str]]], ranked: list[tuple[str, Highlight]]
) -> list[PrepEvidence]:
    """The highlights the screening matched to the must-haves a requirement text states, in the posting's ranking."""
    ids = {i for r, found in matched if r.text in text or text in r.any_of for i in found}
    shown = [PrepEvidence(highlight_id=h.id, text=h.text, owner=owner) for owner, h in ranked if h.id in ids]
    return shown[:EVIDENCE_PER_QUESTION]


def best_evidence(requirement: str, ranked: list[tuple[str, Highlight]]) -> list[PrepEvidence]:
    """The highlights that show a requirement, by shared skills then shared words; ties keep the posting's ranking."""
    wanted_skills, wanted_words = set(extract_skills(requirement)), content_words(requirement)
    scored = []
    for order, (owner, highlight) in enumerate(ranked):
        shared_skills = len(wanted_skills & set(extract_skills(highlight.text)))
        shared_words = len(wanted_words & content_words(highlight.text))
        if shared_skills or shared_words >= MIN_SHARED_WORDS:
            scored.append((-(SKILL_WEIGHT * shared_skills + shared_words), order, owner, highlight))
    scored.sort(key=lambda item: item[:2])
    return [
        PrepEvidence(highlight_id=h.id, text=h.text, owner=owner) for _, _, owner, h in scored[:EVIDENCE_PER_QUESTION]
    ]


def _motivation_question(
    company: str, dossier: CompanyDossier, ranked: list[tuple[str, Highlight]]
) -> list[InterviewQuestion]:
    fact = next(iter(dossier.mission or dossier.products), None)
    if fact is None:
        return []
    text = one_line(fact.text)
    return [
        InterviewQuestion(
            question=_QUESTION_FORMS["dossier"].format(text, company=company),
            requirement=f"{text} (source: {fact.source})",
            source="dossier",
            evidence=best_evidence(text, ranked),
        )
    ]


def _gaps(profile: Profile, package: ApplicationPackage, questions: list[InterviewQuestion]) -> list[PrepGap]:
    missing = list(dict.fromkeys(package.screening.missing_skills))
    gaps = [
        PrepGap(
            topic=skill,
            kind="missing_skill",
            advice=f"The posting asks for {skill} and your CV does not show it: be ready to say what comes closest "
            "in your experience and how you would pick it up.",
        )
        for skill in missing
    ]
    missing_keys = {canonical_skill(s).lower() for s in missing}
    held = {key.lower() for name in profile_skills(profile) for key in skill_keys(name)}
    for question in questions:
        if question.evidence or question.source == "dossier":
            continue
        if question.source == "skill":
            if question.requirement.lower() in missing_keys:
                continue  # already a missing skill above
            if question.requirement.lower() in held:
                advice = (
                    f"Your CV lists {question.requirement} but no highlight shows it in use: prepare one true example."
                )
            else:
                advice = f"No highlight of your CV shows {question.requirement}: prepare an honest answer."
        else:
            advice = "No highlight of your CV shows this: prepare a true example, or say plainly where your experience stops."
        gaps.append(PrepGap(topic=question.requirement, kind="no_evidence", advice=advice))
    return gaps


def _questions_to_ask(posting: JobPosting, dossier: CompanyDossier) -> list[QuestionToAsk]:
    asks = []
    for topic in CompanyDossier.TOPICS:
        facts = getattr(dossier, topic)
        if facts:
            text = one_line(facts[0].text)
            asks.append(
                QuestionToAsk(question=f'The posting says "{text}": {_FACT_FOLLOW_UPS[topic]}', basis=facts[0].source)
            )
        else:
            asks.append(
                QuestionToAsk(question=f"The posting does not say {_UNKNOWN_TOPICS[topic]}", basis=f"unknown: {topic}")
            )
    if posting.baseSalary is None:
        asks.append(
            QuestionToAsk(question="The posting gives no salary range: ask for it.", basis="unknown: baseSalary")
        )
    if posting.workplace is None and posting.jobLocationType is None:
        asks.append(
            QuestionToAsk(
                question="The posting does not say whether the role is remote, hybrid or on-site: ask.",
                basis="unknown: workplace",
            )
        )
    return asks


def prepare_interview(profile: Profile, posting: JobPosting, package: ApplicationPackage) -> InterviewPrep:
    """The prep sheet for one package; a pure function of the profile, the posting and the package."""
    ranked = rank_highlights(profile, posting)
    matched = screened_evidence(posting, package.screening)
    dossier = package.dossier or CompanyDossier(company=posting.company)
    questions = [
        InterviewQuestion(
            question=_QUESTION_FORMS[source].format(text),
            requirement=text,
            source=source,
            evidence=_matched_evidence(text, matched, ranked) or best_evidence(text, ranked),
        )
        for source, text in _requirements(posting)
    ]
    questions += _motivation_question(package.company, dossier, ranked)
    return InterviewPrep(
        company=package.company,
        title=package.title,
        questions=questions,
        gaps=_gaps(profile, package, questions),
        questions_to_ask=_questions_to_ask(posting, dossier),
    )


async def with_interview_prep(records: Records, package: ApplicationPackage) -> ApplicationPackage:
    """The package with its prep sheet, from the profile and posting it was built for."""
    profile, posting = await asyncio.gather(records.profile(package.profile_id), records.posting(package.posting_id))
    return package.model_copy(update={"interview_prep": prepare_interview(profile, posting, package)})
