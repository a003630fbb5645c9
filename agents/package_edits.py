"""A person's edit at review as a new version of the package, rendered and checked like the first.

The edited CV Markdown is read back into the CV document model and laid out by the same templates, in the
package's CV style, to PDF (its page count against the page budget) and LaTeX; the edited letter is laid
out by the letter's own rendering. Then the truth check (`check_document_text`: unchanged lines keep what
they cite, changed ones take the citations of the line they replace, added ones must be close to a
highlight) and the ATS round trip run on the new documents. The lines the master CV does not support
become the package's `unsupported_lines`: it is sent only once the person confirms each of them by id.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass

from jobland.agents.cover_letter_writer import rendered_letter
from jobland.agents.cv_document import markdown_blocks, read_cv_markdown, render_cv, render_latex
from jobland.agents.cv_layout import latex_pdf
from jobland.agents.package_checker import (
    Sources,
    ats_check,
    check_document_text,
    contacts_check,
    edited_lines,
    markdown_lines,
    outside_contacts_check,
    pdf_check,
    section_headings,
)
from jobland.agents.package_files import write_rendered
from jobland.domain.models import (
    ApplicationPackage,
    CheckResult,
    CompanyDossier,
    CoverLetter,
    Decision,
    EvidenceLine,
    JobPosting,
    Profile,
    TailoredCV,
    UnsupportedLine,
    utcnow,
)
from jobland.graph.context import Context
from jobland.tools.pdf import page_count, render_pdf

# A flag as the package checker writes it: `CV, Experience: “the line” (why)` or `cover letter: “…” (why)`.
_FLAG = re.compile(r"^(?P<label>CV|cover letter)(?:, [^“]*)?: “(?P<text>.*)” \((?P<problem>.*)\)$", re.DOTALL)
_LABELS = {"CV": "cv", "cover letter": "cover_letter"}
_ID_PREFIX = {"cv": "cv", "cover_letter": "letter"}


def edit_key(decision: Decision) -> str:
    """The same edit (asked again after a crash, or sent again to confirm it) has the same key."""
    texts = (decision.cv_markdown or "", decision.cover_letter_markdown or "")
    return hashlib.sha256("\0".join(t.strip() for t in texts).encode()).hexdigest()[:16]


def line_id(document: str, text: str) -> str:
    """An id that names one line's text: a confirmation of it says nothing about any other line."""
    return f"{_ID_PREFIX[document]}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def unsupported_lines(flags: list[str], built: list[EvidenceLine], document: str) -> list[UnsupportedLine]:
    """The flagged lines an edit wrote (a line JobLand built was shown at review already), with their problems."""
    as_built = {line.text for line in built}
    found: dict[str, UnsupportedLine] = {}
    for flag in flags:
        if (match := _FLAG.match(flag)) is None or _LABELS[match["label"]] != document:
            continue
        text = match["text"]
        if text in as_built:
            continue
        line = found.setdefault(text, UnsupportedLine(id=line_id(document, text), document=document, text=text))
        line.problems.append(match["problem"])
    return list(found.values())


@dataclass(frozen=True)
class EditInputs:
    """What an edit is checked against."""

    profile: Profile
    posting: JobPosting
    dossier: CompanyDossier | None


def _content_texts(markdown: str) -> list[str]:
    headings = set(section_headings(markdown))
    return [t for t in markdown_lines(markdown) if t not in headings]


async def _edited_cv(
    context: Context, pkg: ApplicationPackage, built: TailoredCV, text: str, sources: Sources, number: int
) -> TailoredCV:
    """The edited CV in the package's style: Markdown, HTML, PDF (with its pages) and LaTeX, as write_cv makes them."""
    document = read_cv_markdown(text)
    cv = render_cv(document, built.style)
    cv = cv.model_copy(update={"lines": edited_lines(built.lines, _content_texts(cv.markdown), sources)})
    source = render_latex(document, built.style)
    update: dict[str, object] = {
        "latex_file": await write_rendered(context, pkg.id, f"cv-v{number}.tex", source.encode()),
    }
    if context.render_pdf:
        pdf = await asyncio.to_thread(render_pdf, cv.html)
        update["pdf_file"] = await write_rendered(context, pkg.id, f"cv-v{number}.pdf", pdf)
        update["pages"] = page_count(pdf)
        typeset, update["latex_note"] = await asyncio.to_thread(latex_pdf, source)
        if typeset is not None:
            update["latex_pdf_file"] = await write_rendered(context, pkg.id, f"cv-latex-v{number}.pdf", typeset)
    return cv.model_copy(update=update)


def _letter_lines(built: CoverLetter, text: str, sources: Sources) -> list[EvidenceLine]:
    """The edited letter's lines, each in the part of the letter it stands in (the letter's layout needs it).

    A kept or changed line stays where its original stood; an added bullet is evidence, an added paragraph
    body. A letter without its subject line keeps the built one: the subject also names the PDF.
    """
    blocks = [b for b in markdown_blocks(text) if b.text]
    lines = edited_lines(built.lines, [b.text for b in blocks], sources)
    placed = []
    for block, line in zip(blocks, lines, strict=True):
        section = line.section
        if block.kind == "bullet":
            section = "evidence"
        elif section in ("added", "evidence"):
            section = "body"
        placed.append(line.model_copy(update={"section": section}))
    if not any(line.section == "subject" for line in placed):
        subject = next(line for line in built.lines if line.section == "subject")
        heading = sum(1 for line in placed[:2] if line.section in ("sender", "contact"))
        placed.insert(heading, subject)
    return placed


async def _edited_letter(
    context: Context, pkg: ApplicationPackage, built: CoverLetter, text: str, sources: Sources, number: int
) -> CoverLetter:
    letter = rendered_letter(_letter_lines(built, text, sources), built.language)
    if context.render_pdf:
        pdf = await asyncio.to_thread(render_pdf, letter.html)
        letter = letter.model_copy(
            update={"pdf_file": await write_rendered(context, pkg.id, f"cover_letter-v{number}.pdf", pdf)}
        )
    return letter


def _document_flags(flags: list[str], document: str) -> list[str]:
    return [f for f in flags if (m := _FLAG.match(f)) is not None and _LABELS[m["label"]] == document]


def _checks(pkg: ApplicationPackage, inputs: EditInputs, sources: Sources, context: Context) -> list[CheckResult]:
    """The package's checks on the new version: truth from the flags, ATS, PDF round trip, contacts."""
    truth = CheckResult(
        name="truth",
        passed=not pkg.flagged_claims,
        details=pkg.flagged_claims or ["every line rests on the master CV, the posting or the dossier it quotes"],
    )
    checks = [truth, ats_check(inputs.profile, inputs.posting, pkg)]
    if (pdf := pdf_check(context.home_path, pkg, pages=context.cv_pages)) is not None:
        checks.append(pdf)
    checks += [contacts_check(inputs.posting, pkg), outside_contacts_check(sources, pkg)[0]]
    return checks


async def apply_edit(
    context: Context, pkg: ApplicationPackage, decision: Decision, inputs: EditInputs
) -> ApplicationPackage:
    """The package with the edit as its new version (the current one kept in `versions`), checked.

    The edit is applied once: a package whose current version is this edit comes back as it is. Only a
    document the decision edits is rendered again; the other keeps its files and flags.
    """
    key = edit_key(decision)
    if pkg.edit_key == key:
        return pkg
    first = pkg.version(1)
    number = len(pkg.versions) + 2
    sources = Sources(inputs.profile, inputs.posting, inputs.dossier)
    update: dict[str, object] = {}
    flags = {field: _document_flags(pkg.flagged_claims, field) for field in ("cv", "cover_letter")}
    lines: list[UnsupportedLine] = []
    edits = (
        ("cv", decision.cv_markdown, pkg.cv, first.cv, _edited_cv),
        ("cover_letter", decision.cover_letter_markdown, pkg.cover_letter, first.cover_letter, _edited_letter),
    )
    for field, text, current, built, render in edits:
        if text is None or current is None or built is None:
            lines += [line for line in pkg.unsupported_lines if line.document == field]
            continue
        document = await render(context, pkg, built, text, sources, number)
        found = await asyncio.to_thread(
            check_document_text,
            inputs.profile,
            document.markdown,
            original=built,
            posting=inputs.posting,
            dossier=inputs.dossier,
        )
        flags[field] = found
        lines += unsupported_lines(found, built.lines, field)
        update[field] = document
    edited = pkg.model_copy(
        update={
            **update,
            "versions": [*pkg.versions, pkg.version()],
            "flagged_claims": [*flags["cv"], *flags["cover_letter"]],
            "unsupported_lines": lines,
            "edited_by": context.user_id,
            "edited_at": utcnow(),
            "edit_key": key,
        }
    )
    checks = await asyncio.to_thread(_checks, edited, inputs, sources, context)
    return edited.model_copy(update={"checks": checks})
