"""The posting reader: what a careful recruiter takes from a posting, read once and stored on it.

Sections (requirements, nice-to-have, responsibilities, benefits, company, boilerplate such as cookie
banners and EEO text); requirements as groups ("Snowflake, BigQuery or Redshift" is one requirement met
by any of three); places resolved by the gazetteer; the workplace with its negations and restrictions
("On-site in Osaka, no remote", "remote (US only)"); eligibility written in the body (relocation, the
right to work somewhere, security clearance); languages with CEFR levels; seniority, people management
and the years asked for; the role family.

Every job source's normaliser (tools/job_folder.posting_from_draft, used by the folder, SerpAPI and Exa
sources) calls read_posting; everything downstream reads PostingFacts through facts_of.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from jobland.domain.languages import language_code, language_needs, text_language
from jobland.domain.models import JobPosting, PostalAddress
from jobland.domain.places import areas_in, country_of_demonym, find_area
from jobland.domain.posting_facts import Area, PostingFacts, Requirement, SectionKind, Workplace
from jobland.domain.roles import is_management_title, role_family, seniority_of, title_level, years_asked
from jobland.domain.skills import GENERIC_TERMS, SATISFIED_BY, extract_terms
from jobland.domain.text import strip_bullet
from jobland.domain.workplace import HYBRID_CUES, NO_REMOTE, ONSITE_CUES, REMOTE_CUES

# --------------------------------------------------------------------------- sections

_HEADINGS: tuple[tuple[SectionKind, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.I))
    for kind, pattern in (
        (
            "nice",
            r"(?:nice[- ]to[- ]haves?(?: skills)?|bonus(?: points| skills)?|good[- ]to[- ]haves?|preferred(?: qualifications| skills)?"
            r"|plus(?:punkte)?|even better|extra (?:points|credit)|it would be great if.*|what would make you stand out"
            r"|optional|wünschenswert|von vorteil|idealerweise.*|das wäre toll|kein muss, aber.*)",
        ),
        (
            "requirements",
            r"(?:your |the |key |minimum |basic |our )?(?:requirements|qualifications|profile|must[- ]haves?)"
            r"|what you(?:'ll| will)? (?:bring|need)|what we(?:'re| are) looking for|who you are|about you|you have"
            r"|you bring|your skills|skills (?:and|&) experience|requirements (?:and|&) qualifications|must have"
            r"|(?:ihr|dein) profil|profil|anforderungen|qualifikationen?|das bringst du mit|das bringen sie mit"
            r"|was (?:du|sie) mitbringst?|(?:required|must[- ]have|key|core|technical) skills|skills|tech stack"
            r"|your (?:background|experience)|who we(?:'re| are) looking for|(?:the )?ideal candidate|what we expect"
            r"|deine skills|dein know[- ]how|was wir erwarten|minimum qualifications|basic qualifications",
        ),
        (
            "responsibilities",
            r"(?:your |key |the |main )?(?:responsibilities|tasks|duties)|what you(?:'ll| will)? do"
            r"|what you will be doing|your role|the role|about the role|in this role(?: you will)?|your mission"
            r"|day[- ]to[- ]day|(?:ihre |deine )?aufgaben(?:gebiet)?|das erwartet (?:dich|sie)|your tasks",
        ),
        (
            "benefits",
            r"(?:our |your |deine )?(?:benefits|perks)(?: (?:and|&) (?:perks|benefits))?|what we offer(?: you)?|we offer"
            r"|our offer|(?:das |was )?(?:bieten wir|wir bieten)(?: dir| ihnen)?|unser angebot"
            r"|what's in it for you|why join us|why you'll love working here|salary|gehalt|compensation|pay|vergütung",
        ),
        ("about", r"about us|about the company|who we are|über uns|the company|company|about [A-Z]?[\w&. -]{2,30}"),
        (
            "boilerplate",
            r"equal opportunit.*|eeo.*|diversity.*|cookie.*|privacy.*|imprint|impressum|keywords|tags",
        ),
        (
            "other",
            r"good to know|eligibility|relocation|location(?: requirements)?|about remote work|remote work|work style"
            r"|how to apply|application process|bewerbung",
        ),
    )
)
_MD_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
_INLINE_SECTION = re.compile(r"^\*{0,2}([^\W\d][\w ,'/&-]{1,40}?)\*{0,2}\s*:\s*(.*)$")
_NICE_WORDS = re.compile(
    r"\b(?:is a plus|a plus|are a plus|plus\b|nice[- ]to[- ]have|bonus|preferred|preferably|ideally|advantage\w*"
    r"|welcome|beneficial|von vorteil|wünschenswert|idealerweise|gerne|desirable)\b",
    re.I,
)


def _section_kind(heading: str) -> SectionKind | None:
    text = heading.replace("\u2019", "'").strip("*:#?!. ").strip()
    return next((kind for kind, pattern in _HEADINGS if pattern.fullmatch(text)), None)


def _heading(line: str) -> str | None:
    """The text of a line that introduces a section, or None for ordinary lines."""
    if match := _MD_HEADING.match(line):
        return match.group(1).strip("*: ")
    if match := re.fullmatch(r"\*\*(.+?)\*\*:?", line):
        return match.group(1).strip(": ")
    if len(line) <= 60 and not strip_bullet(line)[1] and (line.endswith(":") or _section_kind(line)):
        return line.rstrip(":").strip()
    return None


def _lines(markdown: str) -> Iterator[tuple[SectionKind | None, str, bool]]:
    """(section, line without its bullet, whether it was a list item) for each non-empty, non-heading line."""
    current: SectionKind | None = None
    for raw in markdown.split("\n"):
        line = raw.strip()
        if not line:
            continue
        heading = _heading(line)
        if heading is not None:
            current = _section_kind(heading)
            continue
        item, is_bullet = strip_bullet(re.sub(r"^\d{1,2}[.)]\s+", "- ", line))
        if item := item.replace("**", "").strip():
            yield current, item, is_bullet


def read_sections(markdown: str) -> dict[SectionKind, list[str]]:
    """The posting's lines by section; list items lose their bullet. Lines under no known heading are "other".

    A "Nice to have: Kafka, Terraform" line is a section of its own line.
    """
    sections: dict[SectionKind, list[str]] = {}
    for kind, item, _ in _lines(markdown):
        inline = _INLINE_SECTION.match(item)
        inline_kind = _section_kind(inline.group(1)) if inline else None
        if inline and inline_kind and inline.group(2).strip():
            sections.setdefault(inline_kind, []).append(inline.group(2).strip())
        else:
            sections.setdefault(kind or "other", []).append(item)
    return sections


def listed_duties_and_qualifications(markdown: str) -> tuple[list[str], list[str]]:
    """The list items under 'Responsibilities'-like and 'Requirements'-like headings (schema.org's fields)."""
    listed: dict[SectionKind | None, list[str]] = {"responsibilities": [], "requirements": []}
    for section, item, is_bullet in _lines(markdown):
        if is_bullet and section in listed:
            listed[section].append(item)
    return listed["responsibilities"], listed["requirements"]


# --------------------------------------------------------------------------- requirements

_ANY_OF = re.compile(
    r"\bor\b|\boder\b|\bsuch as\b|\be\.g\.|\blike\b|\bcomparable\b|\bsimilar\b|\bequivalent\b|\banother\b|/", re.I
)
_ALL_OF = re.compile(r"\band\b|\bund\b|&|\bwith\b|\bplus\b|;|\bas well as\b", re.I)
# "Python basics, Django is a plus" is two clauses; "Python, SQL and dbt are a bonus" is one.
_CLAUSES = re.compile(r",(?=[^,]*\b(?:is|would be|wäre|ist)\b[^,]*$)|;|\bbut\b|\baber\b", re.I)


def _groups(item: str, *, must: bool) -> Iterator[Requirement]:
    """Requirements of one item: "Python and SQL" two, "Snowflake, BigQuery or Redshift" one any-of, and so are
    examples in brackets ("orchestration tools (Airflow, Dagster)")."""
    if not extract_terms(item):
        return
    examples = [m.group(1) for m in re.finditer(r"\(([^()]*)\)", item) if len(extract_terms(m.group(1))) > 1]
    outside = re.sub(r"\(([^()]*)\)", lambda m: " " if m.group(1) in examples else m.group(0), item)
    used: set[str] = set()
    for example in examples:
        generic = [t for t, _ in extract_terms(outside) if t in GENERIC_TERMS and t not in used][:1]
        named = [t for t, _ in sorted(extract_terms(example), key=lambda t: t[1])]
        used |= set(generic)
        yield Requirement(text=item, any_of=tuple(dict.fromkeys([*generic, *named])), must=must)
    for segment in _ALL_OF.split(outside):
        terms = [name for name, _ in sorted(extract_terms(segment), key=lambda t: t[1]) if name not in used]
        if not terms:
            continue
        concepts = [t for t in terms if t in GENERIC_TERMS]
        members = {t for c in concepts for t in terms if t in SATISFIED_BY.get(c, ()) and t != c}
        if _ANY_OF.search(segment) or members:
            # One requirement, met by any skill it names ("A cloud warehouse (we use Snowflake)" too).
            yield Requirement(text=item, any_of=tuple(terms), must=must)
        else:
            yield from (Requirement(text=item, any_of=(t,), must=must) for t in terms)


def _requirement_items(item: str) -> Iterator[tuple[str, bool]]:
    """An item split into its must-have and nice-to-have clauses ("Python basics, Django is a plus").

    Eligibility clauses (a clearance, the right to work, relocation) are read by read_eligibility, not here.
    """
    for clause in _CLAUSES.split(item):
        if extract_terms(clause) and not _ELIGIBILITY_CLAUSE.search(clause):
            yield clause.strip(), not _NICE_WORDS.search(clause)


_ELIGIBILITY_CLAUSE = re.compile(
    r"clearance|sicherheitsüberprüfung|citizen|nationality|staatsangehörigkeit|to work in|sponsor|relocat|umzug|visa"
    r"|work (?:authori[sz]ation|permit)",
    re.I,
)


def read_requirements(
    title: str, sections: dict[SectionKind, list[str]], qualifications: Iterable[str], skills: Iterable[str]
) -> list[Requirement]:
    """Must-haves (the title's skills, the requirement items, an explicit skills list) and nice-to-haves."""
    must_items = [*qualifications, *sections.get("requirements", [])]
    nice_items = sections.get("nice", [])
    if not must_items and not skills:
        # No requirements section: every sentence outside benefits, company and boilerplate is one.
        must_items = [
            s
            for kind in ("other", "responsibilities")
            for line in sections.get(kind, [])  # type: ignore[call-overload]
            for s in re.split(r"(?<=[.!?])\s+", line)
        ]
    found: dict[tuple[str, ...], Requirement] = {}

    def add(requirement: Requirement) -> None:
        key = requirement.any_of
        if key not in found or (requirement.must and not found[key].must):
            found[key] = requirement

    # The title names the role's core skill ("Senior Backend Engineer (Go)").
    for requirement in _groups(title, must=True):
        add(requirement.model_copy(update={"core": True}))
    nice_mentions = {t for item in nice_items for t, _ in extract_terms(item)}
    for item in must_items:
        for clause, must in _requirement_items(item):
            for requirement in _groups(clause, must=must):
                add(requirement)
                nice_mentions |= set() if must else set(requirement.any_of)
    for item in nice_items:
        for requirement in _groups(item, must=False):
            if requirement.any_of not in found:
                add(requirement)
    # The text says which listed skills are only a plus ("Experience with Kafka is a plus").
    plus_sentences = [
        s
        for line in [*sections.get("other", []), *sections.get("responsibilities", [])]
        for s in re.split(r"(?<=[.!?])\s+", line)
        if _NICE_WORDS.search(s)
    ]
    nice_mentions |= {t for s in plus_sentences for t, _ in extract_terms(s)}
    covered = {t for r in found.values() for t in r.any_of}
    for entry in skills:
        for requirement in _groups(entry, must=True) if extract_terms(entry) else []:
            if set(requirement.any_of) & covered:
                continue
            add(requirement.model_copy(update={"must": not set(requirement.any_of) & nice_mentions}))
        if not extract_terms(entry) and entry.strip() and len(entry) <= 40:
            add(Requirement(text=entry, any_of=(entry.strip(),), must=entry.strip() not in nice_mentions))
    # What the duties name counts in the person's favour when they have it, never against them.
    for duty in sections.get("responsibilities", []) if must_items else []:
        for requirement in _groups(duty, must=False):
            if requirement.any_of not in found:
                add(requirement)
    return list(found.values())


# --------------------------------------------------------------------------- workplace and places

# Where a remote worker must live: "remote (US only)", "remote within the EU", "remote for US residents only",
# "open to candidates located in the United States or Canada", "must be based in the United Kingdom".
_REMOTE_WHERE = tuple(
    re.compile(p, re.I)
    for p in (
        r"\bremote\s*\(([^)]{2,60})\)",
        r"\bremote(?:\s+(?:work|working|is|possible|allowed|option|available))*\s*[-–—,]?\s*(?:within|across|from|in)\s+(?:the\s+)?([A-Za-z][\w/ ]{1,40}?)(?:\s+time ?zones?)?(?=[.,;:)]|$|\s+(?:and|with|core)\b)",
        r"\bremote\s+for\s+([\w.]{2,20}(?:\s+[A-Z]\w+)?)\s+residents\b",
        r"\bremote (?:position|role|job|opportunity)\s+(?:within|in|based in|from)\s+(?:the\s+)?([A-Z][\w ]{1,40}?)(?=[.,;:)]|$)",
        r"\bfor\s+([\w.]{2,20}(?:\s+[A-Z]\w+)?)\s+residents\b",
        r"\b(?:candidates|you)\s+(?:must\s+)?(?:be\s+)?(?:located|based|living|residing|live|reside)\s+in\s+(?:the\s+)?([A-Z][\w ]{1,40}?)(?=[.,;:)]|$|\s+and\b)",
        r"\bopen to candidates (?:located|based|living) in (?:the )?([A-Z][\w ]{1,60}?)(?=[.,;:)]|$)",
        r"\b(?:hire |remote,? )?anywhere in (?:the )?([A-Z][\w ]{1,40}?)(?=[.,;:)]|$)",
        r"\b(?:remote|home ?office)\b[^.\n]{0,20}\b(?:in|aus) ganz ([A-ZÄÖÜ]\w+)",
    )
)
_US_STATES = re.compile(r"\b(?:contiguous|continental|us|u\.s\.) states\b", re.I)


def _workplace_from_hint(hint: Any) -> Workplace | None:
    if isinstance(hint, bool):
        return "remote" if hint else "onsite"
    text = str(hint or "").casefold().strip()
    if not text:
        return None
    if NO_REMOTE.search(text):  # "On-site, no remote"
        return "hybrid" if HYBRID_CUES.search(text) else "onsite"
    if "hybrid" in text or text == "partial":
        return "hybrid"
    first_word = text.split()[0].strip(",.;:()")
    if "remote" in text or first_word in {"full", "yes", "true", "fully"}:
        return "remote"
    if first_word in {"none", "no", "false"} or ONSITE_CUES.search(text) or "office" in text:
        return "onsite"
    return None


def _remote_regions(text: str, applicant_locations: Iterable[str]) -> list[Area]:
    found: dict[str, Area] = {}
    for name in applicant_locations:
        for area in areas_in(name):
            found.setdefault(area.name, area)
    for pattern in _REMOTE_WHERE:
        for match in pattern.finditer(text):
            phrase = re.sub(r"\b(?:only|residents?|based|candidates)\b", " ", match.group(1), flags=re.I)
            if _US_STATES.search(match.group(1)) or re.search(r"\b48\b", match.group(1)):
                phrase = "United States"
            for area in areas_in(phrase, min_city_population=100_000):
                if area.kind != "city":
                    found.setdefault(area.name, area)
    return list(found.values())


def read_workplace(
    location_type: str | None,
    hint: Any,
    text: str,
    applicant_locations: Iterable[str] = (),
    location_text: str = "",
) -> tuple[Workplace | None, bool, list[Area]]:
    """(workplace, whether remote work is allowed, where a remote worker must live).

    An explicit field (TELECOMMUTE, JSON Resume's 'remote') decides unless the text rules remote out;
    "no remote" beats any remote cue; a location field "Berlin or remote (EU)", "Remote - US" is remote,
    within the EU or the US.
    """
    regions = _remote_regions(text, applicant_locations)
    if re.search(r"\bremote\b", location_text, re.I):
        rest = re.sub(r"(?i)\b(?:remote|only|hybrid)\b", " ", location_text)
        named = {a.name for a in regions}
        regions += [a for a in areas_in(rest) if a.kind != "city" and a.name not in named]
        hint = hint or "remote"
    if NO_REMOTE.search(text):
        return ("hybrid" if HYBRID_CUES.search(text) else "onsite"), False, []
    explicit = _workplace_from_hint(hint)
    if explicit is None and location_type and "TELECOMMUTE" in location_type.upper():
        explicit = "remote"
    if explicit:
        return explicit, explicit == "remote", regions if explicit == "remote" else []
    if regions or REMOTE_CUES.search(text) or re.search(r"\bor remote\b|\bremote\b\s*$", text, re.I | re.M):
        return "remote", True, regions
    if HYBRID_CUES.search(text):
        return "hybrid", False, []
    if ONSITE_CUES.search(text):
        return "onsite", False, []
    return None, False, []


def place_areas(addresses: Iterable[PostalAddress]) -> list[Area]:
    """The gazetteer's reading of postal addresses: the city (districts and spellings too), else the country."""
    found: dict[str, Area] = {}
    for address in addresses:
        area = next(
            (
                a
                for part in (address.addressLocality, address.addressRegion, address.addressCountry)
                if part and (a := find_area(part))
            ),
            None,
        )
        if area:
            found.setdefault(area.name, area)
    return list(found.values())


# --------------------------------------------------------------------------- eligibility

_PLACE_NAME = r"((?:the\s+)?[A-Z][\w.-]*(?:\s+(?:[A-Z][\w.-]*|am|an|de|del|of))*)"
# Relocation a posting requires (not the support it offers): the sentence must ask for it.
_RELOCATE_TO = re.compile(
    r"\b(?i:relocat\w*|move)\s+to\s+(?:our\s+)?" + _PLACE_NAME + r"|\b(?i:umzug nach)\s+" + _PLACE_NAME
)
_RELOCATION_NEEDED = re.compile(
    r"\brequired\b|\bmandatory\b|\bnecessary\b|\bexpected\b|\bmust\b|\bneed to\b|\bhave to\b"
    r"|\berforderlich\b|\bnotwendig\b|\bvorausgesetzt\b",
    re.I,
)
_WORK_PERMIT = re.compile(
    r"\b(?i:right|authori[sz]ed|authori[sz]ation|eligible|permitted|permission)\s+to\s+work\s+in\s+"
    + _PLACE_NAME
    + r"|\b(?i:work\s+(?:authori[sz]ation|permit|visa))\s+(?:in|for)\s+"
    + _PLACE_NAME
    + r"|\b(US|U\.S\.|UK|EU|[A-Z][a-z]+)\s+(?i:citizen(?:ship)?|nationality)\b"
)
_PERMIT_NEEDED = re.compile(
    r"\bmust\b|\brequired\b|\bcannot sponsor\b|\bnot (?:able to )?sponsor\b|\bno (?:visa )?sponsorship\b"
    r"|\bsponsorship is not\b|\bneed\b|\bmandatory\b",
    re.I,
)
_CLEARANCE = re.compile(
    r"\b(?:security clearance|sicherheitsüberprüfung|ü[123]\b|(?:sc|dv|nv1|nv2|secret|top secret|active) clearance"
    r"|ts/sci)",
    re.I,
)
_CLEARANCE_NEEDED = re.compile(r"\bmust\b|\brequired?s?\b|\bhold\b|\berforderlich\b|\bvoraussetzung\b", re.I)


def _areas_matched(pattern: re.Pattern[str], text: str) -> list[Area]:
    found: dict[str, Area] = {}
    for match in pattern.finditer(text):
        phrase = next(g for g in match.groups() if g)
        for area in areas_in(country_of_demonym(phrase) or phrase):
            found.setdefault(area.name, area)
    return list(found.values())


def _sentence_around(match: re.Match[str]) -> str:
    text = match.string
    start = max(text.rfind(".", 0, match.start()), text.rfind("\n", 0, match.start())) + 1
    ends = [i for i in (text.find(".", match.end()), text.find("\n", match.end())) if i >= 0]
    return strip_bullet(text[start : min(ends, default=len(text))])[0]


def read_eligibility(text: str) -> tuple[list[Area], list[Area], str | None]:
    """(relocation required to, right to work needed in, the clearance sentence) from the posting's body."""
    relocation: dict[str, Area] = {}
    permits: dict[str, Area] = {}
    asked = [s for s in re.split(r"(?<=[.!?])\s+|\n", text) if _ELIGIBILITY_CLAUSE.search(s) or "move to" in s]
    for sentence in asked:
        if _RELOCATION_NEEDED.search(sentence):
            for area in _areas_matched(_RELOCATE_TO, sentence):
                relocation.setdefault(area.name, area)
        if _PERMIT_NEEDED.search(sentence):
            for area in _areas_matched(_WORK_PERMIT, sentence):
                permits.setdefault(area.name, area)
    clearance = next((c for c in map(_sentence_around, _CLEARANCE.finditer(text)) if _CLEARANCE_NEEDED.search(c)), None)
    return list(relocation.values()), list(permits.values()), clearance


# --------------------------------------------------------------------------- people management

_MANAGES_PEOPLE = re.compile(
    r"\bpeople management\b|\bmanag(?:e|es|ing)\s+(?:a|the|our)\s+(?:\w+\s+){0,3}team\b|\bmanaging engineers\b"
    r"|\blead (?:our|a|the) (?:\w+\s+){0,3}team of\b|\b1:1s\b|\bone-on-ones\b|\bperformance reviews\b"
    r"|\bführungsverantwortung\b|\bpersonalverantwortung\b|\bdisziplinarisch\w*\b",
    re.I,
)


# --------------------------------------------------------------------------- working language and contact

_WORKING_LANGUAGE = tuple(
    re.compile(p, re.I)
    for p in (
        r"\b(?:working|company|team|office|business|official)[- ]language\s*(?:is|:|=)\s*(english|german)\b",
        r"\b(english|german) is (?:our|the) (?:working|company|team|office|everyday|daily)[- ]language\b",
        r"\bwe (?:work|speak|communicate) (?:\w+ ){0,2}in (english|german)\b",
        r"\b(?:arbeits|unternehmens|firmen|team|konzern)sprache\s*(?:ist|:)?\s*(?:bei uns\s+)?(englisch|deutsch)\b",
        r"\b(englisch|deutsch) ist (?:unsere|die) (?:arbeits|unternehmens|firmen|team)sprache\b",
        r"\bwir (?:sprechen|arbeiten|kommunizieren) (?:\w+ ){0,2}(?:auf )?(englisch|deutsch)\b",
    )
)
_NAME = r"((?:[A-ZÄÖÜ][a-zäöüßéèáà]+(?:-[A-ZÄÖÜ][a-zäöüß]+)?\s){1,2}[A-ZÄÖÜ][a-zäöüßéèáà]+(?:-[A-ZÄÖÜ][a-zäöüß]+)?)"
_CONTACT_PERSON = re.compile(
    r"\b(?i:(?:your |our |the )?(?:contact(?: person)?|recruiter|hiring manager|talent partner|ansprechpartner(?:in)?"
    r"|kontaktperson|kontakt|ansprechperson)\b(?: for (?:this|the) (?:role|position))?\s*(?:is|ist)?\s*[:\-–]?\s*)"
    r"(?:(Ms\.?|Mrs\.?|Mr\.?|Frau|Herr)\s+)?(?:(?:Dr|Prof)\.\s+)?" + _NAME
)


_INFORMAL = re.compile(r"\b(?:du|dich|dir|dein|deine|deinen|deiner|bringst|suchst|hast|bist|bewirb)\b", re.I)
# "(m/w/d)", "(all genders)", "(Remote, EU)": notes in a title, never part of the role's name.
_GENDER_MARKER = re.compile(
    r"\s*\((?:[mwfdxi]\s*/\s*){1,3}[mwfdxi]\*?\)|\s*\((?:all genders|gn\*?)\)"
    r"|\s*\([^()]*\b(?:remote|hybrid|on-?site|vor ort|full[- ]time|part[- ]time|vollzeit|teilzeit)\b[^()]*\)",
    re.I,
)


def plain_title(title: str) -> str:
    """The title as a person writes it in a sentence: "Data Engineer (m/w/d)" -> "Data Engineer"."""
    return " ".join(_GENDER_MARKER.sub("", title).split())


def read_working_language(text: str) -> str | None:
    """The language the posting says the team works in ("Our working language is English"), if it says."""
    for pattern in _WORKING_LANGUAGE:
        if (match := pattern.search(text)) and (language := language_code(match.group(1))):
            return language[0]
    return None


# Capitalised words after "Kontakt:" that are not a person's name (German capitalises every noun).
_NOT_NAME = re.compile(
    r"\b(?:bitte|sie|ihr|ihre|unser|unsere|team|human|resources|people|talent|hiring|recruiting|personal|us|our|the"
    r"|for|via|per|bei|mit|und|and|or|oder)\b|(?:ung|heit|keit|schaft|abteilung)\b",
    re.I,
)


def read_contact(text: str) -> tuple[str | None, str | None]:
    """(name, "f"/"m" when an honorific says) of the person the posting names as its contact."""
    match = next((m for m in _CONTACT_PERSON.finditer(text) if not _NOT_NAME.search(m.group(2))), None)
    if not match:
        return None, None
    honorific = (match.group(1) or "").rstrip(".").casefold()
    form = "f" if honorific in {"ms", "mrs", "frau"} else "m" if honorific in {"mr", "herr"} else None
    return match.group(2), form


# --------------------------------------------------------------------------- the reader


def read_posting(
    *,
    title: str,
    text: str,
    qualifications: Iterable[str] = (),
    responsibilities: Iterable[str] = (),
    skills: Iterable[str] = (),
    languages: Iterable[str] = (),
    addresses: Iterable[PostalAddress] = (),
    location_text: str = "",
    location_type: str | None = None,
    workplace_hint: Any = None,
    applicant_locations: Iterable[str] = (),
    seniority_hint: str = "",
    experience: str = "",
) -> PostingFacts:
    """Read one posting. `text` is its description (Markdown or plain); the rest are the source's own fields."""
    qualifications, responsibilities = list(qualifications), list(responsibilities)
    sections = read_sections(text)
    if responsibilities:
        sections.setdefault("responsibilities", [])
        sections["responsibilities"] += [r for r in responsibilities if r not in sections["responsibilities"]]
    requirements = read_requirements(title, sections, qualifications, list(skills))
    body = "\n".join([title, location_text, text, *qualifications, *responsibilities])
    workplace, remote_allowed, remote_within = read_workplace(
        location_type, workplace_hint, body, list(applicant_locations), location_text
    )
    relocation, permits, clearance = read_eligibility(body)
    places = place_areas(addresses)
    if not places and location_text:
        places = [a for a in areas_in(re.sub(r"\(.*?\)|\bremote\b|\bhybrid\b", " ", location_text, flags=re.I)) if a]
    must_text = "\n".join([*qualifications, *sections.get("requirements", []), *sections.get("other", [])])
    needs = language_needs(must_text, explicit=list(languages))
    for need in language_needs("\n".join(sections.get("nice", [])), optional_context=True):
        if need.code not in {n.code for n in needs}:
            needs.append(need)
    experience_text = "\n".join([experience, *qualifications, *sections.get("requirements", []), text])
    contact = read_contact(body)
    duties = "\n".join([*sections.get("responsibilities", []), *sections.get("requirements", []), text])
    return PostingFacts(
        sections=sections,
        requirements=requirements,
        places=[p for p in places if p.kind != "region"],
        workplace=workplace,
        remote_allowed=remote_allowed,
        remote_within=remote_within,
        relocation_to=relocation,
        work_permit_in=permits,
        clearance=clearance,
        languages=needs,
        seniority=seniority_of(title, seniority_hint, experience_text),
        seniority_from_years=title_level(title) is None and title_level(seniority_hint) is None,
        people_management=is_management_title(title) or bool(_MANAGES_PEOPLE.search(duties)),
        years=years_asked(experience_text),
        family=role_family(title),
        written_in=text_language("\n".join([title, text, *qualifications, *responsibilities])),
        working_language=read_working_language(body),
        informal=bool(_INFORMAL.search(body)),
        contact_name=contact[0],
        contact_form=contact[1],
    )


def required_languages(text: str, explicit: Iterable[str] = ()) -> list[str]:
    """English names of the spoken languages a text clearly requires ("Fluent German required" -> German)."""
    return [n.name for n in language_needs(text, explicit=list(explicit)) if n.required]


def facts_of(posting: JobPosting) -> PostingFacts:
    """The posting's stored facts, or (a posting built without a source, e.g. in a test) read from its fields."""
    if posting.facts is not None:
        return posting.facts
    return read_posting(
        title=posting.title,
        text=posting.description,
        qualifications=posting.qualifications,
        responsibilities=posting.responsibilities,
        skills=posting.skills,
        languages=posting.languages,
        addresses=[p.address for p in posting.jobLocation],
        location_type=posting.jobLocationType,
        workplace_hint=posting.workplace,
        seniority_hint=posting.seniority or "",
        experience=posting.experienceRequirements or "",
    )
