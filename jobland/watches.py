"""Saved searches ("watches"): add, list, remove and run them; each run sends the person one digest.

A run is a normal thread (the same lifecycle as `jobland run`): discover leaves out every posting an
earlier run of the watch screened (domain/watches.py), the new High ones become packages, and the
thread stops at review; nothing goes to an employer. Then the person gets ONE digest email, at their
own configured address, naming the packages that await review; a run with nothing to review sends none.

At most once, across processes:
- the watch's lease (a thread lease keyed by the watch, tools/leases.py) is held for the whole run, so
  two `jobland watch run` at once never run one watch twice; the loser is told at once;
- runs are numbered and a run is due once per period (its slot), so a cron job, a systemd timer and
  Celery beat together still run a watch once per period;
- the digest is claimed by the send claim keyed by the run before a byte goes to the mailer; a run
  that a stop cut short (before or after the digest) is finished by the next `watch run`: its thread
  resumed, its digest sent if it never went, looked up if its outcome is unknown.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Coroutine, Iterable
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from pydantic import BaseModel, Field

from jobland.agents.deliver import SendFailure, header_text, message_id_for, send_once
from jobland.domain.failpoints import failpoint
from jobland.domain.models import utcnow
from jobland.domain.review import is_retry_request, requested_package_id
from jobland.domain.watches import (
    NAME_PATTERN,
    SavedSearch,
    WatchInputError,
    WatchRecords,
    WatchRun,
    checked_name,
    is_due,
    next_due,
    parse_every,
    watch_key,
)
from jobland.service import Context, Session, ThreadBusy, new_thread_id, resume_input, review_requests, stage_of
from jobland.settings import Settings
from jobland.templates import render
from jobland.tools.mailers import make_mailer
from jobland.tracking import ReplyProposal, find_replies_for

__all__ = [
    "NAME_PATTERN",
    "WATCH_TASK",
    "DigestFailed",
    "SavedSearch",
    "WatchBusy",
    "WatchExists",
    "WatchInputError",
    "WatchNotFound",
    "WatchOutcome",
    "WatchRun",
    "WatchRuns",
    "WatchView",
    "add_watch",
    "beat_schedule",
    "context_for",
    "find_watch",
    "hold_watch",
    "remove_watch",
    "run_due_watches",
    "run_held",
    "run_scheduled",
    "run_watch",
    "watch_view",
    "watch_views",
]

log = logging.getLogger(__name__)

# The Celery task that runs one stored watch when due (jobland/workers.py registers it): args (owner, name).
WATCH_TASK = "jobland.run_due_watches"
# Beat asks this often (the shortest period a watch may have); the run slot makes every ask after the
# first in a watch's period a no-op.
BEAT_CHECK_S = 5 * 60


class WatchExists(WatchInputError):
    """A watch of that name exists already."""


class WatchNotFound(LookupError):
    """No watch of that name for this person."""


class WatchBusy(RuntimeError):
    """Another process is running this watch right now."""


class DigestFailed(RuntimeError):
    """The digest's send attempts ran out; the run stays open and the next `watch run` sends it."""


@dataclasses.dataclass(frozen=True)
class WatchOutcome:
    """What asking for a watch's run gave: a run (finished), nothing (not due, busy) or an error."""

    watch: SavedSearch
    run: WatchRun | None
    ran: bool
    note: str = ""
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "watch": self.watch.name,
            "owner": self.watch.owner,
            "ran": self.ran,
            "note": self.note,
            "error": self.error,
            "run": self.run.model_dump(mode="json") if self.run else None,
        }


class WatchView(BaseModel):
    """A watch as its owner sees it (no server paths)."""

    name: str
    query: str
    locations: list[str]
    every: str = Field(description='The period: "30m", "12h", "1d", "1w".')
    max_packages: int
    created_at: datetime
    next_due: datetime = Field(description="When `jobland watch run` (cron, a timer, beat) runs it next.")
    running: bool = Field(default=False, description="A run of it is going on in this server now.")
    error: str | None = Field(default=None, description="Why this server's last run of it failed, if it did.")
    runs: list[WatchRun] = Field(description="The latest runs, newest first.")


# ----------------------------------------------------------------------------- the watches themselves


async def add_watch(
    s: Session,
    owner: str,
    *,
    name: str,
    cv_path: str,
    every: str,
    query: str = "",
    locations: Iterable[str] = (),
    jobs_dir: str | None = None,
    max_packages: int = 10,
) -> SavedSearch:
    """Store a new watch; WatchExists if the owner has one of that name, WatchInputError for a bad name or period."""
    records = WatchRecords(s.graph.store)
    name = checked_name(name)
    if await records.watch(owner, name) is not None:
        raise WatchExists(f"watch {name!r} exists already: remove it first (`jobland watch remove {name}`)")
    watch = SavedSearch(
        key=watch_key(owner, name),
        owner=owner,
        name=name,
        query=query,
        locations=list(locations),
        cv_path=cv_path,
        jobs_dir=jobs_dir,
        max_packages=max_packages,
        every_s=parse_every(every),
    )
    await records.put_watch(watch)
    return watch


async def find_watch(s: Session, owner: str, name: str) -> SavedSearch:
    watch = await WatchRecords(s.graph.store).watch(owner, name)
    if watch is None:
        raise WatchNotFound(f"no watch {name!r}; `jobland watch list` lists yours")
    return watch


async def watch_view(s: Session, watch: SavedSearch, *, running: bool = False, error: str | None = None) -> WatchView:
    runs = await WatchRecords(s.graph.store).runs(watch.key)
    return WatchView(
        **watch.model_dump(include={"name", "query", "locations", "max_packages", "created_at"}),
        every=watch.every,
        next_due=next_due(watch, runs[0] if runs else None, utcnow()),
        running=running,
        error=error,
        runs=runs,
    )


async def watch_views(s: Session, owner: str) -> list[WatchView]:
    return [await watch_view(s, w) for w in await WatchRecords(s.graph.store).watches(owner)]


async def remove_watch(s: Session, owner: str, name: str) -> None:
    """Forget the watch, its runs and what it has seen (its threads stay); WatchBusy while it runs."""
    watch = await find_watch(s, owner, name)
    async with _watch_lease(s, watch):
        await WatchRecords(s.graph.store).delete_watch(watch)


# ----------------------------------------------------------------------------- who a watch works for


def context_for(settings: Settings, owner: str) -> Context | None:
    """The run settings of the watch's owner: their configured address is the digest's only recipient."""
    base = settings.context()
    for user in settings.api_users().values():
        if user.user_id == owner:
            return dataclasses.replace(base, user_id=user.user_id, user_email=user.email, user_name=user.name)
    return base if owner == base.user_id else None


# ----------------------------------------------------------------------------- running


@contextlib.asynccontextmanager
async def _watch_lease(s: Session, watch: SavedSearch) -> AsyncIterator[None]:
    try:
        async with s.guards.thread_lease(f"watch:{watch.key}"):
            yield
    except ThreadBusy:
        raise WatchBusy(
            f"watch {watch.name!r} is being run by another JobLand process right now: "
            "its digest comes from that run; try again once it has finished"
        ) from None


async def hold_watch(s: Session, watch: SavedSearch) -> contextlib.AsyncExitStack:
    """The watch's lease, held until the returned stack is closed (a run in the background); WatchBusy if taken."""
    lease = contextlib.AsyncExitStack()
    await lease.enter_async_context(_watch_lease(s, watch))
    return lease


async def run_watch(
    s: Session, context: Context, watch: SavedSearch, *, force: bool, now: datetime | None = None
) -> WatchOutcome:
    """Run the watch if due (or force): WatchBusy if another process runs it now."""
    async with _watch_lease(s, watch):
        return await run_held(s, context, watch, force=force, now=now)


async def run_held(
    s: Session, context: Context, watch: SavedSearch, *, force: bool, now: datetime | None = None
) -> WatchOutcome:
    """The run, under the watch's lease: first whatever a stop left of the last run, else a new one if due."""
    records = WatchRecords(s.graph.store)
    now = now or utcnow()
    last = await records.last_run(watch.key)
    if last is not None and last.status != "done":
        run, note = last, f"finished run {last.number}, which a stop had cut short"
    elif force or is_due(watch, last, now):
        number = last.number + 1 if last else 1
        run = WatchRun(watch_key=watch.key, number=number, slot=watch.slot(now), thread_id=new_thread_id())
        await records.put_run(run)  # before the thread starts: a stop from here on is finished by the next run
        note = ""
    else:
        return WatchOutcome(
            watch, last, ran=False, note=f"not due until {next_due(watch, last, now):%Y-%m-%d %H:%M} UTC"
        )
    await _advance(s, context, watch, run)
    return WatchOutcome(watch, await _close(s, context, watch, run), ran=True, note=note)


async def _advance(s: Session, context: Context, watch: SavedSearch, run: WatchRun) -> None:
    """Run the run's thread to its review pause (or its end), starting it or resuming it from its checkpoint."""
    config = s.config(run.thread_id)
    async with s.advancing(run.thread_id):
        record = await s.records.thread(run.thread_id)
        if record is None:
            request = watch.request()
            await s.record_thread(run.thread_id, watch.owner, request)
            payload: dict[str, Any] | None = {"request": request, **({"message": watch.query} if watch.query else {})}
        else:
            snapshot = await s.graph.aget_state(config)
            if stage_of(snapshot) != "interrupted":
                return
            payload = resume_input(snapshot, record)
        await s.graph.ainvoke(payload, config, context=context, durability="sync")


async def _close(s: Session, context: Context, watch: SavedSearch, run: WatchRun) -> WatchRun:
    """Remember what the run screened, send its digest once, and mark it done."""
    records = WatchRecords(s.graph.store)
    snapshot = await s.graph.aget_state(s.config(run.thread_id))
    posting_ids = snapshot.values.get("posting_ids", [])
    await records.mark_seen(run, [p.canonical_key for p in await records.postings(posting_ids)])
    _, requests = review_requests(snapshot)
    run = run.model_copy(update={"screened": len(posting_ids), "packages": [requested_package_id(r) for r in requests]})
    if requests:
        failpoint("watch.before_digest")
        digest, location = await _send_digest(s, context, watch, run, requests)
        run = run.model_copy(update={"digest": digest, "digest_location": location})
    done = run.model_copy(update={"status": "done", "finished_at": utcnow()})
    await records.put_run(done)
    return done


# ----------------------------------------------------------------------------- the digest


def digest_key(run: WatchRun) -> str:
    """The digest's send-claim key and outbox name: one per run (its thread is new for every run, so a
    watch removed and added again under its old name never meets an earlier run's claim)."""
    return f"digest-{run.thread_id}"


async def replies_to_confirm(s: Session, context: Context) -> list[ReplyProposal]:
    """Employers' replies that propose a status change the person has not confirmed yet (the runner's reply
    check): read-only, and a mailbox that cannot be read costs the digest this section, never the digest."""
    try:
        found = await find_replies_for(s, context)
    except Exception as exc:  # noqa: BLE001 - any inbox failure: the digest goes without its replies
        log.warning("replies not checked for the digest: %s", exc)
        return []
    return [r for r in found if r.proposed_status and not r.applied]


def compose_digest(
    context: Context, watch: SavedSearch, run: WatchRun, requests: list[dict], replies: list[ReplyProposal]
) -> EmailMessage:
    """The digest to the owner's own address (from the run settings, never from a posting or a model)."""
    entries = [r["action_request"]["args"] for r in requests]
    ready = [
        {**a, "flagged": len(a["flagged_claims"])}
        for a, r in zip(entries, requests, strict=True)
        if not is_retry_request(r)
    ]
    missing = [a for a, r in zip(entries, requests, strict=True) if is_retry_request(r)]
    recipient = Address(display_name=header_text(context.user_name), addr_spec=context.user_email)
    message = EmailMessage()
    message["Subject"] = header_text(f'JobLand watch "{watch.name}": {len(ready)} new package(s) to review')
    message["From"] = Address(display_name="JobLand", addr_spec=recipient.addr_spec)
    message["To"] = recipient
    message["Message-ID"] = message_id_for(digest_key(run))
    message["Date"] = format_datetime(utcnow())
    message["X-JobLand-Watch"] = watch.name
    message.set_content(
        render(
            "watch_digest.txt.j2",
            user_name=recipient.display_name,
            watch=watch,
            run=run,
            at=f"{run.started_at:%Y-%m-%d %H:%M}",
            ready=ready,
            missing=missing,
            replies=replies,
            review_url=f"{context.public_url.rstrip('/')}/review/{run.thread_id}",
            thread_id=run.thread_id,
        )
    )
    return message


async def _send_digest(
    s: Session, context: Context, watch: SavedSearch, run: WatchRun, requests: list[dict]
) -> tuple[str, str | None]:
    """Send the run's digest at most once: (state, where it went). DigestFailed when attempts ran out."""
    key = digest_key(run)
    message = compose_digest(context, watch, run, requests, await replies_to_confirm(s, context))
    mailer = await asyncio.to_thread(make_mailer, context)  # a missing setting fails here, before any claim
    claim = await s.guards.claim_send(key, run.thread_id, retry=True)  # retry: takes over a failed attempt only
    if not claim.claimed and claim.record.state == "sent":
        return "sent", claim.record.location
    # Not claimed and "sending": the sender stopped mid-send (we hold the lease): looked up, never sent blind.
    outcome = await send_once(mailer, message, key, context, interrupted=not claim.claimed)
    if isinstance(outcome, SendFailure):
        if outcome.kind == "exhausted":
            await s.guards.finish_send(key, "failed")
            raise DigestFailed(
                f"the digest of watch {watch.name!r} was not sent ({outcome.reason}); "
                "the next `jobland watch run` sends it"
            )
        log.warning("digest of watch %s run %d: outcome unknown: %s", watch.name, run.number, outcome.reason)
        return "unknown", None  # its claim stays "sending": no run ever sends it again
    failpoint("watch.after_digest_send")
    await s.guards.finish_send(key, "sent", outcome)
    return "sent", outcome


# ----------------------------------------------------------------------------- schedulers


async def run_due_watches(s: Session, now: datetime | None = None) -> list[WatchOutcome]:
    """Every owner's due watches, one after another (cron, systemd timers); one failing does not stop the rest."""
    outcomes = []
    for watch in await WatchRecords(s.graph.store).watches():
        if (outcome := await run_scheduled(s, watch.owner, watch.name, now=now, found=watch)) is not None:
            outcomes.append(outcome)
    return outcomes


async def run_scheduled(
    s: Session, owner: str, name: str, *, now: datetime | None = None, found: SavedSearch | None = None
) -> WatchOutcome | None:
    """One stored watch if due: busy, failing or gone is an outcome."""
    watch = found or await WatchRecords(s.graph.store).watch(owner, name)
    if watch is None:  # removed since beat read the schedule
        return None
    context = context_for(s.settings, owner)
    if context is None:
        return WatchOutcome(watch, None, ran=False, error=f"owner {owner!r} is not a configured user; not run")
    try:
        return await run_watch(s, context, watch, force=False, now=now)
    except WatchBusy as exc:
        return WatchOutcome(watch, None, ran=False, note=str(exc))
    except Exception as exc:  # the next run finishes what this one left; the others go on
        log.exception("watch %s of %s failed", name, owner)
        return WatchOutcome(watch, None, ran=False, error=f"{type(exc).__name__}: {exc}")


def beat_schedule() -> dict[str, dict[str, Any]]:
    """The Celery beat entry for saved searches: every BEAT_CHECK_S, WATCH_TASK runs the due watches.

    One entry for all watches, read from the Store at each tick, so a watch added or removed needs no beat
    restart; a run is made once per period whoever asks (beat, cron, a timer), so extra ticks cost a read.
    """
    return {
        "jobland-watches-due": {
            "task": WATCH_TASK,
            "schedule": timedelta(seconds=BEAT_CHECK_S),
            "options": {"expires": float(BEAT_CHECK_S)},  # a tick nobody took in time is dropped, not piled up
        }
    }


class WatchRuns:
    """The watch runs a server has going in the background; each holds its watch's lease until it ends."""

    def __init__(self) -> None:
        self.tasks: dict[str, asyncio.Task] = {}
        self.errors: dict[str, str] = {}

    def running(self, key: str) -> bool:
        task = self.tasks.get(key)
        return task is not None and not task.done()

    def start(self, key: str, lease: contextlib.AsyncExitStack, run: Coroutine[Any, Any, WatchOutcome]) -> None:
        self.errors.pop(key, None)
        self.tasks[key] = asyncio.create_task(self._drive(key, lease, run), name=f"watch-{key}")

    async def _drive(self, key: str, lease: contextlib.AsyncExitStack, run: Coroutine[Any, Any, WatchOutcome]) -> None:
        try:
            async with lease:
                await run
        except Exception as exc:  # shown by GET /api/watches/{name}; the next run finishes what this one left
            log.exception("watch run %s failed", key)
            self.errors[key] = f"{type(exc).__name__}: {exc}"

    async def stop(self) -> None:
        tasks = [t for t in self.tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
