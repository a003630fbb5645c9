"""The application service: one owner of a thread's lifecycle under every face.

The CLI, the HTTP server (chat, review page, webhooks) and the Studio adapter all go through here:
one maker of thread ids, one answer to "what stage is this thread in", one check of decisions, one
resume input, and the thread lease that every process advancing a thread holds. The faces import
nothing from agents/, tools/ or graph/ but what this module re-exports (a test walks their imports).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, StateSnapshot

from jobland.agents.cv_document import render_cv
from jobland.agents.cv_writer import plan_cv
from jobland.domain.models import Decision, JobPosting, Profile, SearchRequest, ThreadRecord
from jobland.domain.repository import Records
from jobland.domain.review import (
    ACCEPTED_SHAPES,
    UnreadableAnswer,
    can_apply,
    misfits,
    parse_answer,
    requested_package_id,
)
from jobland.domain.search_reader import search_terms
from jobland.graph.builder import build_graph, checkpoint_serializer, open_graph
from jobland.graph.context import SECRET_VARIABLES, Context
from jobland.settings import Settings
from jobland.tools.cv_import import CVImportError, import_profile
from jobland.tools.embedded_postgres import DatabaseError, resolve_database_url
from jobland.tools.job_folder import JobSourceError
from jobland.tools.leases import Guards, PackageBusy, ThreadBusy, guards_for
from jobland.tools.postgres import DATABASE_OUTAGES, outage_message, postgres_persistence
from jobland.tools.ratelimit import ServiceError, count_limits_in
from jobland.tools.safe_fetch import UnsafeURLError, resolve_public_url
from jobland.tools.webhooks import WebhookURLError

# The service's whole surface: its own lifecycle functions, and what the faces may use from the layers below.
__all__ = [
    "ACCEPTED_SHAPES",
    "DATABASE_OUTAGES",
    "CVImportError",
    "Context",
    "DatabaseError",
    "DecisionRefused",
    "JobSourceError",
    "PackageBusy",
    "SECRET_VARIABLES",
    "ServiceError",
    "Session",
    "Stage",
    "ThreadBusy",
    "UnsafeURLError",
    "WebhookURLError",
    "build_graph",
    "check_decisions",
    "check_posting_url",
    "checkpoint_serializer",
    "import_profile",
    "master_cv_markdown",
    "new_thread_id",
    "open_session",
    "outage_message",
    "pending_review",
    "postgres_persistence",
    "read_answer",
    "resolve_database_url",
    "resume_input",
    "review_command",
    "review_requests",
    "search_terms",
    "stage_of",
    "unfinished_steps",
]


log = logging.getLogger(__name__)


async def check_posting_url(settings: Settings, url: str) -> None:
    """Refuse a job link JobLand will not fetch (UnsafeURLError: not http(s), not public) before a thread exists."""
    await resolve_public_url(url, allow_loopback=settings.allow_loopback, what="a job link")


def new_thread_id() -> str:
    """The one maker of thread ids: UUIDs, which the LangGraph server and SDK require too."""
    return str(uuid.uuid4())


@dataclass
class Session:
    """An open graph with its settings."""

    settings: Settings
    graph: CompiledStateGraph

    @property
    def records(self) -> Records:
        return Records(self.graph.store)

    @property
    def guards(self) -> Guards:
        return guards_for(self.graph.store)

    @contextlib.asynccontextmanager
    async def advancing(self, thread_id: str) -> AsyncIterator[None]:
        """Hold the thread's lease while this process reads, decides on and runs it (ThreadBusy if taken).

        The stage it is left in is noted on its record when it lets go: that is what the thread list reads.
        """
        async with self.guards.thread_lease(thread_id):
            # Noted first as what a stop in the middle would leave: if this process dies, the list is right.
            await self._note_stage(thread_id, "interrupted")
            try:
                yield
            finally:
                await asyncio.shield(self._note_stage(thread_id))

    async def _note_stage(self, thread_id: str, stage: Stage | None = None) -> None:
        try:
            record = await self.records.thread(thread_id)
            if record is not None:
                stage = stage or stage_of(await self.graph.aget_state(self.config(thread_id)))
                if record.stage != stage:
                    await self.records.put_thread(record.model_copy(update={"stage": stage}))
        except Exception:  # a cache: the next holder notes it again, and `jobland status` reads the checkpoint
            log.warning("could not note the stage of thread %s", thread_id, exc_info=True)

    async def record_thread(
        self, thread_id: str, owner: str, request: SearchRequest, webhook_url: str | None = None
    ) -> ThreadRecord:
        """The thread's record, stored before the graph calls out: a provider failing at the first step
        leaves a thread to resume, not a lost request (intake keeps this record, webhook included)."""
        record = ThreadRecord(
            thread_id=thread_id, owner=owner, request=request, webhook_url=webhook_url or None, stage="interrupted"
        )
        await self.records.put_thread(record)
        return record

    def config(self, thread_id: str) -> dict:
        return {"configurable": {"thread_id": thread_id}, "max_concurrency": self.settings.max_concurrency}


Stage = Literal["awaiting_review", "interrupted", "finished"]


async def step_updates(
    graph: CompiledStateGraph, payload: Any, config: dict, context: Context
) -> AsyncIterator[tuple[str, Any]]:
    """Advance a thread, yielding (step, its update) as each step ends, for the faces' progress.

    A posting's screen_job task holds its screening and, when it builds while screening, its package's
    build: those two are reported as they end, not together when the task ends.
    """
    async for namespace, update in graph.astream(
        payload, config, context=context, stream_mode="updates", subgraphs=True, durability="sync"
    ):
        in_screening_task = len(namespace) == 1 and namespace[0].split(":")[0] == "screen_job"
        for step, value in update.items():
            if (not namespace and step != "screen_job") or in_screening_task:
                yield step, value


def unfinished_steps(snapshot: StateSnapshot) -> list[str]:
    """Steps a stop left unfinished, other than a question waiting for the person (e.g. a delivery)."""
    return [t.name for t in snapshot.tasks if not t.interrupts and t.result is None]


def stage_of(snapshot: StateSnapshot) -> Stage:
    """The one answer to "where is this thread" from its checkpoint (every face asks this).

    A thread stopped while approved packages were being delivered, with others still undecided, is
    "interrupted" until a resume finishes the deliveries; then it awaits review again.
    """
    if not snapshot.values:  # no checkpoint yet: stopped before its first step, so it can run
        return "interrupted"
    if snapshot.interrupts and not unfinished_steps(snapshot):
        return "awaiting_review"
    if snapshot.next:
        return "interrupted"
    return "finished"


def resume_input(snapshot: StateSnapshot, record: ThreadRecord) -> dict[str, Any] | None:
    """What continues an interrupted thread: its checkpoint, or its request if it stopped before the first one."""
    return None if snapshot.values else {"request": record.request}


def master_cv_markdown(profile: Profile, posting: JobPosting) -> str:
    """The whole master CV in a tailored CV's layout: what the review page shows a tailored CV's changes against."""
    return render_cv(plan_cv(profile, posting, max_lines=10_000, whole_summary=True)).markdown


@contextlib.asynccontextmanager
async def open_session(settings: Settings) -> AsyncIterator[Session]:
    """The graph on its PostgreSQL (the embedded one if DATABASE_URL is unset), with these settings."""
    settings.home.mkdir(parents=True, exist_ok=True)
    count_limits_in(settings.broker_url, settings.broker_key_prefix)  # with a broker, one budget for every process
    async with open_graph(settings.database_url, settings.home, settings.node_timeouts) as graph:
        yield Session(settings, graph)


def review_requests(snapshot: StateSnapshot) -> tuple[str | None, list[dict]]:
    """The interrupt id and the review requests a checkpoint is waiting on, if any."""
    for pending in snapshot.interrupts:
        return pending.id, list(pending.value)
    return None, []


async def pending_review(s: Session, thread_id: str) -> tuple[str | None, list[dict]]:
    """The interrupt id and the review requests a thread is waiting on, if any."""
    return review_requests(await s.graph.aget_state(s.config(thread_id)))


class DecisionRefused(ValueError):
    """Decisions that do not fit what the thread waits on; `conflict` when the thread moved on meanwhile."""

    def __init__(self, message: str, *, conflict: bool = False):
        super().__init__(message)
        self.conflict = conflict


async def check_decisions(s: Session, thread_id: str, requests: list[dict], decisions: list[Decision]) -> None:
    """The one check of decisions before a review is resumed (CLI, server, chat): DecisionRefused says why not."""
    packages = {p.id: p for p in await s.records.packages(thread_id)}
    if unknown := sorted({d.package_id for d in decisions} - packages.keys()):
        raise DecisionRefused(f"unknown package id(s) {unknown}: `jobland status {thread_id}` lists them")
    pending = {requested_package_id(r) for r in requests}
    if decided := sorted({d.package_id for d in decisions} - pending):
        raise DecisionRefused(f"package(s) {decided} were decided already", conflict=True)
    if unfit := misfits(decisions, requests):
        raise DecisionRefused("; ".join(f"package {pid} {why}" for pid, why in unfit.items()))
    if final := sorted(d.package_id for d in decisions if not can_apply(packages[d.package_id], d)):
        states = ", ".join(f"{pid} is {packages[pid].status.value}" for pid in final)
        raise DecisionRefused(f"{states}: that decision was stored before a stop and is final", conflict=True)


def read_answer(answer: Any, requests: list[dict]) -> tuple[list[Decision], bool]:
    """An answer in any accepted shape (domain/review.py) as decisions and a done flag; DecisionRefused if unreadable."""
    try:
        decisions, done = parse_answer(answer, requests)
    except UnreadableAnswer as exc:
        raise DecisionRefused(f"{exc}; accepted shapes: {ACCEPTED_SHAPES}") from exc
    if not decisions and not done:
        raise DecisionRefused(f"no decision for a package this thread asks about; accepted shapes: {ACCEPTED_SHAPES}")
    return decisions, done


def review_command(interrupt_id: str, decisions: list[Decision], *, done: bool = False) -> Command:
    """The resume that answers the review interrupt (addressed by its id) with checked decisions."""
    return Command(resume={interrupt_id: {"decisions": [d.model_dump() for d in decisions], "done": done}})
