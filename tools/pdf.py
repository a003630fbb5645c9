"""HTML -> PDF with WeasyPrint, offline by construction, and atomic writes of rendered files."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


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
        return weasyprint.HTML(string=html, base_url=base_url, url_fetcher=_offline_fetcher()).write_pdf()
    except Exception as exc:  # WeasyPrint raises many unrelated types on bad input
        raise PdfRenderError(
            f"could not render the PDF ({type(exc).__name__}: {exc}); "
            "check the document's HTML, or set render_pdf=False to skip PDFs"
        ) from exc


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
