"""Cover letters: the person's own evidence for the posting's must-haves, in the posting's working language.

The embedded letter has one shape, filled from the material: an opening that names the role and the one
reason this person fits this employer (the field their work history shares with the company, else the
work they do today); two or three paragraphs, each tying the posting's top must-haves to the strongest
recent highlight the screening matched to them (RequirementEvidence); a paragraph on the company around
one dossier fact with its source; a closing. When the dossier knows nothing about the company (at most a line
about the team), the substance comes from the person's own record instead: one more must-have shown, a duty
the posting lists tied to the highlight that shows it, else a third piece of relevant recent work, and the
fields the person has worked in. Which phrase frames each part follows from the material
(current or past job, a highlight that reads as a sentence or not, the fact's topic and source, a named
contact, a named team), never from chance. The fixed phrases in LETTER_PHRASES are the only words the
writer adds, and every line records what it rests on, so the truth check holds each line to it.

The letter is written in the posting's working language (PostingFacts.language_of_work) when the person
speaks it at B1 or better, otherwise in English, and never mixes languages: a highlight or a company fact
in another language is named by its facts (employer, role, years, skills), not quoted.

With an LLM, the model writes the body in the same shape between the same head (sender, subject,
greeting) and tail (closing, signature); each paragraph cites the CV's highlights and the dossier's facts
it uses by id and number, a paragraph citing anything else is left out, and the truth check holds each to
what it cites.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from jobland.agents.cv_writer import one_line, profile_for_prompt, rank_highlights
from jobland.agents.package_files import render_pdf_file
from jobland.agents.researcher import dossier_key
from jobland.agents.screener import requirement_evidence
from jobland.agents.sentence_vectors import warm_sentence_vectors
from jobland.domain.company_facts import addresses_reader, industries_in, named_team, short_name
from jobland.domain.failpoints import async_failpoint
from jobland.domain.languages import at_least, language_name, level_name, text_language
from jobland.domain.models import (
    ApplicationPackage,
    CompanyDossier,
    CoverLetter,
    EvidenceLine,
    Highlight,
    JobPosting,
    Profile,
    RequirementEvidence,
    SourcedFact,
    TailoredCV,
)
from jobland.domain.person import is_ongoing, person_facts, spoken_languages, years_of_experience
from jobland.domain.places import city_name_in
from jobland.domain.posting_facts import Requirement
from jobland.domain.posting_reader import facts_of, plain_title
from jobland.domain.repository import RecordNotFound, Records
from jobland.domain.roles import relation, role_family
from jobland.domain.skills import GENERIC_TERMS, extract_skills, satisfies, satisfying
from jobland.graph.context import Context
from jobland.graph.state import PackageBuildState
from jobland.prompts import load_prompt, quoted_data
from jobland.templates import render
from jobland.tools.llm import llm_limiter, load_chat_model, structured_call

# The writer's only words, per letter language (ISO 639-1). "industry.*" name the fields of
# domain.company_facts.INDUSTRY_CUES in that language.
LETTER_PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "subject": "Application for {title} at {company}",
        "greeting_f": "Dear Ms {surname},",
        "greeting_m": "Dear Mr {surname},",
        "greeting_named": "Dear {name},",
        "greeting_team": "Dear {team} team,",
        "greeting_company": "Dear hiring team at {company},",
        "greeting_generic": "Dear hiring team,",
        "unnamed_company": "your company",
        "opening": "I am writing to apply for the {title} role at {company}.",
        "reason_field_current": (
            "What makes this role a natural next step for me is the field: I have worked in {industry} since "
            "{year}, as {position} at {employer}."
        ),
        "reason_field_past": (
            "What makes this role a natural fit is the field: I worked in {industry} from {start} to {end}, "
            "as {position} at {employer}."
        ),
        "reason_same_work": "It is the work I have done since {year}, today{as_position} at {employer}.",
        "reason_skills": "My record covers what your posting puts first: {skills}.",
        "evidence_current": "You ask for {requirements}. In my current role at {employer}, I {clause}",
        "evidence_current_quote": "You ask for {requirements}. From my current role at {employer}: {highlight}",
        "evidence_same": "You also ask for {requirements}. In the same role, I {clause}",
        "evidence_same_quote": "You also ask for {requirements}, which the same role shows: {highlight}",
        "evidence_same_next": "My record there covers {requirements} too: I {clause}",
        "evidence_same_next_quote": "My record there covers {requirements} too: {highlight}",
        "evidence_same_more": "To that I can add {requirements}: I {clause}",
        "evidence_same_more_quote": "To that I can add {requirements}: {highlight}",
        "evidence_past": "For {requirements}, I draw on my time{as_position} at {employer} ({start}–{end}), where I {clause}",
        "evidence_past_quote": "For {requirements}, my time{as_position} at {employer} ({start}–{end}) shows it: {highlight}",
        "evidence_extra": "Beyond your list, at {employer} I {clause}",
        "evidence_extra_quote": "Beyond your list, from my work at {employer}: {highlight}",
        "evidence_extra_listed": "More of that work comes from {employer}, where I {clause}",
        "evidence_extra_listed_quote": "More of that work comes from {employer}: {highlight}",
        "as_position": " as {position}",
        "fact_business": "What draws me to your company is what it does: “{fact}”",
        "fact_products": "What draws me to your company is its product: “{fact}”",
        "fact_customers": "What draws me to your company is whom it works for: “{fact}”",
        "fact_mission": "Your posting names the goal: “{fact}”",
        "fact_team": "Your posting describes the team I would join: “{fact}”",
        "fact_other": "Your posting tells me: “{fact}”",
        "fact_web": "What I read about you stayed with me: “{fact}”",
        "link_field": "After my years in {industry} at {employer}, that is work I understand and want to be part of.",
        "link_plain": "That is the kind of work I want my next role to serve.",
        "link_skills": "I would like to bring my experience with {skills} to that work.",
        "duty": "Among the duties, your posting names “{duty}”.",
        "domains": "My domain experience is in {fields}.",
        "domain": "{industry} ({employer})",
        "duty_current": "I have worked with {skills} at {employer} since {year}.",
        "duty_past": "I worked with {skills} at {employer} from {start} to {end}.",
        "duty_clause": "At {employer}, I {clause}",
        "duty_quote": "From my work at {employer}: {highlight}",
        "experience": "Your posting asks for at least {asked} years of experience, which my CV covers.",
        "career": "Before that, I worked as {roles}.",
        "career_role": "{position} at {employer} ({start}–{end})",
        "practical_local": "I live in {city}, so the job's location works for me without a move.",
        "practical_remote": "I would work remotely from {city}.",
        "languages": "You ask for {asked}; I speak {spoken}.",
        "closing": (
            "My CV, tailored to this role, is attached. I would be glad to talk with you about how I can help "
            "your team."
        ),
        "closing_cv_language": (
            "My CV, tailored to this role, is attached; it is written in German. I would be glad to talk with you "
            "about how I can help your team."
        ),
        "signoff": "Kind regards,",
        "signoff_informal": "Kind regards,",
        "and": "and",
        "or": "or",
        "industry.payments": "payments",
        "industry.mobility": "mobility",
        "industry.logistics": "logistics",
        "industry.energy": "energy",
        "industry.retail": "retail and e-commerce",
        "industry.real estate": "real estate",
        "industry.insurance": "insurance",
        "industry.travel and ticketing": "travel and ticketing",
        "industry.health": "health care",
        "industry.food": "food",
        "industry.legal": "legal services",
        "industry.robotics": "robotics",
        "industry.media": "media",
    },
    "de": {
        "subject": "Bewerbung als {title} bei {company}",
        "greeting_f": "Sehr geehrte Frau {surname},",
        "greeting_m": "Sehr geehrter Herr {surname},",
        "greeting_named": "Guten Tag {name},",
        "greeting_team": "Liebes {team}-Team,",
        "greeting_company": "Liebes Team von {company},",
        "greeting_generic": "Sehr geehrte Damen und Herren,",
        "unnamed_company": "Ihrem Unternehmen",
        "opening": "hiermit bewerbe ich mich um die Stelle als {title} bei {company}.",
        "reason_field_current": (
            "Was mich an dieser Stelle besonders anspricht, ist die Branche: Im Bereich {industry} arbeite ich "
            "seit {year}, als {position} bei {employer}."
        ),
        "reason_field_past": (
            "Was mich an dieser Stelle besonders anspricht, ist die Branche: Im Bereich {industry} habe ich von "
            "{start} bis {end} als {position} bei {employer} gearbeitet."
        ),
        "reason_same_work": "Genau diese Arbeit mache ich seit {year}, heute{as_position} bei {employer}.",
        "reason_skills": "Mein Werdegang deckt ab, was Ihre Ausschreibung an erster Stelle nennt: {skills}.",
        "evidence_current": "Sie suchen Erfahrung mit {requirements}: Damit arbeite ich seit {year} bei {employer}{together}.",
        "evidence_current_quote": "Sie suchen Erfahrung mit {requirements}. Aus meiner Arbeit bei {employer}: {highlight}",
        "evidence_same": "Auch {requirements} habe ich dort eingesetzt{together}.",
        "evidence_same_next": "Dazu kommt dort die Arbeit mit {requirements}{together}.",
        "evidence_same_more": "Ebenfalls dort im Einsatz: {requirements}{together}.",
        "evidence_same_quote": "Ebenfalls bei {employer}, für {requirements}: {highlight}",
        "evidence_same_next_quote": "Außerdem, für {requirements}: {highlight}",
        "evidence_same_more_quote": "Und für {requirements}: {highlight}",
        "evidence_past": "{requirements} habe ich von {start} bis {end}{as_position} bei {employer} eingesetzt{together}.",
        "evidence_past_quote": "Für {requirements} steht meine Zeit bei {employer} ({start}–{end}): {highlight}",
        "evidence_extra": "Darüber hinaus habe ich bei {employer} mit {requirements} gearbeitet.",
        "evidence_extra_quote": "Darüber hinaus, aus meiner Arbeit bei {employer}: {highlight}",
        "evidence_extra_listed": "Auch bei {employer} habe ich mit {requirements} gearbeitet.",
        "evidence_extra_listed_quote": "Auch aus meiner Arbeit bei {employer}: {highlight}",
        "measured": "Die Ergebnisse dazu belegt mein Lebenslauf mit Zahlen.",
        "as_position": " als {position}",
        "together": ", zusammen mit {skills}",
        "fact_business": "Was mich an Ihrem Unternehmen anspricht, ist Ihre Arbeit: „{fact}“",
        "fact_products": "Was mich anspricht, ist Ihr Produkt: „{fact}“",
        "fact_customers": "Was mich anspricht, ist, für wen Sie arbeiten: „{fact}“",
        "fact_mission": "Ihre Ausschreibung nennt das Ziel: „{fact}“",
        "fact_team": "Ihre Ausschreibung beschreibt das Team: „{fact}“",
        "fact_other": "In Ihrer Ausschreibung heißt es: „{fact}“",
        "fact_web": "Über Sie habe ich gelesen: „{fact}“",
        "link_field": (
            "Nach meinen Jahren im Bereich {industry} bei {employer} ist das eine Arbeit, die ich verstehe und "
            "mitgestalten möchte."
        ),
        "link_plain": "Daran möchte ich mitarbeiten.",
        "link_skills": "Daran möchte ich mit meiner Erfahrung mit {skills} mitarbeiten.",
        "duty": "Zu den Aufgaben nennt Ihre Ausschreibung „{duty}“.",
        "domains": "Die Branchen meiner bisherigen Arbeit: {fields}.",
        "domain": "{industry} ({employer})",
        "duty_current": "Mit {skills} arbeite ich seit {year} bei {employer}{together}.",
        "duty_past": "Mit {skills} habe ich von {start} bis {end} bei {employer} gearbeitet{together}.",
        "duty_quote": "Aus meiner Arbeit bei {employer}: {highlight}",
        "experience": "Sie wünschen sich mindestens {asked} Jahre Berufserfahrung; die bringe ich mit.",
        "career": "Davor war ich {roles}.",
        "career_role": "{position} bei {employer} ({start}–{end})",
        "practical_local": "Ich lebe in {city}; der Arbeitsort passt also ohne Umzug.",
        "practical_remote": "Ich würde remote aus {city} arbeiten.",
        "languages": "Sie wünschen sich {asked}; ich spreche {spoken}.",
        "closing": (
            "Meinen auf diese Stelle zugeschnittenen Lebenslauf finden Sie im Anhang. Über die Gelegenheit, Ihnen "
            "meine Arbeit in einem persönlichen Gespräch vorzustellen, freue ich mich."
        ),
        "closing_cv_language": (
            "Meinen auf diese Stelle zugeschnittenen Lebenslauf finden Sie im Anhang; er ist auf Englisch "
            "verfasst. Über die Gelegenheit, Ihnen meine Arbeit in einem persönlichen Gespräch vorzustellen, "
            "freue ich mich."
        ),
        "signoff": "Mit freundlichen Grüßen",
        "signoff_informal": "Viele Grüße",
        "and": "und",
        "or": "oder",
        "industry.payments": "Zahlungsverkehr",
        "industry.mobility": "Mobilität",
        "industry.logistics": "Logistik",
        "industry.energy": "Energie",
        "industry.retail": "Handel und E-Commerce",
        "industry.real estate": "Immobilien",
        "industry.insurance": "Versicherungen",
        "industry.travel and ticketing": "Reisen und Ticketing",
        "industry.health": "Gesundheitswesen",
        "industry.food": "Lebensmittel",
        "industry.legal": "Rechtsdienstleistungen",
        "industry.robotics": "Robotik",
        "industry.media": "Medien",
    },
}
MAX_WORDS = 350  # the default of letter_max_words
# The posting fields every letter names: the title and the company.
POSTING_FIELDS = ("posting.title", "posting.hiringOrganization.name")
MAX_EVIDENCE = 3
MIN_EVIDENCE = 2
RECENT_YEARS = 5  # evidence older than this is used only when nothing recent shows the must-have
_MAX_FACT_WORDS = 45
# Which topics make the best company paragraph, best first; a duty line or JobLand's own location
# sentence is not quoted (see company_fact). A line about the team comes last: a duty of the posting tied to
# the person's work says more (see letter_material).
_FACT_TOPICS = ("business", "products", "customers", "mission", "stage", "size", "recent_news", "culture", "team")
# The first word of a highlight that reads as "I <verb> ...": past tenses a CV opens a line with.
_PAST_TENSE = frozenset(
    "led built cut ran drove wrote grew made set took won kept brought began became gave held found rebuilt "
    "split spent taught sold shipped owned".split()
)
_DOUBLED_PERIOD = re.compile(r"(?<=\w\.)\.(?!\.)")
# The years a posting asks for, written out as a letter writes them ("at least five years").
NUMBER_WORDS = {
    "en": "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split(),
    "de": "null ein zwei drei vier fünf sechs sieben acht neun zehn elf zwölf dreizehn vierzehn fünfzehn "
    "sechzehn siebzehn achtzehn neunzehn zwanzig".split(),
}


def letter_language(profile: Profile, posting: JobPosting) -> str:
    """The posting's working language when the person speaks it well enough to write a letter in it (B1 or
    better, or a level the CV does not state), otherwise English."""
    language = facts_of(posting).language_of_work
    levels = spoken_languages(profile)
    fluent = language in levels and at_least(levels[language], "B1")
    return language if language in LETTER_PHRASES and fluent else "en"


# --------------------------------------------------------------------------- the material


@dataclass(frozen=True)
class Entry:
    """A work, volunteer or project entry: where a highlight comes from."""

    field: str  # the profile field, e.g. "work[0]"
    name: str
    position: str
    start: int | None
    end: int | None  # None: ongoing
    ongoing: bool

    def ended(self, now: date) -> int:
        return now.year if self.ongoing or self.end is None else self.end


def _year(value: str | None) -> int | None:
    match = re.search(r"\b(19|20)\d\d\b", value or "")
    return int(match.group(0)) if match else None


def profile_entries(profile: Profile) -> dict[str, Entry]:
    """Highlight id -> the entry it belongs to."""
    found: dict[str, Entry] = {}
    for key in ("work", "volunteer", "projects"):
        for index, item in enumerate(getattr(profile, key)):
            position = item.roles[0] if key == "projects" and item.roles else getattr(item, "position", None)
            entry = Entry(
                field=f"{key}[{index}]",
                name=one_line(item.name),
                position=one_line(position or ""),
                start=_year(item.startDate),
                end=_year(item.endDate),
                ongoing=key == "work" and is_ongoing(item.endDate),
            )
            for highlight in item.highlights:
                found.setdefault(highlight.id, entry)
    return found


def highlight_fields(profile: Profile) -> dict[str, tuple[str, str]]:
    """Highlight id -> (owner name, profile field of the owner), e.g. ("Acme", "work[0]")."""
    return {i: (entry.name, entry.field) for i, entry in profile_entries(profile).items()}


@dataclass(frozen=True)
class Evidence:
    highlight: Highlight
    entry: Entry
    requirements: tuple[str, ...]  # how the letter names the must-haves it shows ("Snowflake"), top first
    listed: bool = False  # shows no must-have not shown above, but skills the posting asks for


def _written(term: str) -> str:
    """A skill as prose writes it: a concept in lower case ("automated tests"), a name as it is ("Kafka")."""
    return term.lower() if term in GENERIC_TERMS and not term.isupper() else term


def _named(requirement: Requirement, highlight: Highlight, conjunction: str) -> str:
    """A must-have as the highlight shows it ("Snowflake" for "Snowflake, BigQuery or Redshift")."""
    shown = [s for s in extract_skills(highlight.text) if any(satisfies(s, wanted) for wanted in requirement.any_of)]
    if shown:
        return _written(shown[0])
    options = [_written(o) for o in requirement.any_of]
    return options[0] if len(options) == 1 else f"{', '.join(options[:-1])} {conjunction} {options[-1]}"


def strongest_evidence(
    profile: Profile,
    posting: JobPosting,
    matched: list[RequirementEvidence],
    *,
    now: date,
    conjunction: str = "or",
    limit: int = MAX_EVIDENCE,
    least: int = MIN_EVIDENCE,
) -> list[Evidence]:
    """Highlights that show the posting's top must-haves (as the screening matched them), one paragraph each.

    Greedy over the must-haves in the posting's order: each pick is the highlight that shows the most
    must-haves not yet shown, a recent one (the last RECENT_YEARS) always before an older one, then the
    most recent, then the CV writer's ranking. So a senior line of today beats a junior line of 2016, and an
    older line is used only while the letter has fewer than two pieces of evidence.
    """
    entries = profile_entries(profile)
    highlights = profile.highlight_by_id()
    must = {r.label: r for r in facts_of(posting).must_haves}
    order = {label: index for index, label in enumerate(must)}
    shows: dict[str, list[str]] = {}
    for found in matched:
        for highlight_id in found.highlight_ids:
            if found.requirement in must and highlight_id in entries and highlight_id in highlights:
                shows.setdefault(highlight_id, []).append(found.requirement)
    rank = {h.id: index for index, (_, h) in enumerate(rank_highlights(profile, posting, matched))}
    recent_from = now.year - RECENT_YEARS

    def key(highlight_id: str, new: set[str]) -> tuple:
        entry = entries[highlight_id]
        return (
            entry.ended(now) >= recent_from,
            len(new),
            entry.ended(now),
            -min(order[r] for r in new),
            -rank.get(highlight_id, len(rank)),
        )

    picked: list[Evidence] = []
    covered: set[str] = set()
    while len(picked) < limit:
        options = {i: set(labels) - covered for i, labels in shows.items() if i not in {e.highlight.id for e in picked}}
        # An older line only while the letter has fewer than two pieces of evidence.
        options = {
            i: new
            for i, new in options.items()
            if new and (len(picked) < MIN_EVIDENCE or entries[i].ended(now) >= recent_from)
        }
        if not options:
            break
        best = max(options, key=lambda i: key(i, options[i]))
        labels = sorted(options[best], key=order.__getitem__)
        covered |= options[best]
        picked.append(
            Evidence(
                highlight=highlights[best],
                entry=entries[best],
                requirements=tuple(dict.fromkeys(_named(must[r], highlights[best], conjunction) for r in labels)),
            )
        )
    # Fewer pieces than `least`: the most relevant recent work makes up the rest; it is "listed" when the
    # screening's reading of the CV (the person's evidence index) has it show a skill the posting asks for.
    shown_by = person_facts(profile, now).evidence
    asked = {skill for r in facts_of(posting).requirements for wanted in r.any_of for skill in satisfying(wanted)}
    for highlight_id in sorted(rank, key=rank.__getitem__):
        if len(picked) >= least:
            break
        if highlight_id in entries and highlight_id not in {e.highlight.id for e in picked}:
            entry = entries[highlight_id]
            if entry.ended(now) >= recent_from:
                listed = any(highlight_id in shown_by.get(skill, ()) for skill in asked)
                picked.append(Evidence(highlights[highlight_id], entry, (), listed))
    return picked


@dataclass(frozen=True)
class FieldLink:
    """The field a person's work history shares with the company: the one reason the opening gives."""

    industry: str
    entry: Entry


def field_link(profile: Profile, posting: JobPosting, dossier: CompanyDossier, *, now: date) -> FieldLink | None:
    """The industry the company works in (its name, title and what-it-does facts say) that one of the
    person's recent entries (the last RECENT_YEARS) also names in its own words, the latest first."""
    about = [posting.company, posting.title] + [
        f.text for topic in ("business", "products", "customers", "mission") for f in getattr(dossier, topic)
    ]
    company_fields = industries_in("\n".join(about))
    if not company_fields:
        return None
    items = {f"{key}[{i}]": item for key in ("work", "projects") for i, item in enumerate(getattr(profile, key))}
    entries = sorted(
        {e.field: e for e in profile_entries(profile).values()}.values(), key=lambda e: e.ended(now), reverse=True
    )
    for entry in entries:
        item = items.get(entry.field)
        if item is None or not entry.position or entry.ended(now) < now.year - RECENT_YEARS:
            continue
        text = "\n".join([item.name, getattr(item, "summary", None) or "", *(h.text for h in item.highlights)])
        shared = [industry for industry in industries_in(text) if industry in company_fields]
        if shared:
            return FieldLink(shared[0], entry)
    return None


def company_fact(dossier: CompanyDossier, posting: JobPosting, language: str) -> tuple[str, str, SourcedFact] | None:
    """(topic, field path, fact) of the dossier's best fact for the letter: a whole sentence of the posting or
    of a web page, about the company rather than to the reader, short enough to quote, in the letter's language."""
    text = posting.full_text()
    for topic in _FACT_TOPICS:
        for index, fact in enumerate(getattr(dossier, topic)):
            sentence = fact.text.rstrip().endswith((".", "!", "?"))
            quoted = (
                fact.source_kind == "web"
                or fact.text in text
                or fact.text in (posting.hiringOrganization.description or "")
            )
            if (
                sentence
                and quoted
                and not addresses_reader(fact.text)  # "You will work with ..." is the posting talking to the reader
                and len(fact.text.split()) <= _MAX_FACT_WORDS
                and text_language(fact.text) == language
            ):
                return topic, f"dossier.{topic}[{index}]", fact
    return None


def quotable_facts(dossier: CompanyDossier) -> list[tuple[str, SourcedFact]]:
    """(field path, fact) of the dossier facts short enough to quote, best topic first (what the LLM may cite)."""
    return [
        (f"dossier.{topic}[{index}]", fact)
        for topic in _FACT_TOPICS
        for index, fact in enumerate(getattr(dossier, topic))
        if len(fact.text.split()) <= _MAX_FACT_WORDS
    ]


MAX_DOMAINS = 3


def domain_history(profile: Profile) -> tuple[tuple[str, Entry], ...]:
    """The fields the person's jobs were in, latest job first, each field once: (industry, entry)."""
    items = dict(enumerate(profile.work))
    jobs = sorted(
        {e.field: e for e in profile_entries(profile).values() if e.field.startswith("work[")}.values(),
        key=lambda e: (e.ongoing, e.end or 0, e.start or 0),
        reverse=True,
    )
    found: dict[str, Entry] = {}
    for entry in jobs:
        item = items[int(entry.field[5:-1])]
        text = "\n".join([item.name, item.summary or "", *(h.text for h in item.highlights)])
        new = [industry for industry in industries_in(text) if industry not in found]
        if new and len(found) < MAX_DOMAINS:
            found[new[0]] = entry
    return tuple(found.items())


@dataclass(frozen=True)
class Duty:
    """A duty the posting lists, and the person's recent highlight that shows the skills it names."""

    text: str
    source_fields: tuple[str, ...]  # the posting, and the dossier's team line it was read into
    evidence: Evidence  # requirements: the duty's skills as the highlight names them
    cited: bool  # the highlight is also one of the letter's evidence paragraphs


def posting_duty(
    profile: Profile,
    posting: JobPosting,
    dossier: CompanyDossier,
    evidence: list[Evidence],
    language: str,
    *,
    now: date,
) -> tuple[Duty | None, list[Evidence]]:
    """For a letter with no company fact to write about: a duty the posting lists (its responsibilities, and
    what the dossier read about the team) whose skills one of the person's recent highlights shows, quoted
    when the posting is written in the letter's language; and the evidence paragraphs left beside it.

    A highlight the letter does not cite yet goes first, then the one showing more of the duty's skills, then
    the most recent. When every such highlight is already cited, the duty takes over the last of them (while
    the letter keeps MIN_EVIDENCE paragraphs), so the paragraph never repeats one above it.
    """
    if facts_of(posting).written_in != language:
        return None, evidence
    source = f"posting:{posting.id}"
    duties = {one_line(d): [source] for d in facts_of(posting).sections.get("responsibilities", [])}
    for index, fact in enumerate(dossier.team):
        if fact.source == source:
            duties.setdefault(one_line(fact.text), [source]).append(f"dossier.team[{index}]")
    entries = profile_entries(profile)
    place = {e.highlight.id: index for index, e in enumerate(evidence)}
    recent = [
        (h, entries[h.id])
        for _, h in profile.all_highlights()
        if h.id in entries and entries[h.id].ended(now) >= now.year - RECENT_YEARS
    ]
    options = []
    for order, (text, fields) in enumerate(duties.items()):
        wanted = [s for s in extract_skills(text) if s not in GENERIC_TERMS]
        for highlight, entry in recent:
            shown = [s for s in extract_skills(highlight.text) if any(satisfies(s, w) for w in wanted)]
            if shown:
                rank = (highlight.id not in place, place.get(highlight.id, 0), len(shown), entry.ended(now), -order)
                options.append((rank, text, fields, highlight, entry, shown))
    if not options:
        return None, evidence
    _, text, fields, highlight, entry, shown = max(options, key=lambda option: option[0])
    requirements = tuple(dict.fromkeys(_written(s) for s in shown))
    cited = highlight.id in place
    if cited and len(evidence) > MIN_EVIDENCE:
        evidence, cited = [e for e in evidence if e.highlight.id != highlight.id], False
    return Duty(text, tuple(fields), Evidence(highlight, entry, requirements), cited), evidence


# --------------------------------------------------------------------------- the lines


def _listing(items: list[str], conjunction: str) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def _sentence(text: str) -> str:
    """One line of prose: single spaces, one final stop, never a doubled period ("Acme Co..")."""
    text = _DOUBLED_PERIOD.sub("", one_line(text))
    return text if text.endswith((".", "!", "?", "“", "”", '"', ":")) else f"{text}."


def _as_clause(highlight: str) -> str | None:
    """A highlight as what follows "I" ("Built X" -> "built X"), or None when it does not open with a verb."""
    first, _, rest = one_line(highlight).partition(" ")
    lower = first.lower()
    if rest and first[:1].isupper() and (lower.endswith("ed") or lower in _PAST_TENSE) and not extract_skills(first):
        return f"{lower} {rest}"
    return None


@dataclass(frozen=True)
class LetterMaterial:
    """Everything one letter says, chosen before any line is written."""

    language: str
    posting_id: str
    title: str
    company: str  # as the letter names it: without its legal form
    evidence: list[Evidence]
    link: FieldLink | None
    fact: tuple[str, str, SourcedFact] | None
    practical: str | None  # "practical_local" or "practical_remote": where the person would work from
    city: str
    years: int | None  # the years of experience the posting asks for, when the CV's dates cover them
    languages: tuple[tuple[str, str | None, str | None], ...]  # (code, level asked, the person's level)
    now: date
    career: bool = True  # name the roles before the cited ones
    duty: Duty | None = None  # with no company fact: a duty of the posting tied to the person's work
    domains: tuple[tuple[str, Entry], ...] = ()  # with no company fact nor shared field: (industry, entry)


def _head(profile: Profile, posting: JobPosting, dossier: CompanyDossier, language: str) -> list[EvidenceLine]:
    """Sender, contact line, subject and greeting."""
    phrases = LETTER_PHRASES[language]
    legal, title = one_line(posting.company) or phrases["unnamed_company"], plain_title(one_line(posting.title))
    contacts = [one_line(c) for c in (profile.basics.email, profile.basics.phone) if c and c.strip()]
    lines = [EvidenceLine(section="sender", text=one_line(profile.basics.name), source_fields=["basics.name"])]
    if contacts:
        lines.append(EvidenceLine(section="contact", text=" · ".join(contacts), source_fields=["basics"]))
    lines.append(
        EvidenceLine(
            section="subject",
            text=_DOUBLED_PERIOD.sub("", phrases["subject"].format(title=title, company=legal)),
            source_fields=list(POSTING_FIELDS),
        )
    )
    lines.append(
        EvidenceLine(
            section="greeting",
            text=salutation(posting, dossier, language),
            source_fields=["posting.hiringOrganization.name", f"posting:{posting.id}"],
        )
    )
    return lines


def salutation(posting: JobPosting, dossier: CompanyDossier, language: str) -> str:
    """The named contact, else the team the posting names, else the company's hiring team (German: formal
    unless the posting says "du")."""
    phrases = LETTER_PHRASES[language]
    facts = facts_of(posting)
    if facts.contact_name:
        surname = facts.contact_name.split()[-1]
        key = {"f": "greeting_f", "m": "greeting_m"}.get(facts.contact_form or "", "greeting_named")
        return phrases[key].format(surname=surname, name=facts.contact_name)
    team = named_team([f.text for f in dossier.team] + [posting.description])
    if team:
        return phrases["greeting_team"].format(team=team)
    company = short_name(posting.company)
    if not company:
        return phrases["greeting_generic"]
    if language == "de" and not facts.informal:
        return phrases["greeting_generic"]
    return phrases["greeting_company"].format(company=company)


def _as_position(entry: Entry, material: LetterMaterial, phrases: dict[str, str]) -> str:
    """ " as Data Engineer", or nothing when the entry has no role or it is the title applied for (named once)."""
    if not entry.position or entry.position.casefold() == material.title.casefold():
        return ""
    return phrases["as_position"].format(position=entry.position)


def _same_family(family: str | None, position: str) -> bool:
    return relation(family, [f for f in [role_family(position)] if f]) == "same"


def _in_family_since(profile: Profile, family: str | None, current: Entry) -> tuple[int, list[str]]:
    """(the year, the work fields) since when the person has worked in the role family, in an unbroken run of
    jobs in it that ends with the current one: "since 2020" for a data engineer since 2020, senior since 2023."""
    entries = {e.field: e for e in profile_entries(profile).values() if e.field.startswith("work[")}
    run = [current]
    for entry in sorted(entries.values(), key=lambda e: e.start or 0, reverse=True):
        if entry.field != current.field and entry.start and entry.end and entry.start < (run[-1].start or 0):
            if not _same_family(family, entry.position) or entry.end < (run[-1].start or 0) - 1:
                break
            run.append(entry)
    return run[-1].start or current.start or 0, [e.field for e in run]


def _opening(material: LetterMaterial, profile: Profile, posting: JobPosting, phrases: dict[str, str]) -> EvidenceLine:
    """The role, the company, and the one reason: the shared field, else today's work, else the must-haves."""
    fields = [*POSTING_FIELDS, f"posting:{posting.id}"]
    ids: list[str] = []
    reason = ""
    if (link := material.link) and link.entry.start and (link.entry.ongoing or link.entry.end):
        entry = link.entry
        values = {"industry": phrases[f"industry.{link.industry}"], "position": entry.position, "employer": entry.name}
        if entry.ongoing:
            reason = phrases["reason_field_current"].format(year=entry.start, **values)
        else:
            reason = phrases["reason_field_past"].format(start=entry.start, end=entry.end, **values)
        fields.append(entry.field)
    shown = [e for e in material.evidence if e.requirements]
    family = facts_of(posting).family
    current = next((e for e in shown if e.entry.ongoing and e.entry.position and e.entry.start), None)
    if not reason and current and _same_family(family, current.entry.position):
        since = _in_family_since(profile, family, current.entry)
        reason = phrases["reason_same_work"].format(
            as_position=_as_position(current.entry, material, phrases), employer=current.entry.name, year=since[0]
        )
        fields += since[1]
        ids = [e.highlight.id for e in shown]
    elif not reason and shown:
        skills = list(dict.fromkeys(r for e in shown for r in e.requirements))[:4]
        reason = phrases["reason_skills"].format(skills=_listing(skills, phrases["and"]))
        ids = [e.highlight.id for e in shown]
    if material.domains:
        listed = [
            phrases["domain"].format(industry=phrases[f"industry.{i}"], employer=e.name) for i, e in material.domains
        ]
        domains = phrases["domains"].format(fields=_listing(listed, phrases["and"]))
        reason = f"{_sentence(reason)} {domains}" if reason else ""
        fields += [e.field for _, e in material.domains]
    text = phrases["opening"].format(title=material.title, company=material.company)
    if material.years:
        words = NUMBER_WORDS[material.language]
        asked = words[material.years]
        reason = f"{_sentence(reason)} {phrases['experience'].format(asked=asked)}" if reason else ""
        fields += [f"work[{i}]" for i in range(len(profile.work))]
    return EvidenceLine(
        section="opening", text=_sentence(f"{text} {reason}".strip()), highlight_ids=ids, source_fields=fields
    )


def _together(highlight: Highlight, named: list[str], phrases: dict[str, str]) -> str:
    """ ", zusammen mit AWS und Helm": the other skills of a highlight the letter names by its facts (German)."""
    others = [s for s in extract_skills(highlight.text) if s not in named and s not in GENERIC_TERMS][:3]
    return (
        phrases["together"].format(skills=_listing(others, phrases["and"])) if others and "together" in phrases else ""
    )


def _evidence_text(evidence: Evidence, kind: str, material: LetterMaterial, phrases: dict[str, str]) -> str:
    """One piece of evidence in the words of its frame: "current", "same" (employer again), "past", "extra".

    In English a highlight that opens with a verb continues "I ..."; another is quoted after a colon. A
    highlight in another language than the letter is named by its facts (employer, years, skills) instead.
    """
    entry, highlight = evidence.entry, evidence.highlight
    quotable = text_language(highlight.text) == material.language
    clause = _as_clause(highlight.text) if material.language == "en" and quotable else None
    named = list(evidence.requirements) or list(extract_skills(highlight.text))[:3]
    values = {
        "requirements": _listing(named, phrases["and"]) if named else entry.position,
        "as_position": _as_position(entry, material, phrases),
        "employer": entry.name,
        "year": entry.start or "",
        "start": entry.start or "",
        "end": entry.end or "",
        "clause": _sentence(clause or ""),
        "highlight": _sentence(highlight.text),
        "together": _together(highlight, named, phrases),
    }
    if kind == "past" and not (entry.start and entry.end) or kind == "current" and not entry.start:
        kind = "extra"
    key = f"evidence_{kind}" if clause or not quotable else f"evidence_{kind}_quote"
    text = _sentence(phrases[key].format(**values))
    return text[0].upper() + text[1:]


def _evidence_lines(material: LetterMaterial, phrases: dict[str, str]) -> list[EvidenceLine]:
    """One paragraph per piece of evidence, framed by where it comes from; in a letter that names evidence by
    its facts rather than quoting it, more from the same employer joins that employer's paragraph."""
    lines: list[EvidenceLine] = []
    named: dict[str, int] = {}  # employer -> index of its paragraph
    mentions: dict[str, int] = {}
    measured = False
    for evidence in material.evidence:
        entry, highlight = evidence.entry, evidence.highlight
        again = entry.name in named
        kind = "current" if entry.ongoing else "past"
        if not evidence.requirements:
            kind = "extra_listed" if evidence.listed else "extra"
        if again and evidence.requirements:
            # The second, third and later piece from one employer each take their own turn of phrase.
            kind = ("same", "same_next", "same_more")[min(mentions[entry.name], 3) - 1]
        mentions[entry.name] = mentions.get(entry.name, 0) + 1
        text = _evidence_text(evidence, kind, material, phrases)
        quoted = text_language(highlight.text) == material.language
        if not quoted and not measured and "measured" in phrases and re.search(r"\d", highlight.text):
            text, measured = f"{text} {phrases['measured']}", True
        # The posting is cited only for a must-have the highlight does not write itself ("ELT" for "dbt"), so
        # a skill slipped into the highlight's words is still the truth check's to catch.
        written = highlight.text.casefold()
        asked = (
            [f"posting:{material.posting_id}"]
            if any(r.casefold() not in written for r in evidence.requirements)
            else []
        )
        line = EvidenceLine(
            section="evidence", text=text, highlight_ids=[highlight.id], source_fields=[entry.field, *asked]
        )
        if again and not quoted:
            earlier = lines[named[entry.name]]
            lines[named[entry.name]] = earlier.model_copy(
                update={
                    "text": f"{earlier.text} {text}",
                    "highlight_ids": [*earlier.highlight_ids, highlight.id],
                    "source_fields": list(dict.fromkeys([*earlier.source_fields, *line.source_fields])),
                }
            )
            continue
        named.setdefault(entry.name, len(lines))
        lines.append(line)
    return lines


def _company_line(material: LetterMaterial, phrases: dict[str, str]) -> EvidenceLine | None:
    """The dossier fact, framed by its topic and source, and what links it to the person."""
    if material.fact is None:
        return None
    topic, path, fact = material.fact
    if fact.source_kind == "web":
        intro = phrases["fact_web"]
    else:
        intro = phrases.get(f"fact_{topic}", phrases["fact_other"])
    text = intro.format(fact=one_line(fact.text))
    fields = [path, fact.source]
    ids: list[str] = []
    if material.link:
        industry = phrases[f"industry.{material.link.industry}"]
        text = f"{text} {phrases['link_field'].format(industry=industry, employer=material.link.entry.name)}"
        fields.append(material.link.entry.field)
    elif skills := list(dict.fromkeys(r for e in material.evidence for r in e.requirements))[:2]:
        text = f"{text} {phrases['link_skills'].format(skills=_listing(skills, phrases['and']))}"
        ids = [e.highlight.id for e in material.evidence if set(e.requirements) & set(skills)]
        fields.append(f"posting:{material.posting_id}")
    else:
        text = f"{text} {phrases['link_plain']}"
    return EvidenceLine(
        section="company",
        text=_DOUBLED_PERIOD.sub("", text),
        highlight_ids=ids,
        source_fields=list(dict.fromkeys(fields)),
    )


def _duty_line(material: LetterMaterial, phrases: dict[str, str]) -> EvidenceLine | None:
    """The posting's duty, quoted, and the person's work with the skills it names: the highlight itself when
    the letter does not cite it yet, else the employer and years of that work."""
    if material.duty is None:
        return None
    duty, entry, highlight = material.duty, material.duty.evidence.entry, material.duty.evidence.highlight
    quotable = text_language(highlight.text) == material.language
    clause = _as_clause(highlight.text) if material.language == "en" and quotable else None
    values = {
        "skills": _listing(list(duty.evidence.requirements), phrases["and"]),
        "employer": entry.name,
        "year": entry.start,
        "start": entry.start,
        "end": entry.end,
        "clause": _sentence(clause or ""),
        "highlight": _sentence(highlight.text),
        "together": _together(highlight, list(duty.evidence.requirements), phrases),
    }
    if not duty.cited and clause:
        key = "duty_clause"
    elif not duty.cited and quotable:
        key = "duty_quote"
    elif entry.ongoing and entry.start:
        key = "duty_current"
    elif entry.start and entry.end:
        key = "duty_past"
    else:
        key = "duty_quote" if quotable else None
    if key is None:
        return None
    text = f"{phrases['duty'].format(duty=duty.text.rstrip('.'))} {_sentence(phrases[key].format(**values))}"
    return EvidenceLine(
        section="duties",
        text=_DOUBLED_PERIOD.sub("", text),
        highlight_ids=[highlight.id],
        source_fields=list(dict.fromkeys([*duty.source_fields, entry.field])),
    )


def practical_fit(profile: Profile, posting: JobPosting, *, now: date) -> str | None:
    """Whether the person lives where the job is ("practical_local") or may work remotely from home
    ("practical_remote"): a fact a recruiter looks for, when the CV gives the person's city."""
    home = person_facts(profile, now).home
    location = profile.basics.location
    if home is None or home.kind != "city" or not (location and location.city):
        return None
    facts = facts_of(posting)
    if facts.workplace in ("hybrid", "onsite") and any(area.name == home.name for area in facts.places):
        return "practical_local"
    within = facts.remote_within
    if facts.remote_allowed and (not within or any(set(home.countries) & set(a.countries) for a in within)):
        return "practical_remote"
    return None


def _city(profile: Profile, language: str, now: date) -> str:
    """The person's city as the letter's language writes it ("München" in German)."""
    own = one_line((profile.basics.location.city if profile.basics.location else None) or "")
    home = person_facts(profile, now).home
    return (city_name_in(home, language) or own) if home else own


def _years(profile: Profile, posting: JobPosting, now: date) -> int | None:
    asked = facts_of(posting).years
    if asked is None or not 1 <= asked < len(NUMBER_WORDS["en"]) or years_of_experience(profile, now) < asked:
        return None
    return int(asked)


def _languages(profile: Profile, posting: JobPosting, letter: str) -> tuple[tuple[str, str | None, str | None], ...]:
    """The spoken languages the posting requires, each with the person's level, when the person meets them all
    (nothing when the letter's own language is all it asks: the letter shows that one)."""
    levels = spoken_languages(profile)
    needs = [n for n in facts_of(posting).languages if n.required]
    if {n.code for n in needs} <= {letter} or not all(
        n.code in levels and at_least(levels[n.code], n.level) for n in needs
    ):
        return ()
    # The level asked is shown as the posting writes it ("B1"); one read from a word ("fließend") is not.
    text = posting.full_text()
    return tuple((n.code, n.level if n.level and n.level in text else None, levels[n.code]) for n in needs)


def _language_name(code: str, language: str) -> str | None:
    """A spoken language's name in the letter's language ("Deutsch" in German), None when unknown."""
    name = language_name(code, language)
    return name if name != code else None


def _practical_line(material: LetterMaterial, phrases: dict[str, str]) -> EvidenceLine | None:
    """Where the person would work from, and the languages the posting asks for with the person's levels."""
    parts: list[str] = []
    fields: list[str] = []
    if material.practical and material.city:
        parts.append(_sentence(phrases[material.practical].format(city=material.city)))
        fields.append("basics.location")
    names = [(_language_name(code, material.language), asked, have) for code, asked, have in material.languages]
    if names and all(name for name, _, _ in names):

        def level(name: str | None, value: str | None) -> str:
            shown = level_name(value, material.language) if value else value
            return f"{name} ({shown})" if shown else str(name)

        asked = _listing([level(n, a) for n, a, _ in names], phrases["and"])
        spoken = _listing([level(n, h) for n, _, h in names], phrases["and"])
        parts.append(_sentence(phrases["languages"].format(asked=asked, spoken=spoken)))
        fields += ["languages", "skills", "basics.summary"]
    if not parts:
        return None
    return EvidenceLine(
        section="practical", text=" ".join(parts), source_fields=[*fields, f"posting:{material.posting_id}"]
    )


MAX_CAREER_ROLES = 2


def _career_line(material: LetterMaterial, profile: Profile, phrases: dict[str, str]) -> EvidenceLine | None:
    """The roles before those the letter cites, latest first: the shape of the career behind the evidence."""
    cited = {e.entry.field for e in material.evidence} | ({material.link.entry.field} if material.link else set())
    entries = {e.field: e for e in profile_entries(profile).values() if e.field.startswith("work[")}
    if not cited & set(entries):
        return None
    latest_cited = min(entries[f].ended(material.now) for f in cited if f in entries)
    earlier = sorted(
        (
            e
            for f, e in entries.items()
            if f not in cited and e.position and e.start and e.end and e.end <= latest_cited
        ),
        key=lambda e: e.ended(material.now),
        reverse=True,
    )[:MAX_CAREER_ROLES]
    if not earlier:
        return None
    roles = [
        phrases["career_role"].format(position=e.position, employer=e.name, start=e.start, end=e.end) for e in earlier
    ]
    return EvidenceLine(
        section="career",
        text=_sentence(phrases["career"].format(roles=_listing(roles, phrases["and"]))),
        source_fields=[e.field for e in earlier],
    )


def _tail(profile: Profile, posting: JobPosting, language: str) -> list[EvidenceLine]:
    """Closing (saying the CV is in another language when it is), sign-off and signature."""
    phrases = LETTER_PHRASES[language]
    informal = language == "de" and facts_of(posting).informal
    cv_language = text_language("\n".join(h.text for _, h in profile.all_highlights()))
    other = cv_language != language and (language, cv_language) in (("de", "en"), ("en", "de"))
    return [
        EvidenceLine(section="closing", text=phrases["closing_cv_language" if other else "closing"]),
        EvidenceLine(section="signoff", text=phrases["signoff_informal" if informal else "signoff"]),
        EvidenceLine(section="signature", text=one_line(profile.basics.name), source_fields=["basics.name"]),
    ]


def letter_material(
    profile: Profile,
    posting: JobPosting,
    dossier: CompanyDossier,
    matched: list[RequirementEvidence],
    *,
    now: date,
) -> LetterMaterial:
    language = letter_language(profile, posting)
    phrases = LETTER_PHRASES[language]
    fact = company_fact(dossier, posting, language)
    # With no fact about the company to write about (at most a line about the team), the letter's substance is
    # more of the person's evidence: one more must-have shown, and a duty of the posting tied to their work.
    about_company = fact is not None and fact[0] != "team"
    limit = MAX_EVIDENCE if about_company else MAX_EVIDENCE + 1
    evidence = strongest_evidence(profile, posting, matched, now=now, conjunction=phrases["or"], limit=limit)
    duty = None
    if not about_company:
        duty, evidence = posting_duty(profile, posting, dossier, evidence, language, now=now)
        fact = None if duty else fact
    if fact is None and duty is None:  # nothing but the person's record to add: a third piece of it
        evidence = strongest_evidence(
            profile, posting, matched, now=now, conjunction=phrases["or"], limit=limit, least=MAX_EVIDENCE
        )
    link = field_link(profile, posting, dossier, now=now)
    return LetterMaterial(
        language=language,
        posting_id=posting.id,
        title=plain_title(one_line(posting.title)),
        company=short_name(posting.company) or phrases["unnamed_company"],
        evidence=evidence,
        link=link,
        fact=fact,
        duty=duty,
        domains=() if fact or link else domain_history(profile),
        practical=practical_fit(profile, posting, now=now),
        city=_city(profile, language, now),
        years=_years(profile, posting, now),
        languages=_languages(profile, posting, language),
        now=now,
    )


def letter_lines(
    material: LetterMaterial, profile: Profile, posting: JobPosting, dossier: CompanyDossier
) -> list[EvidenceLine]:
    phrases = LETTER_PHRASES[material.language]
    body = [_opening(material, profile, posting, phrases), *_evidence_lines(material, phrases)]
    if material.career and (career := _career_line(material, profile, phrases)):
        body[-1] = body[-1].model_copy(
            update={
                "text": f"{body[-1].text} {career.text}",
                "source_fields": [*body[-1].source_fields, *career.source_fields],
            }
        )
    about = _company_line(material, phrases) or _duty_line(material, phrases)
    body += [line for line in (about, _practical_line(material, phrases)) if line]
    return [*_head(profile, posting, dossier, material.language), *body, *_tail(profile, posting, material.language)]


def word_count(lines: list[EvidenceLine]) -> int:
    return sum(len(line.text.split()) for line in lines)


def write_letter(
    profile: Profile,
    posting: JobPosting,
    dossier: CompanyDossier,
    cv: TailoredCV | None = None,
    *,
    max_words: int = MAX_WORDS,
    matched: list[RequirementEvidence] | None = None,
    now: date | None = None,
) -> CoverLetter:
    """A cover letter under max_words: opening with the one reason, evidence for the top must-haves, the
    company, a closing.

    `matched` is the screening's requirement -> highlight evidence (the package's screening); without it,
    the screener's matcher is asked, so the letter never matches requirements in a way of its own. The
    tailored CV is not needed: the letter cites the master CV's highlights.
    """
    today = now or datetime.now(UTC).date()
    matched = requirement_evidence(profile, posting, today) if matched is None else matched
    material = letter_material(profile, posting, dossier, matched, now=today)
    lines = letter_lines(material, profile, posting, dossier)
    while word_count(lines) > max_words and (shorter := _shorter(material)) is not None:
        material = shorter
        lines = letter_lines(material, profile, posting, dossier)
    return rendered_letter(lines, material.language)


def _shorter(material: LetterMaterial) -> LetterMaterial | None:
    """The letter without what matters least of what is left: the third (and fourth) piece of evidence, the
    earlier roles, where the person would work from, the company (or the duty and the fields), the second
    piece of evidence; None when nothing is left."""
    if len(material.evidence) > MIN_EVIDENCE:
        return replace(material, evidence=material.evidence[:MIN_EVIDENCE])
    if material.career:
        return replace(material, career=False)
    if material.practical or material.languages:
        return replace(material, practical=None, languages=())
    if material.fact or material.duty or material.domains:
        return replace(material, fact=None, duty=None, domains=())
    if len(material.evidence) > 1:
        return replace(material, evidence=material.evidence[:1])
    return None


def rendered_letter(lines: list[EvidenceLine], language: str) -> CoverLetter:
    subject = next(line.text for line in lines if line.section == "subject")
    return CoverLetter(
        subject=subject,
        markdown=render("cover_letter.md.j2", lines=lines),
        html=render("cover_letter.html.j2", lines=lines, subject=subject, language=language),
        lines=lines,
        language=language,
    )


# --------------------------------------------------------------------------- with an LLM


class LetterParagraph(BaseModel):
    text: str = Field(description="One paragraph of the letter's body.")
    highlight_ids: list[str] = Field(description="Ids of the CV highlights whose facts the paragraph uses.")
    fact_numbers: list[int] = Field(description="Numbers [n] of the company facts the paragraph uses.")


class LetterBody(BaseModel):
    """The body of a cover letter; each paragraph cites the CV highlights and company facts it uses."""

    paragraphs: list[LetterParagraph]


def letter_messages(
    profile: Profile,
    posting: JobPosting,
    evidence: list[Highlight],
    facts: list[tuple[str, SourcedFact]],
    *,
    language: str,
    max_words: int,
    material: LetterMaterial | None = None,
) -> list[SystemMessage | HumanMessage]:
    """Instructions and the profile first; then the must-haves with the evidence the screening matched, the
    citable highlights and, fenced, the facts and the posting."""
    highlights = "\n".join(f"- [{h.id}] {one_line(h.text)}" for h in evidence)
    numbered = "\n".join(f"[{n}] {fact.text}" for n, (_, fact) in enumerate(facts, start=1))
    system = load_prompt(
        "cover_letter",
        profile=profile_for_prompt(profile),
        language_name=f"in {language_name(language)}",
        max_words=max_words,
    )
    plan: list[str] = []
    if material is not None:
        plan.append(f"The role: {material.title} at {material.company}.")
        for item in material.evidence:
            shown = ", ".join(item.requirements) or "(most relevant recent work)"
            plan.append(f"Must-have evidence: {shown} -> highlight {item.highlight.id} ({item.entry.name})")
        if material.link:
            entry = material.link.entry
            plan.append(f"The one reason for the opening: {material.link.industry}, the field of {entry.name}.")
        if material.duty:
            duty = material.duty
            plan.append(
                f"No company fact to write about; the posting's duty instead: {duty.text!r} -> highlight "
                f"{duty.evidence.highlight.id} ({duty.evidence.entry.name})"
            )
        if material.domains:
            shown = ", ".join(f"{industry} ({entry.name})" for industry, entry in material.domains)
            plan.append(f"The person's fields so far: {shown}.")
    return [
        SystemMessage(system),
        HumanMessage(
            ("\n".join(plan) + "\n\n" if plan else "") + f"CV highlights you may cite:\n{highlights}\n\n"
            f"Company facts you may cite:\n{quoted_data('facts', numbered or '(none known)')}\n\n"
            f"The posting:\n{quoted_data('posting', posting.full_text())}"
        ),
    ]


def accepted_paragraphs(
    body: LetterBody, profile: Profile, cv: TailoredCV, facts: list[tuple[str, SourcedFact]]
) -> list[EvidenceLine]:
    """The model's paragraphs that cite only the CV's highlights and the given facts, with what they rest on.

    A paragraph rests on the posting's title and company, the cited highlights and the entries they belong
    to (employer, role), and the cited facts with their sources; the truth check holds it to exactly that,
    and flags a paragraph that cites no highlight and no fact.
    """
    in_cv = _cv_highlight_ids(cv)
    owners = highlight_fields(profile)
    lines: list[EvidenceLine] = []
    for paragraph in body.paragraphs:
        ids = list(dict.fromkeys(paragraph.highlight_ids))
        numbers = list(dict.fromkeys(paragraph.fact_numbers))
        text = one_line(paragraph.text)
        if not text or not set(ids) <= in_cv or not all(1 <= n <= len(facts) for n in numbers):
            continue
        cited = [facts[n - 1] for n in numbers]
        fields = [
            *POSTING_FIELDS,
            *dict.fromkeys(owners[i][1] for i in ids if i in owners),
            *(ref for path, fact in cited for ref in (path, fact.source)),
        ]
        lines.append(EvidenceLine(section="body", text=text, highlight_ids=ids, source_fields=fields, reworded=True))
    return lines


async def drafted_letter(
    context: Context,
    profile: Profile,
    posting: JobPosting,
    dossier: CompanyDossier,
    cv: TailoredCV,
    matched: list[RequirementEvidence] | None = None,
) -> CoverLetter | None:
    """The letter with the LLM's body between the fixed head and tail; None without an LLM or a usable body."""
    model = load_chat_model(context, "writer")
    if model is None:
        return None
    today = datetime.now(UTC).date()
    matched = requirement_evidence(profile, posting, today) if matched is None else matched
    material = letter_material(profile, posting, dossier, matched, now=today)
    head, tail = _head(profile, posting, dossier, material.language), _tail(profile, posting, material.language)
    budget = context.letter_max_words - word_count([*head, *tail])
    highlights = profile.highlight_by_id()
    in_cv = [i for i in dict.fromkeys(i for line in cv.lines for i in line.highlight_ids) if i in highlights]
    # The screening's evidence first, so the model sees the strongest proof of each must-have at the top.
    first = [e.highlight.id for e in material.evidence if e.highlight.id in in_cv]
    evidence = [highlights[i] for i in dict.fromkeys([*first, *in_cv])]
    facts = quotable_facts(dossier)
    messages = letter_messages(
        profile, posting, evidence, facts, language=material.language, max_words=budget, material=material
    )
    answer = await structured_call(model, LetterBody, messages, limiter=llm_limiter(context))
    body = accepted_paragraphs(answer, profile, cv, facts)
    # Over the word limit: the last paragraphs go first (the model puts what matters most first).
    while body and word_count(body) > budget:
        body = body[:-1]
    return rendered_letter([*head, *body, *tail], material.language) if body else None


async def package_dossier(records: Records, package: ApplicationPackage, posting: JobPosting) -> CompanyDossier:
    dossier = package.dossier or await records.dossier(dossier_key(posting))
    if dossier is None:
        raise RecordNotFound(f"no dossier for posting {posting.id}; research_company must run before the letter")
    return dossier


def embedded_letter(
    context: Context,
    profile: Profile,
    posting: JobPosting,
    dossier: CompanyDossier,
    cv: TailoredCV,
    matched: list[RequirementEvidence] | None,
) -> CoverLetter:
    """The letter without the model, as a package's build writes it when the model gives no usable body."""
    return write_letter(profile, posting, dossier, cv, max_words=context.letter_max_words, matched=matched)


def _cv_highlight_ids(cv: TailoredCV) -> set[str]:
    return {i for line in cv.lines for i in line.highlight_ids}


async def letter_held_to_cv(context: Context, records: Records, package: ApplicationPackage) -> CoverLetter:
    """The package's letter held to its laid-out CV: the model wrote it from the CV's plan while the CV was
    laid out, so a paragraph citing a highlight the fit left out goes (the letter is rendered again), and with
    no paragraph left, the embedded letter is written instead. The same letter when every citation is kept."""
    letter, cv = package.cover_letter, package.cv
    in_cv = _cv_highlight_ids(cv)
    kept = [line for line in letter.lines if line.section != "body" or set(line.highlight_ids) <= in_cv]
    if len(kept) == len(letter.lines):
        return letter
    if any(line.section == "body" for line in kept):
        held = rendered_letter(kept, letter.language)
    else:
        profile, posting = await asyncio.gather(
            records.profile(package.profile_id), records.posting(package.posting_id)
        )
        dossier = await package_dossier(records, package, posting)
        held = embedded_letter(context, profile, posting, dossier, cv, package.screening.evidence or None)
    if context.render_pdf:
        held = held.model_copy(
            update={"pdf_file": await render_pdf_file(context, package.id, "cover_letter.pdf", held.html)}
        )
    return held


async def write_cover_letter(state: PackageBuildState, runtime: Runtime[Context]) -> dict:
    records = Records(runtime.store)
    context = runtime.context
    profile, posting, package = await records.package_inputs(
        state["thread_id"], state["package_id"], state["profile_id"], state["posting_id"]
    )
    await async_failpoint("write_cover_letter.start")
    if package.cv is None:
        raise RecordNotFound(f"package {package.id} has no CV yet; write_cv must run before write_cover_letter")
    dossier = await package_dossier(records, package, posting)
    # A screening stored without requirement evidence (older runs): the screener's matcher is asked instead.
    matched = package.screening.evidence or None
    letter = await drafted_letter(context, profile, posting, dossier, package.cv, matched) or embedded_letter(
        context, profile, posting, dossier, package.cv, matched
    )
    warm_sentence_vectors(line.text for line in letter.lines if line.reworded)  # while its PDF renders
    if context.render_pdf:
        pdf_file = await render_pdf_file(context, package.id, "cover_letter.pdf", letter.html)
        letter = letter.model_copy(update={"pdf_file": pdf_file})
    await records.update_package(state["thread_id"], package.id, cover_letter=letter)  # the CV is laid out meanwhile
    return {}
