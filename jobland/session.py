"""An open graph with its settings: what the CLI and the HTTP server both work through."""

from __future__ import annotations

from dataclasses import dataclass

from langgraph.graph.state import CompiledStateGraph
from langgraph.types import StateSnapshot

from domain.repository import Records
from jobland.settings import Settings


@dataclass
class Session:
    settings: Settings
    graph: CompiledStateGraph

    @property
    def records(self) -> Records:
        return Records(self.graph.store)

    def config(self, thread_id: str) -> dict:
        return {"configurable": {"thread_id": thread_id}, "max_concurrency": self.settings.max_concurrency}


def review_requests(snapshot: StateSnapshot) -> tuple[str | None, list[dict]]:
    """The interrupt id and the review requests a checkpoint is waiting on, if any."""
    for pending in snapshot.interrupts:
        return pending.id, list(pending.value)
    return None, []


async def pending_review(s: Session, thread_id: str) -> tuple[str | None, list[dict]]:
    """The interrupt id and the review requests a thread is waiting on, if any."""
    return review_requests(await s.graph.aget_state(s.config(thread_id)))
