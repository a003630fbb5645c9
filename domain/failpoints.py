"""Crash failpoints for the durability tests: `JOBLAND_FAILPOINTS="deliver.after_send=2"` makes the
process SIGKILL itself at the 2nd time it passes that point, exactly like a power cut there.

Unset (the default), a failpoint is a dictionary lookup and nothing else.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter

_hits: Counter[str] = Counter()
_lock = threading.Lock()


def _armed() -> dict[str, int]:
    spec = os.environ.get("JOBLAND_FAILPOINTS", "")
    armed: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, count = part.partition("=")
        armed[name] = int(count or 1)
    return armed


def failpoint(name: str) -> None:
    target = _armed().get(name)
    if target is None:
        return
    with _lock:
        _hits[name] += 1
        if _hits[name] >= target:
            os.kill(os.getpid(), signal.SIGKILL)
