"""PDFs: HTML -> PDF with WeasyPrint (offline by construction), LaTeX -> PDF with an installed TeX engine,
reading PDFs back (pypdfium2, Docling), and atomic writes of rendered files."""

from __future__ import annotations

import functools
import io
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

logger = logging.getLogger(__name__)

# Engines tried in this order; JobLand never installs or downloads one.
TEX_ENGINES = ("pdflatex", "lualatex", "xelatex", "tectonic")
_TEX_TIMEOUT_S = 120


# PDFium and Docling's PDF parser are not thread-safe, and packages are built in parallel worker
# threads: every use of either in this process holds this lock (reentrant: a reader may nest). The server
# reads uploaded CVs in child processes of their own (jobland.profiling, tools.bounded), so a hostile upload
# never holds it: here it only orders the reading back of JobLand's own rendered PDFs.
PDF_LIBRARIES = threading.RLock()

# WeasyPrint is CPU-bound and holds the GIL for most of a render: ten packages rendering at once all finish
# late together, while the LLM slots idle. Rendering as many at a time as there are cores lets each package
# go on to its next LLM call as soon as its own document is made.
_RENDERS = threading.BoundedSemaphore(os.cpu_count() or 1)


class PdfRenderError(RuntimeError):
    """The HTML of a document could not be turned into a PDF."""


def _offline_fetcher() -> object:
    from weasyprint.urls import URLFetcher

    # Documents embed their CSS; only data: URIs may be resolved, so a hostile posting's
    # <img src="http://..."> or <link href="file:///..."> never leaves the process.
    return URLFetcher(allowed_protocols={"data"}, allow_redirects=False, fail_on_errors=False)


def render_pdf(html: str, *, base_url: str | None = None) -> bytes:
    """Render an HTML document to PDF bytes; any remote or file resource is refused."""
    import weasyprint  # heavy import (Pango, fonts): only when a PDF is really made

    try:
        with _RENDERS:
            return weasyprint.HTML(string=html, base_url=base_url, url_fetcher=_offline_fetcher()).write_pdf()
    except Exception as exc:  # WeasyPrint raises many unrelated types on bad input
        raise PdfRenderError(
            f"could not render the PDF ({type(exc).__name__}: {exc}); "
            "check the document's HTML, or set render_pdf=False to skip PDFs"
        ) from exc


def page_count(pdf: bytes) -> int:
    import pypdfium2 as pdfium  # native library: load only when a PDF is measured

    with PDF_LIBRARIES:
        document = pdfium.PdfDocument(pdf)
        try:
            return len(document)
        finally:
            document.close()


def pdfium_text(pdf: bytes | Path) -> str:
    """The text layer of a PDF as pypdfium2 reads it, page after page."""
    import pypdfium2 as pdfium

    with PDF_LIBRARIES:
        document = pdfium.PdfDocument(pdf)
        try:
            return "\n".join(page.get_textpage().get_text_range() for page in document)
        finally:
            document.close()


def docling_text(pdf: bytes, name: str = "document.pdf") -> str:
    """The text of a PDF as Docling (the importer's offline converter) reads it."""
    from docling.datamodel.base_models import DocumentStream

    from jobland.tools.cv_import import _docling_converter

    with PDF_LIBRARIES:
        result = _docling_converter().convert(DocumentStream(name=name, stream=io.BytesIO(pdf)))
    return result.document.export_to_text()


_WARM_UP_HTML = "<!doctype html><html lang='en'><body><h1>JobLand</h1><p>Warming up.</p></body></html>"


@functools.cache
@functools.cache  # once per process: every package build asks, the first one starts it
def warm_up_in_background() -> None:
    """Load WeasyPrint (Pango, fonts) and Docling's pipeline once per process, in a thread of their own.

    The first render and the first parse-back otherwise pay seconds for it on a package's critical path
    (Docling's under PDF_LIBRARIES, which every package then waits for); started while the packages'
    first LLM calls are out, that time is spent while the CPU would idle.
    """

    def warm_up() -> None:
        try:
            docling_text(render_pdf(_WARM_UP_HTML), "warm-up.pdf")
        except Exception:  # the real render or parse-back reports its own error, with what to do
            logger.debug("warming up the PDF libraries failed", exc_info=True)

    threading.Thread(target=warm_up, name="jobland-pdf-warm-up", daemon=True).start()


class LatexCompileError(RuntimeError):
    """The TeX engine ran but made no PDF."""


def tex_engine() -> str | None:
    """The first TeX engine on PATH, or None."""
    return next((engine for engine in TEX_ENGINES if shutil.which(engine)), None)


def compile_latex(source: str, engine: str) -> bytes:
    """Typeset a LaTeX document in a scratch folder with shell escape off; returns the PDF bytes."""
    with tempfile.TemporaryDirectory(prefix="jobland-tex-") as folder:
        Path(folder, "cv.tex").write_text(source, encoding="utf-8")
        if engine == "tectonic":
            command = [engine, "--only-cached", "--untrusted", "cv.tex"]
        else:
            command = [engine, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "cv.tex"]
        try:
            run = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=_TEX_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise LatexCompileError(f"{engine} took over {_TEX_TIMEOUT_S} s on cv.tex; compile it by hand") from exc
        output = Path(folder, "cv.pdf")
        if run.returncode != 0 or not output.exists():
            tail = "\n".join((run.stdout + run.stderr).strip().splitlines()[-8:])
            raise LatexCompileError(
                f"{engine} could not compile cv.tex (exit {run.returncode}): {tail}; "
                "install the missing LaTeX packages or compile the kept source by hand"
            )
        return output.read_bytes()


def write_pdf_atomically(path: Path | str, data: bytes) -> Path:
    """Write a rendered file so that readers see either the old file or the whole new one."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target
