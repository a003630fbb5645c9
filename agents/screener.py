"""screen_job: the ruthless screener. Rules first, the embedding model only when the rules allow.

Every verdict is deterministic and explained by things a person can check in the two texts. The facts
come from one reader each: the posting's from domain.posting_reader (stored on the posting by its
source), the person's from domain.person, the search's from domain.search_reader.

Score (0-100) = round(100 * (0.30 * semantic + 0.35 * coverage + 0.20 * role + 0.15 * seniority))
- semantic: cosine between the profile digest and the posting digest (MiniLM), mapped linearly
  from [0.25, 0.75] to [0, 1] and clipped (measured: another field 0.2-0.3, same field with other
  skills 0.2-0.4, a good match 0.7-0.85).
- coverage: share of the posting's must-haves the CV shows. A must-have is a group met by any one of
  its skills ("Snowflake, BigQuery or Redshift"); a generic term ("workflow orchestration") is met by the
  concrete skills it stands for (domain.skills.SATISFIED_BY). Evidence is the skills list or a highlight
  naming it (kept as requirement -> highlight ids); missing_skills are exactly the must-haves without.
  Nice-to-haves (and skills the duties name) only add, up to 0.1. 0.5 when the posting names no skill.
- role: role family of the posting title (domain.roles: data engineering, backend, platform/SRE, data
  science, ML, frontend, mobile, ... and non-software fields) vs the families the search asks for, else
  the person's own (label and latest position). Same family 0.75, plus up to 0.25 for the title's
  specialist words found in the profile; neighbouring family 0.6; another software family 0.3; family
  unknown 0.5; another field 0.
- seniority: posting level (title, explicit level, else the years asked, which are a floor) vs the
  profile's (preferences.seniority when given; else the latest title, or the years of experience).
  Same level 1, one level apart or unstated 0.7, two 0.3, more 0.

Caps: a posting in another field scores at most 40; any deal-breaker caps the score at 30.

Deal-breakers (hard constraints from profile.preferences and the search; the search's salary floor,
places and "remote"/"on-site only" take the place of the profile's): an onsite or hybrid role in a
place outside the person's places (the gazetteer decides: districts, spellings, countries); remote
work restricted to where the person does not live ("remote (US only)"); a remote role for an onsite-only
person and the reverse; relocation required to a place they do not search in; the right to work
somewhere they may not; a security clearance their CV does not show; a required language they do not
speak at the level asked (CEFR); a yearly salary whose top is below the floor; a deal-breaker phrase
in the posting (whole words, any case); a posting past its validThrough date; a posting in another
field that shares no must-have with the profile.

Probability: Low on any deal-breaker. High only when the score reaches high_threshold AND at least
60% of the must-haves are covered AND the role family is one the person wants AND nothing holds it
back: the title's core skill missing ("Backend Engineer (Go)"), a seniority outside preferences.seniority,
or (without that preference) two levels off or below the profile's (a step up is fine); a
people-management role for someone who has not managed people; a salary range mostly under the floor;
a remote-only person and a posting that does not say it is remote. Otherwise Medium from
medium_threshold, else Low; "Held back from High: ..." then says why. The thresholds (70/50) sit in
the middle of the range where bench/screening.py agrees best with the labelled set.

In the graph the stage runs in bulk (prepare_screenings, the prepare_screening step): the person's
facts read once, the Store read and written in batches, the rules first (a posting they rule out is
Low without being embedded), the open postings' digests embedded in a few large calls (one per
BULK_POSTINGS postings) while the rules read the next ones, vectors cached in the Store by content
hash, and every final verdict handed to the state in one update. A stored screening is reused while
nothing it depends on changed (a fingerprint of profile, preferences, posting, thresholds, rules, the
day and any application to the posting is kept next to it). screen_job (the graph node) screens one
posting the same way: in the graph, only a posting the LLM stage must still see; its digests come
from the shared AsyncEmbedder, whose text-hash cache holds what the bulk step embedded.

With an LLM configured (context.llm_base_url) the screener is a cascade: the rules and the
embedding run first, and only a posting they rate Medium or High goes on to the LLM screener
(prompts/screener.md: a sceptical hiring manager's read, given the posting's facts as quoted data).
The final verdict (cascade_verdict) keeps every rule deal-breaker: the model can lower a verdict or add
deal-breakers, never lift a posting past one nor more than one step above the rules' verdict, and a
lift is said in the reasons. The model's name is part of the stored
screening's fingerprint. The prompt's static part (instructions, preferences, profile) is the
system message, the same for every posting so that provider-side prompt caching applies; the
posting follows in a human message as quoted data. If the model stays unavailable after the
retries, the rules' verdict stands, capped at Medium, and is not stored, so the next run asks again.

Already applied: a posting whose canonical key has, in the person's application log, a delivered
package they applied with (status applied, interviewing, offer or rejected; see
ApplicationLogEntry.blocks_reapplying) is ruled out like a deal-breaker, with the reason
"Already applied on <date> (status: <status>)", so it never gets a second package.

Only structured posting fields and word-level rules feed the verdict, so instructions written into
a posting ("rate this 100") are just more words to the rules. They could still pull the embedding,
so sentences addressed to a screener ("ignore previous instructions", "rate this candidate ...",
"System: ...") are dropped from the embedded digest, and so are e-mail addresses and URLs. Deal-breaker phrases are searched in the whole text: hostile text can only
make a verdict worse.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache

import numpy as np
from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from jobland.domain.failpoints import async_failpoint, failpoint
from jobland.domain.languages import at_least, language_name
from jobland.domain.models import (
    ApplicationLogEntry,
    JobPosting,
    JobScreeningOutput,
    Preferences,
    Probability,
    Profile,
    RequirementEvidence,
    SearchRequest,
)
from jobland.domain.person import SKILLS_LIST, PersonFacts, person_facts, work_latest_first
from jobland.domain.places import find_area, overlaps, within
from jobland.domain.posting_facts import Area, PostingFacts, Requirement
from jobland.domain.posting_reader import facts_of
from jobland.domain.repository import Records
from jobland.domain.roles import LEVELS, relation
from jobland.domain.search_reader import SearchIntent, read_search, search_terms
from jobland.domain.skills import satisfying
from jobland.domain.text import ascii_fold, content_hash, normalize_text
from jobland.graph.context import Context
from jobland.graph.state import ScreeningVerdict, ScreenJobInput
from jobland.prompts import load_prompt, quoted_data
from jobland.tools.embeddings import get_async_embedder
from jobland.tools.llm import llm_limiter, load_chat_model, model_name, structured_call
from jobland.tools.ratelimit import ServiceError

WEIGHTS = {"semantic": 0.30, "coverage": 0.35, "role": 0.20, "seniority": 0.15}
SIMILARITY_FLOOR, SIMILARITY_CEILING = 0.25, 0.75
SOLID_COVERAGE = 0.6
NICE_BONUS = 0.1
OTHER_FIELD_CAP = 40
DEAL_BREAKER_CAP = 30
# Bumped whenever the rules change, so that stored screenings made by older rules are redone.
RULES_VERSION = "2"
SCREENING_INPUTS_NS = "screening_inputs"

# Words of a title that say nothing about its specialism.
_GENERIC_TITLE_WORDS = {
    "engineer",
    "engineering",
    "developer",
    "software",
    "and",
    "or",
    "the",
    "of",
    "for",
    "with",
    "in",
    "m",
    "f",
    "d",
    "w",
    "x",
    "all",
    "genders",
    "remote",
    "hybrid",
    "onsite",
    "full",
    "time",
    "part",
    "contract",
    "permanent",
    "intern",
    "internship",
    "trainee",
    "working",
    "student",
    "junior",
    "jr",
    "graduate",
    "entry",
    "level",
    "associate",
    "mid",
    "intermediate",
    "senior",
    "sr",
    "lead",
    "staff",
    "tech",
    "team",
    "manager",
    "principal",
    "head",
    "director",
    "vp",
    "chief",
}
_EMAIL_OR_URL = re.compile(r"\S+@\S+\.\w+|https?://\S+|www\.\S+", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_TO_THE_SCREENER = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b.{0,30}\b(?:instructions?|prompts?|rules|guidelines)\b"
    r"|\b(?:rate|score|rank|grade|mark|classify)\s+(?:this|the|me|my|our)\s+"
    r"(?:candidate|applicant|posting|job|role|cv|resume|application|profile)\b"
    r"|^\W*(?:system|assistant)\s*:"
    r"|\byou are now\b|\b(?:new|updated|hidden) instructions\b|\b(?:as an? (?:ai|language model|llm))\b",
    re.IGNORECASE,
)


class ScreeningError(ValueError):
    """The screener was asked something it cannot answer."""


# --------------------------------------------------------------------------- text helpers


@lru_cache(maxsize=1024)  # the CV's text is folded once, not once per posting
def _comparable(text: str) -> str:
    """Lower case, accents removed, spaces collapsed: the form every comparison here uses."""
    # Plain ASCII has nothing for normalize_text to change that folding does not.
    return ascii_fold(text if text.isascii() else normalize_text(text))


@lru_cache(maxsize=4096)
def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    """A whole-word, case-insensitive pattern; inner spaces match any run of whitespace."""
    words = [re.escape(w) for w in _comparable(phrase).split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)")


def _find_phrase(folded: str, phrase: str) -> re.Match[str] | None:
    """The phrase's first whole-word match in a folded text. Its words are looked for as plain
    substrings first: most are absent, and a pattern that starts with a look-behind scans every position."""
    words = _comparable(phrase).split()
    if not words or any(word not in folded for word in words):
        return None
    return _phrase_pattern(phrase).search(folded)


def _has_phrase(text: str, phrase: str) -> bool:
    return _find_phrase(_comparable(text), phrase) is not None


def without_instructions(text: str) -> str:
    """The text without sentences addressed to a screener, and without e-mail addresses or links."""
    kept = [s for s in _SENTENCE_END.split(text) if not _TO_THE_SCREENER.search(s)]
    return _EMAIL_OR_URL.sub(" ", "\n".join(kept))


def _listing(items: Iterable[str], limit: int = 6) -> str:
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _posting_text(posting: JobPosting) -> str:
    """The posting's own words (the company name is left out: "Snowflake" is not a skill there)."""
    parts = [
        posting.title,
        posting.description,
        *posting.responsibilities,
        *posting.qualifications,
        posting.experienceRequirements or "",
        ", ".join(posting.skills),
    ]
    return "\n".join(p for p in parts if p)


# --------------------------------------------------------------------------- embedding digests


def profile_digest(profile: Profile) -> str:
    """What the embedder reads of a profile: who the person is first, since the text is truncated."""
    positions = [w.position for w in work_latest_first(profile) if w.position]
    highlights = [h.text for _, h in profile.all_highlights()]
    parts = [
        profile.basics.label or "",
        ", ".join(dict.fromkeys(positions[:3])),
        "Skills: " + ", ".join(profile.skill_names()[:25]) if profile.skills else "",
        profile.basics.summary or "",
        *highlights[:6],
    ]
    return normalize_text(". ".join(p.strip().rstrip(".") for p in parts if p.strip()))


def posting_digest(posting: JobPosting) -> str:
    """What the embedder reads of a posting: title, requirements, duties; benefits and boilerplate left out."""
    facts = facts_of(posting)
    must = ", ".join(r.label for r in facts.must_haves)
    parts = [
        posting.title,
        "Requires: " + must if must else "",
        " ".join(posting.qualifications or facts.sections.get("requirements", [])),
        " ".join(posting.responsibilities or facts.sections.get("responsibilities", [])),
        without_instructions(" ".join(facts.sections.get("other", [])))[:1000],
    ]
    cleaned = (re.sub(r"\s+", " ", without_instructions(p)).strip().rstrip(".") for p in parts)
    return normalize_text(". ".join(p for p in cleaned if p))


# --------------------------------------------------------------------------- requirements and evidence


def required_skills(posting: JobPosting) -> list[str]:
    """The posting's must-haves, one label each ("Snowflake, BigQuery or Redshift" is one)."""
    return [r.label for r in facts_of(posting).must_haves]


def _evidence_for(person: PersonFacts, requirement: Requirement) -> list[str] | None:
    """What in the CV shows a requirement (highlight ids, or "skills"), None when nothing does."""
    shown: list[str] = []
    for wanted in requirement.any_of:
        meets = [skill for skill in satisfying(wanted) if skill in person.evidence]
        if len(meets) > 1:
            meets.sort(key=list(person.evidence).index)  # in the CV's order, whatever the set's
        for skill in meets:
            shown += person.evidence[skill]
        if not shown and wanted not in person.evidence and _has_phrase(person.text, wanted):
            shown.append("profile")  # a skill outside the vocabulary, in the CV's own words
    return list(dict.fromkeys(shown)) or None


@dataclass(frozen=True)
class Coverage:
    covered: list[str]
    missing: list[str]
    missing_core: list[str]
    nice_covered: list[str]
    nice_total: int
    evidence: list[RequirementEvidence]

    @property
    def total(self) -> int:
        return len(self.covered) + len(self.missing)

    @property
    def share(self) -> float:
        return len(self.covered) / self.total if self.total else 0.5

    @property
    def score(self) -> float:
        """Must-haves decide; nice-to-haves only add."""
        bonus = NICE_BONUS * len(self.nice_covered) / self.nice_total if self.nice_total and self.total else 0.0
        return min(1.0, self.share + bonus)


def _coverage(person: PersonFacts, facts: PostingFacts) -> Coverage:
    covered, missing, missing_core, evidence = [], [], [], []
    for requirement in facts.must_haves:
        shown = _evidence_for(person, requirement)
        if shown is None:
            missing.append(requirement.label)
            if requirement.core:
                missing_core.append(requirement.label)
        else:
            covered.append(requirement.label)
            ids = [i for i in shown if i not in (SKILLS_LIST, "profile")]
            evidence.append(RequirementEvidence(requirement=requirement.label, highlight_ids=ids))
    nice = [r.label for r in facts.nice_to_haves if _evidence_for(person, r) is not None]
    return Coverage(covered, missing, missing_core, nice, len(facts.nice_to_haves), evidence)


def requirement_evidence(profile: Profile, posting: JobPosting, now: date | None = None) -> list[RequirementEvidence]:
    """Each must-have the CV shows, with the highlights that show it: what a screening keeps as its evidence."""
    person = person_facts(profile, now or datetime.now(UTC).date())
    return _coverage(person, facts_of(posting)).evidence


# --------------------------------------------------------------------------- role family


@lru_cache(maxsize=4096)  # the profile's titles and skills are the same for every posting
def _specialist_words(title: str) -> tuple[str, ...]:
    words = re.findall(r"[a-z0-9+#]+", _comparable(title).replace("-", ""))
    return tuple(dict.fromkeys(w for w in words if w not in _GENERIC_TITLE_WORDS and len(w) > 1))


@dataclass(frozen=True)
class RoleFit:
    score: float
    same_family: bool
    other_field: bool
    reason: str
    hold: str | None = None


def _role_fit(profile: Profile, person: PersonFacts, facts: PostingFacts, title: str, search: SearchIntent) -> RoleFit:
    # The search names the roles wanted; without one, the person's own are.
    targets = search.families or person.families
    own = _listing(targets)
    family = facts.family
    kind = relation(family, targets)
    if kind == "unknown":
        unknown = f"the title '{title}'" if family is None else "your titles"
        return RoleFit(0.5, False, False, f"Role family unclear from {unknown}")
    if kind == "same":
        words = _specialist_words(title)
        own_words = set(_specialist_words(" ".join(person.titles))) | {
            w for s in profile.skill_names() for w in _specialist_words(s)
        }
        shared = [w for w in words if w in own_words]
        score = 0.75 + 0.25 * (len(shared) / len(words) if words else 1.0)
        asked = "what you search for" if search.families else f"like your '{person.titles[0]}'" if person.titles else ""
        reason = f"Role fits: '{title}' is {family}, {asked}".rstrip(", ")
        if facts.people_management and not person.manages_people:
            # Moving from building to managing is a change of job, not a better match.
            return RoleFit(score, True, False, reason, "it is a people-management role and your titles are not")
        return RoleFit(score, True, False, reason)
    if kind == "neighbour":
        return RoleFit(0.6, False, False, f"Neighbouring role: '{title}' is {family}; you work in {own}")
    if kind == "software":
        return RoleFit(0.3, False, False, f"Another kind of engineering: '{title}' is {family}; you work in {own}")
    return RoleFit(0.0, False, True, f"Different field: '{title}' is in {family}; you work in {own}")


# --------------------------------------------------------------------------- seniority


@dataclass(frozen=True)
class SeniorityFit:
    score: float
    reason: str
    hold: str | None = None


_GAP_FIT = {0: 1.0, 1: 0.7, 2: 0.3}  # by levels between the posting and the person


def _seniority_fit(prefs: Preferences, person: PersonFacts, facts: PostingFacts) -> SeniorityFit:
    asked = facts.seniority
    accepted = prefs.seniority
    if accepted:
        wanted = ", ".join(accepted)
        if asked is None:
            return SeniorityFit(0.7, f"Posting states no seniority; your preferences accept {wanted}")
        if asked in accepted:
            return SeniorityFit(1.0, f"Seniority fits: posting asks {asked}; your preferences accept {wanted}")
        gap = min(abs(LEVELS.index(asked) - LEVELS.index(level)) for level in accepted)
        return SeniorityFit(
            _GAP_FIT.get(gap, 0.0),
            f"Seniority outside your preferences: posting asks {asked}; you accept {wanted}",
            hold=f"the posting asks {asked}, which your preferences do not accept",
        )
    level, evidence = person.level, person.level_evidence
    if level is None:
        return SeniorityFit(
            0.7, f"Posting asks {asked or 'no particular level'}; your seniority is not clear from the CV"
        )
    if asked is None:
        return SeniorityFit(0.7, f"Posting states no seniority; profile is {level} ({evidence})")
    gap = abs(LEVELS.index(asked) - LEVELS.index(level))
    if facts.seniority_from_years and LEVELS.index(asked) < LEVELS.index(level):
        # "3+ years" is a floor, not a level: more experience than asked is no step down.
        return SeniorityFit(
            1.0, f"Experience fits: posting asks {facts.years:g}+ years; profile is {level} ({evidence})"
        )
    if gap == 0:
        return SeniorityFit(1.0, f"Seniority fits: posting asks {asked}; profile is {level} ({evidence})")
    reason = (
        f"Seniority {'one level off' if gap == 1 else 'far off'}: posting asks {asked}; profile is {level} ({evidence})"
    )
    below = LEVELS.index(asked) < LEVELS.index(level)
    # A step up is a stretch worth taking; a step down rarely is.
    hold = (
        f"the posting asks {asked}, below your {level} level"
        if below
        else "the seniority is far off"
        if gap > 1
        else None
    )
    return SeniorityFit(_GAP_FIT.get(gap, 0.0), reason, hold=hold)


# --------------------------------------------------------------------------- hard constraints


@dataclass
class Constraint:
    """What one hard-constraint rule found: plain reasons, deal-breakers, and why it is not High."""

    reasons: list[str] = field(default_factory=list)
    deal_breakers: list[str] = field(default_factory=list)
    holds: list[str] = field(default_factory=list)


def _wanted_places(prefs: Preferences) -> list[Area]:
    return [a for loc in prefs.locations if _comparable(loc) != "remote" and (a := find_area(loc))]


def _lies_in(places: list[Area], areas: list[Area]) -> bool:
    return any(within(p, a) or within(a, p) and p.kind != "city" for p in places for a in areas)


def _names(areas: list[Area]) -> str:
    return _listing([a.name for a in areas])


def _location_findings(
    prefs: Preferences, person: PersonFacts, facts: PostingFacts, posting: JobPosting, search: SearchIntent
) -> Constraint:
    found = Constraint()
    where = (
        ", ".join(p.label() for p in posting.jobLocation if p.label()) or _names(facts.places) or "an unstated place"
    )
    wanted = _wanted_places(prefs)
    living = [person.home] if person.home else wanted
    if facts.relocation_to and not _lies_in(facts.relocation_to, [*wanted, *living]):
        found.deal_breakers.append(
            f"Relocation to {_names(facts.relocation_to)} is required; you search in {_listing(prefs.locations) or 'your home area'}"
        )
    if facts.workplace == "remote" or facts.remote_allowed:
        if prefs.remote == "onsite_only":
            found.deal_breakers.append("Remote role; you accept onsite work only")
            return found
        if facts.remote_within and living and not _lies_in(living, facts.remote_within):
            found.deal_breakers.append(
                f"Remote only for people in {_names(facts.remote_within)}; you are in {_names(living)}"
            )
            return found
        if (
            facts.remote_within
            and search.remote_within
            and not any(overlaps(a, b) for a in facts.remote_within for b in search.remote_within)
        ):
            found.deal_breakers.append(
                f"Remote only within {_names(facts.remote_within)}; you search remote within {_names(search.remote_within)}"
            )
            return found
        found.reasons.append("Remote role; profile accepts remote")
        return found
    role = {"onsite": f"Onsite role in {where}", "hybrid": f"Hybrid role in {where}"}.get(
        facts.workplace or "", f"Role in {where}, not stated as remote"
    )
    if prefs.remote == "remote_only" or search.remote_only:
        if facts.workplace in ("onsite", "hybrid"):
            found.deal_breakers.append(f"{role}; you accept remote only")
            return found
        found.reasons.append(f"{role}; you accept remote only, so check before applying")
        found.holds.append("the posting does not say it is remote")
    if not prefs.locations:
        return found
    if not facts.places:
        found.reasons.append(f"Posting gives no location; your locations are {_listing(prefs.locations)}")
    elif _lies_in(facts.places, wanted):
        found.reasons.append(f"{role}, one of your locations")
    else:
        found.deal_breakers.append(f"{role}; your locations are {_listing(prefs.locations)}")
    return found


def _eligibility_findings(person: PersonFacts, facts: PostingFacts) -> Constraint:
    found = Constraint()
    if facts.work_permit_in:
        if person.authorised and any(overlaps(a, b) for a in person.authorised for b in facts.work_permit_in):
            found.reasons.append(f"Needs the right to work in {_names(facts.work_permit_in)}, which you have")
        else:
            have = _names(person.authorised) or "no place stated in your CV"
            found.deal_breakers.append(
                f"Needs the right to work in {_names(facts.work_permit_in)} (no sponsorship); you may work in {have}"
            )
    if facts.clearance and not person.clearance:
        found.deal_breakers.append(f'Requires a security clearance your CV does not show: "{facts.clearance}"')
    return found


def _money(value: float) -> str:
    return f"{value:,.0f}"


def _salary_findings(prefs: Preferences, posting: JobPosting) -> Constraint:
    salary = posting.baseSalary
    floor, floor_currency = prefs.salary_floor, prefs.salary_currency
    low, high = salary.yearly() if salary else (None, None)
    if salary is None or low is None and high is None:
        if floor is None:
            return Constraint()
        return Constraint([f"Posting gives no salary; your floor is {_money(floor)} {floor_currency or ''}".strip()])
    currency = salary.currency or floor_currency or ""
    amounts = list(dict.fromkeys(_money(v) for v in (low, high) if v is not None))
    stated = f"{'-'.join(amounts)} {currency}".strip()
    if salary.unitText != "YEAR":
        per_unit = "-".join(dict.fromkeys(_money(v) for v in (salary.minValue, salary.maxValue) if v is not None))
        stated += f" a year ({per_unit} per {salary.unitText.lower()})"
    if floor is None:
        return Constraint([f"Salary {stated}"])
    floor_text = f"{_money(floor)} {floor_currency or currency}".strip()
    if salary.currency and floor_currency and salary.currency.upper() != floor_currency.upper():
        return Constraint([f"Salary {stated} is in another currency than your floor of {floor_text}; not compared"])
    top = high if high is not None else low
    bottom = low if low is not None else high
    assert top is not None and bottom is not None
    if top < floor:
        return Constraint(deal_breakers=[f"Salary {stated} is below the floor of {floor_text}"])
    if bottom < floor:
        # A range that is mostly under the floor will most likely be settled under it.
        mostly_below = (top + bottom) / 2 < floor
        return Constraint(
            [f"Salary {stated} reaches your floor of {floor_text} only at the top"],
            holds=[f"most of the salary range is below your floor of {floor_text}"] if mostly_below else [],
        )
    return Constraint([f"Salary {stated} meets your floor of {floor_text}"])


def _language_findings(profile: Profile, person: PersonFacts, facts: PostingFacts) -> Constraint:
    needed = [n for n in facts.languages if n.required]
    if not needed:
        return Constraint()
    asked = _listing(n.text or n.name for n in needed)
    if not person.languages:
        return Constraint([f"Posting requires {asked}; your profile lists no languages"])
    spoken_names = [lang.language for lang in profile.languages] or [language_name(c) for c in person.languages]
    breakers = []
    for need in needed:
        if need.code not in person.languages:
            breakers.append(
                f"Requires {need.text or need.name}; profile speaks {_listing(dict.fromkeys(spoken_names))}"
            )
        elif not at_least(person.languages[need.code], need.level):
            level = person.languages[need.code] or "an unstated level"
            breakers.append(f"Requires {need.text or need.name}; you speak {need.name} at {level}")
    if breakers:
        return Constraint(deal_breakers=breakers)
    return Constraint([f"Languages fit: posting requires {asked}"])


def _phrase_findings(prefs: Preferences, posting: JobPosting) -> list[str]:
    text = _comparable(_posting_text(posting) + "\n" + posting.company)
    breakers = []
    for phrase in dict.fromkeys(p.strip() for p in prefs.deal_breakers if p.strip()):
        if match := _find_phrase(text, phrase):
            context = text[max(0, match.start() - 40) : match.end() + 40].strip()
            breakers.append(f"Mentions '{phrase}' (a deal-breaker in your preferences): \"...{context}...\"")
    return breakers


def _expiry_findings(posting: JobPosting, now: datetime) -> list[str]:
    closes = posting.validThrough
    if closes is None:
        return []
    if closes.tzinfo is None:
        closes = closes.replace(tzinfo=UTC)
    return [f"Applications closed on {closes.date().isoformat()}"] if closes < now else []


# --------------------------------------------------------------------------- assessment and verdict


@dataclass(frozen=True)
class RuleFindings:
    """Everything the rules alone say about a posting for a profile (no embedding needed)."""

    coverage_found: Coverage
    role: RoleFit
    seniority: SeniorityFit
    constraint_reasons: list[str]
    deal_breakers: list[str]
    holds: list[str]

    @property
    def required(self) -> list[str]:
        return [*self.coverage_found.covered, *self.coverage_found.missing]

    @property
    def covered(self) -> list[str]:
        return self.coverage_found.covered

    @property
    def missing(self) -> list[str]:
        return self.coverage_found.missing

    @property
    def coverage(self) -> float:
        return self.coverage_found.share


def assess(
    profile: Profile,
    posting: JobPosting,
    *,
    now: datetime | None = None,
    search: SearchIntent | None = None,
    person: PersonFacts | None = None,
) -> RuleFindings:
    """Apply every rule that does not need the model (`person`: the profile's facts, when already read)."""
    now = now or datetime.now(UTC)
    search = search or SearchIntent()
    prefs = profile.preferences
    facts = facts_of(posting)
    person = person or person_facts(profile, now.date())
    coverage = _coverage(person, facts)
    role = _role_fit(profile, person, facts, posting.title, search)
    seniority = _seniority_fit(prefs, person, facts)
    constraints = [
        _location_findings(prefs, person, facts, posting, search),
        _eligibility_findings(person, facts),
        _salary_findings(prefs, posting),
        _language_findings(profile, person, facts),
    ]
    breakers = [
        *_expiry_findings(posting, now),
        *(b for c in constraints for b in c.deal_breakers),
        *_phrase_findings(prefs, posting),
    ]
    if role.other_field and not coverage.covered:
        asked = f" ({_listing(coverage.missing)})" if coverage.missing else ""
        breakers.append(f"{role.reason}, and your profile has none of the skills it asks for{asked}")
    return RuleFindings(
        coverage_found=coverage,
        role=role,
        seniority=seniority,
        constraint_reasons=[r for c in constraints for r in c.reasons],
        deal_breakers=breakers,
        holds=[h for h in (role.hold, seniority.hold) if h] + [h for c in constraints for h in c.holds],
    )


def prefilter(
    profile: Profile, posting: JobPosting, *, now: datetime | None = None, search: SearchIntent | None = None
) -> list[str]:
    """Deal-breakers the rules find without the model; a posting with any is Low and never embedded."""
    return assess(profile, posting, now=now, search=search).deal_breakers


def _semantic(similarity: float) -> float:
    return float(np.clip((similarity - SIMILARITY_FLOOR) / (SIMILARITY_CEILING - SIMILARITY_FLOOR), 0.0, 1.0))


def _similarity_reason(similarity: float) -> str:
    strength = "strong" if similarity >= 0.6 else "moderate" if similarity >= 0.4 else "weak"
    return f"Text similarity between your profile and the posting: {similarity:.2f} ({strength})"


def _coverage_reasons(findings: RuleFindings) -> list[str]:
    found = findings.coverage_found
    if not found.total:
        return ["Posting names no skill we recognise; coverage cannot be checked"]
    reasons = [
        f"Covers {len(found.covered)} of {found.total} required skill{'s' if found.total > 1 else ''}"
        + (f": {_listing(found.covered)}" if found.covered else "")
    ]
    if found.missing:
        reasons.append(f"Missing: {_listing(found.missing, limit=8)}")
    if found.nice_covered:
        reasons.append(f"Also has nice-to-haves: {_listing(found.nice_covered)}")
    return reasons


def _held_back(findings: RuleFindings) -> list[str]:
    """Why a posting that scores High is not High."""
    held = []
    if not findings.required:
        held.append("the posting names no skill to check")
    elif findings.coverage < SOLID_COVERAGE:
        held.append(f"only {findings.coverage:.0%} of the required skills are covered (needs {SOLID_COVERAGE:.0%})")
    if findings.coverage_found.missing_core:
        held.append(f"the title's core skill ({_listing(findings.coverage_found.missing_core)}) is not in your CV")
    if not findings.role.same_family:
        held.append("the role family is not yours")
    return held + findings.holds


def verdict(
    findings: RuleFindings, similarity: float | None, *, high_threshold: int = 70, medium_threshold: int = 50
) -> JobScreeningOutput:
    """Combine rule findings and (unless the rules ruled the posting out) the similarity."""
    if not 0 <= medium_threshold <= high_threshold <= 100:
        raise ScreeningError(
            f"thresholds must satisfy 0 <= medium ({medium_threshold}) <= high ({high_threshold}) <= 100; fix the settings"
        )
    semantic = _semantic(similarity) if similarity is not None else 0.0
    raw = (
        WEIGHTS["semantic"] * semantic
        + WEIGHTS["coverage"] * findings.coverage_found.score
        + WEIGHTS["role"] * findings.role.score
        + WEIGHTS["seniority"] * findings.seniority.score
    )
    score = round(100 * raw)
    if findings.role.other_field:
        score = min(score, OTHER_FIELD_CAP)
    if findings.deal_breakers:
        score = min(score, DEAL_BREAKER_CAP)
    held = _held_back(findings)
    probability: Probability
    headline: list[str] = []
    if findings.deal_breakers:
        probability = "Low"
        more = len(findings.deal_breakers) - 1
        headline = [f"Ruled out: {findings.deal_breakers[0]}" + (f" (and {more} more)" if more else "")]
    elif score >= high_threshold and not held:
        probability = "High"
    elif score >= medium_threshold:
        probability = "Medium"
        if score >= high_threshold:
            headline = [f"Held back from High: {'; '.join(held)}"]
    else:
        probability = "Low"
    details = [
        *_coverage_reasons(findings),
        findings.role.reason,
        findings.seniority.reason,
        *findings.constraint_reasons,
        _similarity_reason(similarity)
        if similarity is not None
        else "Not compared by the model: the rules ruled it out",
    ]
    # A finding already quoted by the headline is not repeated below it.
    reasons = headline + [r for r in details if not any(r in h for h in headline)]
    return JobScreeningOutput(
        match_score=max(0, min(100, score)),
        probability=probability,
        reasons=reasons,
        missing_skills=findings.missing,
        deal_breakers=findings.deal_breakers,
        evidence=findings.coverage_found.evidence,
    )


def screen_posting(
    profile: Profile,
    posting: JobPosting,
    similarity: float,
    *,
    high_threshold: int = 70,
    medium_threshold: int = 50,
    now: datetime | None = None,
    search: SearchIntent | None = None,
) -> JobScreeningOutput:
    """The verdict for one posting, given the cosine similarity of the profile and posting digests."""
    if not -1.0001 <= similarity <= 1.0001:
        raise ScreeningError(f"similarity must be a cosine between -1 and 1, got {similarity}")
    findings = assess(profile, posting, now=now, search=search)
    return verdict(findings, similarity, high_threshold=high_threshold, medium_threshold=medium_threshold)


# --------------------------------------------------------------------------- graph node


def with_search(profile: Profile, request: SearchRequest) -> Profile:
    """The profile with the search's own constraints applied: minimum salary, places, and "on-site only"
    (remote_ok is False only when the search rules remote work out) or "remote only"; the request's
    fields win over what its query text says.
    """
    terms = search_terms(request)
    update: dict[str, object] = {}
    if terms.remote:
        update["remote"] = terms.remote
    if terms.min_salary is not None:
        update["salary_floor"] = terms.min_salary
    if terms.places:
        update["locations"] = terms.places
    if not update:
        return profile
    return profile.model_copy(update={"preferences": profile.preferences.model_copy(update=update)})


def flag_already_applied(screening: JobScreeningOutput, application: ApplicationLogEntry) -> JobScreeningOutput:
    """The verdict for a posting already applied to: ruled out like a deal-breaker, so never shortlisted."""
    reason = application.already_applied_reason()
    return screening.model_copy(
        update={
            "match_score": min(screening.match_score, DEAL_BREAKER_CAP),
            "probability": "Low",
            "reasons": [reason, *screening.reasons],
            "deal_breakers": [reason, *screening.deal_breakers],
        }
    )


def _inputs_fingerprint(
    profile: Profile,
    posting: JobPosting,
    context: Context,
    now: datetime,
    applied: ApplicationLogEntry | None,
    request: SearchRequest | None,
) -> str:
    """A fingerprint of everything a verdict depends on, so a stored one is reused only while valid.

    The day is part of it: postings expire and years of experience grow; so is an application to the posting.
    """
    return content_hash(
        "|".join(
            [
                RULES_VERSION,
                now.date().isoformat(),
                profile.content_hash,
                profile.preferences.model_dump_json(),
                posting.content_hash,
                str(context.high_threshold),
                str(context.medium_threshold),
                str(context.embedding_max_tokens),
                applied.already_applied_reason() if applied else "",
                request.query if request else "",  # the roles and the remote region it names
                # Only with an LLM, so the embedded screenings stored before it stay valid.
                *([f"llm:{model_name(context, 'screener')}"] if context.llm_base_url else []),
            ]
        )
    )


async def _screen_embedded(
    profile: Profile, posting: JobPosting, context: Context, now: datetime, search: SearchIntent
) -> JobScreeningOutput:
    findings = assess(profile, posting, now=now, search=search)
    if findings.deal_breakers:
        return verdict(findings, None)
    embedder = get_async_embedder(context.embedding_max_tokens)
    # The profile digest is the same text for every posting, so the embedder's cache computes it once.
    profile_vector, posting_vector = await asyncio.gather(
        embedder.embed_one(profile_digest(profile)), embedder.embed_one(posting_digest(posting))
    )
    return verdict(
        findings,
        float(profile_vector @ posting_vector),
        high_threshold=context.high_threshold,
        medium_threshold=context.medium_threshold,
    )


def _texts_to_embed(profile: Profile, open_postings: list[JobPosting]) -> list[str]:
    return [profile_digest(profile), *(posting_digest(p) for p in open_postings)]


def embedding_texts(profile: Profile, postings: list[JobPosting], now: datetime, search: SearchIntent) -> list[str]:
    """What the screening embeds: the profile digest, then the digests of the postings the rules leave open."""
    person = person_facts(profile, now.date())
    open_ = [p for p in postings if not assess(profile, p, now=now, search=search, person=person).deal_breakers]
    return _texts_to_embed(profile, open_)


async def screen_batch(
    profile: Profile, postings: list[JobPosting], context: Context, now: datetime, request: SearchRequest | None = None
) -> list[JobScreeningOutput]:
    """The embedded verdicts for many postings, every text that needs embedding in one bulk call."""
    search = read_search(request.query) if request else SearchIntent()
    profile = with_search(profile, request) if request else profile
    person = person_facts(profile, now.date())
    findings = [assess(profile, posting, now=now, search=search, person=person) for posting in postings]
    open_ = [i for i, f in enumerate(findings) if not f.deal_breakers]
    embedder = get_async_embedder(context.embedding_max_tokens)
    vectors = await embedder.embed_bulk(_texts_to_embed(profile, [postings[i] for i in open_]))
    similarity = {i: float(vectors[0] @ vectors[row]) for row, i in enumerate(open_, start=1)}
    return [
        verdict(
            f,
            similarity.get(i),
            high_threshold=context.high_threshold,
            medium_threshold=context.medium_threshold,
        )
        for i, f in enumerate(findings)
    ]


# --------------------------------------------------------------------------- LLM stage (cascade)

# Contact details are not needed to judge a fit, so they are not sent to the model.
_PROFILE_FOR_MODEL_EXCLUDE = {
    "id": True,
    "source": True,
    "content_hash": True,
    "sections": True,
    "preferences": True,
    "basics": {"email", "phone", "url", "profiles"},
}
_POSTING_FOR_MODEL = {
    "title",
    "hiringOrganization",
    "jobLocation",
    "workplace",
    "employmentType",
    "baseSalary",
    "seniority",
    "languages",
    "skills",
    "qualifications",
    "responsibilities",
    "experienceRequirements",
    "validThrough",
    "description",
}


def screening_messages(profile: Profile, posting: JobPosting, context: Context) -> list[SystemMessage | HumanMessage]:
    """System: instructions, preferences and profile (the same for every posting); human: the posting as data."""
    system = load_prompt(
        "screener",
        profile=profile.model_dump_json(exclude=_PROFILE_FOR_MODEL_EXCLUDE, exclude_none=True, indent=1),
        preferences=profile.preferences.model_dump_json(exclude_none=True, indent=1),
        high_threshold=context.high_threshold,
        medium_threshold=context.medium_threshold,
    )
    # The reader's facts go along (without the raw sections), so the model judges what the rules judged.
    read = posting.model_copy(update={"facts": facts_of(posting)})
    posting_json = read.model_dump_json(
        include={*_POSTING_FOR_MODEL, "facts"}, exclude={"facts": {"sections"}}, exclude_none=True, indent=1
    )
    return [SystemMessage(system), HumanMessage(quoted_data("posting", posting_json))]


_STEPS: tuple[Probability, ...] = ("Low", "Medium", "High")


def cascade_verdict(embedded: JobScreeningOutput, judged: JobScreeningOutput) -> JobScreeningOutput:
    """The model's verdict within the rules' bounds: every rule deal-breaker kept, at most one step above
    the rules' verdict (High only from Medium up), and a lift said in the reasons."""
    deal_breakers = list(dict.fromkeys([*embedded.deal_breakers, *judged.deal_breakers]))
    probability: Probability = judged.probability
    score = judged.match_score
    lift: list[str] = []
    if deal_breakers:
        probability, score = "Low", min(score, DEAL_BREAKER_CAP)
    else:
        ceiling = _STEPS[min(_STEPS.index(embedded.probability) + 1, len(_STEPS) - 1)]
        if _STEPS.index(probability) > _STEPS.index(ceiling):
            probability = ceiling
        if _STEPS.index(probability) > _STEPS.index(embedded.probability):
            lift = [
                f"Lifted by the LLM screener from the rules' {embedded.probability} to {probability} (one step at most)"
            ]
    rules = f"Rule-based screen: {embedded.match_score}/100, {embedded.probability}"
    return JobScreeningOutput(
        match_score=score,
        probability=probability,
        reasons=[*judged.reasons, *lift, rules, *embedded.reasons],
        missing_skills=list(dict.fromkeys([*embedded.missing_skills, *judged.missing_skills])),
        deal_breakers=deal_breakers,
        evidence=embedded.evidence,
    )


async def _screen(
    profile: Profile, posting: JobPosting, context: Context, now: datetime, search: SearchIntent
) -> tuple[JobScreeningOutput, bool]:
    """The verdict, and whether it is final (False: the LLM stage could not run; ask again next time)."""
    embedded = await _screen_embedded(profile, posting, context, now, search)
    model = load_chat_model(context, "screener")
    if model is None or embedded.probability == "Low":
        return embedded, True
    try:
        judged = await structured_call(
            model,
            JobScreeningOutput,
            screening_messages(profile, posting, context),
            limiter=llm_limiter(context),
        )
    except ServiceError as exc:
        unconfirmed = f"Not confirmed by the LLM screener ({exc}); the rule-based verdict stands, at most Medium"
        return embedded.model_copy(update={"probability": "Medium", "reasons": [unconfirmed, *embedded.reasons]}), False
    return cascade_verdict(embedded, judged), True


# --------------------------------------------------------------------------- the stage in bulk

# Postings whose open texts go to the embedder in one call: large enough that the model's own batches
# are sorted by length and full, small enough that the rules of the next ones run while it embeds.
BULK_POSTINGS = 250
# The first chunk is small, so that the model starts at once; each next one doubles up to BULK_POSTINGS
# (the model takes several times longer over a chunk than the Store and the rules over the next).
FIRST_CHUNK = 25


def _chunked(posting_ids: list[str], bulk: int) -> list[list[str]]:
    chunks, start, size = [], 0, min(FIRST_CHUNK, bulk)
    while start < len(posting_ids):
        chunks.append(posting_ids[start : start + size])
        start, size = start + size, min(2 * size, bulk)
    return chunks


class _BulkEmbedding:
    """The texts of a screening stage, each sent to the embedder once, in calls made as chunks are read."""

    def __init__(self, records: Records, context: Context):
        self.store = records.store
        self.embedder = get_async_embedder(context.embedding_max_tokens)
        self.calls: list[asyncio.Task[np.ndarray]] = []
        self.row: dict[str, tuple[int, int]] = {}  # text -> (call, row in that call's result)

    def send(self, texts: Iterable[str]) -> None:
        """One embedding call (in a worker thread) for those of these texts no earlier call embeds."""
        new = [t for t in dict.fromkeys(texts) if t not in self.row]
        if new:
            self.row.update((text, (len(self.calls), i)) for i, text in enumerate(new))
            self.calls.append(asyncio.create_task(self.embedder.embed_bulk(new, self.store)))

    async def vector(self, text: str) -> np.ndarray:
        call, row = self.row[text]
        return (await self.calls[call])[row]


async def prepare_screenings(
    records: Records,
    profile: Profile,
    posting_ids: list[str],
    request: SearchRequest,
    context: Context,
    *,
    bulk: int = BULK_POSTINGS,
) -> dict[str, JobScreeningOutput]:
    """The final verdicts of many postings at once, by posting id in the order given.

    The person's facts and their application log are read once; the postings are read, ruled on,
    embedded and stored a chunk at a time (FIRST_CHUNK, then doubling up to `bulk`), each step of one
    chunk overlapping the model's work on the one before (one embedding call per chunk, each text once, vectors cached in the Store by content
    hash; a few Store batches per chunk, no call per posting). Verdicts still valid in the Store are
    reused. What is final (every verdict without an LLM; Low with one) is stored and returned; a posting
    the LLM stage must still see is left out, for a screen_job task of its own (which finds its vectors
    cached).
    """
    now = datetime.now(UTC)
    screened = with_search(profile, request)
    search = read_search(request.query)
    person = person_facts(screened, now.date())
    profile_text = profile_digest(screened)
    with_llm = load_chat_model(context, "screener") is not None
    inputs_ns = (SCREENING_INPUTS_NS, profile.id)
    embedding = _BulkEmbedding(records, context)

    async def read(ids: list[str]) -> tuple[list[JobPosting], dict[str, str], dict[str, JobScreeningOutput]]:
        """A chunk's postings, their fingerprints, and the stored verdicts those still match."""
        postings = await records.postings(ids)
        applied = await blocking
        fingerprints = {
            p.id: _inputs_fingerprint(screened, p, context, now, applied.get(p.canonical_key), request)
            for p in postings
        }
        stored = await records.get_values(inputs_ns, ids)
        valid = [i for i, f in fingerprints.items() if stored.get(i, {}).get("fingerprint") == f]
        return postings, fingerprints, await records.screenings(profile.id, valid)

    async def finish(
        postings: list[JobPosting], findings: dict[str, RuleFindings], digests: dict[str, str], fingerprints: dict
    ) -> dict[str, JobScreeningOutput]:
        """The chunk's verdicts once its vectors are there, stored (while the model embeds the next chunk)."""
        applied = await blocking
        made: dict[str, JobScreeningOutput] = {}
        for posting in postings:
            similarity = None
            if posting.id in digests:
                posting_vector = await embedding.vector(digests[posting.id])
                similarity = float(await embedding.vector(profile_text) @ posting_vector)
            screening = verdict(
                findings[posting.id],
                similarity,
                high_threshold=context.high_threshold,
                medium_threshold=context.medium_threshold,
            )
            if with_llm and screening.probability != "Low":
                continue  # the LLM stage runs in the posting's own task
            if application := applied.get(posting.canonical_key):
                screening = flag_already_applied(screening, application)
            made[posting.id] = screening
        await records.put_screenings(profile.id, made)
        await records.put_values(inputs_ns, {i: {"fingerprint": fingerprints[i]} for i in made})
        # Durability tests crash here: the chunk's verdicts are stored, the state holds none yet.
        await async_failpoint("prepare_screening.chunk_stored")
        return made

    final: dict[str, JobScreeningOutput] = {}
    chunks = _chunked(posting_ids, bulk)
    async with asyncio.TaskGroup() as group:  # one failure cancels the rest
        blocking = group.create_task(records.blocking_applications(context.user_id))
        reading = group.create_task(read(chunks[0])) if chunks else None
        finishing: list[asyncio.Task[dict[str, JobScreeningOutput]]] = []
        for number in range(len(chunks)):
            assert reading is not None
            postings, fingerprints, ready = await reading
            if number + 1 < len(chunks):
                reading = group.create_task(read(chunks[number + 1]))
            final.update(ready)
            todo = [p for p in postings if p.id not in ready]
            findings = {p.id: assess(screened, p, now=now, search=search, person=person) for p in todo}
            digests = {p.id: posting_digest(p) for p in todo if not findings[p.id].deal_breakers}
            if digests:
                embedding.send([profile_text, *digests.values()])
            finishing.append(group.create_task(finish(todo, findings, digests, fingerprints)))
    for task in finishing:
        final.update(task.result())
    return {posting_id: final[posting_id] for posting_id in posting_ids if posting_id in final}


def screening_verdict(posting_id: str, screening: JobScreeningOutput) -> ScreeningVerdict:
    """What the graph state keeps of a screening (the screening itself is in the Store)."""
    return ScreeningVerdict(
        posting_id=posting_id,
        match_score=screening.match_score,
        probability=screening.probability,
        top_reason=screening.reasons[0] if screening.reasons else "",
    )


async def screen_job(state: ScreenJobInput, runtime: Runtime[Context]) -> dict:
    """Screen one posting against the profile: the stored screening while its inputs hold, else a new one.

    In the graph only the postings prepare_screening left open come here (the LLM stage's); tests and a
    graph without the bulk step send every posting."""
    profile_id, posting_id = state["profile_id"], state["posting_id"]
    records = Records(runtime.store)
    profile, posting = await asyncio.gather(records.profile(profile_id), records.posting(posting_id))
    request = state.get("request")
    if isinstance(request, dict):
        request = SearchRequest.model_validate(request)
    profile = with_search(profile, request) if request else profile
    search = read_search(request.query) if request else SearchIntent()
    now = datetime.now(UTC)
    applied = await records.applied_to(runtime.context.user_id, posting.canonical_key)
    fingerprint = _inputs_fingerprint(profile, posting, runtime.context, now, applied, request)
    inputs_ns = (SCREENING_INPUTS_NS, profile_id)
    stored_inputs = await records.store.aget(inputs_ns, posting_id)
    screening = None
    if stored_inputs is not None and stored_inputs.value.get("fingerprint") == fingerprint:
        screening = await records.screening(profile_id, posting_id)
    if screening is None:
        screening, final = await _screen(profile, posting, runtime.context, now, search)
        if applied is not None:
            screening = flag_already_applied(screening, applied)
        await records.put_screening(profile_id, posting_id, screening)
        if final:
            await records.store.aput(inputs_ns, posting_id, {"fingerprint": fingerprint}, index=False)
    failpoint("screen_job.done")  # durability tests crash here: the screening is stored, the state not yet
    return {"screenings": [screening_verdict(posting_id, screening)]}
