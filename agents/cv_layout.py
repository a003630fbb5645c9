"""lay_out_cv: the CV's words (write_cv's plan and rewrites) fitted to its pages as a PDF, and its LaTeX source.

It runs beside write_cover_letter: the letter's model call needs only the highlights the plan shows, so
the CPU-bound layout is off the package's chain of model calls. The fit may leave out the least relevant
highlights; check_package then holds the letter to what the laid-out CV keeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from langgraph.runtime import Runtime

from jobland.agents.cv_document import CVDocument, checked_style, render_cv, render_latex
from jobland.agents.cv_writer import choose_highlights, least_relevant, plan_cv, screened_evidence, with_rewrites
from jobland.agents.package_files import write_rendered
from jobland.agents.pdf_read_backs import read_back_early
from jobland.agents.sentence_vectors import warm_sentence_vectors
from jobland.domain.models import JobPosting, Profile, RequirementEvidence, RewrittenHighlight, TailoredCV
from jobland.domain.repository import RecordNotFound, Records
from jobland.graph.context import Context
from jobland.graph.state import PackageBuildState
from jobland.tools.pdf import LatexCompileError, compile_latex, page_count, render_pdf, tex_engine


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
    evidence: list[RequirementEvidence] | None = None,
) -> FittedCV:
    """The CV rendered to PDF within `pages` pages, leaving out the fewest, least relevant highlights needed.

    Whole highlights go, never part of one. When even no highlights overflow (a very long education or
    award list), the shortest CV is returned and its page count says so. `rewrites` replace the words
    of the highlights they name (the LLM path); `evidence` is the screening's (see plan_cv).
    """
    if pages < 1:
        raise ValueError(f"cv_pages must be 1 or 2 (got {pages})")
    evidence = screened_evidence(profile, posting, evidence)

    def attempt(drop: int) -> FittedCV:
        planned = plan_cv(profile, posting, max_lines=max_lines, drop=drop, evidence=evidence)
        document = with_rewrites(planned, rewrites or {})
        cv = render_cv(document, style)
        pdf = render_pdf(cv.html)
        return FittedCV(document, cv.model_copy(update={"pages": page_count(pdf)}), pdf)

    best = attempt(0)
    if best.cv.pages <= pages:
        return best
    # The fewest highlights to drop, by bisection: each try is one render.
    chosen = choose_highlights(profile, posting, max_lines, evidence)
    low, high = 1, len(least_relevant(profile, posting, chosen, evidence))
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


# --------------------------------------------------------------------------- the node


async def lay_out_cv(state: PackageBuildState, runtime: Runtime[Context]) -> dict:
    records = Records(runtime.store)
    context = runtime.context
    thread_id, package_id = state["thread_id"], state["package_id"]
    profile, posting, package = await records.package_inputs(
        thread_id, package_id, state["profile_id"], state["posting_id"]
    )
    if package.cv is None:
        raise RecordNotFound(f"package {package_id} has no CV yet; write_cv must run before lay_out_cv")
    warm_sentence_vectors(line.text for line in package.cv.lines if line.reworded)  # while the letter is out
    style = checked_style(context.cv_style)
    evidence = screened_evidence(profile, posting, package.screening.evidence or None)
    rewrites = package.cv.rewrites
    if context.render_pdf:
        fitted = await asyncio.to_thread(
            fit_to_pages,
            profile,
            posting,
            max_lines=context.cv_max_lines,
            pages=context.cv_pages,
            style=style,
            rewrites=rewrites,
            evidence=evidence,
        )
        document = fitted.document
        pdf_file = await write_rendered(context, package_id, "cv.pdf", fitted.pdf)
        read_back_early(fitted.pdf)  # for check_package, while the letter is written
        cv = fitted.cv.model_copy(update={"pdf_file": pdf_file, "rewrites": rewrites})
    else:
        document = with_rewrites(plan_cv(profile, posting, max_lines=context.cv_max_lines, evidence=evidence), rewrites)
        cv = package.cv
    # The LaTeX source is kept beside the PDF for people who typeset their own CV.
    source = render_latex(document, style)
    cv = cv.model_copy(update={"latex_file": await write_rendered(context, package_id, "cv.tex", source.encode())})
    if context.render_pdf:
        typeset, note = await asyncio.to_thread(latex_pdf, source)
        update = {"latex_note": note}
        if typeset is not None:
            update["latex_pdf_file"] = await write_rendered(context, package_id, "cv-latex.pdf", typeset)
        cv = cv.model_copy(update=update)
    await records.update_package(thread_id, package_id, cv=cv)  # the letter is written meanwhile
    return {}
