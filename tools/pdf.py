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
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TypeVar

import psutil

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Engines tried in this order; JobLand never installs or downloads one.
TEX_ENGINES = ("pdflatex", "lualatex", "xelatex", "tectonic")
_TEX_TIMEOUT_S = 120


# PDFium and Docling's PDF parser are not thread-safe, and packages are built in parallel worker
# threads: every use of either in this process holds this lock (reentrant: a reader may nest). The server
# reads uploaded CVs in child processes of their own (jobland.profiling, tools.bounded), so a hostile upload
# never holds it.
PDF_LIBRARIES = threading.RLock()


class PdfRenderError(RuntimeError):
    """The HTML of a document could not be turned into a PDF."""


def _offline_fetcher() -> object:
    from weasyprint.urls import URLFetcher

    # Documents embed their CSS; only data: URIs may be resolved, so a hostile posting's
    # <img src="http://..."> or <link href="file:///..."> never leaves the process.
    return URLFetcher(allowed_protocols={"data"}, allow_redirects=False, fail_on_errors=False)


def render_pdf(html: str, *, base_url: str | None = None) -> bytes:
    """Render an HTML document to PDF bytes (in a renderer process); any remote or file resource is refused."""
    return _RENDERERS.call(_rendered, html, base_url)


def _rendered(html: str, base_url: str | None) -> bytes:
    import weasyprint  # heavy import (Pango, fonts): only in a renderer process

    try:
        return weasyprint.HTML(string=html, base_url=base_url, url_fetcher=_offline_fetcher()).write_pdf()
    except Exception as exc:  # WeasyPrint raises many unrelated types on bad input
        raise PdfRenderError(
            f"could not render the PDF ({type(exc).__name__}: {exc}); "
            "check the document's HTML, or set render_pdf=False to skip PDFs"
        ) from None  # the cause stays in the renderer process; its text is in the message


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
    """The text of a PDF as Docling (the importer's offline converter) reads it, in a renderer process."""
    return _RENDERERS.call(_docling_read, pdf, name)


def _docling_read(pdf: bytes, name: str) -> str:
    from docling.datamodel.base_models import DocumentStream

    from jobland.tools.cv_import import _docling_converter

    result = _docling_converter().convert(DocumentStream(name=name, stream=io.BytesIO(pdf)))
    return result.document.export_to_text()


_WARM_UP_HTML = "<!doctype html><html lang='en'><body><h1>JobLand</h1><p>Warming up.</p></body></html>"


def _start_renderer(owner_pid: int, owner_started: float) -> None:
    """A renderer process's first act: watch its owner, then load WeasyPrint (Pango, fonts) and Docling's
    pipeline, seconds each."""

    # A renderer holds both ends of its task queue, so an owner that was killed leaves it waiting forever;
    # it ends itself within a second of its owner instead.
    def watch_owner() -> None:
        while True:
            time.sleep(1)
            try:
                owner = psutil.Process(owner_pid)
                # A killed owner stays a zombie until its own parent reaps it: that is gone too.
                alive = owner.create_time() == owner_started and owner.status() != psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                alive = False
            if not alive:
                os._exit(0)

    threading.Thread(target=watch_owner, name="jobland-renderer-owner", daemon=True).start()
    try:
        _docling_read(_rendered(_WARM_UP_HTML, None), "warm-up.pdf")
    except Exception:  # the real render or parse-back reports its own error, with what to do
        logger.debug("warming up the PDF libraries failed", exc_info=True)


class Renderers:
    """The renderer processes of this process: as many as there are cores, started at first use.

    WeasyPrint and Docling are CPU-bound and hold the GIL for most of their work: in the process that runs
    the graph they would stall its event loop and every other package's step while the LLM slots idle. In
    processes of their own they use the other cores, and a document that crashes a library ends a renderer,
    not the run.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        os.register_at_fork(after_in_child=self._forget)  # a forked child starts its own, never shares these

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._pool = None

    def pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                from jobland.tools.bounded import FORK_CONTEXT, start_fork_server

                start_fork_server(("jobland.tools.pdf",))
                owner = psutil.Process()
                self._pool = ProcessPoolExecutor(
                    max_workers=RENDERER_PROCESSES,
                    mp_context=FORK_CONTEXT,
                    initializer=_start_renderer,
                    initargs=(owner.pid, owner.create_time()),
                )
            return self._pool

    def start(self) -> None:
        """Start every renderer now (each warms up as it starts), so the first documents do not wait for it."""
        pool = self.pool()
        for _ in range(RENDERER_PROCESSES):
            pool.submit(os.getpid)

    def call(self, function: Callable[..., T], *args: object) -> T:
        pool = self.pool()
        try:
            return pool.submit(function, *args).result()
        except BrokenProcessPool as exc:
            with self._lock:
                if self._pool is pool:
                    self._pool = None  # the next call starts fresh renderers
            raise PdfRenderError(
                "the PDF renderer process ended while working on this document (it may have run out of "
                "memory); try again, or set render_pdf=False to skip PDFs"
            ) from exc


RENDERER_PROCESSES = os.cpu_count() or 1
_RENDERERS = Renderers()


@functools.cache  # once per process: every package build asks, the first one starts them
def warm_up_in_background() -> None:
    """Start the renderer processes while a package's first LLM calls are out, when the CPU would idle (in a
    thread: starting the fork server must not hold up the event loop)."""
    threading.Thread(target=_RENDERERS.start, name="jobland-pdf-renderers", daemon=True).start()


def harfbuzz_subsets_fonts() -> bool:
    """Whether WeasyPrint subsets fonts with HarfBuzz (libharfbuzz-subset0): 0.025 s a PDF, where its fontTools
    fallback takes 0.09-0.3 s (by the fonts) of a render's 0.15-0.4 s."""
    from weasyprint.text.ffi import harfbuzz_subset

    return harfbuzz_subset is not None


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
