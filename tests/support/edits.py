"""Shared by the test modules: edits."""

from __future__ import annotations

import ctypes
import email
import email.policy
import re
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

# The line each fabrication writes: how the tests find its flag.
FABRICATED = {
    "employer": "Staff Engineer — Google",
    "inflated title": "Chief Technology Officer",
    "fake metric": "saving 3.4 million euros a year",
    "degree never earned": "Ph.D. in Machine Learning, Stanford University",
    "skill never mentioned": "Rust",
}


def fabricate(markdown: str) -> str:
    """The CV with one line of each fabrication kind, written the way a person would type it."""
    first_title = re.search(r"^### (.+?) — ", markdown, re.MULTILINE)
    assert first_title, markdown
    text = markdown.replace(f"### {first_title[1]} — ", f"### {FABRICATED['inflated title']} — ", 1)
    bullet = re.search(r"^- (.+?)\.?$", text[text.index("## Experience") :], re.MULTILINE)
    assert bullet, text
    text = text.replace(f"- {bullet[1]}", f"- {bullet[1]}, {FABRICATED['fake metric']}", 1)
    skills = re.search(r"## Skills\n\n(.+)\n", text)
    assert skills, text
    text = text.replace(skills[1], f"{skills[1]} · {FABRICATED['skill never mentioned']}", 1)
    employer = (
        f"### {FABRICATED['employer']}\n\n*Zurich · Jan 2014 – Dec 2014*\n\n- Built the ad auction service in C++.\n\n"
    )
    text = text.replace("## Education\n\n", f"## Education\n\n- {FABRICATED['degree never earned']}, 2016\n", 1)
    return text.replace("## Education", employer + "## Education", 1)


def pdf_fonts(data: bytes) -> set[str]:
    """The fonts a PDF's text is set in, without their subset prefixes ("ABCDEF+Liberation-Sans")."""
    fonts = set()
    document = pdfium.PdfDocument(data)
    for page in document:
        for text in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_TEXT]):
            font = pdfium_c.FPDFTextObj_GetFont(text.raw)
            size = pdfium_c.FPDFFont_GetBaseFontName(font, None, 0)
            name = ctypes.create_string_buffer(size)
            pdfium_c.FPDFFont_GetBaseFontName(font, name, size)
            fonts.add(name.value.decode().split("+")[-1])
    return fonts


def sent_messages(home: Path) -> dict[str, email.message.EmailMessage]:
    outbox = home / "outbox"
    files = sorted(outbox.glob("*.eml")) if outbox.exists() else []
    messages = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]
    return {m["X-JobLand-Package"]: m for m in messages}


def attached_cv(message: email.message.EmailMessage) -> tuple[bytes, str]:
    parts = {p.get_filename(): p for p in message.iter_attachments()}
    pdf = next(p for name, p in parts.items() if name.startswith("cv-") and name.endswith(".pdf"))
    markdown = next(p for name, p in parts.items() if name.startswith("cv-") and name.endswith(".md"))
    return pdf.get_content(), markdown.get_payload(decode=True).decode("utf-8")


def assert_styled_like(home: Path, built_pdf_file: str, sent_pdf: bytes) -> None:
    """The edited CV is the template's: the built CV's fonts, and its page count give or take the edit."""
    built = (home / built_pdf_file).read_bytes()
    assert pdf_fonts(sent_pdf) == pdf_fonts(built), "the edited CV keeps the CV style's fonts"
    assert abs(len(pdfium.PdfDocument(sent_pdf)) - len(pdfium.PdfDocument(built))) <= 1
    assert "Liberation-Sans-Bold" in pdf_fonts(sent_pdf), "headings are set bold, as the template sets them"
