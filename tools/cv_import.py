"""Import a master CV (PDF, DOCX, Markdown, HTML, plain text or JSON Resume) as a Profile.

Every document format is first read into a flat list of blocks (title, heading, bullet, line, each line
with the right-aligned or tabulated parts beside it), and one builder turns the blocks into JSON Resume
fields. PDFs go through Docling's model-free native pipeline for their text cells and positions, but each
cell's words come from pypdfium2: Docling glues words together on some LaTeX fonts ("DesignedTerraformmodules")
where pypdfium2 keeps the spaces. DOCX and HTML go through Docling to Markdown; Markdown and plain text are
read as they are. JSON Resume is validated and taken over field by field.

The import is pure and synchronous: no store and no cache (callers cache by the file's content hash).
"""

from __future__ import annotations

import bisect
import dataclasses
import importlib.util
import io
import json
import re
import statistics
import sys
import types
import zipfile
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import pypdfium2
from pydantic import ValidationError

from jobland.domain.dates import MONTH_PATTERN
from jobland.domain.languages import level_of, named_language
from jobland.domain.models import (
    AwardItem,
    Basics,
    CertificateItem,
    EducationItem,
    Highlight,
    LanguageItem,
    Location,
    Preferences,
    Profile,
    ProjectItem,
    RemotePreference,
    Seniority,
    SkillItem,
    SocialProfile,
    WorkItem,
    profile_id_for,
)
from jobland.domain.person import ONGOING_PATTERN
from jobland.domain.places import find_area
from jobland.domain.roles import names_a_role
from jobland.domain.salary import AMOUNT, amount_of, currency_in
from jobland.domain.skills import extract_skills, extract_terms
from jobland.domain.text import content_hash, normalize_text, strip_bullet
from jobland.tools.pdf import PDF_LIBRARIES

if TYPE_CHECKING:
    from docling.document_converter import DocumentConverter
    from docling_core.types.doc.document import DoclingDocument

MAX_PDF_PAGES = 30
MAX_DOCX_PARTS = 1000  # files in a .docx archive; Word writes a few dozen

_FORMATS = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".txt": "text",
    ".json": "json",
}
_SUPPORTED = "a PDF, DOCX, Markdown (.md), HTML, plain text (.txt) or JSON Resume (.json) file"


class CVImportError(ValueError):
    """A CV that cannot be imported; the message says what to do about it."""


def import_profile(
    path: Path, *, max_bytes: int = 20 * 1024 * 1024, max_unpacked_bytes: int = 100 * 1024 * 1024
) -> Profile:
    """Read the CV at path into a Profile whose id and content_hash depend only on the file's bytes.

    max_unpacked_bytes bounds what the file's compressed parts (a DOCX's members, a PDF's Flate streams) may
    unpack to; a file over it is refused before any parser unpacks it.
    """
    path = Path(path)
    data = _read_cv_bytes(path, max_bytes)
    digest = content_hash(data)
    kind = _FORMATS[path.suffix.lower()]
    _check_unpacked_size(kind, data, path.name, max_unpacked_bytes)
    if kind == "json":
        fields = _json_resume_fields(data, path.name)
    else:
        fields = _fields_from_blocks(_document_blocks(kind, data, path.name), path.name)
    try:
        profile = Profile.model_validate(
            {"id": profile_id_for(digest), "source": path.name, "content_hash": digest, **fields}
        )
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise CVImportError(
            f"{path.name}: {where} is not valid ({problem['msg']}); correct it and import the CV again."
        ) from error
    _drop_repeated_highlights(profile)
    # No skills list is made up when the CV has none: a skill its text names is evidence through the
    # highlight that names it (domain.person), never printed as a claim of the person's own.
    return profile


# --------------------------------------------------------------------------- reading the file


def _read_cv_bytes(path: Path, max_bytes: int) -> bytes:
    suffix = path.suffix.lower()
    if suffix not in _FORMATS:
        what = f"{suffix} files are" if suffix else "files without an extension are"
        hint = " (open it in Word or LibreOffice and save it as .docx)" if suffix == ".doc" else ""
        raise CVImportError(f"{path.name}: {what} not supported{hint}; give {_SUPPORTED}.")
    if not path.is_file():
        raise CVImportError(f"{path.name} was not found at {path}; check the path and try again.")
    size = path.stat().st_size
    if size <= max_bytes:
        with path.open("rb") as file:
            data = file.read(max_bytes + 1)  # the file may have grown since stat()
        size = len(data)
    if size > max_bytes:
        raise CVImportError(
            f"{path.name} is {_size(size)}, over the {_size(max_bytes)} limit for a CV; remove embedded "
            "images, or give a smaller .docx/.md/.json version."
        )
    if not data.strip():
        raise CVImportError(f"{path.name} is empty; give the file that holds your CV.")
    return data


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n} bytes"


def _check_unpacked_size(kind: str, data: bytes, name: str, limit: int) -> None:
    """Refuse a decompression bomb: a small file whose compressed parts unpack to far more than a CV holds."""
    if kind == "docx":
        unpacked = _docx_unpacked_size(data, name)
    elif kind == "pdf":
        unpacked = _pdf_unpacked_size(data, limit)
    else:
        return
    if unpacked > limit:
        raise CVImportError(
            f"{name} unpacks to over {_size(limit)}, more than a CV holds (it may be a decompression bomb); "
            "give a .md or .json version, or export the CV again."
        )


def _docx_unpacked_size(data: bytes, name: str) -> int:
    """The sizes its members declare (zipfile stops at a declared size, and fails a member that lies about it)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError) as error:
        raise CVImportError(_UNREADABLE["docx"].format(name=name)) from error
    if len(members) > MAX_DOCX_PARTS:
        raise CVImportError(
            f"{name} holds {len(members)} files, more than the {MAX_DOCX_PARTS} a Word document has; "
            "save it again as .docx in Word or LibreOffice, or give a .pdf/.md version."
        )
    return sum(member.file_size for member in members)


_PDF_STREAM_START = re.compile(rb"(?<!end)stream\r?\n")


def _pdf_unpacked_size(data: bytes, limit: int) -> int:
    """What the PDF's Flate streams inflate to, counted up to just over limit without keeping any of it.

    A stream that does not inflate is not counted (another filter, or an image); nested filters count their
    first layer only, and the parse's memory limit bounds the rest.
    """
    unpacked = 0
    for start in _PDF_STREAM_START.finditer(data):
        end = data.find(b"endstream", start.end())
        pending = data[start.end() : end if end != -1 else len(data)]
        inflater = zlib.decompressobj()
        try:
            while pending and unpacked <= limit:
                produced = inflater.decompress(pending, 1 << 20)
                if not produced:
                    break
                unpacked += len(produced)
                pending = inflater.unconsumed_tail
        except zlib.error:
            continue
        if unpacked > limit:
            break
    return unpacked


def _decode_text(data: bytes, name: str) -> str:
    if b"\x00" in data:
        raise CVImportError(f"{name} holds binary data, not text; give {_SUPPORTED}.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CVImportError(f"{name} is not UTF-8 text; save it with UTF-8 encoding and import it again.") from error


# --------------------------------------------------------------------------- Docling


# docling.document_converter imports its speech pipeline, whose transformers decoder imports torch at module
# level (docling issue 3997). docling-slim comes without torch and JobLand converts no audio, so only when torch
# is absent does a stub stand in for that one module; set here, on import, so that whoever imports docling next
# (the converter below, the fork server of bounded parses) finds it.
if importlib.util.find_spec("torch") is None:
    _speech_stub = types.ModuleType("docling.pipeline.asr_transformers")
    _speech_stub.TransformersAsrDecoder = None  # type: ignore[attr-defined]
    sys.modules.setdefault(_speech_stub.__name__, _speech_stub)

# What a process that parses many CVs imports once, in this order (the stub above first).
PARSER_MODULES = (
    "jobland.tools.cv_import",
    "docling.datamodel.base_models",
    "docling.document_converter",
    "docling.pipeline.native_pdf_pipeline",
    "jobland.tools.cv_reader_preload",
)


@cache
def _docling_converter() -> DocumentConverter:
    from docling.datamodel.base_models import InputFormat
    from docling.datamodel.pipeline_options import NativePdfPipelineOptions
    from docling.document_converter import DocumentConverter, PdfFormatOption
    from docling.pipeline.native_pdf_pipeline import NativePdfPipeline

    # The native pipeline needs no layout model; the standard one downloads models and fails offline. Only
    # the text is read: rasterising and PNG-encoding each page (its default) was a quarter of a read.
    text_only = NativePdfPipelineOptions(generate_page_images=False, generate_picture_images=False)
    return DocumentConverter(
        allowed_formats=[InputFormat.PDF, InputFormat.DOCX, InputFormat.HTML],
        format_options={InputFormat.PDF: PdfFormatOption(pipeline_cls=NativePdfPipeline, pipeline_options=text_only)},
    )


def warm_docling_converter() -> None:
    """Build the converter and its PDF pipeline now, for a process whose forked children each read a CV."""
    from docling.datamodel.base_models import InputFormat

    _docling_converter().initialize_pipeline(InputFormat.PDF)


_UNREADABLE = {
    "pdf": "{name} is not a readable PDF (it may be corrupt or password-protected); "
    "export it again or give a .docx/.md/.json version.",
    "docx": "{name} is not a readable Word document (it may be corrupt, or an old .doc renamed); "
    "save it again as .docx in Word or LibreOffice, or give a .pdf/.md version.",
    "html": "{name} is not a readable HTML page; save the page again or give a .pdf/.docx/.md version.",
}


def _docling_document(kind: str, data: bytes, name: str) -> DoclingDocument:
    from docling.datamodel.base_models import DocumentStream
    from docling.exceptions import ConversionError

    try:
        with PDF_LIBRARIES:
            result = _docling_converter().convert(
                DocumentStream(name=name, stream=io.BytesIO(data)), max_num_pages=MAX_PDF_PAGES
            )
    except ConversionError as error:
        raise CVImportError(_UNREADABLE[kind].format(name=name)) from error
    return result.document


# --------------------------------------------------------------------------- blocks: the common reading


@dataclass
class _Block:
    kind: Literal["title", "heading", "bullet", "line"]
    text: str
    asides: list[str] = field(default_factory=list)
    starts_entry: bool = False  # a sub-heading or a bold line: a new job, school or project begins
    starts_paragraph: bool = True
    wrapped: list[str] = field(default_factory=list)  # the lines its text wraps onto, joined once all are read


def _document_blocks(kind: str, data: bytes, name: str) -> list[_Block]:
    if kind == "pdf":
        blocks = _pdf_blocks(data, name)
    elif kind in ("docx", "html"):
        markdown = _docling_document(kind, data, name).export_to_markdown(
            escape_html=False, escape_underscores=False, image_placeholder=""
        )
        blocks = _markdown_blocks(markdown)
    else:
        blocks = _markdown_blocks(_decode_text(data, name))
    for block in blocks:
        block.text = _clean(_join_wrapped([block.text, *block.wrapped]))
        block.asides = [a for a in (_clean(a) for a in block.asides) if a]
    return [b for b in blocks if b.text]


def _clean(text: str) -> str:
    text = re.sub(r"[\x00-\x08\x0b-\x1f\ufffe]", "", text)
    return " ".join(normalize_text(text).split())


# How pdfium marks a word hyphenated at a line end (\ufffe, \x02 in bounded text); a soft hyphen may do so too.
_HYPHENATION_MARKS = ("\x02", "\ufffe", "\u00ad")


# How far back from its end a wrapped text is read to decide how the next line joins it (the broken word).
_JOIN_LOOKBACK = 256


def _join_wrapped(lines: list[str]) -> str:
    """Re-join lines that wrap onto each other.

    Each join reads only the end of the text so far, never all of it: a paragraph of many lines is joined in
    linear time (re-reading the whole text per line made a long upload cost the square of its lines).
    """
    parts = [lines[0]]
    for rest in lines[1:]:
        end = "".join(parts[-8:])[-_JOIN_LOOKBACK:]
        if end.endswith(_HYPHENATION_MARKS):
            # A word broken by hyphenation loses the hyphen; links, addresses and numbers are never hyphenated,
            # so a hyphen there is their own.
            broken_token = end[:-1].rsplit(None, 1)[-1] if end[:-1].strip() else ""
            parts[-1] = parts[-1][:-1]
            parts.append("-" if re.search(r"[/@.\d]", broken_token) else "")
        elif not (re.search(r"[^\W\d]-$", end) and rest[:1].islower()):
            parts.append(" ")
        parts.append(rest)
    return "".join(parts)


# --------------------------------------------------------------------------- PDF


@dataclass
class _Cell:
    page: int
    left: float
    bottom: float
    right: float
    top: float
    text: str

    @property
    def height(self) -> float:
        return self.top - self.bottom

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2


def _pdf_blocks(data: bytes, name: str) -> list[_Block]:
    with PDF_LIBRARIES:
        cells = _pdf_text_cells(data, name)
    blocks: list[_Block] = []
    for column in _columns(_without_running_lines(cells)):
        blocks += _pdf_line_blocks(_pdf_lines(column))
    return blocks


_MAX_COLUMN_CELLS = 3000  # cells on a page beyond which no columns are looked for (the search is quadratic)


def _columns(cells: list[_Cell]) -> list[list[_Cell]]:
    """The cells of a two-column layout (a LinkedIn export's sidebar beside its main column) as two flows, the
    wider column first, each top to bottom; a page without a gutter between two flows keeps its own order."""
    main: list[_Cell] = []
    side: list[_Cell] = []
    for page in sorted({cell.page for cell in cells}):
        on_page = [cell for cell in cells if cell.page == page]
        gutter = _gutter(on_page) if len(on_page) <= _MAX_COLUMN_CELLS else None
        if gutter is None:
            main += on_page
            continue
        left = sorted((c for c in on_page if c.right <= gutter), key=lambda c: -c.middle)
        right = sorted((c for c in on_page if c.left >= gutter), key=lambda c: -c.middle)
        width = {id(column): max(c.right for c in column) - min(c.left for c in column) for column in (left, right)}
        wide, narrow = (left, right) if width[id(left)] >= width[id(right)] else (right, left)
        main += wide
        side += narrow
    return [column for column in (main, side) if column]


def _gutter(cells: list[_Cell]) -> float | None:
    """The x of a vertical gap no cell crosses, with text on both sides that runs on its own baselines
    (a right-aligned date sits on its line's baseline: that is one column with asides, not two columns)."""
    if len(cells) < 10:
        return None
    start, end = min(c.left for c in cells), max(c.right for c in cells)
    best: tuple[int, float] | None = None
    for x in sorted({round(c.left) - 1 for c in cells}):
        if not start + 0.2 * (end - start) <= x <= start + 0.8 * (end - start):
            continue
        left = [c for c in cells if c.right <= x]
        right = [c for c in cells if c.left >= x]
        if len(left) + len(right) < len(cells) or min(len(left), len(right)) < 5:
            continue
        fewer, other = sorted((left, right), key=len)
        # Text set beside its line shares its baseline exactly; two flows meet on one only by chance.
        bottoms = sorted(o.bottom for o in other)
        alone = sum(1 for c in fewer if not _near(bottoms, c.bottom, 1.5))
        if alone >= 0.5 * len(fewer) and (best is None or min(len(left), len(right)) > best[0]):
            best = (min(len(left), len(right)), x)
    return best[1] if best else None


def _near(ordered: list[float], value: float, distance: float) -> bool:
    """Whether a value of the sorted list lies within distance of value."""
    index = bisect.bisect_left(ordered, value - distance)
    return index < len(ordered) and ordered[index] < value + distance


def _pdf_text_cells(data: bytes, name: str) -> list[_Cell]:
    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as error:
        raise CVImportError(_UNREADABLE["pdf"].format(name=name)) from error
    try:
        if len(pdf) > MAX_PDF_PAGES:
            raise CVImportError(
                f"{name} has {len(pdf)} pages, more than the {MAX_PDF_PAGES} a CV import reads; give the CV alone."
            )
        try:
            text_pages = [page.get_textpage() for page in pdf]
        except pypdfium2.PdfiumError as error:  # a broken page tree (a loop, a missing page)
            raise CVImportError(_UNREADABLE["pdf"].format(name=name)) from error
        if not any(page.count_chars() for page in text_pages):
            raise CVImportError(
                f"{name} has no text layer (it is probably a scan); export the CV from your editor as a PDF "
                "with text, or give a .docx/.md version."
            )
        return _pdf_cells(_docling_document("pdf", data, name), text_pages)
    finally:
        pdf.close()


def _pdf_cells(document: DoclingDocument, text_pages: list[pypdfium2.PdfTextPage]) -> list[_Cell]:
    """Docling's text cells in reading order, each filled with the pypdfium2 characters whose centre lies in it."""
    cells: list[_Cell] = []
    for item, _level in document.iterate_items():
        for prov in getattr(item, "prov", []):
            box = prov.bbox.to_bottom_left_origin(document.pages[prov.page_no].size.height)
            cells.append(_Cell(prov.page_no, box.l, box.b, box.r, box.t, ""))
    cells_on_page: dict[int, list[_Cell]] = defaultdict(list)
    for cell in cells:
        cells_on_page[cell.page].append(cell)
    for page_no, text_page in enumerate(text_pages, start=1):
        candidates = cells_on_page[page_no]
        for index in range(text_page.count_chars()):
            left, bottom, right, top = text_page.get_charbox(index)
            x, y = (left + right) / 2, (bottom + top) / 2
            cell = next((c for c in candidates if c.left - 1 <= x <= c.right + 1 and c.bottom <= y <= c.top), None)
            if cell is not None:
                cell.text += text_page.get_text_range(index, 1)
    for cell in cells:
        cell.text = cell.text.strip()
    return [cell for cell in cells if cell.text]


_PAGE_NUMBER = re.compile(r"^(?:page|seite|página|pagina)\s+\d+\s+(?:of|von|de|di|sur)\s+\d+$", re.IGNORECASE)


def _without_running_lines(cells: list[_Cell]) -> list[_Cell]:
    """Drop page headers and footers: the same text (page numbers aside) at the same height on every page,
    and "Page 1 of 2" wherever it is (LinkedIn's footer, also on a one-page export)."""
    cells = [cell for cell in cells if not _PAGE_NUMBER.match(cell.text)]
    pages = {cell.page for cell in cells}
    if len(pages) < 2:
        return cells

    def key(cell: _Cell) -> tuple[int, str]:
        return round(cell.middle / 4), re.sub(r"\d+", "#", cell.text)

    pages_of: dict[tuple[int, str], set[int]] = defaultdict(set)
    for cell in cells:
        pages_of[key(cell)].add(cell.page)
    return [cell for cell in cells if pages_of[key(cell)] != pages]


def _pdf_lines(cells: list[_Cell]) -> list[list[_Cell]]:
    """Cells that share a baseline, left to right (a right-aligned date or place sits beside its line).

    Lines keep the reading order of their first cell; a cell that comes later in the content stream (some
    renderers write list markers last) still joins the line it sits on.
    """
    lines: list[list[_Cell]] = []
    for cell in cells:
        line = next((line for line in lines if _same_baseline(line[0], cell)), None)
        if line is None:
            lines.append([cell])
        else:
            line.append(cell)
    for line in lines:
        line.sort(key=lambda c: c.left)
        if len(line) > 1 and strip_bullet(f"{line[0].text} x") == ("x", True):
            # A bullet glyph set apart from its text.
            glyph, first = line.pop(0), line[0]
            line[0] = _Cell(first.page, glyph.left, first.bottom, first.right, first.top, f"• {first.text}")
    return lines


def _same_baseline(first: _Cell, other: _Cell) -> bool:
    return first.page == other.page and abs(first.middle - other.middle) < min(first.height, other.height) / 2


def _pdf_line_blocks(lines: list[list[_Cell]]) -> list[_Block]:
    body_height = statistics.median(line[0].height for line in lines)
    right_edge: dict[int, float] = defaultdict(float)
    for line in lines:
        right_edge[line[0].page] = max(right_edge[line[0].page], line[-1].right)
    first_lines = [line for line in lines[:4] if line[0].page == lines[0][0].page]
    tallest = max(first_lines, key=lambda line: line[0].height)

    blocks: list[_Block] = []
    block_start: _Cell | None = None  # where the block being built began: a wrapped line lines up with it
    previous: list[_Cell] | None = None
    for line in lines:
        main, asides = line[0], [cell.text for cell in line[1:]]
        text, is_bullet = strip_bullet(main.text)
        if line is tallest and main.height >= 1.6 * body_height:
            blocks.append(_Block("title", main.text))
            block_start = None
        elif (
            block_start is not None
            and previous is not None
            and len(previous) == 1
            and not asides
            and not is_bullet
            and _first_word_overflows(previous[0], main, right_edge[previous[0].page])
            and not _starts_new_item(previous[0].text, text)
            and abs(main.height - previous[0].height) <= 0.3 * previous[0].height
            and (
                main.left > block_start.left + 1  # the hanging indent under a bullet
                if blocks[-1].kind == "bullet"
                else abs(main.left - block_start.left) < 2
            )
        ):
            blocks[-1].wrapped.append(main.text)
        elif not asides and (
            (main.height >= 1.35 * body_height and len(text.split()) <= 6) or _section_kind(text, loose=False)
        ):
            blocks.append(_Block("heading", text))
            block_start = None
        else:
            blocks.append(_Block("bullet" if is_bullet else "line", text, asides))
            block_start = main
        previous = line
    return blocks


def _starts_new_item(previous: str, text: str) -> bool:
    """Whether a line that could be the previous one wrapped is something of its own: a section heading, a
    link or an address after another, a list item after a short one closed by its bracket ("English (Native)")."""
    first = text.split()[0] if text.split() else ""
    closed = previous.endswith(")") and previous.count("(") == previous.count(")") and len(previous.split()) <= 5
    return bool(
        _section_kind(text, loose=False)
        or ((_EMAIL.search(previous) or _URL.match(previous)) and (_EMAIL.match(first) or _URL.match(first)))
        or (closed and text[:1].isupper())
    )


def _first_word_overflows(previous: _Cell, line: _Cell, right_edge: float) -> bool:
    """Whether the line's first word would not have fitted after the previous line: then the text wrapped."""
    char_width = (line.right - line.left) / len(line.text)
    first_word = line.text.split()[0]
    return previous.right + (len(first_word) + 1) * char_width > right_edge


# --------------------------------------------------------------------------- Markdown and plain text


@dataclass
class _MarkdownLine:
    kind: Literal["heading", "bullet", "line"]
    text: str
    level: int = 0
    indent: int = 0
    cells: list[str] = field(default_factory=list)
    bold: bool = False
    after_blank: bool = True


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_MD_BULLET = re.compile(r"^(\s*)(?:[-*+•●▪‣◦]|\d{1,2}[.)])\s+(.*)$")
_MD_RULE = re.compile(r"^\s*([-=_*])(?:\s*\1){2,}\s*$")
_MD_TABLE_SEPARATOR = re.compile(r"^\s*\|?(?:\s*:?-{3,}:?\s*\|)+\s*(?::?-{3,}:?\s*)?$")
_MD_BOLD_LINE = re.compile(r"^(\*\*|__)(.+)\1$")


def _markdown_blocks(text: str) -> list[_Block]:
    return _blocks_from_markdown_lines(_markdown_lines(text))


def _markdown_lines(text: str) -> list[_MarkdownLine]:
    lines: list[_MarkdownLine] = []
    blank = True
    for raw in _without_comments(text).splitlines():
        if not raw.strip():
            blank = True
            continue
        if _MD_RULE.match(raw):
            # A setext underline makes the line above a heading; otherwise it is a horizontal rule.
            if lines and not blank and lines[-1].kind == "line" and raw.strip()[0] in "=-":
                lines[-1].kind, lines[-1].level = "heading", 1 if raw.strip()[0] == "=" else 2
            blank = True
            continue
        if _MD_TABLE_SEPARATOR.match(raw):
            continue
        indent = len(raw) - len(raw.lstrip())
        if heading := _MD_HEADING.match(raw):
            line = _MarkdownLine("heading", _inline(heading.group(2)), level=len(heading.group(1)))
        elif raw.strip().startswith("|"):
            cells = [_inline(c) for c in raw.strip().strip("|").split("|")]
            cells = [c for c in cells if c]
            if not cells:
                continue
            line = _MarkdownLine("line", cells[0], cells=cells[1:])
        elif bullet := _MD_BULLET.match(raw):
            line = _MarkdownLine("bullet", _inline(bullet.group(2)), indent=len(bullet.group(1)))
        else:
            stripped = raw.strip()
            line = _MarkdownLine("line", _inline(stripped), indent=indent, bold=bool(_MD_BOLD_LINE.match(stripped)))
        line.after_blank = blank
        lines.append(line)
        blank = False
    return lines


def _without_comments(text: str) -> str:
    """The text without its <!-- --> comments; an unclosed one stays. (A lazy regex rescans the rest of the
    text for every unclosed "<!--": quadratic.)"""
    kept, position = [], 0
    while (start := text.find("<!--", position)) != -1 and (end := text.find("-->", start + 4)) != -1:
        kept.append(text[position:start])
        position = end + 3
    kept.append(text[position:])
    return "".join(kept)


def _inline(text: str) -> str:
    """Markdown inline markup reduced to its text."""
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<br\s*/?>", " ", text)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])\*(?!\s)([^*]+?)\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<!\w)_(?!\s)([^_]+?)_(?!\w)", r"\1", text)
    text = text.replace("`", "")
    return re.sub(r"\\([\\`*_{}\[\]()#+\-.!|>])", r"\1", text).strip()


def _blocks_from_markdown_lines(lines: list[_MarkdownLine]) -> list[_Block]:
    known_levels = [ln.level for ln in lines if ln.kind == "heading" and _section_kind(ln.text, loose=False)]
    section_level = min(known_levels, default=2)
    blocks: list[_Block] = []
    for index, line in enumerate(lines):
        previous = lines[index - 1] if index else None
        if line.kind == "heading":
            if index == 0 and not _section_kind(line.text, loose=False):
                blocks.append(_Block("title", line.text))
            elif line.level <= section_level:
                blocks.append(_Block("heading", line.text))
            else:
                blocks.append(_Block("line", line.text, starts_entry=True))
        elif line.kind == "bullet":
            blocks.append(_Block("bullet", line.text))
        elif (
            blocks
            and blocks[-1].kind == "bullet"
            and previous is not None
            and previous.kind in ("bullet", "line")
            and not line.after_blank
            and not line.cells
            and (line.indent >= 2 or line.text[:1].islower())
        ):
            blocks[-1].wrapped.append(line.text)
        elif not line.cells and len(line.text) <= 60 and _section_kind(line.text, loose=False):
            blocks.append(_Block("heading", line.text))
        else:
            blocks.append(
                _Block("line", line.text, line.cells, starts_entry=line.bold, starts_paragraph=line.after_blank)
            )
    return blocks


# --------------------------------------------------------------------------- section vocabulary

_HEADINGS: dict[str, tuple[str, ...]] = {
    "summary": (
        "summary",
        "professional summary",
        "career summary",
        "executive summary",
        "profile",
        "professional profile",
        "about",
        "about me",
        "objective",
        "career objective",
        "personal statement",
        "overview",
        "introduction",
        "profil",
        "kurzprofil",
        "zusammenfassung",
        "über mich",
        "a propos",
        "à propos",
        "résumé du profil",
        "perfil",
        "resumen",
        "sobre mí",
        "sobre mi",
        "profilo",
        "chi sono",
        "samenvatting",
        "profiel",
    ),
    "work": (
        "experience",
        "work experience",
        "professional experience",
        "employment",
        "employment history",
        "work history",
        "career history",
        "career",
        "relevant experience",
        "professional background",
        "berufserfahrung",
        "berufliche erfahrung",
        "beruflicher werdegang",
        "werdegang",
        "praxiserfahrung",
        "expérience",
        "expérience professionnelle",
        "expériences professionnelles",
        "experiencia",
        "experiencia laboral",
        "experiencia profesional",
        "esperienza",
        "esperienza lavorativa",
        "esperienze professionali",
        "werkervaring",
        "ervaring",
    ),
    "education": (
        "education",
        "academic background",
        "education and training",
        "academic history",
        "studies",
        "ausbildung",
        "bildung",
        "bildungsweg",
        "studium",
        "schulbildung",
        "formation",
        "éducation",
        "educación",
        "formación",
        "formación académica",
        "formazione",
        "istruzione",
        "opleiding",
        "opleidingen",
    ),
    "awards": (
        "awards",
        "honors",
        "honours",
        "honors and awards",
        "honors-awards",
        "honours and awards",
        "awards and honors",
        "awards and honours",
        "achievements",
        "awards and achievements",
        "auszeichnungen",
        "preise",
        "distinctions",
        "prix",
        "premios",
        "premi",
        "prijzen",
    ),
    "certificates": (
        "certificates",
        "certifications",
        "certification",
        "licenses and certifications",
        "licences and certifications",
        "certificates and licenses",
        "zertifikate",
        "zertifizierungen",
        "certificats",
        "certifications professionnelles",
        "certificaciones",
        "certificados",
        "certificazioni",
        "certificaten",
    ),
    "skills": (
        "skills",
        "top skills",
        "technical skills",
        "core skills",
        "key skills",
        "skills and tools",
        "core competencies",
        "competencies",
        "technologies",
        "tech stack",
        "technical expertise",
        "expertise",
        "tools",
        "kenntnisse",
        "fähigkeiten",
        "fachkenntnisse",
        "it-kenntnisse",
        "kompetenzen",
        "compétences",
        "compétences techniques",
        "habilidades",
        "competencias",
        "conocimientos",
        "competenze",
        "vaardigheden",
    ),
    "languages": (
        "languages",
        "language skills",
        "spoken languages",
        "sprachen",
        "sprachkenntnisse",
        "langues",
        "idiomas",
        "lingue",
        "talen",
    ),
    "projects": (
        "projects",
        "personal projects",
        "side projects",
        "selected projects",
        "key projects",
        "open source",
        "open-source",
        "open source contributions",
        "projekte",
        "projets",
        "proyectos",
        "progetti",
        "projecten",
    ),
    "volunteer": (
        "volunteer",
        "volunteering",
        "volunteer experience",
        "volunteer work",
        "community",
        "community involvement",
        "extracurricular activities",
        "activities",
        "ehrenamt",
        "ehrenamtliches engagement",
        "engagement",
        "bénévolat",
        "voluntariado",
        "volontariato",
        "vrijwilligerswerk",
    ),
    "interests": (
        "interests",
        "hobbies",
        "hobbies and interests",
        "interessen",
        "hobbys",
        "freizeit",
        "centres d'intérêt",
        "centres d’intérêt",
        "loisirs",
        "intereses",
        "aficiones",
        "interessi",
        "interesses",
    ),
    "contact": (
        "contact",
        "contact details",
        "contact information",
        "personal details",
        "personal information",
        "kontakt",
        "kontaktdaten",
        "persönliche daten",
        "coordonnées",
        "contacto",
        "datos personales",
        "contatti",
    ),
    "preferences": ("preferences", "job preferences", "search preferences", "präferenzen", "préférences"),
}
_HEADING_KIND = {phrase: kind for kind, phrases in _HEADINGS.items() for phrase in phrases}
_HEADING_PHRASES = sorted(_HEADING_KIND, key=len, reverse=True)


def _heading_key(text: str) -> str:
    text = text.casefold().replace("&", " and ").replace("+", " and ")
    return " ".join(text.strip(" :.-–—|").split())


def _section_kind(text: str, *, loose: bool) -> str | None:
    """The kind of section a heading opens; `loose` also accepts headings that contain a known phrase."""
    key = _heading_key(text)
    if key in _HEADING_KIND:
        return _HEADING_KIND[key]
    if loose:
        for phrase in _HEADING_PHRASES:
            if re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", key):
                return _HEADING_KIND[phrase]
    return None


# --------------------------------------------------------------------------- from blocks to a profile


@dataclass
class _Section:
    heading: str
    kind: str | None
    blocks: list[_Block] = field(default_factory=list)


def _fields_from_blocks(blocks: list[_Block], name: str) -> dict[str, Any]:
    header: list[_Block] = []
    sections: list[_Section] = []
    for block in blocks:
        if block.kind == "heading":
            sections.append(_Section(block.text, _section_kind(block.text, loose=True)))
        elif sections:
            sections[-1].blocks.append(block)
        else:
            header.append(block)
    for section in sections:
        if section.kind == "contact":
            header.extend(section.blocks)
    fields: dict[str, Any] = defaultdict(list)
    header = _without_language_lists(header, fields)
    basics, header_summary = _basics(header)

    fields["sections"] = [s.heading for s in sections if s.kind != "preferences"]
    for section in sections:
        if section.kind not in ("languages", "preferences", "contact"):
            section.blocks = _without_language_lists(section.blocks, fields)
        body = section.blocks
        match section.kind:
            case "summary":
                basics.summary = _paragraphs(body)
            case "work" | "volunteer":
                fields[section.kind] += _work_items(_entries(body), section.kind)
            case "education":
                fields["education"] += [_education_item(e) for e in _entries(_schools_as_entries(body))]
            case "projects":
                fields["projects"] += [_project_item(e, section.heading) for e in _entries(body)]
            case "awards":
                fields["awards"] += _award_items(body)
            case "certificates":
                fields["certificates"] += _certificate_items(body)
            case "skills":
                fields["skills"] += _skill_items(body)
            case "languages":
                languages, skills = _language_items(body, section.heading)
                fields["languages"] += languages
                fields["skills"] += skills
            case "interests":
                fields["interests"] += [item for b in body for item in _split_list(b.text)]
            case "preferences":
                fields["preferences"] = _preferences(body, name)
            case None if any(b.kind == "bullet" for b in body):
                # An unknown section with bullet points: kept as projects so that its claims can be cited.
                fields["projects"] += [_project_item(e, section.heading) for e in _entries(body)]
    if not basics.summary and header_summary:
        basics.summary = header_summary
    fields["basics"] = basics
    # The same language written twice (in the header and again in a Languages section) is one.
    fields["languages"] = list({(i.language, i.fluency): i for i in fields["languages"]}.values())

    recognised = any(s.kind for s in sections)
    if not recognised and not (basics.name and (basics.email or basics.phone)):
        raise CVImportError(
            f"{name}: found nothing that looks like a CV (no name with contact details and no section headings "
            "such as Experience, Education or Skills); check that this is your CV, or give it as .docx/.md/.json."
        )
    return dict(fields)


def _paragraphs(blocks: list[_Block]) -> str:
    paragraphs: list[list[str]] = []  # each paragraph's lines
    for block in blocks:
        text = " ".join([block.text, *block.asides])
        if paragraphs and not block.starts_paragraph and block.kind == "line":
            paragraphs[-1].append(text)
        else:
            paragraphs.append([text])
    return "\n\n".join(_join_wrapped(lines) for lines in paragraphs)


# --------------------------------------------------------------------------- header: name, label, contact

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A bare domain counts as a link only with a common top-level domain, so that "Node.js" stays a skill.
_URL = re.compile(
    r"^(?:https?://|www\.)\S+$|^[\w-]+(?:\.[\w-]+)*\.(?:com|org|net|io|dev|me|co|ai|app|eu|de|uk|fr|nl|ch|at|"
    r"info|xyz|tech|page|site|blog|codes)(?:/\S*)?$",
    re.IGNORECASE,
)
_PHONE = re.compile(r"^\(?\+?[\d\s().\-/]{7,}$")
_CONTACT_LABEL = re.compile(
    r"^(?:tel|phone|mobile|mobil|telefon|cell|mailto|e-?mail|homepage|website|web|url|site)\s*:\s*", re.IGNORECASE
)
_NETWORKS = {
    "github": "GitHub",
    "gitlab": "GitLab",
    "linkedin": "LinkedIn",
    "twitter": "Twitter",
    "x": "X",
    "mastodon": "Mastodon",
    "xing": "XING",
    "stackoverflow": "Stack Overflow",
    "stack overflow": "Stack Overflow",
    "bitbucket": "Bitbucket",
    "medium": "Medium",
    "kaggle": "Kaggle",
    "dribbble": "Dribbble",
    "behance": "Behance",
}
_LINK_LABEL = re.compile(r"\s+\((?:linkedin|portfolio|personal|company|blog|other|website)\)$", re.IGNORECASE)
_NETWORK_HANDLE = re.compile(rf"^({'|'.join(_NETWORKS)})\s*:\s*(\S+)$", re.IGNORECASE)
_PIECE_SEPARATOR = re.compile(r"\s+[|·•—–]\s+|\s+-\s+|\s*\t\s*|\s{3,}|\s+[|·•]|[|·•]\s+")
_LOCATION = re.compile(r"^[^\W\d][\w.'’\- ]*(?:,\s*[^\W\d][\w.'’\- ]*){1,3}$")
_REMOTE_WORDS = {"remote", "hybrid", "on-site", "onsite", "anywhere", "worldwide", "homeoffice", "home office"}
_NOT_A_NAME = {"curriculum vitae", "resume", "résumé", "cv", "lebenslauf", "c.v."}
_COUNTRY_CODES = {
    "germany": "DE",
    "deutschland": "DE",
    "austria": "AT",
    "österreich": "AT",
    "switzerland": "CH",
    "schweiz": "CH",
    "france": "FR",
    "spain": "ES",
    "italy": "IT",
    "netherlands": "NL",
    "the netherlands": "NL",
    "belgium": "BE",
    "poland": "PL",
    "portugal": "PT",
    "ireland": "IE",
    "sweden": "SE",
    "denmark": "DK",
    "norway": "NO",
    "finland": "FI",
    "united kingdom": "GB",
    "uk": "GB",
    "england": "GB",
    "scotland": "GB",
    "united states": "US",
    "usa": "US",
    "u.s.a": "US",
    "u.s.a.": "US",
    "us": "US",
    "canada": "CA",
    "india": "IN",
    "japan": "JP",
    "republic of korea": "KR",
    "south korea": "KR",
    "korea": "KR",
    "s.korea": "KR",
    "australia": "AU",
    "brazil": "BR",
    "mexico": "MX",
    "singapore": "SG",
    "israel": "IL",
}


def _split_pieces(text: str) -> list[str]:
    return [p.strip(" ,;") for p in _PIECE_SEPARATOR.split(text) if p and p.strip(" ,;")]


def _looks_like_name(text: str) -> bool:
    words = text.split()
    particles = {"von", "van", "der", "de", "da", "del", "di", "le", "la", "bin", "al", "du", "dos", "ten", "zu"}
    return (
        1 < len(words) <= 5
        and len(text) <= 60
        and _heading_key(text) not in _NOT_A_NAME
        and all(re.fullmatch(r"[^\W\d_][^\W\d_.'’\-]*\.?(?:[-'’][^\W\d_]+)*", w) for w in words)
        and all(w[0].isupper() or w.casefold() in particles for w in words)
    )


def _looks_like_location(text: str) -> bool:
    if text.casefold() in _REMOTE_WORDS:
        return True
    return bool(_LOCATION.match(text)) and len(text.split()) <= 7 and not names_a_role(text)


def _location(text: str) -> Location:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    country = _COUNTRY_CODES.get(parts[-1].casefold()) if len(parts) > 1 else None
    places = parts[:-1] if country else parts
    region = places[-1] if len(places) > 1 and re.fullmatch(r"[A-Z]{2}", places[-1]) else None
    cities = [p for p in places if p != region]
    return Location(address=text, city=cities[-1] if cities else None, region=region, countryCode=country)


def _read_contact(piece: str, basics: Basics) -> bool:
    """Fill in the contact detail the piece holds; False when it holds none."""
    value = _CONTACT_LABEL.sub("", piece).strip()
    value = _LINK_LABEL.sub("", value)  # "www.linkedin.com/in/jane (LinkedIn)", as LinkedIn exports write it
    if email := _EMAIL.search(value):
        basics.email = basics.email or email.group(0)
        return True
    if handle := _NETWORK_HANDLE.match(value):
        network = _NETWORKS[handle.group(1).casefold()]
        basics.profiles.append(SocialProfile(network=network, username=handle.group(2).strip("/@").split("/")[-1]))
        return True
    if _URL.match(value):
        host = re.sub(r"^(?:https?://)?(?:www\.)?", "", value).split("/")[0].casefold()
        network = _NETWORKS.get(host.rsplit(".", 1)[0])
        if network:
            url = value if value.startswith("http") else f"https://{value}"
            username = value.rstrip("/").rsplit("/", 1)[-1] if "/" in value else None
            basics.profiles.append(SocialProfile(network=network, username=username, url=url))
        else:
            basics.url = basics.url or value
        return True
    if _PHONE.match(value) and sum(c.isdigit() for c in value) >= 7:
        basics.phone = basics.phone or value
        return True
    return False


def _basics(header: list[_Block]) -> tuple[Basics, str]:
    """Name, label, location and contact details from the lines above the first section; also any long
    paragraph there (a summary without a heading)."""
    basics = Basics()
    rest = list(header)
    for index, block in enumerate(rest[:3]):
        pieces = _split_pieces(block.text)
        if pieces and _looks_like_name(pieces[0]):
            basics.name = pieces[0]
            if len(pieces) > 1:
                basics.label = " · ".join(pieces[1:])
            del rest[index]
            break
    paragraphs: list[str] = []
    for block in rest:
        pieces = [*_split_pieces(block.text), *block.asides]
        others = [p for p in pieces if not _read_contact(p, basics)]
        if len(others) < len(pieces):
            for piece in others:
                if basics.location is None and _looks_like_location(piece):
                    basics.location = _location(piece)
        elif basics.location is None and _looks_like_location(block.text):
            basics.location = _location(block.text)
        elif len(block.text.split()) >= 15:
            paragraphs.append(block.text)
        elif basics.label is None and block.text[:1] not in "\"“'‘«„":
            basics.label = block.text
    return basics, "\n\n".join(paragraphs)


# --------------------------------------------------------------------------- entries: jobs, schools, projects

_YEAR = r"(?:19|20)\d{2}"
_DATE = rf"(?:{MONTH_PATTERN}\s*{_YEAR}|\d{{1,2}}[./]{_YEAR}|{_YEAR}[-/.]\d{{1,2}}(?:[-/.]\d{{1,2}})?|{_YEAR})"
_NOW = ONGOING_PATTERN
_RANGE_SEPARATOR = r"(?:\s*[-–—]\s*|\s+(?:to|bis|until|till|au|à|a)\s+)"
_DATE_RANGE = re.compile(
    rf"(?<![\w-])(?P<since>(?:since|seit|from|ab|depuis|desde)\s+)?(?P<start>{_DATE})"
    rf"(?:{_RANGE_SEPARATOR}(?P<end>{_DATE}|{_NOW})(?!\w)|(?P<open>\s*[-–—])(?=\s|$)|(?!\w))",
    re.IGNORECASE,
)
_EDGE_PUNCTUATION = " ,;:|·•-–—"
# "(4 years 2 months)", "· 2 yrs 3 mos" after a date range, as LinkedIn writes it.
_DURATION = re.compile(r"^\W*\(?\d+\s*(?:years?|yrs?|months?|mos?)(?:\s+\d+\s*(?:months?|mos?))?\)?", re.IGNORECASE)


@dataclass
class _DateRange:
    start: str
    end: str | None  # None: up to now


def _take_dates(text: str) -> tuple[_DateRange | None, str]:
    """The first date or date range in text, and the text around it ("Berlin · 2019 – 2021" -> "Berlin")."""
    match = _DATE_RANGE.search(text)
    if not match:
        return None, text
    start, end = match.group("start"), match.group("end")
    if end is None:
        end = None if match.group("open") or match.group("since") else start
    elif re.fullmatch(_NOW, end, re.IGNORECASE):
        end = None
    before = text[: match.start()].rstrip(_EDGE_PUNCTUATION + "([")
    after = _DURATION.sub("", text[match.end() :]).lstrip(_EDGE_PUNCTUATION + ")]")
    return _DateRange(start, end), f"{before} | {after}" if before and after else before or after


_LEGAL_SUFFIX = re.compile(r"^(?:ltd|inc|llc|gmbh|ag|co|corp|plc|s\.?a|b\.?v|srl|kg|se|oy|ab|as|pty|limited)\.?$", re.I)


@dataclass
class _Entry:
    lines: list[_Block] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)
    has_dates: bool = False  # kept up to date by add_line: rescanning every line per new line made reading quadratic

    def add_line(self, block: _Block) -> None:
        self.lines.append(block)
        self.has_dates = self.has_dates or _has_dates(block)


def _has_dates(block: _Block) -> bool:
    return any(_DATE_RANGE.search(t) for t in [block.text, *block.asides])


def _entries(blocks: list[_Block]) -> list[_Entry]:
    """Group a section into entries: header lines (employer, role, place, dates) followed by bullets."""
    entries: list[_Entry] = []
    for block in blocks:
        current = entries[-1] if entries else None
        if block.kind == "bullet":
            if current is None:
                current = _Entry()
                entries.append(current)
            current.bullets.append(block.text)
            continue
        # A long line is a description, unless it is marked as an entry's heading; separators are no words.
        is_paragraph = not block.starts_entry and len(re.findall(r"\w[\w.'’-]*", block.text)) > 12
        if current is None or (
            not is_paragraph
            and (
                current.bullets
                or block.starts_entry
                or (
                    current.has_dates
                    and (_has_dates(block) or len(current.lines) >= 2)
                    and not _looks_like_location(block.text)  # the place may follow the dates
                )
            )
        ):
            current = _Entry()
            entries.append(current)
        current.add_line(block)
    return entries


@dataclass
class _EntryFacts:
    pieces: list[str]  # what is left once dates, place, link and description are taken out
    dates: _DateRange | None = None
    location: str | None = None
    url: str | None = None
    summary: str | None = None


def _entry_facts(entry: _Entry) -> _EntryFacts:
    dates: _DateRange | None = None
    pieces: list[_Piece] = []
    date_line: int | None = None
    for number, line in enumerate(entry.lines):
        for text, aside in [(line.text, False), *((a, True) for a in line.asides)]:
            if dates is None:
                found, text = _take_dates(text)
                if found:
                    dates, date_line = found, number
            for piece in _split_pieces(text):
                if _DURATION.fullmatch(piece):  # "5 years 3 months": LinkedIn's time at a company
                    continue
                # A description is kept whole; only a heading's short pieces name a role, an employer, a place.
                parts = _piece_parts(piece) if len(piece.split()) <= 12 else [(piece, False)]
                pieces += [_Piece(part, aside, number, place) for part, place in parts]
    facts = _EntryFacts(pieces=[], dates=dates)

    def place(candidates: list[_Piece]) -> None:
        if facts.location is None and candidates:
            facts.location = candidates[0].text
            pieces.remove(candidates[0])

    place([p for p in pieces if p.place])
    place([p for p in pieces if p.aside and not names_a_role(p.text) and not _DEGREE.search(p.text)])
    # A known place among the other pieces ("Berlin" on a line of its own), while something else names the employer.
    place([p for p in pieces[1:] if _is_place(p.text) and any(not names_a_role(o.text) for o in pieces if o is not p)])
    on_date_line = [p for p in pieces if p.line == date_line]
    if len(on_date_line) == 1 and len(pieces) > 1 and len(on_date_line[0].text.split()) <= 4:
        place([p for p in on_date_line if p is not pieces[0] and not names_a_role(p.text) and _is_place(p.text)])

    summary: list[str] = []
    for piece in pieces:
        if len(piece.text.split()) > 12:
            summary.append(piece.text)
        elif _URL.match(piece.text) and facts.url is None:
            facts.url = piece.text
        else:
            facts.pieces.append(piece.text)
    facts.summary = " ".join(summary) or None
    return facts


@dataclass(frozen=True)
class _Piece:
    text: str
    aside: bool  # written beside its line (right-aligned, tabulated, a table cell)
    line: int
    place: bool = False  # known to be the place: the part after the employer's comma, or in brackets after it


_AT = re.compile(r"^(?P<role>.+?)\s+(?:at|@|bei|chez)\s+(?P<org>.+)$")
_BRACKETED = re.compile(r"^(?P<head>.+?)\s*\((?P<inner>[^()]+)\)$")


def _piece_parts(piece: str) -> list[tuple[str, bool]]:
    """A heading piece split into role, employer and place, each with whether it is the place:
    "Senior Engineer @ Acme (Berlin)", "Acme GmbH, Berlin", "Engineer, Acme, Munich, Germany"."""
    if (at := _AT.match(piece)) and names_a_role(at.group("role")) and not names_a_role(at.group("org")):
        return [(at.group("role"), False), *_piece_parts(at.group("org"))]
    if (bracketed := _BRACKETED.match(piece)) and _is_place(bracketed.group("inner")):
        return [*_piece_parts(bracketed.group("head")), (bracketed.group("inner"), True)]
    parts = [p.strip() for p in piece.split(", ")]
    if len(parts) < 2 or any(_LEGAL_SUFFIX.match(p) for p in parts[1:]):
        return [(piece, False)]
    if _is_place(piece):
        return [(piece, True)]
    for cut in range(1, len(parts)):
        tail = ", ".join(parts[cut:])
        if _is_place(tail):
            return [*_piece_parts(", ".join(parts[:cut])), (tail, True)]
    organisation, role = _split_role(piece)
    if organisation and role and names_a_role(role) and not names_a_role(organisation):
        return [(role, False), (organisation, False)]
    return [(piece, False)]


def _is_place(text: str) -> bool:
    """A place a CV names: "Berlin", "Munich, Germany", "Palo Alto, CA", "Remote"; never a school or a role."""
    if text.casefold() in _REMOTE_WORDS:
        return True
    parts = [p.strip() for p in text.split(",")]
    if not 1 <= len(parts) <= 3 or not all(parts) or names_a_role(text) or _SCHOOL.search(text):
        return False
    if len(parts[0].split()) > 4 or _DEGREE.search(text) or any(_LEGAL_SUFFIX.match(w) for w in text.split()):
        return False
    return find_area(parts[0]) is not None and all(
        find_area(p) is not None or re.fullmatch(r"[A-Z]{2,3}|[A-Z][\w.]*", p) for p in parts[1:]
    )


# Words that name nothing (pronouns, determiners, conjunctions, prepositions, adverbs), English and German.
_FUNCTION_WORDS = frozenset(
    "a an the all any each every everything everyone something nothing anything this that these those what which "
    "who whose where when why how it its we our us you your they their i my me he she his her always never only "
    "just more most less so and or but because if then than as of for to in on at by with without from about into "
    "over beyond not no there here is are be was "
    "alles alle jeder jede nichts etwas das der die dies diese was wer wo wann warum wie es wir unser uns du dein "
    "sie ihr ich mein immer nie nur mehr und oder aber weil wenn dann als von für zu an auf mit ohne aus über "
    "nicht kein ist sind".split()
)
_QUOTED = re.compile(r"^[\"“„«‘'].+[\"”“»’'][.!]?$")


def _is_motto(text: str) -> bool:
    """A bullet that claims nothing: a quotation, or a short phrase of function words around at most one other
    word that names no skill, number or name ("Everything that matters.", "Always learning."). It is the
    person's tagline for the entry, not a claim that a CV or a letter could cite."""
    if _QUOTED.match(text):
        return True
    words = re.findall(r"[^\W\d_][\w'’-]*", text)
    return (
        0 < len(words) <= 5
        and not re.search(r"\d", text)
        and not extract_terms(text)
        and not any(w[0].isupper() for w in words[1:])
        and words[0].casefold() in _FUNCTION_WORDS
        and sum(w.casefold() not in _FUNCTION_WORDS for w in words) <= 1
    )


def _claims_and_mottos(bullets: list[str]) -> tuple[list[str], list[str]]:
    return [b for b in bullets if not _is_motto(b)], [b for b in bullets if _is_motto(b)]


def _highlights(section: str, owner: str, texts: list[str]) -> list[Highlight]:
    return [Highlight.make(section, owner, text) for text in dict.fromkeys(texts)]


def _organisation_and_role(pieces: list[str]) -> tuple[str, str | None]:
    if len(pieces) == 1:
        return _split_role(pieces[0])
    titled = [p for p in pieces if names_a_role(p)]
    plain = [p for p in pieces if not names_a_role(p)]
    if titled and plain:
        return plain[0], titled[0]
    if len(pieces) >= 2:
        return pieces[0], pieces[1]
    return "", None


def _split_role(piece: str) -> tuple[str, str | None]:
    """Organisation and role from one phrase: "Engineer at Acme", "Organizer, HashiCorp", "Acme GmbH"."""
    at = re.match(r"(.+?)\s+(?:at|@|bei|chez)\s+(.+)", piece)
    if at and names_a_role(at.group(1)):
        return at.group(2), at.group(1)
    left, comma, right = piece.rpartition(", ")
    if comma and not _LEGAL_SUFFIX.match(right):
        if names_a_role(right) and not names_a_role(left):
            return left, right
        return right, left
    return ("", piece) if names_a_role(piece) else (piece, None)


def _work_items(entries: list[_Entry], section: str) -> list[WorkItem]:
    items: list[WorkItem] = []
    for entry in entries:
        # A role with no employer of its own is a further role at the one above (a promotion; LinkedIn lists
        # each role under one company heading).
        items.append(_work_item(entry, section, items[-1].name if items else ""))
    return items


def _work_item(entry: _Entry, section: str, employer_above: str) -> WorkItem:
    facts = _entry_facts(entry)
    organisation, role = _organisation_and_role(facts.pieces)
    if not organisation and role:
        organisation = employer_above
    claims, summary = entry.bullets, facts.summary
    if not claims and summary:
        # A job told in a paragraph (as LinkedIn writes it) makes its claims in sentences: each is citable.
        claims, summary = _SENTENCE_END.split(summary), None
    claims, mottos = _claims_and_mottos(claims)
    summary = " ".join([*mottos, *filter(None, [summary])]) or None
    return WorkItem(
        name=organisation,
        position=role,
        location=facts.location,
        url=facts.url,
        startDate=facts.dates.start if facts.dates else None,
        endDate=facts.dates.end if facts.dates else None,
        summary=summary,
        highlights=_highlights(section, organisation or role or "", claims),
    )


_SENTENCE_END = re.compile(r"(?<=[a-z0-9%)][.!?])\s+(?=[A-Z])")


_DEGREE = re.compile(
    r"(?<!\w)(?:B\.?\s?Sc?\.?|B\.?\s?A\.?|B\.?\s?Eng\.?|M\.?\s?Sc?\.?|M\.?\s?A\.?|M\.?\s?Eng\.?|MBA|Ph\.?\s?D\.?|"
    r"Dr\.|Bachelor(?:'s)?|Master(?:'s)?|Diplom[ae]?|Doctor(?:ate)?|Abitur|Associate|Licence|Laurea|Magister|"
    r"A-Levels?|High School|Staatsexamen)(?![\w])"
)
_SCHOOL = re.compile(
    r"universit|college|school|institut|academy|akademie|hochschule|polytechn|gymnasium|école|escuela|"
    r"(?<!\w)(?:TU|ETH|EPFL|MIT|UCL|KIT|LMU|RWTH)(?!\w)",
    re.IGNORECASE,
)


_DEGREE_WITH_FIELD = re.compile(
    rf"{_DEGREE.pattern}(?:\s+of\s+(?:Science|Arts|Engineering|Business Administration|Laws|Education))?"
)


# LinkedIn writes a degree with its abbreviation: "Master of Science - MS, Data Science".
_DEGREE_ABBREVIATION = re.compile(r"(?<=\w)\s+-\s+(?:[A-Z][A-Za-z.]{0,5})(?=,|\s*·|$)")


def _schools_as_entries(blocks: list[_Block]) -> list[_Block]:
    """An education list written as bullets ("- M.Sc. Computer Science, TU Berlin, 2014 – 2016"): each bullet
    that names a degree or a school is an entry of its own, not a claim under the entry above it."""
    entries = []
    for block in blocks:
        text = _DEGREE_ABBREVIATION.sub("", block.text) if _DEGREE.search(block.text) else block.text
        if block.kind == "bullet" and (_DEGREE.search(text) or _SCHOOL.search(text)):
            entries.append(_Block("line", text, block.asides, starts_entry=True))
        else:
            entries.append(dataclasses.replace(block, text=text))
    return entries


def _education_item(entry: _Entry) -> EducationItem:
    facts = _entry_facts(entry)
    pieces = facts.pieces
    if len(pieces) == 1:
        pieces = [p.strip() for p in pieces[0].split(",") if p.strip()]
    degree = next((p for p in pieces if _DEGREE.search(p) and not _SCHOOL.search(p)), None)
    institution = next((p for p in pieces if _SCHOOL.search(p)), None) or next((p for p in pieces if p != degree), "")
    study_type, area = _degree_parts(degree) if degree else (None, None)
    leftover = [p for p in pieces if p not in (degree, institution)]
    return EducationItem(
        institution=institution,
        url=facts.url,
        studyType=study_type,
        area=area or (leftover[0] if leftover else None),
        startDate=facts.dates.start if facts.dates else None,
        endDate=facts.dates.end if facts.dates else None,
    )


def _degree_parts(degree: str) -> tuple[str, str | None]:
    """("B.S.", "Computer Science") from "B.S. in Computer Science", "M.Sc. Computer Science" and the like."""
    parts = re.split(r"\s+in\s+|\s*,\s*|\s+[-–—:]\s+", degree, maxsplit=1)
    if len(parts) == 2:
        return parts[0], parts[1] or None
    match = _DEGREE_WITH_FIELD.search(degree)
    if not match:
        return degree, None
    area = (degree[: match.start()] + degree[match.end() :]).strip(" ,-–—:()")
    area = re.sub(r"^degree\b", "", area, flags=re.IGNORECASE).strip(" ,-–—:")  # "Bachelor's degree"
    return match.group(0), area or None


def _project_item(entry: _Entry, heading: str) -> ProjectItem:
    facts = _entry_facts(entry)
    name = facts.pieces[0] if facts.pieces else heading
    claims, mottos = _claims_and_mottos(entry.bullets)
    description = " ".join([*mottos, *filter(None, [facts.summary or " · ".join(facts.pieces[1:])])]) or None
    return ProjectItem(
        name=name,
        description=description,
        url=facts.url,
        startDate=facts.dates.start if facts.dates else None,
        endDate=facts.dates.end if facts.dates else None,
        highlights=_highlights("projects", name, claims),
    )


# --------------------------------------------------------------------------- one-line items


def _dated_lines(blocks: list[_Block]) -> list[tuple[_DateRange | None, str]]:
    """(date, text) per item; an undated line among dated ones is a group label ("International Awards")."""
    lines = [(*_take_dates(b.text), b.kind) for b in blocks]
    any_dated = any(found for found, _text, _kind in lines)
    return [(found, text) for found, text, kind in lines if found or kind == "bullet" or not any_dated]


def _award_items(blocks: list[_Block]) -> list[AwardItem]:
    awards = []
    for found, text in _dated_lines(blocks):
        title, *awarder = re.split(r"\s+[—|]\s+", text, maxsplit=1)
        date = found.start if found else None
        awards.append(AwardItem(title=title, awarder=awarder[0] if awarder else None, date=date))
    return awards


def _certificate_items(blocks: list[_Block]) -> list[CertificateItem]:
    certificates = []
    for found, text in _dated_lines(blocks):
        name, comma, issuer = text.rpartition(", ")
        date = found.start if found else None
        certificates.append(CertificateItem(name=name if comma else text, issuer=issuer if comma else None, date=date))
    return certificates


def _split_list(text: str) -> list[str]:
    """Items of a comma-, semicolon- or bullet-separated list; separators inside brackets do not count."""
    items, depth, current = [], 0, ""
    for char in text:
        depth += char in "([{"
        depth -= char in ")]}"
        if depth <= 0 and char in ",;·|•":
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    return [item.strip(" .") for item in items if item.strip(" .")]


def _skill_items(blocks: list[_Block]) -> list[SkillItem]:
    skills = []
    for block in blocks:
        if block.asides:
            skills.append(SkillItem(name=block.text, keywords=_split_list(", ".join(block.asides))))
        elif ":" in block.text:
            group, _colon, keywords = block.text.partition(":")
            skills.append(SkillItem(name=group.strip(), keywords=_split_list(keywords)))
        else:
            skills += [SkillItem(name=item) for item in _split_list(block.text)]
    return skills


def _language_items(blocks: list[_Block], heading: str) -> tuple[list[LanguageItem], list[SkillItem]]:
    """The spoken languages a Languages list names, each with its level as written; and, as a skill group, the
    programming languages a tech CV lists under the same word ("Languages: Python, Go")."""
    pairs: list[tuple[str, str | None]] = []
    for block in blocks:
        if block.asides and not any(named_language(a) for a in block.asides):
            pairs.append((block.text, " ".join(block.asides)))  # "German" with "Native" beside it (a table, a PDF)
        else:
            pairs += [_language_and_level(item) for item in _split_list(" · ".join([block.text, *block.asides]))]
    # A list that names no spoken language is a skills list; in one that does, an unknown name ("Kölsch") is
    # a language too, and only a known skill is not.
    lists_spoken = any(named_language(name) for name, _ in pairs)
    languages, skills = [], []
    for name, level in pairs:
        if lists_spoken and (named_language(name) or not extract_skills(name)):
            languages.append(LanguageItem(language=name, fluency=level))
        else:
            skills.append(name if level is None else f"{name} ({level})")
    return languages, [SkillItem(name=heading, keywords=skills)] if skills else []


_LANGUAGE_AND_LEVEL = re.compile(r"^(.+?)(?:\s*\((.+)\)|\s*:\s*(.+)|\s+[—–-]\s+(.+))$")


def _language_and_level(item: str) -> tuple[str, str | None]:
    """ "German (C1)", "German: fluent", "German — native", "Englisch fließend"; "Swiss-German" stays one name."""
    if match := _LANGUAGE_AND_LEVEL.match(item):
        return match.group(1), match.group(2) or match.group(3) or match.group(4)
    name, _space, rest = item.partition(" ")
    if rest and named_language(name) and level_of(rest):
        return name, rest
    return item, None


# "Spoken languages: English (C2), German (B1)", "Sprachen – Deutsch (Muttersprache), Englisch (C1)".
_LABELLED_LIST = re.compile(r"^(?P<label>[^:–—]{2,40}?)\s*(?::|\s[–—-]\s)\s*(?P<items>.+)$")


def _without_language_lists(blocks: list[_Block], fields: dict[str, Any]) -> list[_Block]:
    """The blocks without the lines that list spoken languages under a Languages label (in the header, the
    summary, among the skills), whose languages go to fields["languages"], wherever the CV puts them."""
    kept = []
    for block in blocks:
        if block.asides and _section_kind(block.text, loose=False) == "languages":
            label, items = block.text, _Block("line", ", ".join(block.asides))
        elif (match := _LABELLED_LIST.match(block.text)) and _section_kind(match["label"], loose=False) == "languages":
            label, items = match["label"], _Block("line", match["items"], block.asides)
        else:
            kept.append(block)
            continue
        languages, skills = _language_items([items], label)
        if not languages:  # "Languages: Python, Go, SQL": a skills line
            kept.append(block)
            continue
        fields["languages"] += languages
        fields["skills"] += skills
    return kept


# --------------------------------------------------------------------------- preferences

_PREFERENCE_KEYS = {
    "locations": "locations",
    "location": "locations",
    "preferred locations": "locations",
    "remote": "remote",
    "work mode": "remote",
    "workplace": "remote",
    "seniority": "seniority",
    "level": "seniority",
    "salary floor": "salary_floor",
    "minimum salary": "salary_floor",
    "salary": "salary_floor",
    "languages": "required_languages",
    "language": "required_languages",
    "deal-breakers": "deal_breakers",
    "deal breakers": "deal_breakers",
    "dealbreakers": "deal_breakers",
    "avoid": "deal_breakers",
}


def _preferences(blocks: list[_Block], name: str) -> Preferences:
    values: dict[str, Any] = {}
    for block in blocks:
        key, colon, value = block.text.partition(":")
        field_name = _PREFERENCE_KEYS.get(_heading_key(key))
        if not colon or field_name is None:
            raise CVImportError(
                f'{name}: the Preferences line "{block.text}" is not understood; write "Key: value" lines with '
                "the keys Locations, Remote, Seniority, Salary floor, Languages or Deal-breakers."
            )
        if field_name == "remote":
            values["remote"] = re.sub(r"[\s-]+", "_", value.strip().casefold()).replace("on_site", "onsite")
        elif field_name == "salary_floor":
            values["salary_floor"], values["salary_currency"] = _salary(value, name)
        elif field_name == "seniority":
            values["seniority"] = [s.casefold() for s in _split_list(value)]
        else:
            values[field_name] = _split_list(value)
    return _validated_preferences(values, name)


def _validated_preferences(values: dict[str, Any], name: str) -> Preferences:
    try:
        return Preferences.model_validate(values)
    except ValidationError as error:
        problem = error.errors()[0]
        allowed = {
            "remote": f"Remote is one of {', '.join(get_args(RemotePreference))}",
            "seniority": f"Seniority values are {', '.join(get_args(Seniority))}",
        }.get(str(problem["loc"][0]), "see the Preferences fields in the README")
        raise CVImportError(
            f"{name}: the preference {problem['loc'][0]} is not valid ({problem['msg']}); {allowed}."
        ) from error


def _salary(value: str, name: str) -> tuple[int, str | None]:
    match = AMOUNT.search(value)
    if not match:
        raise CVImportError(f'{name}: the salary floor "{value.strip()}" has no amount; write e.g. "70000 EUR".')
    return round(amount_of(match)), currency_in(value)


# --------------------------------------------------------------------------- JSON Resume

_JSON_RESUME_LISTS = (
    "work",
    "volunteer",
    "education",
    "awards",
    "certificates",
    "publications",
    "skills",
    "languages",
    "interests",
    "references",
    "projects",
)
_JSON_RESUME_TITLES = {
    "work": "Work",
    "volunteer": "Volunteer",
    "education": "Education",
    "awards": "Awards",
    "certificates": "Certificates",
    "publications": "Publications",
    "skills": "Skills",
    "languages": "Languages",
    "interests": "Interests",
    "references": "References",
    "projects": "Projects",
}


def _json_resume_fields(data: bytes, name: str) -> dict[str, Any]:
    try:
        resume = json.loads(_decode_text(data, name))
    except json.JSONDecodeError as error:
        raise CVImportError(
            f"{name} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); fix it or "
            "export your JSON Resume again."
        ) from error
    except RecursionError as error:
        raise CVImportError(
            f"{name} nests its JSON deeper than a JSON Resume does; export your JSON Resume again."
        ) from error
    _check_json_resume_shape(resume, name)

    def with_highlights(section: str, item: dict[str, Any], owner_key: str) -> dict[str, Any]:
        owner = str(item.get(owner_key) or item.get("name") or "")
        texts = [normalize_text(t).strip() for t in item.get("highlights", []) if t.strip()]
        return {**item, "name": owner, "highlights": _highlights(section, owner, texts)}

    jobland = (resume.get("meta") or {}).get("jobland") if isinstance(resume.get("meta"), dict) else None
    skills, languages = _json_resume_spoken_groups(resume.get("skills", []))
    return {
        "basics": resume.get("basics") or {},
        "work": [with_highlights("work", item, "name") for item in resume.get("work", [])],
        "volunteer": [with_highlights("volunteer", item, "organization") for item in resume.get("volunteer", [])],
        "projects": [with_highlights("projects", item, "name") for item in resume.get("projects", [])],
        "education": resume.get("education", []),
        "awards": resume.get("awards", []),
        "certificates": resume.get("certificates", []),
        "skills": skills,
        "languages": [*resume.get("languages", []), *languages],
        "interests": [item for item in resume.get("interests", []) if item.get("name")],
        "publications": resume.get("publications", []),
        "references": resume.get("references", []),
        "sections": [title for key, title in _JSON_RESUME_TITLES.items() if resume.get(key)],
        "preferences": _validated_preferences(jobland, name) if jobland is not None else Preferences(),
        "meta": {k: v for k, v in resume.get("meta", {}).items() if k != "jobland"}
        if isinstance(resume.get("meta"), dict)
        else {},
    }


def _json_resume_spoken_groups(skills: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[LanguageItem]]:
    """The skills without a group of spoken languages ({"name": "Spoken languages", "keywords": [...]}),
    and that group's languages: a language the person speaks is never one of their skills."""
    kept, languages = [], []
    for skill in skills:
        keywords = [k for k in skill.get("keywords", []) if isinstance(k, str)]
        if _section_kind(str(skill.get("name", "")), loose=False) != "languages" or not keywords:
            kept.append(skill)
            continue
        spoken, programming = _language_items([_Block("line", k) for k in keywords], skill["name"])
        if not spoken:  # "Languages": ["Python", "Go"]
            kept.append(skill)
            continue
        languages += spoken
        kept += [{**skill, "keywords": group.keywords} for group in programming]
    return kept, languages


def _check_json_resume_shape(resume: Any, name: str) -> None:
    schema = "see https://jsonresume.org/schema"
    if not isinstance(resume, dict):
        raise CVImportError(f"{name} is not a JSON Resume: the top level must be an object ({schema}).")
    if not any(key in resume for key in ("basics", "work", "education")):
        hint = (
            " It looks like a job description; add it as a job posting instead."
            if "title" in resume or "responsibilities" in resume
            else ""
        )
        raise CVImportError(f'{name} is not a JSON Resume: it has no "basics", "work" or "education" ({schema}).{hint}')
    if not isinstance(resume.get("basics", {}), dict):
        raise CVImportError(f'{name}: "basics" must be an object ({schema}).')
    meta = resume.get("meta")
    if isinstance(meta, dict) and "jobland" in meta:
        preferences = meta["jobland"]
        allowed = ", ".join(Preferences.model_fields)
        if not isinstance(preferences, dict):
            raise CVImportError(f'{name}: "meta.jobland" must be an object with the keys {allowed}.')
        if unknown := sorted(set(preferences) - set(Preferences.model_fields)):
            raise CVImportError(f'{name}: "meta.jobland" has unknown keys {", ".join(unknown)}; use {allowed}.')
    for key in _JSON_RESUME_LISTS:
        items = resume.get(key, [])
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise CVImportError(f'{name}: "{key}" must be a list of objects ({schema}).')
        for index, item in enumerate(items):
            highlights = item.get("highlights", [])
            if not isinstance(highlights, list) or not all(isinstance(h, str) for h in highlights):
                raise CVImportError(f'{name}: "{key}[{index}].highlights" must be a list of strings ({schema}).')


# --------------------------------------------------------------------------- finishing


def _drop_repeated_highlights(profile: Profile) -> None:
    """A claim made twice under the same owner is one claim: keep every highlight id unique."""
    seen: set[str] = set()
    for item in [*profile.work, *profile.volunteer, *profile.projects]:
        unique = [h for h in item.highlights if h.id not in seen]
        seen.update(h.id for h in unique)
        item.highlights = unique
