"""Cover letters: fixed phrases around the profile's own evidence (embedded), or an LLM's cited paragraphs.

Every paragraph is built from the profile (highlights, work history, name), the posting (title,
company, the skills it asks for) or the dossier (a quoted sentence of the posting), and records
what it rests on; the fixed phrases in LETTER_PHRASES are the only words the writer adds. The letter is
written in the posting's language when the profile lists that language, otherwise in English.

With an LLM, the model writes the body between the same head (sender, subject, greeting) and tail
(closing, signature); each paragraph cites the CV's highlights and the dossier's facts it uses by id and
number, a paragraph citing anything else is left out, and the truth check holds each to what it cites.
"""

from __future__ import annotations

from dataclasses import dataclass

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from jobland.agents.cv_writer import (
    one_line,
    profile_for_prompt,
    rank_highlights,
    reverse_chronological,
)
from jobland.agents.package_files import render_pdf_file
from jobland.agents.researcher import dossier_key
from jobland.agents.screener import requirement_evidence
from jobland.domain.languages import at_least, language_name
from jobland.domain.models import (
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
from jobland.domain.person import is_ongoing, spoken_languages
from jobland.domain.posting_reader import facts_of
from jobland.domain.repository import RecordNotFound, Records
from jobland.domain.skills import extract_skills, satisfies
from jobland.graph.context import Context
from jobland.graph.state import PackageBuildState
from jobland.prompts import load_prompt, quoted_data
from jobland.templates import render
from jobland.tools.llm import llm_limiter, load_chat_model, structured_call

# The writer's only words, per letter language (ISO 639-1).
LETTER_PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "subject": "Application for {title} at {company}",
        "greeting": "Dear {company} hiring team,",
        "greeting_generic": "Dear hiring team,",
        "unnamed_company": "your company",
        "opening": "I am applying for the {title} position at {company}.",
        "skills_asked": "Your posting asks for {skills}; this is where my record shows that work:",
        "most_relevant": "These results from my recent work are the most relevant to the role:",
        "evidence": "{owner}: {text}",
        "current_role": "I currently work as {position} at {employer}.",
        "current_employer": "I currently work at {employer}.",
        "last_role": "Most recently I worked as {position} at {employer}.",
        "last_employer": "Most recently I worked at {employer}.",
        "first_fact": "Your posting says: “{fact}”",
        "next_fact": "It also says: “{fact}”",
        "fact_close": "I would welcome the chance to contribute to that.",
        "closing": (
            "My CV, tailored to this role, is attached. Thank you for your time and consideration; "
            "I would be glad to discuss the role with you."
        ),
        "signoff": "Kind regards,",
        "and": "and",
    },
    "de": {
        "subject": "Bewerbung als {title} bei {company}",
        "greeting": "Sehr geehrtes Team von {company},",
        "greeting_generic": "Sehr geehrte Damen und Herren,",
        "unnamed_company": "Ihrem Unternehmen",
        "opening": "hiermit bewerbe ich mich um die Stelle als {title} bei {company}.",
        "skills_asked": "Sie suchen Erfahrung mit {skills}; diese Ergebnisse aus meiner Arbeit zeigen sie:",
        "most_relevant": "Diese Ergebnisse aus meiner bisherigen Arbeit passen am besten zur Stelle:",
        "evidence": "{owner}: {text}",
        "current_role": "Derzeit arbeite ich als {position} bei {employer}.",
        "current_employer": "Derzeit arbeite ich bei {employer}.",
        "last_role": "Zuletzt habe ich als {position} bei {employer} gearbeitet.",
        "last_employer": "Zuletzt habe ich bei {employer} gearbeitet.",
        "first_fact": "In Ihrer Ausschreibung heißt es: „{fact}“",
        "next_fact": "Außerdem: „{fact}“",
        "fact_close": "Dazu würde ich gern beitragen.",
        "closing": (
            "Meinen auf diese Stelle zugeschnittenen Lebenslauf finden Sie im Anhang. Vielen Dank für Ihre Zeit; "
            "über ein persönliches Gespräch freue ich mich."
        ),
        "signoff": "Mit freundlichen Grüßen",
        "and": "und",
    },
}
MAX_WORDS = 350  # the default of letter_max_words
# The posting fields every letter names: the title and the company.
POSTING_FIELDS = ("posting.title", "posting.hiringOrganization.name")
MAX_EVIDENCE = 3
MAX_FACTS = 2
_MAX_FACT_WORDS = 45
# Which topics make the best quote, best first.
_FACT_TOPICS = ("mission", "products", "culture", "recent_news")


def letter_language(profile: Profile, posting: JobPosting) -> str:
    """The posting's language when the person speaks it well enough to write a letter in it (B1 or
    better, or a level the CV does not state), otherwise English."""
    language = facts_of(posting).written_in
    levels = spoken_languages(profile)
    fluent = language in levels and at_least(levels[language], "B1")
    return language if language in LETTER_PHRASES and fluent else "en"


@dataclass(frozen=True)
class Evidence:
    owner: str
    field: str
    highlight: Highlight
    shows: tuple[str, ...] = ()  # the skills it names that meet a must-have the screening matched it to


def highlight_fields(profile: Profile) -> dict[str, tuple[str, str]]:
    """Highlight id -> (owner name, profile field of the owner), e.g. ("Acme", "work[0]")."""
    found: dict[str, tuple[str, str]] = {}
    for key in ("work", "volunteer", "projects"):
        for index, item in enumerate(getattr(profile, key)):
            for highlight in item.highlights:
                found.setdefault(highlight.id, (one_line(item.name), f"{key}[{index}]"))
    return found


def strongest_evidence(
    profile: Profile, posting: JobPosting, cv: TailoredCV, matched: list[RequirementEvidence], limit: int = MAX_EVIDENCE
) -> list[Evidence]:
    """CV highlights the screening matched to the posting's must-haves, between them showing as many
    must-haves as possible, most relevant first."""
    in_cv = {i for line in cv.lines for i in line.highlight_ids}
    owners = highlight_fields(profile)
    shows: dict[str, list[str]] = {}
    for found in matched:
        for highlight_id in found.highlight_ids:
            shows.setdefault(highlight_id, []).append(found.requirement)
    ranked = [h for _, h in rank_highlights(profile, posting) if h.id in in_cv and h.id in owners]
    picked: list[Highlight] = []
    covered: set[str] = set()
    for highlight in ranked:
        new = set(shows.get(highlight.id, ())) - covered
        if new and len(picked) < limit:
            picked.append(highlight)
            covered |= new
    # Then more proof of the same must-haves; when nothing shows one, the most relevant work.
    picked += [h for h in ranked if h not in picked and h.id in shows][: limit - len(picked)]
    if not picked:
        picked = ranked[: min(limit, 2)]
    picked.sort(key=ranked.index)
    wanted = {r.label: r.any_of for r in facts_of(posting).must_haves}

    def named(highlight: Highlight) -> tuple[str, ...]:
        # A letter names what the highlight itself says ("PostgreSQL"), not the requirement's wording.
        meets = [w for label in shows.get(highlight.id, ()) for w in wanted.get(label, ())]
        return tuple(s for s in extract_skills(highlight.text) if any(satisfies(s, w) for w in meets))

    return [Evidence(owners[h.id][0], owners[h.id][1], h, named(h)) for h in picked]


def _listing(items: list[str], conjunction: str) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def quotable_facts(dossier: CompanyDossier) -> list[tuple[str, SourcedFact]]:
    """(field path, fact) of the dossier facts short enough to quote, best topic first."""
    return [
        (f"dossier.{topic}[{index}]", fact)
        for topic in _FACT_TOPICS
        for index, fact in enumerate(getattr(dossier, topic))
        if len(fact.text.split()) <= _MAX_FACT_WORDS
    ]


def _background(profile: Profile, phrases: dict[str, str]) -> EvidenceLine | None:
    """Where the person works now (or last), from the most recent work entry."""
    if not profile.work:
        return None
    index, item = reverse_chronological(profile.work)[0]
    if not item.name.strip():
        return None
    key = ("current_" if is_ongoing(item.endDate) else "last_") + ("role" if item.position else "employer")
    text = phrases[key].format(position=one_line(item.position or ""), employer=one_line(item.name))
    if text.endswith(".."):  # an employer written with a final period: "at Dunamu Inc."
        text = text[:-1]
    return EvidenceLine(section="background", text=text, source_fields=[f"work[{index}]"])


def _letter_lines(
    profile: Profile,
    posting: JobPosting,
    evidence: list[Evidence],
    facts: list[tuple[str, SourcedFact]],
    phrases: dict[str, str],
) -> list[EvidenceLine]:
    company, title = one_line(posting.company) or phrases["unnamed_company"], one_line(posting.title)
    posting_fields = list(POSTING_FIELDS)
    skills = list(dict.fromkeys(skill for e in evidence for skill in e.shows))[:4]

    lines = _letter_head(profile, posting, phrases)
    lead_in = (
        phrases["skills_asked"].format(skills=_listing(skills, phrases["and"])) if skills else phrases["most_relevant"]
    )
    lines.append(
        EvidenceLine(
            section="opening",
            text=f"{phrases['opening'].format(title=title, company=company)} {lead_in}",
            highlight_ids=[e.highlight.id for e in evidence],
            source_fields=[*posting_fields, f"posting:{posting.id}"],
        )
    )
    lines.extend(
        EvidenceLine(
            section="evidence",
            text=phrases["evidence"].format(owner=e.owner, text=one_line(e.highlight.text)),
            highlight_ids=[e.highlight.id],
            source_fields=[e.field],
        )
        for e in evidence
    )
    if background := _background(profile, phrases):
        lines.append(background)
    if facts:
        quotes = [
            phrases["first_fact" if i == 0 else "next_fact"].format(fact=fact.text) for i, (_, fact) in enumerate(facts)
        ]
        lines.append(
            EvidenceLine(
                section="company",
                text=" ".join([*quotes, phrases["fact_close"]]),
                source_fields=[ref for path, fact in facts for ref in (path, fact.source)],
            )
        )
    return [*lines, *_letter_tail(profile, phrases)]


def _letter_head(profile: Profile, posting: JobPosting, phrases: dict[str, str]) -> list[EvidenceLine]:
    """Sender, contact line, subject and greeting."""
    company, title = one_line(posting.company) or phrases["unnamed_company"], one_line(posting.title)
    contacts = [one_line(c) for c in (profile.basics.email, profile.basics.phone) if c and c.strip()]
    lines = [EvidenceLine(section="sender", text=one_line(profile.basics.name), source_fields=["basics.name"])]
    if contacts:
        lines.append(EvidenceLine(section="contact", text=" · ".join(contacts), source_fields=["basics"]))
    lines.append(
        EvidenceLine(
            section="subject",
            text=phrases["subject"].format(title=title, company=company),
            source_fields=list(POSTING_FIELDS),
        )
    )
    greeting = phrases["greeting"].format(company=company) if posting.company.strip() else phrases["greeting_generic"]
    lines.append(EvidenceLine(section="greeting", text=greeting, source_fields=["posting.hiringOrganization.name"]))
    return lines


def _letter_tail(profile: Profile, phrases: dict[str, str]) -> list[EvidenceLine]:
    """Closing, sign-off and signature."""
    return [
        EvidenceLine(section="closing", text=phrases["closing"]),
        EvidenceLine(section="signoff", text=phrases["signoff"]),
        EvidenceLine(section="signature", text=one_line(profile.basics.name), source_fields=["basics.name"]),
    ]


def word_count(lines: list[EvidenceLine]) -> int:
    return sum(len(line.text.split()) for line in lines)


def write_letter(
    profile: Profile,
    posting: JobPosting,
    dossier: CompanyDossier,
    cv: TailoredCV,
    *,
    max_words: int = MAX_WORDS,
    matched: list[RequirementEvidence] | None = None,
) -> CoverLetter:
    """A cover letter under max_words that opens with the CV's strongest evidence for this posting.

    `matched` is the screening's requirement -> highlight evidence (the package's screening); without
    it, the screener's matcher is asked, so the letter never matches requirements in a way of its own.
    """
    language = letter_language(profile, posting)
    phrases = LETTER_PHRASES[language]
    matched = requirement_evidence(profile, posting) if matched is None else matched
    evidence = strongest_evidence(profile, posting, cv, matched)
    facts = quotable_facts(dossier)[:MAX_FACTS]
    lines = _letter_lines(profile, posting, evidence, facts, phrases)
    # Shorten by what matters least: a second quote, then extra evidence, then the quote itself.
    while word_count(lines) > max_words and (facts or len(evidence) > 1):
        if len(facts) > 1 or (facts and len(evidence) <= 1):
            facts = facts[:-1]
        else:
            evidence = evidence[:-1]
        lines = _letter_lines(profile, posting, evidence, facts, phrases)
    return rendered_letter(lines, language)


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
) -> list[SystemMessage | HumanMessage]:
    """Instructions and the profile first; then the citable highlights and, fenced, the facts and the posting."""
    highlights = "\n".join(f"- [{h.id}] {one_line(h.text)}" for h in evidence)
    numbered = "\n".join(f"[{n}] {fact.text}" for n, (_, fact) in enumerate(facts, start=1))
    system = load_prompt(
        "cover_letter",
        profile=profile_for_prompt(profile),
        language_name=f"in {language_name(language)}",
        max_words=max_words,
    )
    return [
        SystemMessage(system),
        HumanMessage(
            f"CV highlights you may cite:\n{highlights}\n\n"
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
    in_cv = {i for line in cv.lines for i in line.highlight_ids}
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
    context: Context, profile: Profile, posting: JobPosting, dossier: CompanyDossier, cv: TailoredCV
) -> CoverLetter | None:
    """The letter with the LLM's body between the fixed head and tail; None without an LLM or a usable body."""
    model = load_chat_model(context, "writer")
    if model is None:
        return None
    language = letter_language(profile, posting)
    phrases = LETTER_PHRASES[language]
    head, tail = _letter_head(profile, posting, phrases), _letter_tail(profile, phrases)
    budget = context.letter_max_words - word_count([*head, *tail])
    highlights = profile.highlight_by_id()
    evidence = [
        highlights[i] for i in dict.fromkeys(i for line in cv.lines for i in line.highlight_ids) if i in highlights
    ]
    facts = quotable_facts(dossier)
    messages = letter_messages(profile, posting, evidence, facts, language=language, max_words=budget)
    answer = await structured_call(model, LetterBody, messages, limiter=llm_limiter(context))
    body = accepted_paragraphs(answer, profile, cv, facts)
    # Over the word limit: the last paragraphs go first (the model puts what matters most first).
    while body and word_count(body) > budget:
        body = body[:-1]
    return rendered_letter([*head, *body, *tail], language) if body else None


async def write_cover_letter(state: PackageBuildState, runtime: Runtime[Context]) -> dict:
    records = Records(runtime.store)
    context = runtime.context
    profile, posting, package = await records.package_inputs(
        state["thread_id"], state["package_id"], state["profile_id"], state["posting_id"]
    )
    if package.cv is None:
        raise RecordNotFound(f"package {package.id} has no CV yet; write_cv must run before write_cover_letter")
    dossier = package.dossier or await records.dossier(dossier_key(posting))
    if dossier is None:
        raise RecordNotFound(
            f"no dossier for posting {posting.id}; research_company must run before write_cover_letter"
        )
    letter = await drafted_letter(context, profile, posting, dossier, package.cv) or write_letter(
        profile,
        posting,
        dossier,
        package.cv,
        max_words=context.letter_max_words,
        matched=package.screening.evidence,
    )
    if context.render_pdf:
        pdf_file = await render_pdf_file(context, package.id, "cover_letter.pdf", letter.html)
        letter = letter.model_copy(update={"pdf_file": pdf_file})
    await records.put_package(state["thread_id"], package.model_copy(update={"cover_letter": letter}))
    return {}
