"""Saved searches ("watches"): a search run again every period, screening only what it has not seen.

A watch remembers the canonical key (domain.dedupe) of every posting one of its runs screened; the
discover node leaves those out of the next run. Runs are numbered; each run is one thread, and its
record says how far it got, so a run a stop cut short is finished (not started again) by the next one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

from langgraph.store.base import PutOp
from pydantic import Field

from jobland.domain.models import JobPosting, Record, SearchRequest, utcnow
from jobland.domain.repository import Records

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_NAME = re.compile(NAME_PATTERN)
_EVERY = re.compile(r"^\s*(\d{1,5})\s*([mhdw])\s*$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MIN_EVERY_S, MAX_EVERY_S = 5 * 60, 90 * 86400

WATCHES = ("watches",)
LATEST_RUNS = ("watch_latest_runs",)  # watch key -> its latest run: what the next run starts from


def watch_runs_ns(watch_key: str) -> tuple[str, ...]:
    return ("watch_runs", watch_key)


def watch_seen_ns(watch_key: str) -> tuple[str, ...]:
    return ("watch_seen", watch_key)


class WatchInputError(ValueError):
    """A watch's name or period that cannot be used; the message says what would."""


def checked_name(name: str) -> str:
    if not _NAME.match(name):
        raise WatchInputError(
            f"watch name {name!r} is not usable: 1-64 lower-case letters, digits, '-' or '_', e.g. python-berlin"
        )
    return name


def parse_every(text: str) -> int:
    """'30m', '12h', '1d', '2w' -> seconds, between 5 minutes and 90 days."""
    match = _EVERY.match(text.lower())
    if not match:
        raise WatchInputError(f"period {text!r} is not usable: give a number and m, h, d or w, e.g. 1d or 12h")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if not MIN_EVERY_S <= seconds <= MAX_EVERY_S:
        raise WatchInputError(f"period {text!r} is out of range: from 5m to 90d")
    return seconds


def every_text(seconds: int) -> str:
    """The shortest exact way to write a period: 86400 -> '1d'."""
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


def watch_key(owner: str, name: str) -> str:
    """One key per owner and name, safe as a Store namespace label (owner ids may hold dots)."""
    return hashlib.sha256(f"{owner}\0{name}".encode()).hexdigest()[:32]


class SavedSearch(Record):
    """A search the person asked JobLand to run every `every_s` seconds and tell them what is new."""

    key: str
    owner: str
    name: str
    query: str = ""
    locations: list[str] = Field(default_factory=list)
    cv_path: str
    jobs_dir: str | None = Field(default=None, description="Folder of postings; unset = the configured one.")
    max_packages: int = Field(default=10, ge=1, le=100)
    every_s: int = Field(ge=MIN_EVERY_S, le=MAX_EVERY_S)
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def every(self) -> str:
        return every_text(self.every_s)

    def slot(self, now: datetime) -> int:
        """The period `now` falls in (periods are counted from the Unix epoch): a watch runs once per slot."""
        return int(now.timestamp()) // self.every_s

    def slot_start(self, slot: int) -> datetime:
        return datetime.fromtimestamp(slot * self.every_s, tz=UTC)

    def request(self) -> SearchRequest:
        """The thread's request: only postings this watch has not seen yet are screened."""
        places = {"locations": self.locations} if self.locations else {}  # else the places the query names apply
        return SearchRequest(
            query=self.query,
            cv_path=self.cv_path,
            jobs_dir=self.jobs_dir,
            max_packages=self.max_packages,
            watch_key=self.key,
            **places,
        )


DigestState = Literal["sent", "unknown"]


class WatchRun(Record):
    """One run of a watch: one thread, then (when packages await review) one digest email."""

    watch_key: str
    number: int = Field(ge=1)
    slot: int
    thread_id: str
    started_at: datetime = Field(default_factory=utcnow)
    status: Literal["running", "done"] = "running"
    screened: int = Field(default=0, description="New postings screened (the ones no earlier run had seen).")
    packages: list[str] = Field(default_factory=list, description="Packages awaiting review that the digest named.")
    digest: DigestState | None = Field(default=None, description="None: nothing new to tell, so no email.")
    digest_location: str | None = None
    finished_at: datetime | None = None


def is_due(watch: SavedSearch, last: WatchRun | None, now: datetime) -> bool:
    """Due once per slot: a run already made in this period (by cron, a timer or beat) is not made again."""
    return last is None or last.slot < watch.slot(now)


def next_due(watch: SavedSearch, last: WatchRun | None, now: datetime) -> datetime:
    if is_due(watch, last, now):
        return now
    return watch.slot_start(last.slot + 1)


class WatchRecords(Records):
    """Watches, their runs and what they have seen, in the Store."""

    async def watch(self, owner: str, name: str) -> SavedSearch | None:
        return await self._get(WATCHES, watch_key(owner, name), SavedSearch)

    async def put_watch(self, watch: SavedSearch) -> None:
        await self._put(WATCHES, watch.key, watch)

    async def watches(self, owner: str | None = None) -> list[SavedSearch]:
        """An owner's watches (every owner's with None), by name."""
        found, offset = [], 0
        filters = {"owner": owner} if owner is not None else None
        while items := await self.store.asearch(WATCHES, filter=filters, limit=500, offset=offset):
            found += [SavedSearch.model_validate(i.value) for i in items]
            offset += len(items)
        return sorted(found, key=lambda w: (w.owner, w.name))

    async def delete_watch(self, watch: SavedSearch) -> None:
        """The watch, its runs and what it has seen: the same name added again starts afresh."""
        for ns in (watch_runs_ns(watch.key), watch_seen_ns(watch.key)):
            while items := await self.store.asearch(ns, limit=500):
                for item in items:
                    await self.store.adelete(ns, item.key)
        await self.store.adelete(LATEST_RUNS, watch.key)
        await self.store.adelete(WATCHES, watch.key)

    async def put_run(self, run: WatchRun) -> None:
        """The run, and the watch's pointer to its latest run, in one batch."""
        value = run.model_dump(mode="json")
        await self.store.abatch(
            [
                PutOp(watch_runs_ns(run.watch_key), f"{run.number:08d}", value, index=False),
                PutOp(LATEST_RUNS, run.watch_key, value, index=False),
            ]
        )

    async def runs(self, key: str, limit: int = 20) -> list[WatchRun]:
        """The latest runs, newest first (the Store lists the most recently written first)."""
        items = await self.store.asearch(watch_runs_ns(key), limit=limit)
        return sorted((WatchRun.model_validate(i.value) for i in items), key=lambda r: r.number, reverse=True)

    async def last_run(self, key: str) -> WatchRun | None:
        return await self._get(LATEST_RUNS, key, WatchRun)

    async def mark_seen(self, run: WatchRun, canonical_keys: Iterable[str]) -> None:
        """Idempotent: a close made again after a stop stores the same entries."""
        entry = {"run": run.number, "thread_id": run.thread_id}
        await self.put_values(watch_seen_ns(run.watch_key), dict.fromkeys(canonical_keys, entry))

    async def unseen(self, key: str, postings: list[JobPosting]) -> list[JobPosting]:
        """The postings whose canonical key no run of the watch has screened yet, in their order."""
        seen = await self.get_values(watch_seen_ns(key), list(dict.fromkeys(p.canonical_key for p in postings)))
        return [p for p in postings if p.canonical_key not in seen]
