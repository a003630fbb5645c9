"""Assembly of the JobLand graph (DESIGN.md), and its persistence: Postgres checkpoints and Store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import RetryPolicy

from jobland.agents.cover_letter_writer import write_cover_letter
from jobland.agents.cv_layout import lay_out_cv
from jobland.agents.cv_writer import write_cv
from jobland.agents.deliver import deliver
from jobland.agents.discover import discover
from jobland.agents.intake import intake
from jobland.agents.package_builder import BuildPackage, package_builder
from jobland.agents.package_checker import check_package
from jobland.agents.prepare_screening import prepare_screening
from jobland.agents.profile_loader import load_profile
from jobland.agents.record import record
from jobland.agents.researcher import research_company
from jobland.agents.review import review, route_after_review
from jobland.agents.screener import screen_job
from jobland.agents.shortlist import route_after_screening, route_to_packages, route_to_screening, shortlist
from jobland.domain import models
from jobland.graph import state
from jobland.graph.context import Context
from jobland.graph.state import (
    BuildPackageInput,
    DeliverPackageInput,
    JobLandInput,
    JobLandState,
    PackageBuildState,
    ScreenJobInput,
    ScreenPostingOutput,
    ScreenPostingState,
)
from jobland.tools.embedded_postgres import resolve_database_url
from jobland.tools.postgres import connection_lost, postgres_persistence

# Checkpoints deserialize only these types (besides LangGraph's own safe ones).
CHECKPOINT_TYPES = (
    models.SearchRequest,
    models.Decision,
    models.DeliveryReceipt,
    models.DiscardedPosting,
    models.PackageStatus,
    state.ScreeningVerdict,
    state.PackageRef,
)


# Seconds each step that calls out may take (LangGraph's node timeout); Settings.node_timeouts overrides them.
NODE_TIMEOUTS: dict[str, float] = {
    "intake": 120,
    "load_profile": 300,
    "discover": 600,
    "prepare_screening": 600,
    "screen_job": 180,
    "research_company": 300,
    "write_cv": 300,
    "lay_out_cv": 600,
    "write_cover_letter": 300,
    "check_package": 300,
    "deliver": 600,  # above Context.send_timeout_s, so a slow send is caught as an unknown outcome first
}


# A step whose database connection was lost midway runs again (its Store writes are upserts, and each
# step re-reads what it needs); every other error fails the step as before. deliver too: its send
# claim decides what a second attempt may do (a record left "sending" is looked up, never resent blind).
DATABASE_RETRY = RetryPolicy(max_attempts=4, initial_interval=0.5, max_interval=4.0, retry_on=connection_lost)


def build_package_graph(timeouts: Mapping[str, float]) -> StateGraph:
    """(research_company and write_cv at once) -> (lay_out_cv, and write_cover_letter once both are in) ->
    check_package, for one posting. Neither the research nor the CV's words read the other, so a package is 3
    model calls deep, not 4; and the CV's CPU-bound layout runs while the research and the letter are out,
    not after the last answers."""
    builder = StateGraph(PackageBuildState, context_schema=Context, input_schema=BuildPackageInput)
    for step in (research_company, write_cv, lay_out_cv, write_cover_letter, check_package):
        builder.add_node(step, timeout=timeouts[step.__name__], retry_policy=DATABASE_RETRY)
    builder.add_edge(START, "research_company")
    builder.add_edge(START, "write_cv")
    builder.add_edge("write_cv", "lay_out_cv")
    builder.add_edge(["research_company", "write_cv"], "write_cover_letter")
    builder.add_edge(["lay_out_cv", "write_cover_letter"], "check_package")
    builder.add_edge("check_package", END)
    return builder


def build_screen_posting_graph(timeouts: Mapping[str, float], build: BuildPackage) -> StateGraph:
    """screen_job, then build_package if the task carries a package and its verdict is High: one posting
    from its LLM screening to its package, without waiting for the other postings' screenings."""
    builder = StateGraph(
        ScreenPostingState, context_schema=Context, input_schema=ScreenJobInput, output_schema=ScreenPostingOutput
    )
    builder.add_node(screen_job, timeout=timeouts["screen_job"], retry_policy=DATABASE_RETRY)
    builder.add_node("build_package", build, input_schema=BuildPackageInput, retry_policy=DATABASE_RETRY)
    builder.add_edge(START, "screen_job")
    builder.add_conditional_edges("screen_job", route_after_screening, ["build_package", END])
    builder.add_edge("build_package", END)
    return builder


def build_graph(node_timeouts: Mapping[str, float] | None = None) -> StateGraph:
    timeouts = {**NODE_TIMEOUTS, **(node_timeouts or {})}
    if unknown := sorted(set(timeouts) - set(NODE_TIMEOUTS)):
        raise ValueError(f"node_timeouts names no such step: {unknown}; the steps are {sorted(NODE_TIMEOUTS)}")
    build = package_builder(build_package_graph(timeouts).compile(name="build_package_steps"))
    screen_posting = build_screen_posting_graph(timeouts, build).compile(name="screen_posting")
    builder = StateGraph(JobLandState, context_schema=Context, input_schema=JobLandInput)
    retry = DATABASE_RETRY
    builder.add_node(intake, timeout=timeouts["intake"], retry_policy=retry)
    builder.add_node(load_profile, timeout=timeouts["load_profile"], retry_policy=retry)
    builder.add_node(discover, timeout=timeouts["discover"], retry_policy=retry)
    builder.add_node(prepare_screening, timeout=timeouts["prepare_screening"], retry_policy=retry)
    # Each step of the posting's subgraph has its own time limit; the build, the batch's deadline too.
    builder.add_node("screen_job", screen_posting, input_schema=ScreenJobInput, retry_policy=retry)
    builder.add_node(shortlist, retry_policy=retry)
    builder.add_node(
        "build_package",
        build,
        input_schema=BuildPackageInput,
        destinations=("review",),
        retry_policy=retry,
    )
    builder.add_node(review, retry_policy=retry)
    builder.add_node(
        "deliver", deliver, input_schema=DeliverPackageInput, timeout=timeouts["deliver"], retry_policy=retry
    )
    builder.add_node(record, retry_policy=retry)

    builder.add_edge(START, "intake")
    builder.add_edge("intake", "load_profile")
    builder.add_edge("load_profile", "discover")
    builder.add_edge("discover", "prepare_screening")
    builder.add_conditional_edges("prepare_screening", route_to_screening, ["screen_job", "shortlist"])
    builder.add_edge("screen_job", "shortlist")
    builder.add_conditional_edges("shortlist", route_to_packages, ["build_package", "review", "record"])
    builder.add_edge("build_package", "review")
    builder.add_conditional_edges("review", route_after_review, ["build_package", "deliver", "review", "record"])
    builder.add_edge("deliver", "record")
    builder.add_edge("record", END)
    return builder


def checkpoint_serializer() -> JsonPlusSerializer:
    return JsonPlusSerializer(allowed_msgpack_modules=CHECKPOINT_TYPES)


@asynccontextmanager
async def open_graph(
    database_url: str | None, home: Path, node_timeouts: Mapping[str, float] | None = None
) -> AsyncIterator[CompiledStateGraph]:
    """The graph compiled with the Postgres checkpointer and Store (embedded unless database_url is set)."""
    # Starting the embedded server blocks for a second or two; keep the event loop free meanwhile.
    url = await asyncio.to_thread(resolve_database_url, database_url, home)
    async with postgres_persistence(url, serde=checkpoint_serializer()) as (checkpointer, store):
        yield build_graph(node_timeouts).compile(checkpointer=checkpointer, store=store, name="jobland")


def make_graph(node_timeouts: Mapping[str, float] | None = None) -> CompiledStateGraph:
    """The graph without persistence; langgraph.json serves jobland.studio.graph, which adds Settings defaults."""
    return build_graph(node_timeouts).compile(name="jobland")
