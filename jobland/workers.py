"""Graph segments on Celery workers over Redis: the queue the API and CLI hand runs to, and the worker's task.

When `JOBLAND_BROKER_URL` names a Redis, a face enqueues a segment (a start, a resume, decisions, a
delivery retry) and answers at once; a `jobland worker` process runs it through the application service
under the thread's lease, exactly as the face would have in process. What a person sees stays in
PostgreSQL: the checkpoint, the Store and one row per queued segment (`jobland_worker_runs`); Celery's
task id is that row's id, and never shown.

Delivery guarantees, each from one mechanism:
- A message is acknowledged only after its segment ends (`acks_late`), and a worker process killed
  mid-segment puts it back (`reject_on_worker_lost`); each worker process takes one message at a time.
- Redis hands an unacknowledged message to another worker after the visibility timeout, which is set
  above the longest segment budget (the batch budget plus the longest step); should a segment still
  outlive it, the second worker finds the thread's lease held and waits: one writer per thread always.
- A segment redelivered after its first runner died continues from the last checkpoint (steps that
  finished are not run again; deliveries are guarded by their send claims, so nothing is sent twice).
- SIGTERM drains: the running segment stops at its next checkpoint (a superstep boundary) and is put
  back on the queue for whichever worker is next.

Fan-out: a segment stops before a superstep of package builds or deliveries (FANNED_OUT) and queues each
of its Send branches as a task of its own (`run_branch`), which builds or sends one package into the
Store on whichever worker is free; the batch's last branch queues the continuation, which runs the
superstep in the thread, where each node finds its package built or sent and returns at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import multiprocessing
import multiprocessing.synchronize
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import psycopg
from langgraph.constants import TASKS
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, Send
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

from jobland.agents.deliver import deliver_package
from jobland.agents.package_builder import package_builder
from jobland.domain.models import SearchRequest
from jobland.graph.builder import DATABASE_RETRY, NODE_TIMEOUTS, build_package_graph
from jobland.graph.context import Context
from jobland.graph.state import BuildPackageInput, JobLandState
from jobland.service import Session, open_session, pending_review, resume_input, unfinished_steps
from jobland.settings import Settings
from jobland.tools.leases import THREAD_LOCKS, ThreadBusy, holder_name
from jobland.watches import WATCH_TASK, beat_schedule, run_due_watches
from jobland.webhooks import announce_segment

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)

TASK = "jobland.advance_thread"
BRANCH_TASK = "jobland.run_branch"
RunState = Literal["queued", "running", "done", "failed"]
# Seconds a segment may run past its own budgets before Redis hands its message to another worker.
VISIBILITY_MARGIN_S = 600.0
# How often a face following a queued segment reads its row and checkpoint.
FOLLOW_POLL_S = 0.3

_RUNS_TABLE = """
CREATE TABLE IF NOT EXISTS jobland_worker_runs (
    run_id text PRIMARY KEY,
    thread_id text NOT NULL,
    kind text NOT NULL,
    state text NOT NULL,
    error text,
    starts integer NOT NULL DEFAULT 0,
    worker text,
    queued_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    batch text
);
CREATE INDEX IF NOT EXISTS jobland_worker_runs_thread ON jobland_worker_runs (thread_id, queued_at DESC);
CREATE TABLE IF NOT EXISTS jobland_worker_batches (
    batch_id text PRIMARY KEY,
    thread_id text NOT NULL,
    pending integer NOT NULL
);
"""


def broker_configured(settings: Settings) -> bool:
    return bool(settings.broker_url)


def visibility_timeout_s(settings: Settings) -> float:
    """Longer than any segment's own budgets: the batch budget plus the longest step, plus a margin."""
    longest_step = max({**NODE_TIMEOUTS, **settings.node_timeouts}.values())
    return settings.batch_budget_s + longest_step + VISIBILITY_MARGIN_S


# ----------------------------------------------------------------------------- segments on the wire


def encode_segment(payload: Any) -> dict[str, Any]:
    """A graph input (new request, None to resume, or a Command) as JSON for the broker."""
    if payload is None:
        return {"kind": "resume"}
    if isinstance(payload, dict):
        return {
            "kind": "start",
            "request": payload["request"].model_dump(mode="json"),
            "message": payload.get("message"),
        }
    if isinstance(payload, Command) and payload.update is None:
        gotos = payload.goto if isinstance(payload.goto, list | tuple) else [payload.goto] if payload.goto else []
        return {
            "kind": "decide" if payload.resume is not None else "command",
            "resume": payload.resume,
            "goto": [{"send": g.node, "arg": dict(g.arg)} if isinstance(g, Send) else {"node": g} for g in gotos],
        }
    raise TypeError(f"cannot queue a segment from {type(payload).__name__}")


def decode_segment(segment: dict[str, Any]) -> Any:
    kind = segment["kind"]
    if kind == "resume":
        return None
    if kind == "start":
        payload: dict[str, Any] = {"request": SearchRequest.model_validate(segment["request"])}
        if segment.get("message"):
            payload["message"] = segment["message"]
        return payload
    gotos = [Send(g["send"], g["arg"]) if "send" in g else g["node"] for g in segment["goto"]]
    goto: Any = gotos[0] if len(gotos) == 1 else gotos
    return Command(resume=segment["resume"], goto=goto) if gotos else Command(resume=segment["resume"])


def _user_of(context: Context) -> dict[str, str]:
    """Who the segment runs for; the rest of the context (keys included) comes from the worker's settings."""
    return {"user_id": context.user_id, "user_email": context.user_email, "user_name": context.user_name}


# ----------------------------------------------------------------------------- the runs table


@dataclass(frozen=True)
class WorkerRun:
    run_id: str
    thread_id: str
    kind: str
    state: RunState
    error: str | None
    starts: int


class WorkerRuns:
    """One row per queued segment, in the PostgreSQL that holds the checkpoints (on the Store's pool)."""

    def __init__(self, pool: AsyncConnectionPool):
        self.pool = pool
        self._ready = False

    @contextlib.asynccontextmanager
    async def _cursor(self) -> AsyncIterator[psycopg.AsyncCursor]:
        async with self.pool.connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
            if not self._ready:  # two processes creating the tables at once would race on the catalog
                async with conn.transaction():
                    await cursor.execute("SELECT pg_advisory_xact_lock(%s, 1)", (THREAD_LOCKS,))
                    await cursor.execute(_RUNS_TABLE, prepare=False)  # several statements: not preparable
                self._ready = True
            yield cursor

    async def _execute(self, query: str, params: tuple) -> tuple | None:
        async with self._cursor() as cursor:
            await cursor.execute(query, params)
            return await cursor.fetchone() if cursor.description else None

    async def fan_out(self, parent: str, thread_id: str, branches: list[tuple[str, str]]) -> str:
        """Rows for a superstep's branches (run id, node) and their batch.

        The parent stays running until it has queued every branch: a parent killed in between is delivered
        again, and queues the branches still waiting (queued_branches)."""
        batch_id = f"{parent}:{uuid.uuid4().hex[:8]}"
        async with self._cursor() as cursor, cursor.connection.transaction():
            await cursor.execute(
                "INSERT INTO jobland_worker_batches (batch_id, thread_id, pending) VALUES (%s, %s, %s)",
                (batch_id, thread_id, len(branches)),
            )
            for run_id, node in branches:
                await cursor.execute(
                    "INSERT INTO jobland_worker_runs (run_id, thread_id, kind, state, batch) "
                    "VALUES (%s, %s, %s, 'queued', %s)",
                    (run_id, thread_id, node, batch_id),
                )
        return batch_id

    async def queued_branches(self, parent: str) -> set[str]:
        """The parent's branches no worker has started (ids are the parent's id and the branch's index)."""
        async with self._cursor() as cursor:
            await cursor.execute(
                "SELECT run_id FROM jobland_worker_runs WHERE run_id LIKE %s AND batch IS NOT NULL AND state = 'queued'",
                (f"{parent}:%",),
            )
            return {row[0] for row in await cursor.fetchall()}

    async def finish_branch(self, run_id: str, error: str | None) -> str | None:
        """Mark a branch done; the run id of the segment that continues the thread if it was the batch's last.

        The count and the continuation's row change in one transaction, so exactly one branch continues the
        thread, and at no moment are all of the thread's rows finished while a continuation is still to come.
        """
        async with self._cursor() as cursor, cursor.connection.transaction():
            await cursor.execute(
                "WITH b AS (UPDATE jobland_worker_runs SET state = %s, error = %s, finished_at = now() "
                "WHERE run_id = %s AND state NOT IN ('done', 'failed') RETURNING batch) "
                "UPDATE jobland_worker_batches SET pending = pending - 1 WHERE batch_id IN (SELECT batch FROM b) "
                "RETURNING batch_id, thread_id, pending",
                ("failed" if error else "done", error, run_id),
            )
            row = await cursor.fetchone()
            if row is None or row[2] > 0:
                return None
            continuation = f"{row[0]}:continue"
            await cursor.execute(
                "INSERT INTO jobland_worker_runs (run_id, thread_id, kind, state) VALUES (%s, %s, 'continue', 'queued')",
                (continuation, row[1]),
            )
            return continuation

    async def continuation_of(self, branch_id: str) -> str | None:
        """The queued continuation of a finished branch's batch, once every branch of it is in."""
        row = await self._execute(
            "SELECT c.run_id FROM jobland_worker_runs r JOIN jobland_worker_batches b ON b.batch_id = r.batch "
            "JOIN jobland_worker_runs c ON c.run_id = b.batch_id || ':continue' "
            "WHERE r.run_id = %s AND b.pending = 0 AND c.state = 'queued'",
            (branch_id,),
        )
        return row[0] if row else None

    async def unfinished_branches(self, thread_id: str) -> int:
        row = await self._execute(
            "SELECT count(*) FROM jobland_worker_runs WHERE thread_id = %s AND batch IS NOT NULL "
            "AND state IN ('queued', 'running')",
            (thread_id,),
        )
        return row[0]

    async def unfinished_since(self, run_id: str) -> tuple[int, str | None]:
        """Rows of the run's thread queued since it (its continuations and branches) still to finish, and the
        first error among them."""
        row = await self._execute(
            "SELECT count(*) FILTER (WHERE r.state IN ('queued', 'running')), "
            "min(r.error) FILTER (WHERE r.state = 'failed' AND r.batch IS NULL) FROM jobland_worker_runs r "
            "JOIN jobland_worker_runs me ON me.run_id = %s AND r.thread_id = me.thread_id "
            "AND r.queued_at >= me.queued_at",
            (run_id,),
        )
        return row[0], row[1]

    async def add(self, run_id: str, thread_id: str, kind: str) -> None:
        await self._execute(
            "INSERT INTO jobland_worker_runs (run_id, thread_id, kind, state) VALUES (%s, %s, %s, 'queued')",
            (run_id, thread_id, kind),
        )

    async def get(self, run_id: str) -> WorkerRun | None:
        row = await self._execute(
            "SELECT run_id, thread_id, kind, state, error, starts FROM jobland_worker_runs WHERE run_id = %s",
            (run_id,),
        )
        return WorkerRun(*row) if row else None

    async def start(self, run_id: str, worker: str) -> None:
        await self._execute(
            "UPDATE jobland_worker_runs SET state = 'running', starts = starts + 1, worker = %s, started_at = now() "
            "WHERE run_id = %s",
            (f"{worker}, {holder_name()}", run_id),
        )

    async def finish(self, run_id: str, state: RunState, error: str | None = None) -> None:
        await self._execute(
            "UPDATE jobland_worker_runs SET state = %s, error = %s, finished_at = now() WHERE run_id = %s",
            (state, error, run_id),
        )


# ----------------------------------------------------------------------------- the face's side


@functools.cache
def celery_app(broker_url: str, key_prefix: str, visibility_timeout: float) -> Celery:
    """The Celery app for one broker: what workers consume and faces publish to."""
    try:
        from celery import Celery  # only when a broker is configured
    except ImportError as exc:
        raise RuntimeError(
            "JOBLAND_BROKER_URL is set, but Celery is not installed: pip install 'jobland[workers]'"
        ) from exc

    app = Celery("jobland", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,  # the outcome is the thread's checkpoint and its run row
        task_serializer="json",
        accept_content=["json"],
        task_default_queue="jobland",
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": visibility_timeout, "global_keyprefix": key_prefix},
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        # A segment that lost the broker mid-way goes on: its redelivery finds its row done and stops there.
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    app.task(name=TASK, bind=True)(_advance_thread_task)
    app.task(name=BRANCH_TASK, bind=True)(_run_branch_task)
    app.task(name=WATCH_TASK)(_run_due_watches_task)
    app.conf.beat_schedule = beat_schedule()
    return app


def app_for(settings: Settings) -> Celery:
    if not settings.broker_url:
        raise ValueError("no broker configured: set JOBLAND_BROKER_URL (e.g. redis://127.0.0.1:6379/0)")
    return celery_app(settings.broker_url, settings.broker_key_prefix, visibility_timeout_s(settings))


class Queued(Exception):
    """A face handed the segment to the workers: the command ends here, and `jobland status` follows it."""

    def __init__(self, thread_id: str):
        super().__init__(f"queued for the workers: follow thread {thread_id} with `jobland status {thread_id}`")
        self.thread_id = thread_id


class WorkerQueue:
    """Hands a thread's next segment to the workers, and follows it to its end from its run row."""

    def __init__(self, session: Session):
        self.session = session
        self.runs = WorkerRuns(session.graph.store.conn)

    async def enqueue(self, thread_id: str, payload: Any, context: Context) -> str:
        """Queue the segment (its row first, so the worker finds it); the run id, never shown to a person."""
        segment = encode_segment(payload)
        run_id = str(uuid.uuid4())
        await self.runs.add(run_id, thread_id, segment["kind"])
        app = app_for(self.session.settings)
        await asyncio.to_thread(
            app.send_task, TASK, args=[run_id, thread_id, segment, _user_of(context)], task_id=run_id
        )
        return run_id

    async def follow(self, run_id: str, on_values: Callable[[dict], None]) -> str | None:
        """Wait until the segment and all it led to (branches, continuations) end; the first error, or None.

        The checkpoint's values are handed on as they change, for the live counts.
        """
        config = None
        seen: dict | None = None
        while True:
            unfinished, error = await self.runs.unfinished_since(run_id)
            run = await self.runs.get(run_id)
            if run is None:
                return f"the queued run {run_id} is gone"
            config = config or self.session.config(run.thread_id)
            values = (await self.session.graph.aget_state(config)).values
            if values != seen:
                seen = values
                on_values(values)
            if not unfinished:
                return error
            await asyncio.sleep(FOLLOW_POLL_S)


# ----------------------------------------------------------------------------- the worker's side

# Made by `jobland worker` before its pool forks, set in its main process on SIGTERM (warm shutdown): the
# pool processes see it at their next checkpoint. Other processes have none.
_draining: multiprocessing.synchronize.Event | None = None


# What became of one delivery of a segment: done (or failed, recorded either way), busy (another process holds
# the thread: try again shortly), drained (stopped at a checkpoint for a shutdown: back on the queue).
SegmentOutcome = Literal["done", "busy", "drained"]


# The nodes whose Send branches run as tasks of their own, on whichever workers are free.
FANNED_OUT = ("build_package", "deliver")


async def _drive(s: Session, payload: Any, thread_id: str, context: Context) -> bool:
    """Run the segment until it pauses, ends or reaches a fanned-out superstep; True if it stopped for a drain."""
    async for _ in s.graph.astream(
        payload,
        s.config(thread_id),
        context=context,
        stream_mode="checkpoints",
        durability="sync",
        interrupt_before=list(FANNED_OUT),
    ):
        if _draining is not None and _draining.is_set():
            return True
    return False


async def _waiting_branches(s: Session, thread_id: str) -> list[Send]:
    """The Send branches of a fanned-out superstep the thread is paused before (none if it is not)."""
    snapshot = await s.graph.aget_state(s.config(thread_id))
    if snapshot.interrupts or not snapshot.next or not set(snapshot.next) <= set(FANNED_OUT):
        return []
    saved = await s.graph.checkpointer.aget_tuple(s.config(thread_id))
    return [b for b in saved.checkpoint["channel_values"].get(TASKS, []) if isinstance(b, Send)]


async def _what_to_run(s: Session, run: WorkerRun, thread_id: str, payload: Any) -> tuple[Any, str | None]:
    """The input for this delivery of a segment, or why it has nothing left to do.

    A segment started before (its runner died or drained) continues from the checkpoint if that left
    steps unfinished; decisions apply only while the review they answer is still open.
    """
    snapshot = await s.graph.aget_state(s.config(thread_id))
    if run.starts and (not snapshot.values or unfinished_steps(snapshot)):
        record = await s.records.thread(thread_id)
        return (resume_input(snapshot, record) if record else None), None
    if isinstance(payload, dict) and snapshot.values:
        return None, "the thread was started already; `jobland resume` continues it"
    if isinstance(payload, Command) and isinstance(payload.resume, dict):
        interrupt_id, _ = await pending_review(s, thread_id)
        if interrupt_id not in payload.resume:
            return None, "these decisions were applied already (the review they answer is closed)"
    return payload, None


async def _advance(
    s: Session, runs: WorkerRuns, run: WorkerRun, thread_id: str, payload: Any, context: Context
) -> Literal["drained", "ended", "fanned"]:
    """Drive the thread to its next stop; at a fanned-out superstep, queue its branches and stop there.

    A continuation (the segment the batch's last branch queues) runs the paused superstep here: its nodes
    find their packages built or sent and return at once (one that is not is built or sent here).
    """
    if run.kind == "continue" or not await _waiting_branches(s, thread_id):
        if await _drive(s, payload, thread_id, context):
            return "drained"
    if not (branches := await _waiting_branches(s, thread_id)):
        return "ended"
    ids = [f"{run.run_id}:{i}" for i in range(len(branches))]
    if await runs.unfinished_branches(thread_id):
        if run.starts:  # delivered again: its first runner may have died before it queued every branch
            waiting = await runs.queued_branches(run.run_id)
            await _queue_branches(
                s, [(b, branch) for b, branch in zip(ids, branches, strict=True) if b in waiting], context
            )
        return "fanned"  # queued before a stop: they continue the thread
    await runs.fan_out(run.run_id, thread_id, [(b, branch.node) for b, branch in zip(ids, branches, strict=True)])
    await _queue_branches(s, list(zip(ids, branches, strict=True)), context)
    return "fanned"


async def _queue_branches(s: Session, branches: list[tuple[str, Send]], context: Context) -> None:
    app = app_for(s.settings)
    for branch_id, branch in branches:
        await asyncio.to_thread(
            app.send_task,
            BRANCH_TASK,
            args=[branch_id, branch.node, dict(branch.arg), _user_of(context)],
            task_id=branch_id,
        )


async def run_segment(
    run_id: str, thread_id: str, segment: dict[str, Any], user: dict[str, str], worker: str
) -> SegmentOutcome:
    """One delivery of a queued segment, through the application service under the thread's lease."""
    settings = Settings()
    async with open_session(settings) as s:
        runs = WorkerRuns(s.graph.store.conn)
        run = await runs.get(run_id)
        if run is None or run.state in ("done", "failed"):
            return "done"  # delivered again after it ended: nothing to do
        # Packages are built in the build superstep's branches, one task each, on whichever workers are free.
        context = dataclasses.replace(settings.context(), build_while_screening=False, **user)
        try:
            async with s.advancing(thread_id):
                payload, skipped = await _what_to_run(s, run, thread_id, decode_segment(segment))
                if skipped:
                    await runs.finish(run_id, "done", skipped)
                    return "done"
                await runs.start(run_id, worker)
                reached = await _advance(s, runs, run, thread_id, payload, context)
                if reached == "drained":
                    return "drained"
        except ThreadBusy:
            return "busy"
        except Exception as exc:  # the person reads it on the thread's status; the webhook hears it too
            error = f"{type(exc).__name__}: {exc}"
            log.exception("segment %s of thread %s failed", run_id, thread_id)
            await runs.finish(run_id, "failed", error)
            await announce_segment(s, thread_id, error)
            return "done"
        await runs.finish(run_id, "done")
        if reached == "ended":
            await announce_segment(s, thread_id, None)
        return "done"


def _one_package_graph(s: Session) -> CompiledStateGraph:
    """build_package alone, on the session's Store: one branch of the build superstep, run as a task."""
    steps = build_package_graph({**NODE_TIMEOUTS, **s.settings.node_timeouts}).compile(name="build_package_steps")
    builder = StateGraph(JobLandState, context_schema=Context, input_schema=BuildPackageInput)
    builder.add_node(
        "build_package", package_builder(steps), input_schema=BuildPackageInput, retry_policy=DATABASE_RETRY
    )
    builder.add_edge(START, "build_package")
    builder.add_edge("build_package", END)
    return builder.compile(store=s.graph.store)


async def run_branch(branch_id: str, node: str, arg: dict[str, Any], user: dict[str, str], worker: str) -> None:
    """One branch of a fanned-out superstep; the batch's last branch queues the thread's continuation.

    A branch builds or sends one package and writes it to the Store; it holds no thread lease (the thread's
    checkpoint is the continuation's to write). A build redelivered after a kill builds that package again;
    a delivery is guarded by the package's send claim, so a second try never sends twice.
    """
    settings = Settings()
    async with open_session(settings) as s:
        runs = WorkerRuns(s.graph.store.conn)
        branch = await runs.get(branch_id)
        if branch is None or branch.state not in ("done", "failed"):
            if branch is not None:
                await runs.start(branch_id, worker)
            context = dataclasses.replace(settings.context(), **user)
            error = None
            try:
                if node == "build_package":
                    await _one_package_graph(s).ainvoke(arg, context=context)
                else:
                    await deliver_package(
                        s.records, s.guards, context, arg["thread_id"], arg["package_id"], retry=arg.get("retry", False)
                    )
            except Exception as exc:  # the continuation runs this node again in the thread, and says why
                log.exception("branch %s (%s) failed", branch_id, node)
                error = f"{type(exc).__name__}: {exc}"
            continuation = await runs.finish_branch(branch_id, error)
        else:  # finished before a stop: its batch's continuation may not have been queued
            continuation = await runs.continuation_of(branch_id)
        if continuation is not None:
            segment = [continuation, arg["thread_id"], {"kind": "resume"}, user]
            await asyncio.to_thread(app_for(settings).send_task, TASK, args=segment, task_id=continuation)


# Seconds before a segment whose thread another process holds is tried again.
BUSY_RETRY_S = 1.0


def _advance_thread_task(task: Any, run_id: str, thread_id: str, segment: dict, user: dict) -> None:
    from celery.exceptions import Reject

    outcome = asyncio.run(run_segment(run_id, thread_id, segment, user, task.request.hostname))
    if outcome == "busy":  # another worker or a CLI holds the thread: back in the queue, never run beside it
        time.sleep(BUSY_RETRY_S)  # (a retry with a countdown would be held by one worker beside its prefetch)
        raise Reject("the thread is being advanced elsewhere", requeue=True)
    if outcome == "drained":
        raise Reject("the worker is shutting down; the segment goes on elsewhere", requeue=True)


def _run_branch_task(task: Any, branch_id: str, node: str, arg: dict, user: dict) -> None:
    asyncio.run(run_branch(branch_id, node, arg, user, task.request.hostname))


def _run_due_watches_task() -> None:
    async def run() -> None:
        async with open_session(Settings()) as s:
            for outcome in await run_due_watches(s):
                if outcome.error:
                    log.error("watch %s of %s: %s", outcome.watch.name, outcome.watch.owner, outcome.error)

    asyncio.run(run())


def run_beat(settings: Settings, loglevel: str = "INFO") -> None:
    """`jobland beat`: the one scheduler process that asks the workers to run the due saved searches."""
    app_for(settings).start(["beat", f"--loglevel={loglevel}", f"--schedule={settings.home / 'celerybeat-schedule'}"])


def run_worker(settings: Settings, concurrency: int, loglevel: str = "INFO") -> None:
    """`jobland worker`: consume segments until SIGTERM, which drains the running ones at a checkpoint."""
    from celery.signals import worker_shutting_down

    global _draining
    _draining = draining = multiprocessing.get_context("fork").Event()
    worker_shutting_down.connect(lambda **_: draining.set(), weak=False)
    app = app_for(settings)
    app.worker_main(
        [
            "worker",
            f"--concurrency={concurrency}",
            f"--loglevel={loglevel}",
            "--pool=prefork",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--hostname=jobland-{uuid.uuid4().hex[:8]}@%h",
        ]
    )
