"""screen_job: the ruthless screener. Rules first, the embedding model only when the rules allow.

Every verdict is deterministic and explained by things a person can check in the two texts.

Score (0-100) = round(100 * (0.30 * semantic + 0.35 * coverage + 0.20 * role + 0.15 * seniority))
- semantic: cosine between the profile digest and the posting digest (MiniLM), mapped linearly
  from [0.25, 0.75] to [0, 1] and clipped (measured: another field 0.2-0.3, same field with other
  skills 0.2-0.4, a good match 0.7-0.85).
- coverage: share of the posting's required skills the profile has (posting.skills, or the
  skills named in its text); a skill counts when it is among the profile's skills or mentioned in
  a summary or highlight, compared by canonical name. 0.5 when the posting names no skill.
- role: role family of the posting title vs the families of the profile's label and positions.
  Same family 0.75, plus up to 0.25 for the title's specialist words (backend, python, data, ...)
  found in the profile; neighbouring family 0.6; family unknown 0.5; another field 0.
- seniority: posting level (posting.seniority, else its title, else its years of experience)
  vs the profile's (preferences.seniority when given; else inferred from the latest titles, or
  from years of experience). Same level 1, one level apart or unstated 0.7, two 0.3, more 0.

Caps: a posting in another field scores at most 40; any deal-breaker caps the score at 30.

Deal-breakers (hard constraints from profile.preferences; the search's min_salary and locations,
when given, take the place of the profile's):
remote_only vs an onsite or hybrid role (and onsite_only vs a remote one); a role that is not
remote, in a city outside preferences.locations; a yearly salary whose top is below the salary
floor (same currency); a required language the person does not speak; a deal-breaker phrase in the
posting text (whole words, any case); a posting past its validThrough date; and a posting in
another field that shares no skill with the profile.

Probability: Low on any deal-breaker. High only when the score reaches high_threshold AND at
least 60% of the required skills are covered AND the role family is the same AND nothing holds it
back: a seniority outside preferences.seniority, or (without that preference) two levels off or
below the profile's (a step up is fine); a people-management role for someone whose titles are
not; a salary range mostly under the floor; a remote-only person and a posting that does not say
it is remote. Otherwise
Medium from medium_threshold, else Low; "Held back from High: ..." then says why.

screen_job (the graph node) loads the profile and the posting from the Store, applies the search's
own salary floor and places, and reuses the stored screening when nothing it depends on changed
(a fingerprint of profile, preferences, posting, thresholds, rules, the day and any application to the
posting is kept next to it). The
rules run first; a posting they rule out is Low without being embedded. Otherwise both digests go
through the shared AsyncEmbedder, whose text-hash cache embeds the profile digest once per process
however many postings are screened against it.

With an LLM configured (context.llm_base_url) the screener is a cascade: the rules and the
embedding run first, and only a posting they rate Medium or High goes on to the LLM screener
(prompts/screener.md: a sceptical hiring manager's read). The final verdict (cascade_verdict) keeps
every rule deal-breaker: the model can lower a verdict or add deal-breakers, never lift a posting
past one, and its High needs the rules' Medium at least. The model's name is part of the stored
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
"System: ...") are dropped from the embedded digest and from skill extraction, and so are e-mail
addresses and URLs. Deal-breaker phrases are searched in the whole text: hostile text can only
make a verdict worse.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache

import numpy as np
from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from domain.failpoints import failpoint
from domain.models import (
    ApplicationLogEntry,
    JobPosting,
    JobScreeningOutput,
    Preferences,
    Probability,
    Profile,
    SearchRequest,
    Seniority,
    WorkItem,
)
from domain.repository import Records
from domain.skills import SKILL_ALIASES, canonical_skill, extract_skills
from domain.text import content_hash, normalize_text
from graph.context import Context
from graph.state import ScreeningVerdict, ScreenJobInput
from prompts import load_prompt, quoted_data
from tools.embeddings import get_async_embedder
from tools.llm import llm_limiter, load_chat_model, model_name, structured_call
from tools.ratelimit import ServiceError

WEIGHTS = {"semantic": 0.30, "coverage": 0.35, "role": 0.20, "seniority": 0.15}
SIMILARITY_FLOOR, SIMILARITY_CEILING = 0.25, 0.75
SOLID_COVERAGE = 0.6
OTHER_FIELD_CAP = 40
DEAL_BREAKER_CAP = 30
# Bumped whenever the rules change, so that stored screenings made by older rules are redone.
RULES_VERSION = "1"
SCREENING_INPUTS_NS = "screening_inputs"

LEVELS: tuple[Seniority, ...] = ("intern", "junior", "mid", "senior", "lead", "principal", "executive")
_LEVEL_WORDS: dict[Seniority, tuple[str, ...]] = {
    "intern": ("intern", "internship", "trainee", "working student", "werkstudent", "apprentice"),
    "junior": ("junior", "jr", "graduate", "entry level", "entry-level", "associate"),
    "mid": ("mid", "mid-level", "intermediate", "medior", "experienced"),
    "senior": ("senior", "sr"),
    "lead": ("lead", "staff", "tech lead", "team lead", "engineering manager"),
    "principal": ("principal", "distinguished"),
    "executive": ("head of", "director", "vp", "vice president", "cto", "chief"),
}

# Title phrases by role family; the phrase at the head of a title decides its family (role_family).
ROLE_FAMILIES: dict[str, tuple[str, ...]] = {
    "software engineering": (
        "software",
        "engineer",
        "engineering",
        "developer",
        "programmer",
        "backend",
        "back-end",
        "frontend",
        "front-end",
        "full stack",
        "full-stack",
        "fullstack",
        "devops",
        "sre",
        "site reliability",
        "platform",
        "infrastructure",
        "cloud",
        "architect",
        "data engineer",
        "machine learning engineer",
        "ml engineer",
        "mobile",
        "ios",
        "android",
        "qa",
        "tester",
        "security engineer",
        "engineering manager",
        "cto",
        "tech lead",
        "sysadmin",
        "system administrator",
    ),
    "data science": (
        "data scientist",
        "data analyst",
        "data analytics",
        "analytics",
        "statistician",
        "research scientist",
        "business intelligence",
        "bi analyst",
        "machine learning scientist",
    ),
    "design": ("designer", "ux", "ui", "user researcher", "design"),
    "product": ("product manager", "product owner", "product lead", "head of product"),
    "healthcare": (
        "nurse",
        "nursing",
        "physician",
        "doctor",
        "caregiver",
        "care assistant",
        "pharmacist",
        "medical",
        "clinical",
        "therapist",
        "midwife",
        "paramedic",
        "dentist",
        "healthcare",
    ),
    "sales": (
        "sales",
        "sales engineer",
        "account executive",
        "account manager",
        "business development",
        "sdr",
        "bdr",
        "customer success",
    ),
    "accounting and finance": (
        "accountant",
        "accounting",
        "bookkeeper",
        "controller",
        "auditor",
        "tax",
        "finance",
        "financial",
        "payroll",
    ),
    "marketing": ("marketing", "seo", "copywriter", "content", "growth marketer", "brand", "social media"),
    "education": ("teacher", "tutor", "lecturer", "professor", "instructor"),
    "hospitality and retail": (
        "waiter",
        "waitress",
        "chef",
        "cook",
        "barista",
        "cashier",
        "retail",
        "store manager",
        "housekeeper",
        "receptionist",
    ),
    "legal": ("lawyer", "attorney", "paralegal", "legal", "solicitor"),
    "people and recruiting": ("recruiter", "talent acquisition", "hr", "human resources", "people partner"),
}
_NEIGHBOURS = {
    frozenset({"software engineering", "data science"}),
    frozenset({"design", "product"}),
    frozenset({"sales", "marketing"}),
}
_MANAGEMENT_WORDS = ("manager", "head of", "director", "vp", "vice president", "chief", "cto")
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
    *(w for words in _LEVEL_WORDS.values() for phrase in words for w in phrase.split()),
}

_LANGUAGES: dict[str, tuple[str, ...]] = {
    "English": ("english", "englisch", "anglais", "ingles"),
    "German": ("german", "deutsch", "allemand", "aleman"),
    "French": ("french", "francais", "franzosisch", "frances"),
    "Spanish": ("spanish", "espanol", "spanisch", "castellano"),
    "Italian": ("italian", "italiano", "italienisch"),
    "Portuguese": ("portuguese", "portugues", "portugiesisch"),
    "Dutch": ("dutch", "nederlands", "niederlandisch", "flemish"),
    "Polish": ("polish", "polski", "polnisch"),
    "Swedish": ("swedish", "svenska"),
    "Danish": ("danish", "dansk"),
    "Norwegian": ("norwegian", "norsk"),
    "Finnish": ("finnish", "suomi"),
    "Czech": ("czech", "cestina"),
    "Russian": ("russian",),
    "Ukrainian": ("ukrainian",),
    "Turkish": ("turkish", "turkce"),
    "Greek": ("greek",),
    "Arabic": ("arabic",),
    "Hebrew": ("hebrew",),
    "Hindi": ("hindi",),
    "Chinese": ("chinese", "mandarin", "cantonese"),
    "Japanese": ("japanese",),
    "Korean": ("korean",),
}
_LANGUAGE_CODES = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "pl": "Polish",
    "sv": "Swedish",
    "da": "Danish",
    "no": "Norwegian",
    "fi": "Finnish",
    "cs": "Czech",
    "ru": "Russian",
    "uk": "Ukrainian",
    "tr": "Turkish",
    "zh": "Chinese",
    "ja": "Japanese",
    "ko": "Korean",
}
_CITY_NAMES = {
    "munchen": "munich",
    "koln": "cologne",
    "wien": "vienna",
    "praha": "prague",
    "warszawa": "warsaw",
    "lisboa": "lisbon",
    "roma": "rome",
    "milano": "milan",
    "bruxelles": "brussels",
    "den haag": "the hague",
    "kobenhavn": "copenhagen",
    "nurnberg": "nuremberg",
    "geneve": "geneva",
    "zuerich": "zurich",
}
_YEARS = re.compile(r"(\d{1,2})\s*\+?\s*(?:-\s*\d{1,2}\s*)?years?", re.IGNORECASE)
_DATE = re.compile(r"(\d{4})(?:-(\d{1,2}))?")
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


def _fold(text: str) -> str:
    """Lower case, accents removed, spaces collapsed: the form every comparison here uses."""
    text = unicodedata.normalize("NFKD", normalize_text(text)).encode("ascii", "ignore").decode()
    return re.sub(r"\s+", " ", text).strip().lower()


@lru_cache(maxsize=4096)
def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    """A whole-word, case-insensitive pattern; inner spaces match any run of whitespace."""
    words = [re.escape(w) for w in _fold(phrase).split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)")


def _has_phrase(text: str, phrase: str) -> bool:
    return bool(phrase.strip()) and _phrase_pattern(phrase).search(_fold(text)) is not None


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


def _profile_text(profile: Profile) -> str:
    """Every sentence of the profile that can mention a skill."""
    parts: list[str] = [profile.basics.label or "", profile.basics.summary or ""]
    for item in [*profile.work, *profile.volunteer]:
        parts += [item.position or "", item.summary or "", *(h.text for h in item.highlights)]
    for project in profile.projects:
        parts += [project.name, project.description or "", *project.keywords, *(h.text for h in project.highlights)]
    return "\n".join(p for p in parts if p)


# --------------------------------------------------------------------------- embedding digests


def profile_digest(profile: Profile) -> str:
    """What the embedder reads of a profile: who the person is first, since the text is truncated."""
    positions = [w.position for w in _work_latest_first(profile) if w.position]
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
    """What the embedder reads of a posting: title, skills, requirements, then the description's start."""
    parts = [
        posting.title,
        "Skills: " + ", ".join(posting.skills) if posting.skills else "",
        " ".join(posting.qualifications),
        without_instructions(posting.description)[:1500],
    ]
    cleaned = (re.sub(r"\s+", " ", without_instructions(p)).strip().rstrip(".") for p in parts)
    return normalize_text(". ".join(p for p in cleaned if p))


# --------------------------------------------------------------------------- skills


def required_skills(posting: JobPosting) -> list[str]:
    """Canonical skills the posting asks for: its skills list, else the skills named in its text."""
    if not posting.skills:
        return extract_skills(without_instructions(_posting_text(posting)))
    found: dict[str, str] = {}
    for entry in posting.skills:
        canonical = canonical_skill(entry)
        # "Experience with Kubernetes and Helm" is two known skills, not one unknown one.
        for skill in [canonical] if canonical in SKILL_ALIASES else (extract_skills(entry) or [canonical]):
            if skill:
                found.setdefault(skill.lower(), skill)
    return list(found.values())


def _covered(profile: Profile, skills: list[str]) -> tuple[list[str], list[str]]:
    listed = {canonical_skill(n).lower() for n in profile.skill_names()}
    listed |= {s.lower() for n in profile.skill_names() for s in extract_skills(n)}
    text = _profile_text(profile)
    known = listed | {s.lower() for s in extract_skills(text)}
    covered: list[str] = []
    missing: list[str] = []
    for skill in skills:
        # A skill outside the vocabulary counts when the profile uses the same words.
        has = skill.lower() in known or (skill not in SKILL_ALIASES and _has_phrase(text, skill))
        (covered if has else missing).append(skill)
    return covered, missing


# --------------------------------------------------------------------------- role family


def role_family(title: str) -> str | None:
    """The family of a title's head noun, or None when no role phrase is known.

    The head comes before any qualifier ("Software Engineer - Healthcare", "Nurse (ICU)") and is
    the phrase that ends last, the longer one on a tie ("Healthcare Software Engineer", "Sales Engineer").
    """
    head = re.split(r"\s[-–—|:]\s|[(,]", title, maxsplit=1)[0]
    for text in dict.fromkeys([_fold(head), _fold(title)]):
        best: tuple[int, int, str] | None = None
        for family, phrases in ROLE_FAMILIES.items():
            for phrase in phrases:
                for match in _phrase_pattern(phrase).finditer(text):
                    candidate = (match.end(), len(phrase), family)
                    best = candidate if best is None or candidate[:2] > best[:2] else best
        if best:
            return best[2]
    return None


def _profile_titles(profile: Profile) -> list[str]:
    titles = [profile.basics.label or ""] + [w.position or "" for w in _work_latest_first(profile)]
    # A label such as "DevOps Engineer · Software Architect" holds two titles.
    return [t.strip() for title in titles for t in re.split(r"[·|/]", title) if t.strip()]


def _specialist_words(title: str) -> list[str]:
    words = re.findall(r"[a-z0-9+#]+", _fold(title).replace("-", ""))
    return list(dict.fromkeys(w for w in words if w not in _GENERIC_TITLE_WORDS and len(w) > 1))


@dataclass(frozen=True)
class RoleFit:
    score: float
    same_family: bool
    other_field: bool
    reason: str
    hold: str | None = None


def _is_management(title: str) -> bool:
    return any(_phrase_pattern(w).search(_fold(title)) for w in _MANAGEMENT_WORDS)


def _role_fit(profile: Profile, posting: JobPosting) -> RoleFit:
    titles = _profile_titles(profile)
    families = {t: f for t in titles if (f := role_family(t))}
    posting_family = role_family(posting.title)
    own = list(dict.fromkeys(families.values()))
    if posting_family is None or not own:
        unknown = f"the title '{posting.title}'" if posting_family is None else "your titles"
        return RoleFit(0.5, False, False, f"Role family unclear from {unknown}")
    if posting_family in own:
        match = next(t for t, f in families.items() if f == posting_family)
        words = _specialist_words(posting.title)
        own_words = set(_specialist_words(" ".join(titles))) | {
            w for s in profile.skill_names() for w in _specialist_words(s)
        }
        shared = [w for w in words if w in own_words]
        score = 0.75 + 0.25 * (len(shared) / len(words) if words else 1.0)
        reason = f"Role fits: '{posting.title}' is {posting_family}, like your '{match}'"
        if _is_management(posting.title) and not any(_is_management(t) for t in titles):
            # Moving from building to managing is a change of job, not a better match.
            return RoleFit(score, True, False, reason, "it is a people-management role and your titles are not")
        return RoleFit(score, True, False, reason)
    if any(frozenset({posting_family, f}) in _NEIGHBOURS for f in own):
        return RoleFit(
            0.6, False, False, f"Neighbouring role: '{posting.title}' is {posting_family}; you work in {_listing(own)}"
        )
    return RoleFit(
        0.0, False, True, f"Different field: '{posting.title}' is in {posting_family}; you work in {_listing(own)}"
    )


# --------------------------------------------------------------------------- seniority


def title_level(title: str) -> Seniority | None:
    """The highest seniority a title names ("Senior Staff Engineer" -> lead)."""
    folded = _fold(title)
    named = [level for level, words in _LEVEL_WORDS.items() if any(_phrase_pattern(w).search(folded) for w in words)]
    return max(named, key=LEVELS.index) if named else None


def _level_for_years(years: float) -> Seniority:
    # Years alone never make a lead: that takes a title.
    return "junior" if years < 2 else "mid" if years < 5 else "senior"


def _parse_date(value: str | None, now: date) -> date | None:
    if not value or value.strip().lower() in {"present", "now", "current", "today"}:
        return now
    match = _DATE.search(value)
    if not match:
        return None
    month = min(max(int(match.group(2) or 1), 1), 12)
    return date(int(match.group(1)), month, 1)


def _work_latest_first(profile: Profile) -> list[WorkItem]:
    return sorted(profile.work, key=lambda w: _parse_date(w.startDate, date.min) or date.min, reverse=True)


def years_of_experience(profile: Profile, now: date) -> float:
    """Years covered by work entries, overlapping periods counted once."""
    spans = sorted(
        (start, max(start, end))
        for w in profile.work
        if w.startDate and (start := _parse_date(w.startDate, now)) and (end := _parse_date(w.endDate, now))
    )
    days, reach = 0, date.min
    for start, end in spans:
        start = max(start, reach)
        if end > start:
            days += (end - start).days
            reach = end
    return days / 365.25


def _profile_level(profile: Profile, now: date) -> tuple[Seniority | None, str]:
    """The profile's level and the evidence for it."""
    years = years_of_experience(profile, now)
    latest = [w.position for w in _work_latest_first(profile)[:1] if w.position]
    for title in [profile.basics.label or "", *latest]:
        if level := title_level(title):
            return level, f"{years:.0f} years, latest as '{title}'" if years else f"titled '{title}'"
    if years:
        return _level_for_years(years), f"{years:.0f} years of experience"
    return None, ""


def posting_level(posting: JobPosting) -> Seniority | None:
    if posting.seniority:
        return posting.seniority
    if level := title_level(posting.title):
        return level
    asked = _YEARS.search(posting.experienceRequirements or "")
    return _level_for_years(float(asked.group(1))) if asked else None


@dataclass(frozen=True)
class SeniorityFit:
    score: float
    reason: str
    hold: str | None = None


_GAP_FIT = {0: 1.0, 1: 0.7, 2: 0.3}  # by levels between the posting and the person


def _seniority_fit(profile: Profile, posting: JobPosting, now: date) -> SeniorityFit:
    asked = posting_level(posting)
    accepted = profile.preferences.seniority
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
    level, evidence = _profile_level(profile, now)
    if level is None:
        return SeniorityFit(
            0.7, f"Posting asks {asked or 'no particular level'}; your seniority is not clear from the CV"
        )
    if asked is None:
        return SeniorityFit(0.7, f"Posting states no seniority; profile is {level} ({evidence})")
    gap = abs(LEVELS.index(asked) - LEVELS.index(level))
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


def _workplace(posting: JobPosting) -> str | None:
    return posting.workplace or ("remote" if posting.jobLocationType == "TELECOMMUTE" else None)


def _place_names(posting: JobPosting) -> list[str]:
    names = []
    for place in posting.jobLocation:
        a = place.address
        names += [
            _CITY_NAMES.get(_fold(n), _fold(n)) for n in (a.addressLocality, a.addressRegion, a.addressCountry) if n
        ]
    return names


def _location_matches(wanted: str, places: list[str]) -> bool:
    wanted = _fold(wanted)
    wanted = _CITY_NAMES.get(wanted, wanted)
    return any(wanted == p or _has_phrase(wanted, p) or _has_phrase(p, wanted) for p in places)


@dataclass
class Constraint:
    """What one hard-constraint rule found: plain reasons, deal-breakers, and why it is not High."""

    reasons: list[str] = field(default_factory=list)
    deal_breakers: list[str] = field(default_factory=list)
    holds: list[str] = field(default_factory=list)


def _location_findings(prefs: Preferences, posting: JobPosting) -> Constraint:
    found = Constraint()
    workplace = _workplace(posting)
    where = ", ".join(p.label() for p in posting.jobLocation if p.label()) or "an unstated place"
    if workplace == "remote":
        if prefs.remote == "onsite_only":
            found.deal_breakers.append("Remote role; you accept onsite work only")
        else:
            found.reasons.append("Remote role; profile accepts remote")
        return found
    role = {"onsite": f"Onsite role in {where}", "hybrid": f"Hybrid role in {where}"}.get(
        workplace or "", f"Role in {where}, not stated as remote"
    )
    if prefs.remote == "remote_only":
        if workplace in ("onsite", "hybrid"):
            found.deal_breakers.append(f"{role}; you accept remote only")
            return found
        found.reasons.append(f"{role}; you accept remote only, so check before applying")
        found.holds.append("the posting does not say it is remote")
    if not prefs.locations:
        return found
    # "Remote" in the list is met only by remote roles (above); the other entries are places.
    cities = [loc for loc in prefs.locations if _fold(loc) != "remote"]
    places = _place_names(posting)
    if not places:
        found.reasons.append(f"Posting gives no location; your locations are {_listing(prefs.locations)}")
    elif any(_location_matches(c, places) for c in cities):
        found.reasons.append(f"{role}, one of your locations")
    else:
        found.deal_breakers.append(f"{role}; your locations are {_listing(prefs.locations)}")
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


def _languages_in(text: str) -> set[str]:
    folded = _fold(text)
    if folded in _LANGUAGE_CODES:
        return {_LANGUAGE_CODES[folded]}
    words = set(re.findall(r"[a-z]+", folded))
    return {name for name, aliases in _LANGUAGES.items() if words & set(aliases)}


def _language_findings(profile: Profile, posting: JobPosting) -> Constraint:
    if not posting.languages:
        return Constraint()
    spoken_names = [lang.language for lang in profile.languages] + profile.preferences.required_languages
    if not spoken_names:
        return Constraint([f"Posting requires {_listing(posting.languages)}; your profile lists no languages"])
    spoken = {name for s in spoken_names for name in _languages_in(s)} | {_fold(s) for s in spoken_names}
    breakers = []
    for asked in posting.languages:
        # "German or English" is satisfied by either; an unknown language is compared by name.
        options = _languages_in(asked) or {_fold(asked)}
        if not options & spoken:
            breakers.append(f"Requires {asked}; profile speaks {_listing(dict.fromkeys(spoken_names))}")
    if breakers:
        return Constraint(deal_breakers=breakers)
    return Constraint([f"Languages fit: posting requires {_listing(posting.languages)}"])


def _phrase_findings(prefs: Preferences, posting: JobPosting) -> list[str]:
    text = _fold(_posting_text(posting) + "\n" + posting.company)
    breakers = []
    for phrase in dict.fromkeys(p.strip() for p in prefs.deal_breakers if p.strip()):
        if match := _phrase_pattern(phrase).search(text):
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

    required: list[str]
    covered: list[str]
    missing: list[str]
    role: RoleFit
    seniority: SeniorityFit
    constraint_reasons: list[str]
    deal_breakers: list[str]
    holds: list[str]

    @property
    def coverage(self) -> float:
        return len(self.covered) / len(self.required) if self.required else 0.5


def assess(profile: Profile, posting: JobPosting, *, now: datetime | None = None) -> RuleFindings:
    """Apply every rule that does not need the model."""
    now = now or datetime.now(UTC)
    prefs = profile.preferences
    required = required_skills(posting)
    covered, missing = _covered(profile, required)
    role = _role_fit(profile, posting)
    seniority = _seniority_fit(profile, posting, now.date())
    constraints = [
        _location_findings(prefs, posting),
        _salary_findings(prefs, posting),
        _language_findings(profile, posting),
    ]
    breakers = [
        *_expiry_findings(posting, now),
        *(b for c in constraints for b in c.deal_breakers),
        *_phrase_findings(prefs, posting),
    ]
    if role.other_field and not covered:
        asked = f" ({_listing(required)})" if required else ""
        breakers.append(f"{role.reason}, and your profile has none of the skills it asks for{asked}")
    return RuleFindings(
        required=required,
        covered=covered,
        missing=missing,
        role=role,
        seniority=seniority,
        constraint_reasons=[r for c in constraints for r in c.reasons],
        deal_breakers=breakers,
        holds=[h for h in (role.hold, seniority.hold) if h] + [h for c in constraints for h in c.holds],
    )


def prefilter(profile: Profile, posting: JobPosting, *, now: datetime | None = None) -> list[str]:
    """Deal-breakers the rules find without the model; a posting with any is Low and never embedded."""
    return assess(profile, posting, now=now).deal_breakers


def _semantic(similarity: float) -> float:
    return float(np.clip((similarity - SIMILARITY_FLOOR) / (SIMILARITY_CEILING - SIMILARITY_FLOOR), 0.0, 1.0))


def _similarity_reason(similarity: float) -> str:
    strength = "strong" if similarity >= 0.6 else "moderate" if similarity >= 0.4 else "weak"
    return f"Text similarity between your profile and the posting: {similarity:.2f} ({strength})"


def _coverage_reasons(findings: RuleFindings) -> list[str]:
    if not findings.required:
        return ["Posting names no skill we recognise; coverage cannot be checked"]
    total = len(findings.required)
    reasons = [
        f"Covers {len(findings.covered)} of {total} required skill{'s' if total > 1 else ''}"
        + (f": {_listing(findings.covered)}" if findings.covered else "")
    ]
    if findings.missing:
        reasons.append(f"Missing: {_listing(findings.missing, limit=8)}")
    return reasons


def _held_back(findings: RuleFindings) -> list[str]:
    """Why a posting that scores High is not High."""
    held = []
    if not findings.required:
        held.append("the posting names no skill to check")
    elif findings.coverage < SOLID_COVERAGE:
        held.append(f"only {findings.coverage:.0%} of the required skills are covered (needs {SOLID_COVERAGE:.0%})")
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
        + WEIGHTS["coverage"] * findings.coverage
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
    )


def screen_posting(
    profile: Profile,
    posting: JobPosting,
    similarity: float,
    *,
    high_threshold: int = 70,
    medium_threshold: int = 50,
    now: datetime | None = None,
) -> JobScreeningOutput:
    """The verdict for one posting, given the cosine similarity of the profile and posting digests."""
    if not -1.0001 <= similarity <= 1.0001:
        raise ScreeningError(f"similarity must be a cosine between -1 and 1, got {similarity}")
    findings = assess(profile, posting, now=now)
    return verdict(findings, similarity, high_threshold=high_threshold, medium_threshold=medium_threshold)


# --------------------------------------------------------------------------- graph node


def with_search(profile: Profile, request: SearchRequest) -> Profile:
    """The profile with the search's own constraints applied: minimum salary, places, and "on-site only"
    (remote_ok is False only when the search rules remote work out).
    """
    update: dict[str, object] = {}
    if not request.remote_ok:
        update["remote"] = "onsite_only"
    if request.min_salary is not None:
        update["salary_floor"] = request.min_salary
    if request.locations:
        update["locations"] = request.locations
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
    profile: Profile, posting: JobPosting, context: Context, now: datetime, applied: ApplicationLogEntry | None
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
                # Only with an LLM, so the embedded screenings stored before it stay valid.
                *([f"llm:{model_name(context, 'screener')}"] if context.llm_base_url else []),
            ]
        )
    )


async def _screen_embedded(
    profile: Profile, posting: JobPosting, context: Context, now: datetime
) -> JobScreeningOutput:
    findings = assess(profile, posting, now=now)
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
    posting_json = posting.model_dump_json(include=_POSTING_FOR_MODEL, exclude_none=True, indent=1)
    return [SystemMessage(system), HumanMessage(quoted_data("posting", posting_json))]


def cascade_verdict(embedded: JobScreeningOutput, judged: JobScreeningOutput) -> JobScreeningOutput:
    """The model's verdict within the rules' bounds: every rule deal-breaker kept, High only from Medium up."""
    deal_breakers = list(dict.fromkeys([*embedded.deal_breakers, *judged.deal_breakers]))
    probability: Probability = judged.probability
    score = judged.match_score
    if deal_breakers:
        probability, score = "Low", min(score, DEAL_BREAKER_CAP)
    elif probability == "High" and embedded.probability == "Low":
        probability = "Medium"
    rules = f"Rule-based screen: {embedded.match_score}/100, {embedded.probability}"
    return JobScreeningOutput(
        match_score=score,
        probability=probability,
        reasons=[*judged.reasons, rules, *embedded.reasons],
        missing_skills=list(dict.fromkeys([*embedded.missing_skills, *judged.missing_skills])),
        deal_breakers=deal_breakers,
    )


async def _screen(
    profile: Profile, posting: JobPosting, context: Context, now: datetime
) -> tuple[JobScreeningOutput, bool]:
    """The verdict, and whether it is final (False: the LLM stage could not run; ask again next time)."""
    embedded = await _screen_embedded(profile, posting, context, now)
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


async def screen_job(state: ScreenJobInput, runtime: Runtime[Context]) -> dict:
    """Screen one posting against the profile; the stored screening is reused while its inputs hold."""
    records = Records(runtime.store)
    profile_id, posting_id = state["profile_id"], state["posting_id"]
    profile, posting = await asyncio.gather(records.profile(profile_id), records.posting(posting_id))
    request = state.get("request")
    if isinstance(request, dict):
        request = SearchRequest.model_validate(request)
    profile = with_search(profile, request) if request else profile
    now = datetime.now(UTC)
    applied = await records.applied_to(runtime.context.user_id, posting.canonical_key)
    fingerprint = _inputs_fingerprint(profile, posting, runtime.context, now, applied)
    inputs_ns = (SCREENING_INPUTS_NS, profile_id)
    stored_inputs = await records.store.aget(inputs_ns, posting_id)
    screening = None
    if stored_inputs is not None and stored_inputs.value.get("fingerprint") == fingerprint:
        screening = await records.screening(profile_id, posting_id)
    if screening is None:
        screening, final = await _screen(profile, posting, runtime.context, now)
        if applied is not None:
            screening = flag_already_applied(screening, applied)
        await records.put_screening(profile_id, posting_id, screening)
        if final:
            await records.store.aput(inputs_ns, posting_id, {"fingerprint": fingerprint}, index=False)
    failpoint("screen_job.done")  # durability tests crash here: the screening is stored, the state not yet
    return {
        "screenings": [
            ScreeningVerdict(
                posting_id=posting_id,
                match_score=screening.match_score,
                probability=screening.probability,
                top_reason=screening.reasons[0] if screening.reasons else "",
            )
        ]
    }
