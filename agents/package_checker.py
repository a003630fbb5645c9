"""Checks run on every package before review: truth, ATS readiness, PDF round trip, no posting contacts.

A package with failed checks still becomes ready: review shows the flags and the person decides.
"""

from __future__ import annotations

import asyncio
import difflib
import html as html_lib
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from jobland.agents.cover_letter_writer import LETTER_PHRASES, letter_held_to_cv
from jobland.agents.cv_writer import PRESENT, SUMMARY_FIELD, posting_skills
from jobland.agents.pdf_read_backs import parsed_texts
from jobland.agents.sentence_vectors import sentence_vector
from jobland.domain.claims import EMAIL, URL, OwnContacts, outside_contacts, unsupported_roles
from jobland.domain.dates import MONTH_ABBREVIATIONS, MONTH_PATTERN, month_number
from jobland.domain.failpoints import failpoint
from jobland.domain.languages import language_names, level_names
from jobland.domain.models import (
    ApplicationPackage,
    CheckResult,
    CompanyDossier,
    CoverLetter,
    EvidenceLine,
    JobPosting,
    PackageStatus,
    Profile,
    TailoredCV,
)
from jobland.domain.places import local_spellings
from jobland.domain.posting_reader import plain_title
from jobland.domain.repository import Records
from jobland.domain.skills import canonical_skill, extract_skills
from jobland.graph.context import Context
from jobland.graph.state import PackageBuildState
from jobland.tools.pdf import page_count

_MONTH_YEAR = re.compile(rf"\b({MONTH_PATTERN}),?\s+(\d{{4}})\b", re.IGNORECASE)
_ISO_MONTH = re.compile(r"\b(\d{4})-(\d{1,2})(?:-\d{1,2})?\b")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*%?")
_WORD = re.compile(r"[^\W\d_][\w&+#'’-]*")
_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_MD_MARKUP = re.compile(r"^(?:#{1,6}\s+|-\s+)")
_MD_ESCAPE = re.compile(r"\\(.)")
_LIGATURES = re.compile("[\ufb00-\ufb06]")
_SOFT_HYPHENS = re.compile("[\u00ad\ufffe\x02]")  # pdfium reads a soft hyphen as U+FFFE or STX
_LINE_END_HYPHEN = re.compile(r"(\w+)-[ \t]*\r?\n[ \t]*(\w+)")
# Irregular verbs and connectives a rewritten line may open with ("Built ...", "As ..."); with the words
# ending in -ed, -ing and -ly, a capital at a sentence's start on these is not a name.
_SENTENCE_OPENERS = frozenset(
    "led built cut ran drove wrote grew made set took won kept brought began became gave held found rebuilt "
    "split spent taught sold as at in on for with by from over across through after before during since while "
    "when each every both all our there here today then also together beyond within without".split()
)
# Fields whose values are not claims about the person (ids, hashes) or are claims of their own (highlights).
_NOT_SUPPORT = frozenset({"id", "highlights", "content_hash", "source", "preferences", "sections"})

# The cosine (all-MiniLM-L6-v2) a reworded line must reach with what it cites to be taken to follow from it.
# Measured on the example CV (examples/cv/alex-morgan.md): faithful rewrites of its highlights 0.81-0.97 and
# letter paragraphs built on them 0.64-0.88; a line citing the wrong highlight 0.15-0.24; an injected
# instruction or role claim -0.05-0.15 (tests/test_claim_checks.py keeps those cases).
ENTAILMENT_THRESHOLD = 0.45

ATS_HEADINGS = {"work": "Experience", "education": "Education", "skills": "Skills"}


# --------------------------------------------------------------------------- what a line claims


def _number(token: str) -> str:
    digits = token.rstrip("%").replace(",", "")
    return digits.lstrip("0") or "0"


def dates_in(text: str) -> set[tuple[int, int]]:
    found = {(int(y), month_number(m)) for m, y in _MONTH_YEAR.findall(text)}
    found |= {(int(y), int(m)) for y, m in _ISO_MONTH.findall(text) if 1 <= int(m) <= 12}
    return found


def numbers_in(text: str) -> set[str]:
    return {_number(n) for n in _NUMBER.findall(text)}


def words_in(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


@cache
def boilerplate_words() -> frozenset[str]:
    """Words the writers themselves add (letter phrases, "Present", month names): not claims."""
    phrases = [text for table in LETTER_PHRASES.values() for text in table.values()]
    # Levels, languages and cities the letter names in its own language ("Muttersprache", "Deutsch", "München").
    phrases += [w for language in LETTER_PHRASES for w in (*level_names(language), *language_names(language))]
    phrases += local_spellings()
    return frozenset(words_in(" ".join([*phrases, PRESENT]))) | frozenset(a.lower() for a in MONTH_ABBREVIATIONS)


def _ordinary_opening(word: str, before: str) -> bool:
    """A word capitalised only because it opens a sentence: a verb or a connective, as a rewrite begins one."""
    opens = not before.rstrip() or before.rstrip().endswith((".", "!", "?", ":", ";", "“", '"', "(", "—", "–"))
    lower = word.lower()
    return opens and (lower.endswith(("ed", "ing", "ly")) or lower in _SENTENCE_OPENERS)


def names_in(text: str) -> list[str]:
    """Capitalised words that are not skills (names of employers, products, places, people)."""
    words = (
        m.group(0)
        for m in _WORD.finditer(text)
        if m.group(0)[0].isupper()
        and m.group(0).lower() not in boilerplate_words()
        and not _ordinary_opening(m.group(0), text[: m.start()])
    )
    return list(dict.fromkeys(w for w in words if not extract_skills(w)))


# --------------------------------------------------------------------------- what a line rests on


def _strings(value: Any, skip: frozenset[str] = _NOT_SUPPORT) -> list[str]:
    if isinstance(value, dict):
        return [s for key, item in value.items() if key not in skip for s in _strings(item, skip)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item, skip)]
    return [] if value is None else [str(value)]


def _resolve(root: dict[str, Any], path: str) -> Any:
    node: Any = root
    for key, index in _PATH_PART.findall(path):
        if key:
            if not isinstance(node, dict) or key not in node:
                raise KeyError(path)
            node = node[key]
        else:
            if not isinstance(node, list) or int(index) >= len(node):
                raise KeyError(path)
            node = node[int(index)]
    return node


class Sources:
    """Everything a document's lines may cite: the profile, the posting and the dossier."""

    def __init__(self, profile: Profile, posting: JobPosting | None = None, dossier: CompanyDossier | None = None):
        self.posting = posting
        self.highlights = profile.highlight_by_id()
        # The entry a highlight belongs to: a line citing it may name its employer and role.
        self.owners: dict[str, list[str]] = {
            h.id: [item.position or "", item.name]
            for item in [*profile.work, *profile.volunteer]
            for h in item.highlights
        }
        self.owners |= {h.id: [project.name] for project in profile.projects for h in project.highlights}
        self.root: dict[str, Any] = {
            **profile.model_dump(mode="json"),
            "posting": posting.model_dump(mode="json") if posting else {},
            "dossier": dossier.model_dump(mode="json") if dossier else {},
        }
        self.dossier_facts = dossier.facts() if dossier else []
        self.names = [posting.company] if posting else []  # the company applied to: a name, never a claim
        self.master_cv = _strings(profile.to_json_resume(), skip=frozenset())
        self.own_contacts = OwnContacts(profile, self.master_cv)

    def source_text(self, reference: str) -> list[str] | None:
        """The text a source_fields entry stands for, or None when it points at nothing."""
        if reference.startswith("posting:"):
            known = self.posting is not None and reference == f"posting:{self.posting.id}"
            return [self.posting.full_text()] if known else None
        if reference.startswith(("http://", "https://")):
            texts = [f.text for f in self.dossier_facts if f.source == reference]
            return texts or None
        try:
            return _strings(_resolve(self.root, reference))
        except KeyError:
            return None

    def highlight_texts(self, line: EvidenceLine) -> list[str]:
        return [self.highlights[i].text for i in line.highlight_ids if i in self.highlights]

    def cited(self, line: EvidenceLine) -> tuple[list[str], list[str]]:
        """The texts a line cites, and what it cites that does not exist."""
        problems = [f"unknown highlight id {i}" for i in line.highlight_ids if i not in self.highlights]
        support = self.highlight_texts(line)
        for reference in line.source_fields:
            texts = self.source_text(reference)
            if texts is None:
                problems.append(f"unknown source {reference}")
            else:
                support.extend(texts)
        return support, problems

    def role_support(self, line: EvidenceLine) -> str:
        """What may state a role or scope a line claims: its highlights, their entries, the profile fields and
        company facts it cites; never the posting (a posting's "CEO" is not the person's)."""
        texts = self.highlight_texts(line) + [text for i in line.highlight_ids for text in self.owners.get(i, [])]
        for reference in line.source_fields:
            if not reference.startswith("posting"):
                texts.extend(self.source_text(reference) or [])
        return "\n".join(texts)

    def meaning_support(self, line: EvidenceLine) -> list[str]:
        """The highlights, the person's own summary and the company facts a reworded line's meaning must follow
        from."""
        texts = self.highlight_texts(line)
        if SUMMARY_FIELD in line.source_fields and (summary := self.source_text(SUMMARY_FIELD)):
            texts.extend(summary)
        for reference in (r for r in line.source_fields if r.startswith("dossier.")):
            try:
                fact = _resolve(self.root, reference)
            except KeyError:
                continue
            if isinstance(fact, dict) and fact.get("text"):
                texts.append(fact["text"])
        return list(dict.fromkeys(texts))


def unsupported_claims(line: EvidenceLine, sources: Sources) -> list[str]:
    """What a line says that its cited highlights and fields do not: unknown ids, numbers, dates, skills, names,
    roles and scope; and a reworded line that cites nothing to hold it to."""
    support, problems = sources.cited(line)
    support_text = "\n".join(support)

    # Skills per cited text (no alias spans two texts), so each text is read once for all the lines citing it.
    support_skills = {skill for text in support for skill in extract_skills(text)} | {
        canonical_skill(s) for s in support
    }
    support_words = words_in(support_text)
    support_numbers = numbers_in(support_text)
    unsupported = [n for n in _NUMBER.findall(line.text) if _number(n) not in support_numbers]
    unsupported += [
        f"{MONTH_ABBREVIATIONS[m - 1]} {y}" for y, m in sorted(dates_in(line.text) - dates_in(support_text))
    ]
    unsupported += [s for s in extract_skills(line.text) if s not in support_skills]
    unsupported += [w for w in names_in(line.text) if w.lower() not in support_words]
    if unsupported:
        problems.append("not in the cited evidence: " + ", ".join(dict.fromkeys(unsupported)))
    # The title as the posting writes it, and as a letter names it ("Head of Data" for "Head of Data (m/w/d)").
    wanted = [sources.posting.title, plain_title(sources.posting.title)] if sources.posting else []
    roles = unsupported_roles(line.text, sources.role_support(line), wanted=wanted, names=sources.names)
    if roles:
        problems.append("a role or scope the cited evidence does not state: " + ", ".join(roles))
    if line.reworded and not sources.meaning_support(line):
        problems.append("cites no highlight and no company fact it rests on")
    return problems


def meaning_problems(lines: list[EvidenceLine], sources: Sources) -> dict[int, str]:
    """Line index -> why, for each reworded line whose words do not follow from what it cites.

    Entailment by the embedding model: the line's cosine with its cited texts (each, and all of them
    together) must reach ENTAILMENT_THRESHOLD.
    """
    cases = [
        (i, support) for i, line in enumerate(lines) if line.reworded and (support := sources.meaning_support(line))
    ]
    problems: dict[int, str] = {}
    for index, support in cases:
        line = sentence_vector(lines[index].text)
        score = max(float(sentence_vector(t) @ line) for t in (" ".join(support), *support))
        if score < ENTAILMENT_THRESHOLD:
            problems[index] = (
                f"does not follow from what it cites: similarity {score:.2f}, below {ENTAILMENT_THRESHOLD:.2f}"
            )
    return problems


def line_flags(label: str, lines: list[EvidenceLine], sources: Sources) -> list[str]:
    """Every problem of every line of one document, each naming the line."""
    meaning = meaning_problems(lines, sources)
    flagged: list[str] = []
    for index, line in enumerate(lines):
        problems = unsupported_claims(line, sources) + ([meaning[index]] if index in meaning else [])
        flagged += [f"{label}, {line.section}: “{line.text}” ({problem})" for problem in problems]
    return flagged


def section_headings(markdown: str) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(r"^##\s+(.+)$", markdown, re.MULTILINE)]


def markdown_lines(markdown: str) -> list[str]:
    """The plain text of each content line of a generated Markdown document."""
    plain: list[str] = []
    for raw in markdown.splitlines():
        line = _MD_MARKUP.sub("", raw.strip())
        for marker in ("**", "*"):
            if (
                len(line) > 2 * len(marker)
                and line.startswith(marker)
                and line.endswith(marker)
                and not line.endswith("\\" + marker)
            ):
                line = line[len(marker) : -len(marker)]
                break
        if line:
            plain.append(_MD_ESCAPE.sub(r"\1", line))
    return plain


def unbacked_lines(document: TailoredCV | CoverLetter) -> list[str]:
    """The Markdown lines of a document that are neither one of its evidence lines nor a heading."""
    known = {line.text for line in document.lines} | set(section_headings(document.markdown))
    return [text for text in markdown_lines(document.markdown) if text not in known]


def _no_evidence(label: str, text: str) -> str:
    return f"{label}: “{text}” (a line with no evidence behind it)"


def documents_of(pkg: ApplicationPackage) -> list[tuple[str, TailoredCV | CoverLetter]]:
    return [(label, d) for label, d in (("CV", pkg.cv), ("cover letter", pkg.cover_letter)) if d is not None]


def truth_check(sources: Sources, pkg: ApplicationPackage) -> tuple[CheckResult, list[str]]:
    """Every line of the CV and letter rests on the master CV (or the posting/dossier it quotes), and a
    reworded line means what it cites."""
    flagged: list[str] = []
    for label, document in documents_of(pkg):
        flagged += line_flags(label, document.lines, sources)
        flagged += [_no_evidence(label, text) for text in unbacked_lines(document)]
    details = flagged or ["every line rests on the master CV, the posting or the dossier it quotes"]
    return CheckResult(name="truth", passed=not flagged, details=details), flagged


def outside_contact_flags(places: list[tuple[str, str]], sources: Sources) -> list[str]:
    """For (where, text) pairs: every address, link, phone number and instruction that is not the person's own."""
    return [
        f"{where}: “{text}” ({problem})"
        for where, text in dict.fromkeys(places)
        for problem in outside_contacts(text, sources.own_contacts, names=sources.names)
    ]


def outside_contacts_check(sources: Sources, pkg: ApplicationPackage) -> tuple[CheckResult, list[str]]:
    """The documents address no one but the person: no one else's address or number, no instruction to the reader."""
    places: list[tuple[str, str]] = []
    for label, document in documents_of(pkg):
        places += [(f"{label}, {line.section}", line.text) for line in document.lines]
        places += [(label, text) for text in unbacked_lines(document)]
    flagged = outside_contact_flags(places, sources)
    details = flagged or ["no address, phone number, link or instruction to the reader but the person's own"]
    return CheckResult(name="outside_contacts", passed=not flagged, details=details), flagged


def edited_lines(original: list[EvidenceLine], texts: list[str], sources: Sources) -> list[EvidenceLine]:
    """The edited document's lines with what each rests on.

    A kept line is the original; a changed line cites what the line in its place cited (and is held to its
    meaning when that was a highlight's); a line beyond those it replaces is an added one (_added_line).
    """
    lines: list[EvidenceLine] = []
    matcher = difflib.SequenceMatcher(a=[line.text for line in original], b=texts, autojunk=False)
    for tag, first, last, start, stop in matcher.get_opcodes():
        if tag == "equal":
            lines += original[first:last]
        elif tag in ("replace", "insert"):
            replaced = original[first:last]
            for offset, text in enumerate(texts[start:stop]):
                if offset >= len(replaced):
                    lines.append(_added_line(text, sources))
                    continue
                was = replaced[offset]
                quoted = any(h.text in was.text for h in map(sources.highlights.get, was.highlight_ids) if h)
                lines.append(was.model_copy(update={"text": text, "reworded": was.reworded or quoted}))
    return lines


def _added_line(text: str, sources: Sources) -> EvidenceLine:
    """An added line, citing the master CV highlight closest to it in meaning when one is close enough."""
    line = sentence_vector(text)
    scores = {i: float(sentence_vector(h.text) @ line) for i, h in sources.highlights.items()}
    best = max(scores, key=scores.__getitem__, default=None)
    if best is not None and scores[best] >= ENTAILMENT_THRESHOLD:
        return EvidenceLine(section="added", text=text, highlight_ids=[best], reworded=True)
    return EvidenceLine(section="added", text=text)


def check_document_text(
    profile: Profile,
    text: str,
    *,
    original: TailoredCV | CoverLetter | None = None,
    posting: JobPosting | None = None,
    dossier: CompanyDossier | None = None,
) -> list[str]:
    """The flags of a CV's or cover letter's Markdown (as a person edited it at review), found as a package's are.

    `original` is the document as built: its lines keep what they cite (see edited_lines). Give the posting
    and dossier a letter quotes, so that its lines citing them can be checked. Deterministic; the embedding
    model runs only on reworded and added lines.
    """
    label = "cover letter" if isinstance(original, CoverLetter) else "CV"
    sources = Sources(profile, posting, dossier)
    headings = set(section_headings(text))
    texts = [t for t in markdown_lines(text) if t not in headings]
    backed: list[EvidenceLine] = []
    unbacked: list[str] = []
    for line in edited_lines(original.lines if original else [], texts, sources):
        if line.section == "added" and not line.highlight_ids:
            unbacked.append(line.text)
        else:
            backed.append(line)
    flagged = line_flags(label, backed, sources) + [_no_evidence(label, text) for text in unbacked]
    places = [(f"{label}, {line.section}", line.text) for line in backed] + [(label, text) for text in unbacked]
    return flagged + outside_contact_flags(places, sources)


# --------------------------------------------------------------------------- ATS, PDF, contacts


def skill_coverage(required: list[str], text: str) -> list[str]:
    """The required skills a text shows (a skill outside the vocabulary counts when written as a whole word)."""
    found = set(extract_skills(text))

    def shows(skill: str) -> bool:
        if skill in found or extract_skills(skill):
            return skill in found
        return re.search(rf"(?<!\w){re.escape(skill)}(?!\w)", text, re.IGNORECASE) is not None

    return [s for s in required if shows(s)]


def ats_check(profile: Profile, posting: JobPosting, pkg: ApplicationPackage) -> CheckResult:
    """Standard headings and the contact line are there; keyword coverage before and after tailoring."""
    if pkg.cv is None:
        return CheckResult(name="ats", passed=False, details=["the package has no CV"])
    headings = section_headings(pkg.cv.markdown)
    plain = "\n".join(markdown_lines(pkg.cv.markdown))
    missing = [h for key, h in ATS_HEADINGS.items() if getattr(profile, key) and h not in headings]
    contact = next((c.strip() for c in (profile.basics.email, profile.basics.phone) if c and c.strip()), "")
    contact_missing = bool(contact) and contact not in plain
    details = [f"section headings: {', '.join(headings)}"]
    details += [f"missing standard heading: {h}" for h in missing]
    if contact_missing:
        details.append(f"no contact line with {contact}")
    required = posting_skills(posting)
    before = skill_coverage(required, "\n".join(_strings(profile.to_json_resume(), skip=frozenset())))
    after = skill_coverage(required, plain)
    details.append(
        f"required-skill coverage: master CV {len(before)}/{len(required)}, tailored CV {len(after)}/{len(required)}"
    )
    if lost := [s for s in before if s not in after]:
        details.append(f"in the master CV but not in the tailored CV: {', '.join(lost)}")
    if absent := [s for s in required if s not in before]:
        details.append(f"required but not in the master CV: {', '.join(absent)}")
    return CheckResult(name="ats", passed=not missing and not contact_missing, details=details)


def _caseless(text: str) -> str:
    """Case- and space-insensitive, accents kept: a heading or a required term as the document writes it."""
    return " ".join(text.split()).casefold()


def word_tokens(text: str) -> Counter[str]:
    return Counter(re.findall(r"\w+", text.casefold()))


def recovered_share(expected: Counter[str], found: Counter[str]) -> float:
    """The share of the expected words (with repeats) that a parser gave back."""
    total = sum(expected.values())
    return sum((expected & found).values()) / total if total else 1.0


def _percent(share: float) -> str:
    return f"{share * 100:.1f}".removesuffix(".0") + "%"


def text_damage(text: str, written: str) -> list[str]:
    """Ligature glyphs, soft hyphens and words split by a hyphen at a line end that the written text lacks."""
    damage = [f"ligature {ch!r}" for ch in dict.fromkeys(_LIGATURES.findall(text))]
    if _SOFT_HYPHENS.search(text):
        damage.append("soft hyphen")
    written_folded = _caseless(written)
    damage += [
        f"hyphenated “{first}-{second}”"
        for first, second in _LINE_END_HYPHEN.findall(text)
        if f"{first}-{second}".casefold() not in written_folded
    ]
    return damage


@dataclass(frozen=True)
class RoundTripExpectation:
    """What a rendered document must give back to a parser."""

    text: str
    headings: tuple[str, ...]
    required: tuple[str, ...]  # name, contact line, company: each must be found whole


def _expectation(document: TailoredCV | CoverLetter, company: str) -> RoundTripExpectation:
    lines = [line.text for line in document.lines]
    if isinstance(document, TailoredCV):
        headings = tuple(section_headings(document.markdown))
        header = [line.text for line in document.lines if line.section == "Header"]
        required = (
            header[0],
            *(line.text for line in document.lines if line.section == "Header" and line.source_fields == ["basics"]),
        )
        return RoundTripExpectation("\n".join([*lines, *headings]), headings, required)
    contact = [line.text for line in document.lines if line.section in ("sender", "contact")]
    return RoundTripExpectation("\n".join(lines), (), (*contact, company))


def round_trip(pdf: bytes, expected: RoundTripExpectation) -> tuple[bool, str]:
    """Parse a PDF back with pypdfium2 and Docling: shares of words recovered, headings, contact line, damage."""
    words = word_tokens(expected.text)
    texts = parsed_texts(pdf)
    shares = {parser: recovered_share(words, word_tokens(text)) for parser, text in texts.items()}
    problems: list[str] = []
    for parser, text in texts.items():
        folded = _caseless(text)
        missing = [item for item in (*expected.headings, *expected.required) if item and _caseless(item) not in folded]
        problems += [f"{parser} lost {', '.join(missing)}"] if missing else []
        problems += [f"{parser} read {d}" for d in text_damage(text, expected.text)]
    if shares["pypdfium2"] < 1:
        problems.append("pypdfium2 did not recover every word")
    summary = f"{_percent(shares['pypdfium2'])} of {sum(words.values())} words, Docling {_percent(shares['Docling'])}"
    found = "every heading and the contact line found" if expected.headings else "name, contact line and company found"
    return not problems, f"pypdfium2 recovered {summary}; " + ("; ".join(problems) if problems else found)


def _read_back(path: Path, document: TailoredCV | CoverLetter, company: str) -> tuple[bool, str, int]:
    """The round trip of one rendered PDF, and its page count."""
    data = path.read_bytes()
    ok, detail = round_trip(data, _expectation(document, company))
    return ok, detail, page_count(data)


def pdf_check(home: Path, pkg: ApplicationPackage, *, pages: int | None = None) -> CheckResult | None:
    """The ATS round trip of every rendered PDF, the CV's page budget, and whether the LaTeX source was typeset."""
    documents: list[tuple[str, TailoredCV | CoverLetter]] = []
    if pkg.cv and pkg.cv.pdf_file:
        documents.append((pkg.cv.pdf_file, pkg.cv))
    if pkg.cv and pkg.cv.latex_pdf_file:
        documents.append((pkg.cv.latex_pdf_file, pkg.cv))
    if pkg.cover_letter and pkg.cover_letter.pdf_file:
        documents.append((pkg.cover_letter.pdf_file, pkg.cover_letter))
    if not documents:
        return None
    details: list[str] = []
    passed = True
    # Read back at once: each document's Docling pass goes to a renderer process of its own.
    with ThreadPoolExecutor(max_workers=len(documents)) as readers:
        reads = [readers.submit(_read_back, home / relative, document, pkg.company) for relative, document in documents]
    for (relative, document), read in zip(documents, reads, strict=True):
        try:
            ok, detail, count = read.result()
        except Exception as exc:  # a missing or corrupt file: report it, do not crash the build
            passed = False
            details.append(f"{relative}: cannot be read back ({type(exc).__name__}: {exc})")
            continue
        if isinstance(document, TailoredCV) and pages is not None:
            within = count <= pages
            ok = ok and within
            detail += f"; {count} of at most {pages} pages" + ("" if within else ": over the page budget")
        passed = passed and ok
        details.append(
            f"{relative} ({document.style if isinstance(document, TailoredCV) else document.language}): {detail}"
        )
    if pkg.cv and pkg.cv.latex_note:
        details.append(f"{pkg.cv.latex_file or 'cv.tex'}: {pkg.cv.latex_note}")
    return CheckResult(name="pdf", passed=passed, details=details)


def posting_contacts(posting: JobPosting) -> list[str]:
    """Email addresses and URLs written in the posting's text."""
    text = posting.full_text()
    found = [*EMAIL.findall(text), *(u.rstrip(".,;:!?") for u in URL.findall(text))]
    return list(dict.fromkeys(found))


def contacts_check(posting: JobPosting, pkg: ApplicationPackage) -> CheckResult:
    """No address or link from the posting reaches a document (the company name itself excepted)."""
    documents = {
        "CV": [pkg.cv.markdown, html_lib.unescape(pkg.cv.html)] if pkg.cv else [],
        "cover letter": [pkg.cover_letter.markdown, html_lib.unescape(pkg.cover_letter.html)]
        if pkg.cover_letter
        else [],
        "dossier": [f.text for f in pkg.dossier.facts()] if pkg.dossier else [],
    }
    company = posting.company.casefold()
    leaks = [
        f"{label} contains {contact} from the posting"
        for contact in posting_contacts(posting)
        if contact.casefold() not in company
        for label, texts in documents.items()
        if any(contact.casefold() in t.casefold() for t in texts)
    ]
    return CheckResult(
        name="posting_contacts",
        passed=not leaks,
        details=leaks or ["no email address or link from the posting appears in the documents"],
    )


def check_package_contents(
    profile: Profile,
    posting: JobPosting,
    pkg: ApplicationPackage,
    *,
    home: Path | None = None,
    pages: int | None = None,
) -> tuple[list[CheckResult], list[str]]:
    """All checks of a package, and the claims it makes that the master CV does not support (with every
    address and instruction that is not the person's own): review shows them, and `demo --approve-all`
    approves no package that has any.

    PDFs are read back only when `home` (the data folder their paths are relative to) is given; the CV PDF
    must then fit in `pages` pages when that is given.
    """
    sources = Sources(profile, posting, pkg.dossier)
    truth, flagged = truth_check(sources, pkg)
    checks = [truth, ats_check(profile, posting, pkg)]
    if home is not None and (pdf := pdf_check(home, pkg, pages=pages)) is not None:
        checks.append(pdf)
    outside, addressed = outside_contacts_check(sources, pkg)
    checks += [contacts_check(posting, pkg), outside]
    return checks, [*flagged, *addressed]


async def check_package(state: PackageBuildState, runtime: Runtime[Context]) -> dict:
    records = Records(runtime.store)
    thread_id = state["thread_id"]
    profile, posting, package = await records.package_inputs(
        thread_id, state["package_id"], state["profile_id"], state["posting_id"]
    )
    package = await records.move_package(thread_id, package, PackageStatus.checking)
    # The letter was written while the CV was laid out: held to what the laid-out CV keeps.
    package = package.model_copy(update={"cover_letter": await letter_held_to_cv(runtime.context, records, package)})
    checks, flagged = await asyncio.to_thread(
        check_package_contents,
        profile,
        posting,
        package,
        home=runtime.context.home_path,
        pages=runtime.context.cv_pages,
    )
    checked = package.model_copy(update={"checks": checks, "flagged_claims": flagged})
    await records.move_package(thread_id, checked, PackageStatus.ready)
    failpoint("check_package.after_store")  # durability tests crash here: the package is stored, the state not yet
    return {}
