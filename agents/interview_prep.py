"""Interview preparation for an approved package: likely questions, best evidence, gaps, questions to ask.

Deterministic and extractive, and built on the screening's requirement-level evidence (nothing here
matches a posting to a CV again): one question per must-have the posting reader found, answered by the
highlights the screening matched to it, each offered as a STAR prompt; questions on the posting's duties
that name a must-have; the gaps are exactly the must-haves the screening found missing (and the ones the
CV only lists, with no highlight showing them); and what the posting leaves out (pay, workplace, working
language, the topics the dossier found nothing on) becomes a question for the interviewer, never a guess.
"""

from __future__ import annotations

import asyncio
import re

from jobland.agents.cv_writer import one_line, rank_highlights
from jobland.domain.models import (
    ApplicationPackage,
    CompanyDossier,
    Highlight,
    InterviewPrep,
    InterviewQuestion,
    JobPosting,
    PrepEvidence,
    PrepGap,
    Profile,
    QuestionToAsk,
    RequirementEvidence,
)
from jobland.domain.posting_facts import PostingFacts, Requirement
from jobland.domain.posting_reader import facts_of
from jobland.domain.repository import Records
from jobland.domain.skills import names_any

MAX_QUESTIONS = 12
MAX_DUTY_QUESTIONS = 4
EVIDENCE_PER_QUESTION = 2
_NUMBER = re.compile(r"\d")

_MUST_HAVE = "The posting asks for {labels}{quoted}. Tell me about a time your work depended on it."
_MUST_HAVE_UNSHOWN = "The posting asks for {labels}{quoted}. How have you used it, and how well do you know it?"
_DUTY = 'The role involves "{}". Tell me about a time you did this: what was your part, and the result?'
_MOTIVATION = 'Why do you want to work at {company}? (The posting says: "{fact}")'
# Per dossier topic: what an unknown one leaves open (asked of the interviewer), and a follow-up on a known fact.
_UNKNOWN_TOPICS = {
    "business": "what the company does and how it earns money: ask what problem it solves and for whom.",
    "products": "what the team builds: ask which product this role works on and what comes next for it.",
    "team": "how the team is organised: ask how big it is, who you would report to, and how work is planned.",
    "stage": "how far along the company is: ask how it is funded or owned and where it wants to be in two years.",
    "recent_news": "anything recent about the company: ask what changed in the last year and what the next milestone is.",
}
_FACT_FOLLOW_UPS = {
    "business": "ask how this role moves that forward.",
    "products": "ask which part of it this role works on and what comes next.",
    "team": "ask what that looks like in a normal week.",
    "mission": "ask how this role contributes to it.",
}
# Topics whose facts say what the company is for: the motivation question quotes the first one found.
_MOTIVATION_TOPICS = ("mission", "business", "products")


def _evidence_by_requirement(package: ApplicationPackage) -> dict[str, RequirementEvidence]:
    return {e.requirement: e for e in package.screening.evidence}


def star_prompt(highlight: Highlight, owner: str) -> str:
    """The STAR outline of an answer built on one highlight: the person fills in what the line leaves out."""
    where = f" at {owner}" if owner else ""
    result = (
        "Result: the numbers in the line, and what they changed for the business."
        if _NUMBER.search(highlight.text)
        else "Result: what changed because of it (a number if you have one)."
    )
    return (
        f"Situation: what needed doing{where}, and why it mattered. Task: your part in it. "
        f"Action: the steps this line sums up, in your own words. {result}"
    )


def _by_rank(ids: list[str], ranked: list[tuple[str, Highlight]]) -> list[str]:
    """Highlight ids in the CV writer's order for the posting (most worth first)."""
    order = {h.id: index for index, (_, h) in enumerate(ranked)}
    return sorted((i for i in dict.fromkeys(ids) if i in order), key=order.__getitem__)


def _prep_evidence(
    ids: list[str], ranked: list[tuple[str, Highlight]], limit: int = EVIDENCE_PER_QUESTION
) -> list[PrepEvidence]:
    """The first `limit` of the matched highlights (in the order given), each with its STAR prompt."""
    by_id = {h.id: (owner, h) for owner, h in ranked}
    picked = [by_id[i] for i in dict.fromkeys(ids) if i in by_id][:limit]
    return [
        PrepEvidence(highlight_id=h.id, text=h.text, owner=owner, star=star_prompt(h, owner)) for owner, h in picked
    ]


def _labels(requirements: list[Requirement]) -> str:
    labels = [r.label for r in requirements]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def _must_have_questions(
    posting: JobPosting,
    facts: PostingFacts,
    matched: dict[str, RequirementEvidence],
    ranked: list[tuple[str, Highlight]],
) -> list[InterviewQuestion]:
    """One question per requirement line of the posting, naming each must-have it states, answered by the
    highlights the screening matched to them (as many of its must-haves shown as possible)."""
    lines: dict[str, list[Requirement]] = {}
    for requirement in facts.must_haves:
        lines.setdefault(one_line(requirement.text), []).append(requirement)
    questions = []
    for text, requirements in lines.items():
        per_requirement = [_by_rank(matched[r.label].highlight_ids, ranked) for r in requirements if r.label in matched]
        # The best highlight of each must-have, then the others: between them they show the most.
        ids = [i for found in per_requirement for i in found[:1]] + [i for found in per_requirement for i in found]
        evidence = _prep_evidence(ids, ranked, limit=max(EVIDENCE_PER_QUESTION, len(requirements)))
        shown = [r for r in requirements if r.label in matched and matched[r.label].highlight_ids]
        asks = _labels(requirements)
        quoted = "" if text.casefold() in (one_line(posting.title).casefold(), asks.casefold()) else f' ("{text}")'
        if shown:
            question = _MUST_HAVE.format(labels=asks, quoted=quoted)
        else:
            question = _MUST_HAVE_UNSHOWN.format(labels=asks, quoted=quoted)
        questions.append(
            InterviewQuestion(question=question, requirement=text, source="qualification", evidence=evidence)
        )
    return questions


def _named_must_haves(duty: str, must_haves: list[Requirement]) -> list[Requirement]:
    return [r for r in must_haves if names_any(duty, r.any_of)]


def _duty_questions(
    posting: JobPosting,
    facts: PostingFacts,
    matched: dict[str, RequirementEvidence],
    ranked: list[tuple[str, Highlight]],
) -> list[InterviewQuestion]:
    """The duties that name a must-have the CV shows, answered by that must-have's evidence."""
    duties = [one_line(d) for d in posting.responsibilities or facts.sections.get("responsibilities", [])]
    questions = []
    for duty in dict.fromkeys(d for d in duties if d):
        ids = [
            i
            for r in _named_must_haves(duty, facts.must_haves)
            if r.label in matched
            for i in matched[r.label].highlight_ids
        ]
        if evidence := _prep_evidence(_by_rank(ids, ranked), ranked):
            questions.append(
                InterviewQuestion(
                    question=_DUTY.format(duty), requirement=duty, source="responsibility", evidence=evidence
                )
            )
    return questions[:MAX_DUTY_QUESTIONS]


def _motivation_question(company: str, dossier: CompanyDossier) -> list[InterviewQuestion]:
    fact = next((f for topic in _MOTIVATION_TOPICS for f in getattr(dossier, topic, [])), None)
    if fact is None:
        return []
    text = one_line(fact.text)
    return [
        InterviewQuestion(
            question=_MOTIVATION.format(company=company, fact=text),
            requirement=f"{text} (source: {fact.source})",
            source="dossier",
        )
    ]


def _gaps(facts: PostingFacts, package: ApplicationPackage) -> list[PrepGap]:
    """The screening's missing must-haves, then the must-haves the CV only lists (no highlight shows them)."""
    gaps = [
        PrepGap(
            topic=label,
            kind="missing_skill",
            advice=f"The posting asks for {label} and your CV does not show it: be ready to say what comes closest "
            "in your experience and how you would pick it up.",
        )
        for label in dict.fromkeys(package.screening.missing_skills)
    ]
    listed_only = [e.requirement for e in package.screening.evidence if not e.highlight_ids]
    gaps += [
        PrepGap(
            topic=label,
            kind="no_evidence",
            advice=f"Your CV lists {label} but no line of your experience shows it in use: prepare one true example.",
        )
        for label in dict.fromkeys(listed_only)
        if label in {r.label for r in facts.must_haves}
    ]
    return gaps


def _questions_to_ask(posting: JobPosting, facts: PostingFacts, dossier: CompanyDossier) -> list[QuestionToAsk]:
    """What the posting leaves out, asked of the interviewer; and a follow-up on what it says about the company."""
    asks: list[QuestionToAsk] = []
    if posting.baseSalary is None:
        asks.append(
            QuestionToAsk(question="The posting gives no salary range: ask for it.", basis="unknown: baseSalary")
        )
    if facts.workplace is None and posting.workplace is None and posting.jobLocationType is None:
        asks.append(
            QuestionToAsk(
                question="The posting does not say whether the role is remote, hybrid or on-site: ask.",
                basis="unknown: workplace",
            )
        )
    if not facts.languages and not posting.languages:
        asks.append(
            QuestionToAsk(
                question="The posting names no working language: ask which language the team works and writes in.",
                basis="unknown: languages",
            )
        )
    for topic in dict.fromkeys([*_UNKNOWN_TOPICS, *_FACT_FOLLOW_UPS]):
        known = getattr(dossier, topic, [])
        if known and topic in _FACT_FOLLOW_UPS:
            text = one_line(known[0].text)
            question = f'The posting says "{text}": {_FACT_FOLLOW_UPS[topic]}'
            asks.append(QuestionToAsk(question=question, basis=known[0].source))
        elif not known and topic in _UNKNOWN_TOPICS:
            asks.append(
                QuestionToAsk(question=f"The posting does not say {_UNKNOWN_TOPICS[topic]}", basis=f"unknown: {topic}")
            )
    return asks


def prepare_interview(profile: Profile, posting: JobPosting, package: ApplicationPackage) -> InterviewPrep:
    """The prep sheet for one package; a pure function of the profile, the posting and the package's screening."""
    facts = facts_of(posting)
    matched = _evidence_by_requirement(package)
    ranked = rank_highlights(profile, posting, package.screening.evidence)
    dossier = package.dossier or CompanyDossier(company=posting.company)
    questions = _must_have_questions(posting, facts, matched, ranked) + _duty_questions(posting, facts, matched, ranked)
    questions = questions[:MAX_QUESTIONS] + _motivation_question(package.company, dossier)
    return InterviewPrep(
        company=package.company,
        title=package.title,
        questions=questions,
        gaps=_gaps(facts, package),
        questions_to_ask=_questions_to_ask(posting, facts, dossier),
    )


async def with_interview_prep(records: Records, package: ApplicationPackage) -> ApplicationPackage:
    """The package with its prep sheet, from the profile and posting it was built for."""
    profile, posting = await asyncio.gather(records.profile(package.profile_id), records.posting(package.posting_id))
    return package.model_copy(update={"interview_prep": prepare_interview(profile, posting, package)})
