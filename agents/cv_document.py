"""The tailored CV as a document: its model, its layouts (Markdown, HTML, LaTeX), and reading its Markdown back.

The CV writer plans a CVDocument from the profile; a person's edit at review is read back into the same
model from JobLand's own Markdown (templates/cv.md.j2), so that an edited CV is laid out by the same
templates, in the same style, as the one JobLand wrote.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from jobland.domain.models import EvidenceLine, Highlight, RewrittenHighlight, TailoredCV
from jobland.templates import render

SEPARATOR = " · "
CV_STYLES = ("classic", "modern")
PRESENT = "Present"


@dataclass(frozen=True)
class CVLine:
    text: str
    source_fields: tuple[str, ...]
    highlight_ids: tuple[str, ...] = ()
    reworded: bool = False  # a writer's words (the LLM's summary): held to the meaning of what it cites


@dataclass(frozen=True)
class CVEntry:
    """One employer, project or volunteer role with the highlights chosen for this posting."""

    role: str
    org: str
    location: str
    dates: str
    source_field: str
    highlights: tuple[Highlight, ...]

    @property
    def title(self) -> str:
        return " — ".join(p for p in (self.role, self.org) if p)

    @property
    def meta(self) -> str:
        return SEPARATOR.join(p for p in (self.location, self.dates) if p)


@dataclass(frozen=True)
class CVSection:
    title: str
    layout: Literal["prose", "inline", "list", "entries"]
    lines: tuple[CVLine, ...] = ()
    entries: tuple[CVEntry, ...] = ()


@dataclass(frozen=True)
class CVDocument:
    """What the tailored CV says, before it is laid out as Markdown, HTML or LaTeX."""

    name: str
    headline: str
    contacts: tuple[str, ...]
    sections: tuple[CVSection, ...]

    @property
    def contact_line(self) -> str:
        return SEPARATOR.join(self.contacts)


def rests_on(highlight: Highlight) -> list[str]:
    """The highlight ids a CV line shows the evidence of: its own, or all that a rewritten line cites."""
    return highlight.rests_on if isinstance(highlight, RewrittenHighlight) else [highlight.id]


def evidence_lines(cv: CVDocument) -> list[EvidenceLine]:
    """One EvidenceLine per line the CV shows, in reading order."""
    lines = [EvidenceLine(section="Header", text=cv.name, source_fields=["basics.name"])]
    if cv.headline:
        lines.append(EvidenceLine(section="Header", text=cv.headline, source_fields=["basics.label"]))
    if cv.contacts:
        lines.append(EvidenceLine(section="Header", text=cv.contact_line, source_fields=["basics"]))
    for section in cv.sections:
        lines.extend(
            EvidenceLine(
                section=section.title,
                text=line.text,
                source_fields=list(line.source_fields),
                highlight_ids=list(line.highlight_ids),
                reworded=line.reworded,
            )
            for line in section.lines
        )
        for entry in section.entries:
            for text in (entry.title, entry.meta):
                if text:
                    lines.append(EvidenceLine(section=section.title, text=text, source_fields=[entry.source_field]))
            lines.extend(
                EvidenceLine(
                    section=section.title,
                    text=h.text,
                    highlight_ids=rests_on(h),
                    reworded=isinstance(h, RewrittenHighlight),
                )
                for h in entry.highlights
            )
    return lines


def checked_style(style: str) -> str:
    if style not in CV_STYLES:
        raise ValueError(
            f"unknown CV style {style!r}; set cv_style (JOBLAND_CV_STYLE) to one of {', '.join(CV_STYLES)}"
        )
    return style


def render_cv(cv: CVDocument, style: str = "classic") -> TailoredCV:
    """The CV as Markdown and HTML in one layout; Markdown carries no layout, so it is the same in every style."""
    return TailoredCV(
        markdown=render("cv.md.j2", cv=cv),
        html=render("cv.html.j2", cv=cv, style=checked_style(style)),
        lines=evidence_lines(cv),
        style=style,
    )


def render_latex(cv: CVDocument, style: str = "classic") -> str:
    return render("cv.tex.j2", cv=cv, style=checked_style(style))


# --------------------------------------------------------------------------- reading the Markdown back

BlockKind = Literal["title", "section", "entry", "bold", "italic", "bullet", "text"]
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*$")
_BULLET = re.compile(r"^[-*+]\s+(.*)$")
_ESCAPED = re.compile(r"\\(.)")


@dataclass(frozen=True)
class Block:
    """One paragraph, heading or bullet of a Markdown document, as plain text."""

    kind: BlockKind
    text: str


def _plain(text: str) -> str:
    return " ".join(_ESCAPED.sub(r"\1", text).split())


def _emphasis(text: str, marker: str) -> str | None:
    """The text inside `marker` (** or *) when the whole paragraph is emphasised that way."""
    inner = text[len(marker) : -len(marker)]
    closed = text.startswith(marker) and text.endswith(marker) and not text.endswith("\\" + marker)
    if len(text) > 2 * len(marker) and closed and not (marker == "*" and inner.startswith("*")):
        return inner
    return None


def _block(paragraph: str) -> Block:
    if heading := _HEADING.match(paragraph):
        kind: BlockKind = ("title", "section", "entry")[min(len(heading.group(1)), 3) - 1]
        return Block(kind, _plain(heading.group(2)))
    for marker, kind in (("**", "bold"), ("*", "italic")):
        if (inner := _emphasis(paragraph, marker)) is not None:
            return Block(kind, _plain(inner))
    return Block("text", _plain(paragraph))


def markdown_blocks(markdown: str) -> list[Block]:
    """Headings, emphasised lines, bullets and paragraphs, in order; a paragraph's wrapped lines are one block."""
    blocks: list[Block] = []
    pending: list[str] = []  # the lines of the paragraph or bullet being read
    is_bullet = False

    def close() -> None:
        text = " ".join(pending)
        block = Block("bullet", _plain(text)) if is_bullet else _block(text)
        if block.text:
            blocks.append(block)
        pending.clear()

    for raw in markdown.splitlines():
        line = raw.strip()
        heading, bullet = _HEADING.match(line), _BULLET.match(line)
        if not line or heading or bullet:
            close()
            is_bullet = bool(bullet)
        if heading:
            blocks.append(_block(line))
        elif bullet:
            pending.append(bullet.group(1))
        elif line:
            pending.append(line)  # a wrapped line continues the paragraph or bullet above it
    close()
    return blocks


def _split_title(title: str) -> tuple[str, str]:
    role, _, org = title.partition(" — ")
    return role.strip(), org.strip()


def _split_meta(meta: str) -> tuple[str, str]:
    """(location, dates) of an entry's meta line "Berlin · Mar 2019 – Present"."""
    parts = [p.strip() for p in meta.split(SEPARATOR.strip()) if p.strip()]
    if len(parts) >= 2:
        return SEPARATOR.join(parts[:-1]), parts[-1]
    if parts and (re.search(r"\d", parts[0]) or PRESENT in parts[0]):
        return "", parts[0]
    return (parts[0] if parts else ""), ""


@dataclass
class _Entry:
    title: str
    meta: str = ""
    highlights: list[str] = field(default_factory=list)


@dataclass
class _Section:
    title: str
    lines: list[Block] = field(default_factory=list)
    entries: list[_Entry] = field(default_factory=list)

    def built(self, ids: Iterator[int]) -> list[CVSection]:
        """The section as the model holds it; text written above its entries becomes a section of its own."""
        sections = []
        if self.lines:
            texts = tuple(CVLine(b.text, ()) for b in self.lines)
            if all(b.kind == "bullet" for b in self.lines):
                layout: Literal["prose", "inline", "list", "entries"] = "list"
            else:
                layout = "inline" if all(SEPARATOR in b.text for b in self.lines) else "prose"
            sections.append(CVSection(self.title, layout, texts))
        if self.entries:
            entries = []
            for entry in self.entries:
                role, org = _split_title(entry.title)
                location, dates = _split_meta(entry.meta)
                # The model's highlights need ids; what an edited line rests on is the checker's to find.
                highlights = tuple(Highlight(id=f"edited-{next(ids)}", text=text) for text in entry.highlights)
                entries.append(CVEntry(role, org, location, dates, "", highlights))
            sections.append(CVSection(self.title, "entries", entries=tuple(entries)))
        return sections


def read_cv_markdown(markdown: str) -> CVDocument:
    """A CV's Markdown (as templates/cv.md.j2 writes it, then a person edited it) as the document model.

    `# Name`, `**headline**`, the contact line, `## Section`, `### Role — Org`, `*meta*`, `- bullets`.
    Lenient, and never drops a word: text outside that shape is kept where it stands (a line above the
    first section is a contact, a paragraph in an entry is one of its bullets), so that every word sent is
    one the truth check saw.
    """
    name, headline, contacts = "", "", []
    sections: list[_Section] = []
    for block in markdown_blocks(markdown):
        current = sections[-1] if sections else None
        entry = current.entries[-1] if current and current.entries else None
        if block.kind == "title" and not name and not sections:
            name = block.text
        elif block.kind in ("title", "section"):
            sections.append(_Section(block.text))
        elif block.kind == "entry":
            if current is None:
                current = _Section("Experience")
                sections.append(current)
            current.entries.append(_Entry(block.text))
        elif current is None:
            if block.kind == "bold" and not headline:
                headline = block.text
            else:
                contacts += [c.strip() for c in block.text.split(SEPARATOR.strip()) if c.strip()]
        elif entry is not None:
            if block.kind == "italic" and not entry.meta and not entry.highlights:
                entry.meta = block.text
            else:
                entry.highlights.append(block.text)
        else:
            current.lines.append(block)
    ids = itertools.count(1)
    built = tuple(s for section in sections for s in section.built(ids))
    return CVDocument(name=name, headline=headline, contacts=tuple(contacts), sections=built)
