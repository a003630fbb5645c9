"""CV tailoring: the master CV's own highlights, chosen and ordered for one posting.

Nothing is written here that the profile does not say: the CV is a selection and an ordering of
the profile's fields and highlights, and every line records what it rests on (EvidenceLine).
The selection follows the screening's requirement-level evidence (must-have -> highlight ids; no
matching of its own): the lines that show the most must-haves, recent jobs before old ones, the
latest job never without a line, certificates and awards first to go. The summary is the person's
own sentences, the one that speaks most to the role first.
With an LLM, the model rewrites the selected highlights and the summary for the posting; each rewritten
line cites the selected highlights it rests on (a line citing anything else is not used: the highlight
or summary keeps its own words), and the truth check flags whatever a line says that what it cites does not.
Selection, layout and the page budget are the same code either way.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache

from dateutil.parser import ParserError
from dateutil.parser import parse as parse_date
from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from jobland.agents.cv_document import (
    PRESENT,
    SEPARATOR,
    CVDocument,
    CVEntry,
    CVLine,
    CVSection,
    checked_style,
    render_cv,
)
from jobland.agents.screener import requirement_evidence
from jobland.agents.sentence_vectors import warm_sentence_vectors
from jobland.domain.dates import MONTH_ABBREVIATIONS
from jobland.domain.failpoints import async_failpoint
from jobland.domain.models import (
    EducationItem,
    Highlight,
    JobPosting,
    LanguageItem,
    PackageStatus,
    Profile,
    RequirementEvidence,
    RewrittenHighlight,
    TailoredCV,
    WorkItem,
)
from jobland.domain.person import is_language_group, is_ongoing, skill_terms
from jobland.domain.posting_reader import facts_of
from jobland.domain.repository import Records
from jobland.domain.roles import GENERIC_SOFTWARE, ROLE_FAMILIES, families_named, role_family
from jobland.domain.skills import canonical_skill, extract_skills, names_any, satisfies
from jobland.domain.text import ascii_fold
from jobland.graph.context import Context
from jobland.graph.state import PackageBuildState
from jobland.prompts import load_prompt, quoted_data
from jobland.tools.llm import llm_limiter, load_chat_model, structured_call

_WORD = re.compile(r"[a-z][a-z0-9+#]*")
_STOPWORDS = frozenset(
    "the and for with from that this into over our your their have has had was were are will can you who "
    "per via across within using used use new all any more most other its his her them they also both such "
    "than then while where when which what about team teams work working role years year experience".split()
)
# A summary's sentences: a break after . ! ? before a capital or digit (so "M.Sc. in" stays whole).
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\u00c0-\u00de\"“(])|\n+")
# Words by which a summary sentence says what the person is looking for.
_SEARCH_INTENT = re.compile(r"\b(?:looking for|seeking|open to|interested in|next role|want to|aiming)\b", re.I)
MAX_SUMMARY_SENTENCES = 3
# What a line shows is weighed by the screening's evidence: a must-have the title names (core) counts more;
# a must-have already shown by a kept line counts only _REPEAT_SHARE again, so the kept lines show many.
_CORE_WEIGHT = 3.0
_MUST_WEIGHT = 2.0
_REPEAT_SHARE = 0.25
_WORD_WEIGHT = 0.15  # per word shared with the posting's requirements and duties, up to _MAX_WORDS
_MAX_WORDS = 6
# A line's worth by how recent its job is (latest first); projects and volunteering count as an older job.
_RECENCY = (1.0, 0.8, 0.6, 0.45)
_SIDE_WEIGHT = 0.6
# A certificate or award line is worth less than any job's line unless it names a must-have:
# such lists shrink first when a page budget cuts.
_LIST_WEIGHT = 0.3
# Certificate and award lines may take up to a third of a CV's highlight lines (cv_max_lines) beside them.
LIST_SHARE = 3
# A bullet opens with a word, a number or an opening quote or bracket, never with stray punctuation.
_LEADING_PUNCTUATION = re.compile(r"^[^\w(\"“‘'$€£]+")
# The summary's profile field; also the key of its rewrite among the highlights' (never a highlight id).
SUMMARY_FIELD = "basics.summary"
# Characters of a bullet that fit on one printed line of the A4 layout (templates/document.css).
CHARS_PER_LINE = 100


class IncompleteProfile(ValueError):
    """A profile that lacks what every CV needs."""


# --------------------------------------------------------------------------- relevance


def one_line(text: str) -> str:
    return " ".join(text.split())


def posting_skills(posting: JobPosting) -> list[str]:
    """The skills the posting asks for, as the posting reader read them: must-haves first, then the rest."""
    facts = facts_of(posting)
    return list(dict.fromkeys(s for r in [*facts.must_haves, *facts.nice_to_haves] for s in r.any_of))


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


@lru_cache(maxsize=4096)
def content_words(text: str) -> frozenset[str]:
    """The stemmed content words of a text. Cached: choosing a CV's lines weighs each highlight many times."""
    return frozenset(_stem(w) for w in _WORD.findall(text.lower()) if len(w) >= 3 and w not in _STOPWORDS)


def screened_evidence(
    profile: Profile, posting: JobPosting, evidence: list[RequirementEvidence] | None
) -> list[RequirementEvidence]:
    """The screening's requirement -> highlight evidence; computed by the screener when none is given."""
    return requirement_evidence(profile, posting) if evidence is None else evidence


@dataclass(frozen=True)
class Relevance:
    """What each line of the master CV is worth to one posting, from the screening's requirement-level evidence.

    A highlight is worth the must-haves it is evidence for (a core one, named in the title, more), a little
    for the words it shares with the posting's requirements and duties, all scaled by how recent its job is.
    """

    shows: dict[str, tuple[str, ...]]  # highlight id -> the requirements it is evidence for
    weights: dict[str, float]  # requirement label -> its weight
    recency: dict[str, float]  # highlight id -> the recency factor of its entry
    posting_words: frozenset[str]
    terms: dict[str, tuple[str, ...]]  # requirement label -> the skills that meet it

    def value(self, highlight: Highlight, covered: Collection[str] = ()) -> float:
        shown = sum(
            self.weights[r] * (_REPEAT_SHARE if r in covered else 1.0) for r in self.shows.get(highlight.id, ())
        )
        words = min(_MAX_WORDS, len(content_words(highlight.text) & self.posting_words))
        return self.recency.get(highlight.id, _RECENCY[-1]) * (1.0 + shown + _WORD_WEIGHT * words)

    def list_value(self, text: str) -> float:
        """A certificate's or award's worth: little, unless it names a must-have."""
        named = [r for r, terms in self.terms.items() if names_any(text, terms)]
        return _LIST_WEIGHT * (1.0 + sum(self.weights[r] for r in named))


def relevance(profile: Profile, posting: JobPosting, evidence: list[RequirementEvidence] | None = None) -> Relevance:
    facts = facts_of(posting)
    weights = {r.label: _CORE_WEIGHT if r.core else _MUST_WEIGHT for r in facts.must_haves}
    terms = {r.label: r.any_of for r in facts.must_haves}
    known = profile.highlight_by_id()
    shows: dict[str, tuple[str, ...]] = {}
    for found in screened_evidence(profile, posting, evidence):
        weights.setdefault(found.requirement, _MUST_WEIGHT)
        terms.setdefault(found.requirement, (found.requirement,))
        for highlight_id in dict.fromkeys(found.highlight_ids):
            if highlight_id in known:
                shows[highlight_id] = (*shows.get(highlight_id, ()), found.requirement)
    recency: dict[str, float] = {}
    for rank, (_, item) in enumerate(reverse_chronological(profile.work)):
        recency |= {h.id: _RECENCY[min(rank, len(_RECENCY) - 1)] for h in item.highlights}
    for item in [*profile.volunteer, *profile.projects]:
        recency |= {h.id: _SIDE_WEIGHT for h in item.highlights}
    sections = facts.sections
    wording = [posting.title, *sections.get("requirements", []), *sections.get("responsibilities", [])]
    if len(wording) == 1:  # a posting without those sections: its whole text
        wording.append(posting.description)
    return Relevance(shows, weights, recency, content_words(" ".join(wording)), terms)


def _latest_entry(profile: Profile) -> list[Highlight]:
    """The highlights of the most recent job: a CV never shows it without one."""
    latest = reverse_chronological(profile.work)[:1]
    return [h for _, item in latest for h in item.highlights]


def _picks(
    profile: Profile, posting: JobPosting, evidence: list[RequirementEvidence] | None, max_lines: int
) -> list[tuple[Highlight, str, float]]:
    """(highlight, owner, value) in the order a recruiter would keep them, within max_lines printed lines.

    The best line of the latest job first; then, each time, the line worth most beside those already
    kept (a must-have already shown counts only _REPEAT_SHARE again), so the lines between them show as
    many must-haves as possible, recent jobs before old ones.
    """
    worth = relevance(profile, posting, evidence)
    owners = {h.id: owner for owner, h in profile.all_highlights()}
    left = [h for _, h in profile.all_highlights()]
    picks: list[tuple[Highlight, str, float]] = []
    covered: set[str] = set()
    budget = max_lines

    def take(pool: list[Highlight]) -> bool:
        nonlocal budget
        fitting = [h for h in pool if printed_lines(h.text) <= budget]
        if not fitting:
            return False
        # Ties go to the master CV's own order.
        best = max(fitting, key=lambda h: (worth.value(h, covered), -left.index(h)))
        picks.append((best, owners[best.id], worth.value(best, covered)))
        covered.update(worth.shows.get(best.id, ()))
        budget -= printed_lines(best.text)
        left.remove(best)
        return True

    take(_latest_entry(profile))
    while left and take(left):
        pass
    return picks


def rank_highlights(
    profile: Profile, posting: JobPosting, evidence: list[RequirementEvidence] | None = None
) -> list[tuple[str, Highlight]]:
    """Every highlight with its owner, in the order the CV writer keeps them for the posting (see _picks)."""
    budget = sum(printed_lines(h.text) for _, h in profile.all_highlights())
    return [(owner, h) for h, owner, _ in _picks(profile, posting, evidence, budget)]


def profile_skills(profile: Profile) -> list[str]:
    """The profile's skills, one name per canonical skill; a group name with keywords is a label, not a skill."""
    names: list[str] = []
    for item in (s for s in profile.skills if not is_language_group(s)):  # spoken languages have their own section
        if not item.keywords or extract_skills(item.name):
            names.append(item.name)
        names.extend(item.keywords)
    unique: dict[str, str] = {}
    for name in (one_line(n) for n in names):
        if name:
            unique.setdefault(canonical_skill(name).lower(), name)
    return list(unique.values())


def printed_lines(text: str) -> int:
    return max(1, -(-len(text) // CHARS_PER_LINE))


def choose_highlights(
    profile: Profile, posting: JobPosting, max_lines: int, evidence: list[RequirementEvidence] | None = None
) -> dict[str, int]:
    """The highlights worth most to the posting whose printed lines fit in max_lines, each with its rank."""
    return {h.id: rank for rank, (h, _, _) in enumerate(_picks(profile, posting, evidence, max_lines))}


def least_relevant(
    profile: Profile,
    posting: JobPosting,
    chosen: dict[str, int],
    evidence: list[RequirementEvidence] | None = None,
) -> list[str]:
    """What a page budget may leave out, least worth first: the chosen highlights (by id) and the certificate
    and award lines (by field, e.g. "awards[3]"), each one whole line or more.

    The first line of the latest job is never left out; awards, certificates and old jobs' lines are worth
    least, so they shrink first.
    """
    worth = relevance(profile, posting, evidence)
    picks = _picks(profile, posting, evidence, sum(printed_lines(h.text) for _, h in profile.all_highlights()))
    values = {h.id: value for h, _, value in picks}
    latest = {h.id for h in _latest_entry(profile)}
    keep = next((key for key in sorted(chosen, key=chosen.__getitem__) if key in latest), None)
    candidates = [(values.get(key, 0.0), -rank, key) for key, rank in chosen.items() if key != keep]
    # Ties go out last entry first: a master CV lists its best ones first.
    candidates += [
        (worth.list_value(text), -len(chosen) - index, field)
        for index, (field, text) in enumerate(_list_lines(profile))
    ]
    return [key for *_, key in sorted(candidates)]


def _list_lines(profile: Profile) -> list[tuple[str, str]]:
    """(field, text) of each certificate and award line."""
    return [(f"certificates[{i}]", _joined(c.name, c.issuer)) for i, c in enumerate(profile.certificates)] + [
        (f"awards[{i}]", _joined(a.title, a.awarder, a.summary)) for i, a in enumerate(profile.awards)
    ]


def _listed_within(
    profile: Profile, posting: JobPosting, evidence: list[RequirementEvidence] | None, budget: int
) -> set[str]:
    """The certificate and award lines (by field) worth most to the posting, `budget` of them: those naming a
    must-have first, then the master CV's own order."""
    worth = relevance(profile, posting, evidence)
    ranked = sorted(enumerate(_list_lines(profile)), key=lambda item: (-worth.list_value(item[1][1]), item[0]))
    return {field for _, (field, _) in ranked[: max(0, budget)]}


def ordered_skills(profile: Profile, posting: JobPosting) -> list[str]:
    """The profile's own skills, those the posting requires first (in the posting's order); none added."""
    rank = {skill: i for i, skill in enumerate(posting_skills(posting))}

    def position(name: str) -> int:
        hits = [rank[k] for k in skill_terms(name) if k in rank]
        return min(hits) if hits else len(rank)

    return sorted(profile_skills(profile), key=position)


# --------------------------------------------------------------------------- the summary


def names_field(text: str, family: str | None) -> bool:
    """Whether a text names a role family ("backend", "data platforms" for data engineering)."""
    if family is None or family == GENERIC_SOFTWARE:
        return False
    folded = ascii_fold(text)
    return any(re.search(rf"(?<![a-z0-9]){re.escape(ascii_fold(p))}", folded) for p in ROLE_FAMILIES.get(family, ()))


def _summary_sentence_score(
    sentence: str, family: str | None, terms: list[str], posting_words: frozenset[str]
) -> float:
    """How well a summary sentence speaks to the posting: its field, the must-haves it names and the words it
    shares; below zero when it says the person looks for a role in another field."""
    if names_field(sentence, family):
        score = 3.0
    elif _SEARCH_INTENT.search(sentence) and (named := families_named(sentence)) and family not in named:
        return -1.0  # what the person looks for, in another field: never kept
    else:
        score = 0.0
    score += sum(1.0 for term in terms if names_any(sentence, (term,)))
    return score + _WORD_WEIGHT * len(content_words(sentence) & posting_words)


def _composed_lead(
    profile: Profile, posting: JobPosting, evidence: list[RequirementEvidence]
) -> tuple[str, tuple[str, ...]] | None:
    """A first sentence from the person's own facts, for a summary that never names the posting's field:
    the latest position in that field and the listed skills that meet the must-haves it shows."""
    family = facts_of(posting).family
    field = next(
        ((i, w) for i, w in reverse_chronological(profile.work) if w.position and role_family(w.position) == family),
        None,
    )
    if field is None:
        return None
    index, item = field
    covered = {e.requirement for e in evidence}
    wanted = [t for r in facts_of(posting).must_haves if r.label in covered for t in r.any_of]
    skills = [s for s in profile_skills(profile) if any(satisfies(k, w) for k in skill_terms(s) for w in wanted)]
    position = one_line(item.position or "")
    if not skills:
        return f"{position}.", (f"work[{index}]",)
    listed = skills[0] if len(skills) == 1 else ", ".join(skills[:3][:-1]) + " and " + skills[:3][-1]
    return f"{position} working with {listed}.", (f"work[{index}]", "skills")


def summary_line(profile: Profile, posting: JobPosting, evidence: list[RequirementEvidence]) -> CVLine | None:
    """The summary for this posting, from the person's own sentences: the one speaking most to the role
    first, then up to MAX_SUMMARY_SENTENCES that speak to it in their own order; a sentence about another
    field the person is looking for is left out. When no sentence names the posting's field and the person
    held a position in it, a first sentence says so from that position and their listed skills."""
    summary = one_line(profile.basics.summary or "")
    if not summary:
        return None
    facts = facts_of(posting)
    covered = {e.requirement for e in evidence}
    terms = [t for r in facts.must_haves if r.label in covered for t in r.any_of]
    words = relevance(profile, posting, evidence).posting_words
    sentences = [s.strip() for s in _SENTENCE_BREAK.split(summary) if s.strip()]
    scores = [_summary_sentence_score(s, facts.family, terms, words) for s in sentences]
    lead = max(range(len(sentences)), key=lambda i: (scores[i], -i))
    rest = sorted((i for i in range(len(sentences)) if i != lead and scores[i] > 0), key=lambda i: -scores[i])
    kept = [lead, *sorted(rest[: MAX_SUMMARY_SENTENCES - 1])]
    texts = [sentences[i] for i in kept if scores[i] > -1.0]
    fields: tuple[str, ...] = (SUMMARY_FIELD,)
    # A generic software title ("Software Engineer") names no field that a summary could miss.
    specific = facts.family not in (None, GENERIC_SOFTWARE)
    if (
        specific
        and not any(names_field(t, facts.family) for t in texts)
        and (composed := _composed_lead(profile, posting, evidence))
    ):
        texts = [composed[0], *texts[: MAX_SUMMARY_SENTENCES - 1]]
        fields += composed[1]
    return CVLine(" ".join(texts), fields) if texts else None


# --------------------------------------------------------------------------- dates


@lru_cache(maxsize=4096)  # a CV's few dates, read for every posting's plan and letter
def _parsed(value: str | None) -> tuple[int, int] | None:
    if not value or not re.search(r"\d{4}", value):
        return None
    try:
        when = parse_date(value, default=datetime(2000, 1, 1))
    except (ParserError, OverflowError, ValueError):
        return None
    return when.year, when.month


def format_date(value: str | None) -> str:
    """ "2019-03-01" -> "Mar 2019", "2019" -> "2019"; anything else is kept as the profile wrote it."""
    if not value:
        return ""
    value = value.strip()
    if re.fullmatch(r"\d{4}", value):
        return value
    if re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", value) and (parsed := _parsed(value)):
        year, month = parsed
        return f"{MONTH_ABBREVIATIONS[month - 1]} {year}"
    return value


def date_range(start: str | None, end: str | None) -> str:
    if not start and not end:
        return ""
    first, last = format_date(start), PRESENT if is_ongoing(end) else format_date(end)
    return first if first == last else f"{first} – {last}".strip(" –")


def reverse_chronological(items: list[WorkItem]) -> list[tuple[int, WorkItem]]:
    """Items with their profile index, most recent first; kept as written when any start date is unreadable."""
    indexed = list(enumerate(items))
    starts = [_parsed(item.startDate) for item in items]
    if None in starts:
        return indexed
    # No end date means "still there": the most recent of all.
    return sorted(indexed, key=lambda pair: (_parsed(pair[1].endDate) or (9999, 12), starts[pair[0]]), reverse=True)


# --------------------------------------------------------------------------- the document


def _contacts(profile: Profile) -> tuple[str, ...]:
    basics = profile.basics
    location = ""
    if basics.location:
        location = _joined(basics.location.city, basics.location.region or basics.location.countryCode)
    urls = [basics.url, *(p.url for p in basics.profiles)]
    return tuple(one_line(c) for c in (basics.email, basics.phone, location, *urls) if c and c.strip())


def bullet(highlight: Highlight) -> Highlight:
    """A highlight as a bullet shows it: without punctuation an import left before its first word."""
    text = _LEADING_PUNCTUATION.sub("", one_line(highlight.text))
    return highlight if text == highlight.text else highlight.model_copy(update={"text": text})


def _picked(highlights: list[Highlight], chosen: dict[str, int]) -> tuple[Highlight, ...]:
    kept = sorted((h for h in highlights if h.id in chosen), key=lambda h: chosen[h.id])
    return tuple(b for b in map(bullet, kept) if b.text)


def _entries(items: list[WorkItem], field: str, chosen: dict[str, int], *, keep_empty: bool) -> tuple[CVEntry, ...]:
    entries: list[CVEntry] = []
    for index, item in reverse_chronological(items):
        picked = _picked(item.highlights, chosen)
        if picked or keep_empty:
            entries.append(
                CVEntry(
                    role=one_line(item.position or ""),
                    org=one_line(item.name),
                    location=one_line(item.location or ""),
                    dates=date_range(item.startDate, item.endDate),
                    source_field=f"{field}[{index}]",
                    highlights=picked,
                )
            )
    return tuple(entries)


def _project_entries(profile: Profile, chosen: dict[str, int]) -> tuple[CVEntry, ...]:
    entries: list[CVEntry] = []
    for index, project in enumerate(profile.projects):
        if picked := _picked(project.highlights, chosen):
            entries.append(
                CVEntry(
                    role=one_line(project.name),
                    org="",
                    location="",
                    dates=date_range(project.startDate, project.endDate),
                    source_field=f"projects[{index}]",
                    highlights=picked,
                )
            )
    return tuple(entries)


def _joined(*parts: str | None) -> str:
    return ", ".join(one_line(p) for p in parts if p and p.strip())


def _language(item: LanguageItem) -> str:
    language, fluency = one_line(item.language), one_line(item.fluency or "")
    if not fluency:
        return language
    return f"{language}: {fluency}" if "(" in fluency else f"{language} ({fluency})"


def _degree(education: EducationItem) -> str:
    if education.studyType and education.area:
        return f"{education.studyType} in {education.area}"
    return education.studyType or education.area or ""


def plan_cv(
    profile: Profile,
    posting: JobPosting,
    *,
    max_lines: int,
    drop: int = 0,
    evidence: list[RequirementEvidence] | None = None,
    whole_summary: bool = False,
) -> CVDocument:
    """Choose the highlights worth most to the posting (max_lines printed lines of them), compose the summary
    for it and lay out every section.

    `evidence` is the screening's requirement -> highlight evidence (the screener's when None). `drop` leaves
    out that many of the lines least_relevant lists, least worth first (to meet a page budget). `whole_summary`
    keeps the master CV's summary as written (the master CV a tailored one is compared with).
    """
    if max_lines < 1:
        raise ValueError(f"max_lines must be at least 1 (got {max_lines}); raise cv_max_lines in the settings")
    if not profile.basics.name.strip():
        raise IncompleteProfile(
            f"profile {profile.id} has no name; add basics.name to the master CV and import it again"
        )
    evidence = screened_evidence(profile, posting, evidence)
    chosen = choose_highlights(profile, posting, max_lines, evidence)
    dropped = set(least_relevant(profile, posting, chosen, evidence)[:drop])
    chosen = {key: rank for key, rank in chosen.items() if key not in dropped}
    basics = profile.basics

    sections: list[CVSection] = []
    if whole_summary and basics.summary and basics.summary.strip():
        sections.append(CVSection("Summary", "prose", (CVLine(one_line(basics.summary), (SUMMARY_FIELD,)),)))
    elif not whole_summary and (summary := summary_line(profile, posting, evidence)):
        sections.append(CVSection("Summary", "prose", (summary,)))
    if skills := ordered_skills(profile, posting):
        sections.append(CVSection("Skills", "inline", (CVLine(SEPARATOR.join(skills), ("skills",)),)))
    if profile.work:
        sections.append(
            CVSection("Experience", "entries", entries=_entries(profile.work, "work", chosen, keep_empty=True))
        )
    if projects := _project_entries(profile, chosen):
        sections.append(CVSection("Projects", "entries", entries=projects))
    if volunteering := _entries(profile.volunteer, "volunteer", chosen, keep_empty=False):
        sections.append(CVSection("Volunteering", "entries", entries=volunteering))
    if profile.education:
        lines = tuple(
            CVLine(_joined(_degree(e), e.institution, date_range(e.startDate, e.endDate)), (f"education[{i}]",))
            for i, e in enumerate(profile.education)
        )
        sections.append(CVSection("Education", "list", lines))
    listed = _listed_within(profile, posting, evidence, max(1, max_lines // LIST_SHARE))
    for heading, field, items in (
        ("Certificates", "certificates", [(c.name, c.issuer, c.date) for c in profile.certificates]),
        ("Awards", "awards", [(a.title, a.awarder, a.date) for a in profile.awards]),
    ):
        kept = tuple(
            CVLine(_joined(name, by, format_date(when)), (f"{field}[{i}]",))
            for i, (name, by, when) in enumerate(items)
            if f"{field}[{i}]" in listed and f"{field}[{i}]" not in dropped
        )
        if kept:
            sections.append(CVSection(heading, "list", kept))
    if profile.languages:
        spoken = SEPARATOR.join(_language(item) for item in profile.languages)
        sections.append(CVSection("Languages", "inline", (CVLine(spoken, ("languages",)),)))
    elif listed := [k for item in profile.skills if is_language_group(item) for k in item.keywords]:
        # A CV that lists its languages among its skills ("Spoken languages: ...") still has a Languages section.
        sections.append(CVSection("Languages", "inline", (CVLine(SEPARATOR.join(map(one_line, listed)), ("skills",)),)))

    return CVDocument(
        name=one_line(basics.name),
        headline=one_line(basics.label or ""),
        contacts=_contacts(profile),
        sections=tuple(sections),
    )


def tailor_cv(
    profile: Profile,
    posting: JobPosting,
    *,
    max_lines: int,
    style: str = "classic",
    evidence: list[RequirementEvidence] | None = None,
) -> TailoredCV:
    """The tailored CV as Markdown and HTML with its evidence map (the PDF is rendered by the node)."""
    return render_cv(plan_cv(profile, posting, max_lines=max_lines, evidence=evidence), style)


# --------------------------------------------------------------------------- with an LLM


class CVLineDraft(BaseModel):
    highlight_ids: list[str] = Field(
        description="Ids of the selected highlights this line rests on; the highlight it rewrites first."
    )
    text: str = Field(description="The highlight rewritten for the posting: one line, only facts of the cited ids.")


class CVSummaryDraft(BaseModel):
    text: str = Field(description="The summary rewritten for the posting: at most three sentences.")
    highlight_ids: list[str] = Field(
        default_factory=list, description="Ids of the selected highlights whose facts it uses beside the summary's."
    )


class CVRewrite(BaseModel):
    """The selected highlights of a master CV, rewritten for one posting; each line cites what it rests on."""

    lines: list[CVLineDraft]
    summary: CVSummaryDraft | None = Field(
        default=None, description="The person's summary rewritten for the posting, from its own sentences."
    )


def selected_highlights(document: CVDocument) -> list[Highlight]:
    return [h for section in document.sections for entry in section.entries for h in entry.highlights]


def profile_for_prompt(profile: Profile) -> str:
    """The master CV as the writers' prompts show it: headings, dates and every highlight with its id."""
    parts = [f"Name: {one_line(profile.basics.name)}"]
    if profile.basics.label:
        parts.append(f"Headline: {one_line(profile.basics.label)}")
    if profile.basics.summary:
        parts.append(f"Summary: {one_line(profile.basics.summary)}")
    for heading, items in (("Work", profile.work), ("Volunteering", profile.volunteer)):
        for item in items:
            title = " — ".join(p for p in (one_line(item.position or ""), one_line(item.name)) if p)
            parts.append(f"{heading}: {title} ({date_range(item.startDate, item.endDate)})")
            parts.extend(f"- [{h.id}] {one_line(h.text)}" for h in item.highlights)
    for project in profile.projects:
        parts.append(f"Project: {one_line(project.name)}")
        parts.extend(f"- [{h.id}] {one_line(h.text)}" for h in project.highlights)
    if skills := profile_skills(profile):
        parts.append("Skills: " + ", ".join(skills))
    return "\n".join(parts)


def cv_messages(
    profile: Profile, posting: JobPosting, selected: list[Highlight], summary: str = ""
) -> list[SystemMessage | HumanMessage]:
    """Instructions and the profile first (the same for every posting); then the selection, the summary chosen
    for the posting and the fenced posting."""
    wanted = "\n".join(f"- [{h.id}] {one_line(h.text)}" for h in selected)
    ask = f"Rewrite these selected highlights for the posting, one line each, in this order:\n{wanted}\n\n"
    if summary:
        ask += f"Then rewrite this summary for the posting (`summary`):\n{quoted_data('summary', summary)}\n\n"
    return [
        SystemMessage(load_prompt("cv_writer", profile=profile_for_prompt(profile))),
        HumanMessage(f"{ask}The posting:\n{quoted_data('posting', posting.full_text())}"),
    ]


def accepted_rewrites(answer: CVRewrite, selected: Iterable[str]) -> dict[str, RewrittenHighlight]:
    """Highlight id -> the model's line for it: the first line that rewrites it and cites only selected highlights;
    and under SUMMARY_FIELD the model's summary, when it cites only selected highlights.

    A line citing anything else is not used, so the highlight (or summary) it would replace keeps its own words.
    """
    allowed = set(selected)
    rewrites: dict[str, RewrittenHighlight] = {}
    for line in answer.lines:
        ids = list(dict.fromkeys(line.highlight_ids))
        text = one_line(line.text)
        if text and ids and set(ids) <= allowed:
            rewrites.setdefault(ids[0], RewrittenHighlight(id=ids[0], text=text, rests_on=ids))
    # The summary rests on the person's own summary and the selected highlights it cites, nothing else.
    if answer.summary and (text := one_line(answer.summary.text)) and set(answer.summary.highlight_ids) <= allowed:
        ids = list(dict.fromkeys(answer.summary.highlight_ids))
        rewrites[SUMMARY_FIELD] = RewrittenHighlight(id=SUMMARY_FIELD, text=text, rests_on=ids)
    return rewrites


def with_rewrites(document: CVDocument, rewrites: Mapping[str, RewrittenHighlight]) -> CVDocument:
    """The same CV with the rewritten highlights in the model's words; everything else as planned."""
    if not rewrites:
        return document

    def rewritten(entry: CVEntry) -> CVEntry:
        return replace(entry, highlights=tuple(rewrites.get(h.id, h) for h in entry.highlights))

    def section(planned: CVSection) -> CVSection:
        summary = rewrites.get(SUMMARY_FIELD)
        if planned.title == "Summary" and summary is not None:
            # It may use whatever the planned summary rested on (a composed first sentence cites a job, skills).
            fields = tuple(dict.fromkeys(f for line in planned.lines for f in line.source_fields)) or (SUMMARY_FIELD,)
            line = CVLine(summary.text, fields, tuple(summary.rests_on), reworded=True)
            return replace(planned, lines=(line,))
        return replace(planned, entries=tuple(rewritten(e) for e in planned.entries))

    return replace(document, sections=tuple(section(s) for s in document.sections))


async def rewritten_highlights(
    context: Context, profile: Profile, posting: JobPosting, planned: CVDocument
) -> dict[str, RewrittenHighlight]:
    """The LLM's rewrites of the highlights the planned CV selects and of the summary it chose (SUMMARY_FIELD);
    none without an LLM (the extractive CV)."""
    model = load_chat_model(context, "writer")
    if model is None:
        return {}
    selected = selected_highlights(planned)
    if not selected:
        return {}
    summary = next((line.text for s in planned.sections if s.title == "Summary" for line in s.lines), "")
    messages = cv_messages(profile, posting, selected, summary)
    answer = await structured_call(model, CVRewrite, messages, limiter=llm_limiter(context))
    return accepted_rewrites(answer, (h.id for h in selected))


# --------------------------------------------------------------------------- files and the node


async def write_cv(state: PackageBuildState, runtime: Runtime[Context]) -> dict:
    """The CV's words: the plan for the posting with the writer's rewrites, written while the company is
    researched (neither reads the other). lay_out_cv fits it to its pages while write_cover_letter writes the
    letter, which the plan's highlights are enough for."""
    records = Records(runtime.store)
    context = runtime.context
    thread_id, package_id = state["thread_id"], state["package_id"]
    profile, posting, package = await asyncio.gather(
        records.profile(state["profile_id"]),
        records.posting(state["posting_id"]),
        records.update_package(thread_id, package_id, building=PackageStatus.generating),
    )
    await async_failpoint("write_cv.start")
    style = checked_style(context.cv_style)
    # The screening's evidence decides what the CV shows (recomputed by the screener for a screening without it).
    evidence = screened_evidence(profile, posting, package.screening.evidence or None)
    planned = plan_cv(profile, posting, max_lines=context.cv_max_lines, evidence=evidence)
    if context.llm_base_url:  # the check holds the model's lines (the CV's and the letter's) to these
        warm_sentence_vectors(h.text for h in selected_highlights(planned))
    rewrites = await rewritten_highlights(context, profile, posting, planned)
    document = with_rewrites(planned, rewrites)
    cv = render_cv(document, style).model_copy(update={"rewrites": rewrites})
    await records.update_package(thread_id, package_id, cv=cv)  # beside the research's dossier
    return {}
