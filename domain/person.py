"""What a recruiter reads about the person from their Profile, whatever shape the CV came in:
spoken languages with levels, home, where they may work, their role families and level, people
management, and the evidence index (each skill or concept -> the highlights that show it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from jobland.domain.dates import month_in
from jobland.domain.languages import named_language, spoken
from jobland.domain.models import Profile, Seniority, SkillItem, WorkItem
from jobland.domain.places import EU, country_of_demonym, find_area
from jobland.domain.posting_facts import Area, CefrLevel
from jobland.domain.roles import is_management_title, level_for_years, role_family, title_level
from jobland.domain.skills import canonical_skill, extract_terms
from jobland.domain.text import content_hash

SKILLS_LIST = "skills"
_DATE = re.compile(r"(\d{4})(?:-(\d{1,2}))?")
_LANGUAGE_HEADINGS = re.compile(r"^(?:spoken )?languages?|^sprach(?:en|kenntnisse)|^langues|^idiomas", re.I)
_LANGUAGE_LINE = re.compile(r"(?:spoken languages|languages|sprachen|sprachkenntnisse)\s*:\s*(.+)", re.I)
_CITIZEN = re.compile(r"\b(EU|European|[A-Z][a-z]+) (?:citizen(?:ship)?|passport|national(?:ity)?)\b")
_MANAGED = re.compile(
    r"\b(?:managed|manage|managing)\s+(?:a\s+)?(?:team|\d+|two|three|four|five|six|seven|eight)\b|\bline manag\w+"
    r"|\bpeople manag\w+|\bhired and (?:managed|led)\b|\bdirect reports\b",
    re.I,
)


# The words a CV uses for "still in this job" (English, German, French, Spanish): the one table. The CV
# importer, the JSON Resume writer and the letter writer ask is_ongoing or ONGOING_PATTERN, never keep a set.
ONGOING_WORDS = frozenset(
    {"present", "now", "current", "today", "ongoing", "heute", "aktuell", "jetzt", "bis heute", "date", "to date"}
    | {"aujourd'hui", "actualidad", "presente"}
)
# The same words inside a date range ("2019 – heute"), longest first so that "bis heute" beats "heute".
ONGOING_PATTERN = "(?:" + "|".join(re.escape(w) for w in sorted(ONGOING_WORDS, key=len, reverse=True)) + ")"


def is_ongoing(end_date: str | None) -> bool:
    """Whether a work entry with this end date is the person's current job."""
    return not end_date or end_date.strip().lower() in ONGOING_WORDS


@lru_cache(maxsize=4096)  # a CV's few dates, read for every posting and letter
def _parse_date(value: str | None, now: date) -> date | None:
    if is_ongoing(value):
        return now
    match = _DATE.search(value)
    if not match:
        return None
    month = int(match.group(2) or 0) or month_in(value) or 1
    return date(int(match.group(1)), min(max(month, 1), 12), 1)


def work_latest_first(profile: Profile) -> list[WorkItem]:
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


def profile_titles(profile: Profile) -> list[str]:
    titles = [profile.basics.label or ""] + [w.position or "" for w in work_latest_first(profile)]
    # A label such as "DevOps Engineer · Software Architect" holds two titles.
    return [t.strip() for title in titles for t in re.split(r"[·|/]", title) if t.strip()]


def profile_text(profile: Profile) -> str:
    """Every sentence of the profile that can mention a skill."""
    parts: list[str] = [profile.basics.label or "", profile.basics.summary or ""]
    for item in [*profile.work, *profile.volunteer]:
        parts += [item.position or "", item.summary or "", *(h.text for h in item.highlights)]
    for project in profile.projects:
        parts += [project.name, project.description or "", *project.keywords, *(h.text for h in project.highlights)]
    parts += [c.name for c in profile.certificates]
    return "\n".join(p for p in parts if p)


@dataclass(frozen=True)
class PersonFacts:
    languages: dict[str, CefrLevel | None]
    home: Area | None
    authorised: list[Area]
    families: list[str]
    titles: list[str]
    level: Seniority | None
    level_evidence: str
    manages_people: bool
    evidence: dict[str, list[str]] = field(default_factory=dict)
    text: str = ""
    clearance: bool = False


def is_language_group(skill: SkillItem) -> bool:
    """A skills entry that lists spoken languages ("Spoken languages: English (C2), German (B1)"); "Languages:
    Python, Go" lists programming languages. (The CV import puts spoken languages in Profile.languages; a
    profile made otherwise may still list them among its skills.)"""
    return bool(_LANGUAGE_HEADINGS.match(skill.name)) and any(named_language(k) for k in skill.keywords)


def _spoken_entries(profile: Profile) -> list[tuple[str, str | None]]:
    entries: list[tuple[str, str | None]] = [(lang.language, lang.fluency) for lang in profile.languages]
    for skill in profile.skills:
        if is_language_group(skill):
            entries += [(k, None) for k in skill.keywords]
    for line in (profile.basics.summary or "").split("\n"):
        if match := _LANGUAGE_LINE.search(line):
            entries.append((match.group(1), None))
    entries += [(name, None) for name in profile.preferences.required_languages]
    return entries


def spoken_languages(profile: Profile) -> dict[str, CefrLevel | None]:
    """ISO code -> level of every language the CV says the person speaks, whatever its shape."""
    return spoken(_spoken_entries(profile))


def _work_areas(code: str) -> list[Area]:
    """Where a national of `code` (alpha-2, or "EU") may work: the country, and the EU for EU members."""
    names = ([] if code == "EU" else [code]) + (["EU"] if code == "EU" or code in EU else [])
    return [a for name in names if (a := find_area(name))]


def _authorised(text: str, home: Area | None) -> list[Area]:
    """Where the CV says the person may work ("EU citizen", "German passport"); else where they live."""
    codes = [c for m in _CITIZEN.finditer(text) if (c := country_of_demonym(m.group(1)))]
    if not codes and home and home.countries:
        codes = [home.countries[0]]
    found = {a.name: a for code in codes for a in _work_areas(code)}
    return list(found.values())


def skill_terms(name: str) -> set[str]:
    """The canonical skills and concepts a profile skill entry stands for ("Python 3" -> {"Python", "Python 3"})."""
    return {canonical_skill(name), *(t for t, _ in extract_terms(name))}


def _evidence(profile: Profile) -> dict[str, list[str]]:
    """Canonical skill or concept -> ids of the highlights naming it ("skills" for the skills list)."""
    index: dict[str, list[str]] = {}
    for name in profile.skill_names():
        for term in skill_terms(name):
            index.setdefault(term, []).append(SKILLS_LIST)
    for _, highlight in profile.all_highlights():
        for term, _ in extract_terms(highlight.text):
            index.setdefault(term, []).append(highlight.id)
    for text in [
        profile.basics.summary or "",
        *(w.summary or "" for w in profile.work),
        *(w.position or "" for w in profile.work),
    ]:
        for term, _ in extract_terms(text):
            index.setdefault(term, []).append("profile")
    for project in profile.projects:
        for term in {canonical_skill(k) for k in project.keywords}:
            index.setdefault(term, []).append("profile")
    return {term: list(dict.fromkeys(ids)) for term, ids in index.items()}


def read_person(profile: Profile, now: date) -> PersonFacts:
    titles = profile_titles(profile)
    latest = work_latest_first(profile)[:1]
    # The person's own families are what they are now: the label and the latest position.
    current = [profile.basics.label or "", *(w.position or "" for w in latest)]
    families = list(dict.fromkeys(f for t in current for part in re.split(r"[·|/]", t) if (f := role_family(part))))
    years = years_of_experience(profile, now)
    level, evidence = None, ""
    for title in [profile.basics.label or "", *(w.position or "" for w in latest if w.position)]:
        if level := title_level(title):
            evidence = f"{years:.0f} years, latest as '{title}'" if years else f"titled '{title}'"
            break
    if level is None and years:
        level, evidence = level_for_years(years), f"{years:.0f} years of experience"
    location = profile.basics.location
    home = None
    if location:
        home = next(
            (
                a
                for part in (location.city, location.address, location.countryCode)
                if part and (a := find_area(part.split(",")[0]))
            ),
            None,
        )
    text = profile_text(profile)
    return PersonFacts(
        languages=spoken_languages(profile),
        home=home,
        authorised=_authorised(text, home),
        families=families,
        titles=titles,
        level=level,
        level_evidence=evidence,
        manages_people=any(is_management_title(t) for t in titles) or bool(_MANAGED.search(text)),
        evidence=_evidence(profile),
        text=text,
        clearance=bool(re.search(r"\bclearance\b|sicherheitsüberprüfung", text, re.I)),
    )


# PersonFacts by profile version and day: the screener reads every posting against them, the letter writer each
# letter; bench/llm_bound.py empties it before each run.
PERSON_FACTS: dict[str, PersonFacts] = {}


def person_facts(profile: Profile, now: date) -> PersonFacts:
    """The person's facts, read once per profile version and day (every posting and letter of a run shares them)."""
    key = content_hash(f"{profile.id}|{profile.content_hash}|{profile.model_dump_json()}|{now.isoformat()}")
    if key not in PERSON_FACTS:
        if len(PERSON_FACTS) > 64:
            PERSON_FACTS.clear()
        PERSON_FACTS[key] = read_person(profile, now)
    return PERSON_FACTS[key]
