"""CV tailoring: the master CV's own highlights, chosen and ordered for one posting.

Nothing is written here that the profile does not say: the CV is a selection and an ordering of
the profile's fields and highlights, and every line records what it rests on (EvidenceLine).
With an LLM, the model rewrites the selected highlights for the posting; each rewritten line cites
the selected highlights it rests on (a line citing anything else is not used: the highlight keeps
its own words), and the truth check flags whatever a line says that those highlights do not.
Selection, layout and the page budget are the same code either way.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

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
    RewrittenHighlight,
    checked_style,
    render_cv,
    render_latex,
)
from jobland.agents.package_files import write_rendered
from jobland.domain.failpoints import async_failpoint
from jobland.domain.models import (
    EducationItem,
    Highlight,
    JobPosting,
    LanguageItem,
    PackageStatus,
    Profile,
    TailoredCV,
    WorkItem,
)
from jobland.domain.person import is_ongoing
from jobland.domain.posting_reader import facts_of
from jobland.domain.repository import Records
from jobland.domain.skills import canonical_skill, extract_skills
from jobland.graph.context import Context
from jobland.graph.state import PackageBuildState
from jobland.prompts import load_prompt, quoted_data
from jobland.tools.llm import llm_limiter, load_chat_model, structured_call
from jobland.tools.pdf import LatexCompileError, compile_latex, page_count, render_pdf, tex_engine

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WORD = re.compile(r"[a-z][a-z0-9+#]*")
_STOPWORDS = frozenset(
    "the and for with from that this into over our your their have has had was were are will can you who "
    "per via across within using used use new all any more most other its his her them they also both such "
    "than then while where when which what about team teams work working role years year experience".split()
)
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n+")
# A shared required skill says far more about fit than a shared ordinary word.
_SKILL_WEIGHT = 10
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


def skill_keys(name: str) -> set[str]:
    """Canonical names a profile skill entry stands for ("Python 3" -> {"Python", "Python 3"})."""
    return {canonical_skill(name), *extract_skills(name)}


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(text.lower()) if len(w) >= 3 and w not in _STOPWORDS}


def skill_importance(posting: JobPosting) -> dict[str, int]:
    """Each skill the posting reader found with the number of places in the posting that name it; a
    must-have counts twice more."""
    parts = [
        posting.title,
        *_SENTENCE_BREAK.split(posting.description),
        *posting.qualifications,
        *posting.responsibilities,
    ]
    importance = dict.fromkeys(posting_skills(posting), 0)
    for skill in {s for r in facts_of(posting).must_haves for s in r.any_of}:
        importance[skill] += 2
    for part in parts:
        for skill in extract_skills(part):
            if skill in importance:
                importance[skill] += 1
    return importance


def relevance(posting: JobPosting) -> Callable[[str], int]:
    """Scores a line of text for the posting: the importance of the required skills it shows, then shared words."""
    importance = skill_importance(posting)
    posting_words = content_words(posting.full_text())

    def score(text: str) -> int:
        shown = extract_skills(text)
        return sum(_SKILL_WEIGHT * importance[s] for s in shown if s in importance) + len(
            content_words(text) & posting_words
        )

    return score


def rank_highlights(profile: Profile, posting: JobPosting) -> list[tuple[str, Highlight]]:
    """Every highlight with its owner, most relevant to the posting first.

    Relevance is the importance of the required skills a highlight shows, then the posting's words it shares;
    ties go to the more recent job, then to the master CV's own order.
    """
    text_score = relevance(posting)

    def score(highlight: Highlight) -> int:
        return text_score(highlight.text)

    recency = {index: rank for rank, (index, _) in enumerate(reverse_chronological(profile.work))}
    job_rank = {h.id: recency[index] for index, item in enumerate(profile.work) for h in item.highlights}
    return sorted(profile.all_highlights(), key=lambda pair: (-score(pair[1]), job_rank.get(pair[1].id, len(recency))))


def profile_skills(profile: Profile) -> list[str]:
    """The profile's skills, one name per canonical skill; a group name with keywords is a label, not a skill."""
    names: list[str] = []
    for item in profile.skills:
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


def choose_highlights(profile: Profile, posting: JobPosting, max_lines: int) -> dict[str, int]:
    """The most relevant highlights whose printed lines fit in max_lines, each with its relevance rank."""
    chosen: dict[str, int] = {}
    budget = max_lines
    for rank, (_, highlight) in enumerate(rank_highlights(profile, posting)):
        if (cost := printed_lines(highlight.text)) <= budget:
            chosen[highlight.id] = rank
            budget -= cost
    return chosen


def least_relevant(profile: Profile, posting: JobPosting, chosen: dict[str, int]) -> list[str]:
    """What a page budget may leave out, least relevant first: the chosen highlights (by id) and the
    certificate and award lines (by field, e.g. "awards[3]"), all scored alike; each is one whole line or more."""
    score = relevance(posting)
    highlights = profile.highlight_by_id()
    candidates = [(score(highlights[key].text), -rank, key) for key, rank in chosen.items()]
    for field, texts in (
        ("certificates", [_joined(c.name, c.issuer) for c in profile.certificates]),
        ("awards", [_joined(a.title, a.awarder, a.summary) for a in profile.awards]),
    ):
        # Ties go out last entry first: a master CV lists its best ones first.
        candidates += [(score(text), -len(chosen) - index, f"{field}[{index}]") for index, text in enumerate(texts)]
    return [key for *_, key in sorted(candidates)]


def ordered_skills(profile: Profile, posting: JobPosting) -> list[str]:
    """The profile's own skills, those the posting requires first (in the posting's order); none added."""
    rank = {skill: i for i, skill in enumerate(posting_skills(posting))}

    def position(name: str) -> int:
        hits = [rank[k] for k in skill_keys(name) if k in rank]
        return min(hits) if hits else len(rank)

    return sorted(profile_skills(profile), key=position)


# --------------------------------------------------------------------------- dates


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
        return f"{_MONTHS[month - 1]} {year}"
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


def _entries(items: list[WorkItem], field: str, chosen: dict[str, int], *, keep_empty: bool) -> tuple[CVEntry, ...]:
    entries: list[CVEntry] = []
    for index, item in reverse_chronological(items):
        picked = sorted((h for h in item.highlights if h.id in chosen), key=lambda h: chosen[h.id])
        if picked or keep_empty:
            entries.append(
                CVEntry(
                    role=one_line(item.position or ""),
                    org=one_line(item.name),
                    location=one_line(item.location or ""),
                    dates=date_range(item.startDate, item.endDate),
                    source_field=f"{field}[{index}]",
                    highlights=tuple(picked),
                )
            )
    return tuple(entries)


def _project_entries(profile: Profile, chosen: dict[str, int]) -> tuple[CVEntry, ...]:
    entries: list[CVEntry] = []
    for index, project in enumerate(profile.projects):
        picked = sorted((h for h in project.highlights if h.id in chosen), key=lambda h: chosen[h.id])
        if picked:
            entries.append(
                CVEntry(
                    role=one_line(project.name),
                    org="",
                    location="",
                    dates=date_range(project.startDate, project.endDate),
                    source_field=f"projects[{index}]",
                    highlights=tuple(picked),
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


def plan_cv(profile: Profile, posting: JobPosting, *, max_lines: int, drop: int = 0) -> CVDocument:
    """Choose the most relevant highlights (max_lines printed lines of them) and lay out every section.

    `drop` leaves out that many of the lines least_relevant lists, least relevant first (to meet a page budget).
    """
    if max_lines < 1:
        raise ValueError(f"max_lines must be at least 1 (got {max_lines}); raise cv_max_lines in the settings")
    if not profile.basics.name.strip():
        raise IncompleteProfile(
            f"profile {profile.id} has no name; add basics.name to the master CV and import it again"
        )
    chosen = choose_highlights(profile, posting, max_lines)
    dropped = set(least_relevant(profile, posting, chosen)[:drop])
    chosen = {key: rank for key, rank in chosen.items() if key not in dropped}
    basics = profile.basics

    sections: list[CVSection] = []
    if basics.summary and basics.summary.strip():
        sections.append(CVSection("Summary", "prose", (CVLine(one_line(basics.summary), ("basics.summary",)),)))
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
    for heading, field, items in (
        ("Certificates", "certificates", [(c.name, c.issuer, c.date) for c in profile.certificates]),
        ("Awards", "awards", [(a.title, a.awarder, a.date) for a in profile.awards]),
    ):
        kept = tuple(
            CVLine(_joined(name, by, format_date(when)), (f"{field}[{i}]",))
            for i, (name, by, when) in enumerate(items)
            if f"{field}[{i}]" not in dropped
        )
        if kept:
            sections.append(CVSection(heading, "list", kept))
    if profile.languages:
        spoken = SEPARATOR.join(_language(item) for item in profile.languages)
        sections.append(CVSection("Languages", "inline", (CVLine(spoken, ("languages",)),)))

    return CVDocument(
        name=one_line(basics.name),
        headline=one_line(basics.label or ""),
        contacts=_contacts(profile),
        sections=tuple(sections),
    )


def tailor_cv(profile: Profile, posting: JobPosting, *, max_lines: int, style: str = "classic") -> TailoredCV:
    """The tailored CV as Markdown and HTML with its evidence map (the PDF is rendered by the node)."""
    return render_cv(plan_cv(profile, posting, max_lines=max_lines), style)


@dataclass(frozen=True)
class FittedCV:
    document: CVDocument
    cv: TailoredCV
    pdf: bytes


def fit_to_pages(
    profile: Profile,
    posting: JobPosting,
    *,
    max_lines: int,
    pages: int,
    style: str,
    rewrites: Mapping[str, RewrittenHighlight] | None = None,
) -> FittedCV:
    """The CV rendered to PDF within `pages` pages, leaving out the fewest, least relevant highlights needed.

    Whole highlights go, never part of one. When even no highlights overflow (a very long education or
    award list), the shortest CV is returned and its page count says so. `rewrites` replace the words
    of the highlights they name (the LLM path).
    """
    if pages < 1:
        raise ValueError(f"cv_pages must be 1 or 2 (got {pages})")

    def attempt(drop: int) -> FittedCV:
        document = with_rewrites(plan_cv(profile, posting, max_lines=max_lines, drop=drop), rewrites or {})
        cv = render_cv(document, style)
        pdf = render_pdf(cv.html)
        return FittedCV(document, cv.model_copy(update={"pages": page_count(pdf)}), pdf)

    best = attempt(0)
    if best.cv.pages <= pages:
        return best
    # The fewest highlights to drop, by bisection: each try is one render.
    low, high = 1, len(least_relevant(profile, posting, choose_highlights(profile, posting, max_lines)))
    best = attempt(high)
    while low < high:
        middle = (low + high) // 2
        fitted = attempt(middle)
        if fitted.cv.pages <= pages:
            best, high = fitted, middle
        else:
            low = middle + 1
    return best


def latex_pdf(source: str) -> tuple[bytes | None, str | None]:
    """The LaTeX source typeset by an installed engine, or None and the reason it was not."""
    engine = tex_engine()
    if engine is None:
        return None, "no TeX engine (pdflatex, lualatex, xelatex or tectonic) on PATH: cv.tex is kept as source only"
    try:
        return compile_latex(source, engine), None
    except LatexCompileError as error:
        return None, str(error)


# --------------------------------------------------------------------------- with an LLM


class CVLineDraft(BaseModel):
    highlight_ids: list[str] = Field(
        description="Ids of the selected highlights this line rests on; the highlight it rewrites first."
    )
    text: str = Field(description="The highlight rewritten for the posting: one line, only facts of the cited ids.")


class CVRewrite(BaseModel):
    """The selected highlights of a master CV, rewritten for one posting; each line cites what it rests on."""

    lines: list[CVLineDraft]


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


def cv_messages(profile: Profile, posting: JobPosting, selected: list[Highlight]) -> list[SystemMessage | HumanMessage]:
    """Instructions and the profile first (the same for every posting); then the selection and the fenced posting."""
    wanted = "\n".join(f"- [{h.id}] {one_line(h.text)}" for h in selected)
    return [
        SystemMessage(load_prompt("cv_writer", profile=profile_for_prompt(profile))),
        HumanMessage(
            f"Rewrite these selected highlights for the posting, one line each, in this order:\n{wanted}\n\n"
            f"The posting:\n{quoted_data('posting', posting.full_text())}"
        ),
    ]


def accepted_rewrites(answer: CVRewrite, selected: Iterable[str]) -> dict[str, RewrittenHighlight]:
    """Highlight id -> the model's line for it: the first line that rewrites it and cites only selected highlights.

    A line citing anything else is not used, so the highlight it would replace keeps its own words.
    """
    allowed = set(selected)
    rewrites: dict[str, RewrittenHighlight] = {}
    for line in answer.lines:
        ids = list(dict.fromkeys(line.highlight_ids))
        text = one_line(line.text)
        if text and ids and set(ids) <= allowed:
            rewrites.setdefault(ids[0], RewrittenHighlight(id=ids[0], text=text, rests_on=ids))
    return rewrites


def with_rewrites(document: CVDocument, rewrites: Mapping[str, RewrittenHighlight]) -> CVDocument:
    """The same CV with the rewritten highlights in the model's words; everything else as planned."""
    if not rewrites:
        return document

    def rewritten(entry: CVEntry) -> CVEntry:
        return replace(entry, highlights=tuple(rewrites.get(h.id, h) for h in entry.highlights))

    sections = tuple(replace(s, entries=tuple(rewritten(e) for e in s.entries)) for s in document.sections)
    return replace(document, sections=sections)


async def rewritten_highlights(
    context: Context, profile: Profile, posting: JobPosting
) -> dict[str, RewrittenHighlight]:
    """The LLM's rewrites of the highlights plan_cv selects; none without an LLM (the extractive CV)."""
    model = load_chat_model(context, "writer")
    if model is None:
        return {}
    selected = selected_highlights(plan_cv(profile, posting, max_lines=context.cv_max_lines))
    if not selected:
        return {}
    messages = cv_messages(profile, posting, selected)
    answer = await structured_call(model, CVRewrite, messages, limiter=llm_limiter(context))
    return accepted_rewrites(answer, (h.id for h in selected))


# --------------------------------------------------------------------------- files and the node


async def write_cv(state: PackageBuildState, runtime: Runtime[Context]) -> dict:
    records = Records(runtime.store)
    context = runtime.context
    profile, posting, package = await records.package_inputs(
        state["thread_id"], state["package_id"], state["profile_id"], state["posting_id"]
    )
    package = await records.move_package(state["thread_id"], package, PackageStatus.generating)
    await async_failpoint("write_cv.start")
    style = checked_style(context.cv_style)
    rewrites = await rewritten_highlights(context, profile, posting)
    if context.render_pdf:
        fitted = await asyncio.to_thread(
            fit_to_pages,
            profile,
            posting,
            max_lines=context.cv_max_lines,
            pages=context.cv_pages,
            style=style,
            rewrites=rewrites,
        )
        document, cv = fitted.document, fitted.cv
        cv = cv.model_copy(update={"pdf_file": await write_rendered(context, package.id, "cv.pdf", fitted.pdf)})
    else:
        document = with_rewrites(plan_cv(profile, posting, max_lines=context.cv_max_lines), rewrites)
        cv = render_cv(document, style)
    # The LaTeX source is kept beside the PDF for people who typeset their own CV.
    source = render_latex(document, style)
    cv = cv.model_copy(update={"latex_file": await write_rendered(context, package.id, "cv.tex", source.encode())})
    if context.render_pdf:
        typeset, note = await asyncio.to_thread(latex_pdf, source)
        update = {"latex_note": note}
        if typeset is not None:
            update["latex_pdf_file"] = await write_rendered(context, package.id, "cv-latex.pdf", typeset)
        cv = cv.model_copy(update=update)
    await records.put_package(state["thread_id"], package.model_copy(update={"cv": cv}))
    return {}
