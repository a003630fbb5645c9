"""The renderer processes (tools/pdf.py Renderers): WeasyPrint and Docling work outside the process that runs
the graph, a renderer that dies fails one document with what to do, and a killed owner leaves none behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from jobland.tools.pdf import RENDERER_PROCESSES, PdfRenderError, Renderers, docling_text, render_pdf

ROOT = Path(__file__).resolve().parents[1]


def test_documents_render_and_parse_back_in_processes_of_their_own() -> None:
    pdf = render_pdf("<!doctype html><html lang='en'><body><h1>Experience</h1><p>Kubernetes</p></body></html>")
    assert pdf.startswith(b"%PDF")
    assert "Kubernetes" in docling_text(pdf)
    renderers = Renderers()
    pids = {renderers.call(os.getpid) for _ in range(4 * RENDERER_PROCESSES)}
    assert os.getpid() not in pids and 1 <= len(pids) <= RENDERER_PROCESSES
    renderers.pool().shutdown()


def test_a_renderer_that_dies_fails_one_document_and_the_next_gets_a_fresh_one() -> None:
    renderers = Renderers()
    first = renderers.call(os.getpid)
    with pytest.raises(PdfRenderError, match="renderer process ended .* try again, or set render_pdf=False"):
        renderers.call(os._exit, 1)  # what a crash in native code or the OOM killer does
    assert renderers.call(os.getpid) != first
    renderers.pool().shutdown()


OWNER = """
import os, sys, time
import psutil
from jobland.tools.pdf import render_pdf, warm_up_in_background

if __name__ == "__main__":
    warm_up_in_background()
    render_pdf("<p>warm</p>")
    time.sleep(1)  # every renderer started by the warm-up
    print(*[c.pid for c in psutil.Process().children(recursive=True)], flush=True)
    time.sleep(120)
"""


def test_a_killed_owner_leaves_no_renderer_behind(tmp_path: Path) -> None:
    script = tmp_path / "owner.py"
    script.write_text(OWNER)
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        line = owner.stdout.readline()
        children = [int(pid) for pid in line.split()]
        assert children, "the owner started its renderers"
        owner.send_signal(signal.SIGKILL)  # and not reaped: a zombie owner counts as gone
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(psutil.pid_exists(pid) for pid in children):
            time.sleep(0.2)
        left = [pid for pid in children if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
        assert left == [], f"processes left after their owner was killed: {left}"
    finally:
        owner.kill()
        owner.wait(10)
