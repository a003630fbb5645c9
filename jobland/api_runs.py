"""Graph runs in the background of the HTTP server, one asyncio task per thread, with live events.

Every run ends with exactly one closing event: "done" (paused for review, or finished) or "error".
Subscribers get a snapshot first, so a late one misses nothing it needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langgraph.graph.state import CompiledStateGraph

from jobland.service import Context, step_updates

if TYPE_CHECKING:  # jobland.workers imports the webhooks, which import this module
    from jobland.workers import WorkerQueue

Event = dict[str, Any]
CLOSING = ("done", "error")
logger = logging.getLogger(__name__)


@dataclass
class Progress:
    postings: int = 0
    screened: int = 0
    high: int = 0
    packages_built: int = 0
    delivered: int = 0
    _built: set[str] = field(default_factory=set, repr=False)

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def count(self, node: str, update: dict) -> None:
        if node == "discover":
            self.postings = len(update.get("posting_ids", []))
        elif node in ("prepare_screening", "screen_job"):  # verdicts in bulk, then any the LLM stage made
            verdicts = (update or {}).get("screenings", [])
            self.screened += len(verdicts)
            self.high += sum(v.probability == "High" for v in verdicts)
        elif node == "build_package":  # where a posting's screening ended, or after the shortlist
            # A package built again (a retry from review), or found built by the shortlist's step, counts once.
            self._built.update(ref.package_id for ref in update.get("packages", []))
            self.packages_built = len(self._built)
        elif node == "deliver":
            self.delivered += 1

    @classmethod
    def from_values(cls, values: dict) -> Progress:
        """The counts a checkpoint holds (after a restart there is no live count)."""
        screenings = values.get("screenings", [])
        return cls(
            postings=len(values.get("posting_ids", [])),
            screened=len(screenings),
            high=sum(v.probability == "High" for v in screenings),
            packages_built=len(values.get("packages", [])),
            delivered=len(values.get("deliveries", [])),
        )


@dataclass
class ThreadRun:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    task: asyncio.Task | None = None
    owner: str = ""
    delivering: bool = False
    progress: Progress = field(default_factory=Progress)
    error: str | None = None
    subscribers: set[asyncio.Queue[Event]] = field(default_factory=set)

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def heard(self, values: dict) -> None:
        """The counts of a checkpoint a worker wrote (a run on a worker is followed from PostgreSQL)."""
        progress = Progress.from_values(values)
        if progress.counts() != self.progress.counts():
            self.progress = progress
            self.delivering = self.delivering or "decisions" in values
            self.publish("progress", {"node": None, **progress.counts()})

    def publish(self, event: str, data: Any) -> None:
        for queue in self.subscribers:
            queue.put_nowait({"event": event, "data": data})


class WorkerFailed(RuntimeError):
    """A segment run on a worker failed; the message is the error the worker recorded."""


# Called when a run stops; returns the closing events to publish before "done" (e.g. the approval request).
Finisher = Callable[[str], Awaitable[list[Event]]]
# Called, off the run's path, after a run stopped (with its error if it failed): e.g. the thread's webhook.
Announcer = Callable[[str, str | None], Awaitable[Any]]


class BackgroundRuns:
    """The runs of this server process; after a restart they are gone, and the checkpoints remain."""

    def __init__(
        self,
        graph: CompiledStateGraph,
        config: Callable[[str], dict],
        announce: Announcer | None = None,
        queue: WorkerQueue | None = None,
    ):
        self.graph = graph
        self.config = config
        self.announce = announce
        self.queue = queue  # with a broker: runs go to the workers and are followed from PostgreSQL
        self.threads: dict[str, ThreadRun] = {}
        self.announcing: set[asyncio.Task] = set()

    def of(self, thread_id: str) -> ThreadRun:
        return self.threads.setdefault(thread_id, ThreadRun())

    def start(
        self,
        thread_id: str,
        payload: Any,
        context: Context,
        finish: Finisher,
        *,
        delivering: bool,
        lease: contextlib.AbstractAsyncContextManager,
    ) -> None:
        """Run the graph from payload (input, Command or None to resume) until it pauses or ends.

        `lease` is the thread's lease, already held; the run gives it up when it stops.
        """
        run = self.of(thread_id)
        if run.running:
            raise RuntimeError(f"thread {thread_id} is already running")
        run.delivering, run.error, run.progress, run.owner = delivering, None, Progress(), context.user_id
        run.task = asyncio.create_task(self._drive(thread_id, run, payload, context, finish, lease), name=thread_id)

    async def _drive(
        self,
        thread_id: str,
        run: ThreadRun,
        payload: Any,
        context: Context,
        finish: Finisher,
        lease: contextlib.AbstractAsyncContextManager,
    ) -> None:
        queued: str | None = None
        try:
            async with lease:  # given up before the closing events: whoever hears "done" may go on at once
                if not isinstance(payload, dict):  # a resume or a Command: earlier counts are in the checkpoint
                    run.progress = Progress.from_values((await self.graph.aget_state(self.config(thread_id))).values)
                if self.queue is not None:  # a worker takes the lease once this process gives it up
                    queued = await self.queue.enqueue(thread_id, payload, context)
                else:
                    await self._run_here(thread_id, run, payload, context)
            if queued is not None and (failure := await self.queue.follow(queued, run.heard)) is not None:
                raise WorkerFailed(failure)
            closing = await finish(thread_id)
        except asyncio.CancelledError:
            if queued is None:
                run.publish("error", {"message": "the server stopped this run; POST .../resume continues it"})
            raise
        except Exception as exc:  # the person sees it on the status and the event stream
            run.error = str(exc) if isinstance(exc, WorkerFailed) else f"{type(exc).__name__}: {exc}"
            run.publish("error", {"message": run.error})
            if queued is None:  # a worker announces the segments it runs
                self._announce(thread_id, run.error)
            return
        for event in closing:
            run.publish(event["event"], event["data"])
        if queued is None:
            self._announce(thread_id, None)

    async def _run_here(self, thread_id: str, run: ThreadRun, payload: Any, context: Context) -> None:
        async for node, value in step_updates(self.graph, payload, self.config(thread_id), context):
            if node == "__interrupt__":
                continue
            if node == "review":
                run.delivering = True
            run.progress.count(node, value if isinstance(value, dict) else {})
            run.publish("progress", {"node": node, **run.progress.counts()})

    def _announce(self, thread_id: str, error: str | None) -> None:
        """Announce in a task of its own, so that neither the closing events nor the next run wait for it."""
        if self.announce is None:
            return
        task = asyncio.create_task(self._announce_safely(thread_id, error), name=f"announce-{thread_id}")
        self.announcing.add(task)
        task.add_done_callback(self.announcing.discard)

    async def _announce_safely(self, thread_id: str, error: str | None) -> None:
        try:
            await self.announce(thread_id, error)
        except Exception:  # an announcement (a webhook, its log) never fails the run it is about
            logger.exception("announcing the end of a run of thread %s failed", thread_id)

    def running_for(self, owner: str) -> int:
        """How many runs of this owner's threads this process has going."""
        return sum(run.running and run.owner == owner for run in self.threads.values())

    def subscribe(self, thread_id: str, snapshot: Callable[[], Awaitable[list[Event]]]) -> AsyncIterator[Event]:
        """Events of the thread's run until it closes; when nothing runs, just the snapshot.

        The subscription starts at this call, so a run started right after it is heard from its start.
        """
        run = self.of(thread_id)
        queue: asyncio.Queue[Event] = asyncio.Queue()
        run.subscribers.add(queue)
        return self._events(run, queue, snapshot)

    async def _events(
        self, run: ThreadRun, queue: asyncio.Queue[Event], snapshot: Callable[[], Awaitable[list[Event]]]
    ) -> AsyncIterator[Event]:
        try:
            for event in await snapshot():
                yield event
            if not run.running and queue.empty():
                return
            while True:
                event = await queue.get()
                yield event
                if event["event"] in CLOSING:
                    return
        finally:
            run.subscribers.discard(queue)

    async def stop(self) -> None:
        """Cancel every run and announcement; `durability="sync"` left each run at its last checkpoint."""
        tasks = [run.task for run in self.threads.values() if run.running] + list(self.announcing)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
