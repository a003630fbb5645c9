"""What a rendered PDF reads back as (pypdfium2 and Docling), parsed once per PDF and begun as soon as it is
rendered: check_package's round trip then finds the texts read while the rest of the package was finished."""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache

from jobland.tools.pdf import RENDERER_PROCESSES, docling_text, pdfium_text


class ReadBacks:
    """Each PDF's text as each parser reads it, kept by its bytes and read once however many ask at once: the
    check that asks while a read-back started early is still running waits for it instead of reading again."""

    KEPT = 64

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reads: OrderedDict[bytes, Future[dict[str, str]]] = OrderedDict()
        self.parsed = 0  # PDFs actually parsed, for the tests and the benchmark

    def texts(self, pdf: bytes) -> dict[str, str]:
        with self._lock:
            read = self._reads.get(pdf)
            claimed = read is None
            if claimed:
                read = self._reads[pdf] = Future()
                self.parsed += 1
                while len(self._reads) > self.KEPT:
                    self._reads.popitem(last=False)
            else:
                self._reads.move_to_end(pdf)
        if claimed:
            try:
                read.set_result({"pypdfium2": pdfium_text(pdf), "Docling": docling_text(pdf)})
            except BaseException as error:
                with self._lock:
                    self._reads.pop(pdf, None)  # a failed read is tried afresh by the next to ask
                read.set_exception(error)
        return read.result()

    def clear(self) -> None:
        with self._lock:
            self._reads.clear()


READ_BACKS = ReadBacks()


def parsed_texts(pdf: bytes) -> dict[str, str]:
    """A PDF's text as each parser reads it (see ReadBacks)."""
    return READ_BACKS.texts(pdf)


@cache
def _early_reader() -> ThreadPoolExecutor:
    # One reader a renderer process: Docling's pass runs there, pypdfium2's in this process.
    return ThreadPoolExecutor(max_workers=RENDERER_PROCESSES, thread_name_prefix="jobland-read-back")


def read_back_early(pdf: bytes) -> Future:
    """Parse a rendered PDF in the background while the rest of its package is written, stored and checked."""
    return _early_reader().submit(parsed_texts, pdf)
