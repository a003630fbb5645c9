"""Failpoints for the durability and failure tests, armed by `JOBLAND_FAILPOINTS`.

`deliver.after_send=2` makes the process SIGKILL itself the 2nd time it passes that point, exactly like a
power cut there. `write_cv.start=2:raise` raises FailpointError at the 2nd pass only, and
`write_cv.start=2:stall` hangs there (until a timeout cancels it): a step that fails or never answers.

Unset (the default), a failpoint is a dictionary lookup and nothing else.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections import Counter
from typing import Literal

Action = Literal["kill", "raise", "stall"]

_hits: Counter[str] = Counter()
_lock = threading.Lock()


class FailpointError(RuntimeError):
    """Raised by a failpoint armed with ':raise'."""


def _armed() -> dict[str, tuple[int, Action]]:
    spec = os.environ.get("JOBLAND_FAILPOINTS", "")
    armed: dict[str, tuple[int, Action]] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, rest = part.partition("=")
        count, _, action = rest.partition(":")
        if action not in ("", "kill", "raise", "stall"):
            raise ValueError(f"JOBLAND_FAILPOINTS: unknown action {action!r} in {part!r}; use kill, raise or stall")
        armed[name] = (int(count or 1), action or "kill")  # type: ignore[assignment]
    return armed


def _fires(name: str) -> Action | None:
    armed = _armed().get(name)
    if armed is None:
        return None
    target, action = armed
    with _lock:
        _hits[name] += 1
        hit = _hits[name]
    # A kill ends the process, so "at or after" is the same; the others fire once, and a retry passes.
    if hit == target or (action == "kill" and hit > target):
        return action
    return None


def _act(name: str, action: Action | None) -> None:
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "raise":
        raise FailpointError(f"failpoint {name} raised (JOBLAND_FAILPOINTS)")
    elif action == "stall":
        raise ValueError(f"failpoint {name} cannot stall: it is not in async code")


def failpoint(name: str) -> None:
    _act(name, _fires(name))


async def async_failpoint(name: str) -> None:
    """A failpoint in async code, where it can also stall without blocking the event loop."""
    action = _fires(name)
    if action == "stall":
        await asyncio.Event().wait()
    _act(name, action)


def reset() -> None:
    """Forget every pass counted so far (for tests that arm failpoints inside their own process)."""
    with _lock:
        _hits.clear()
