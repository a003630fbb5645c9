"""Assembly of the JobLand graph (DESIGN.md), and its persistence: Postgres checkpoints and Store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agents.cover_letter_writer import write_cover_letter
from agents.cv_writer import write_cv
from agents.deliver import deliver
from agents.discover import discover
from agents.intake import intake
from agents.package_checker import check_package
from agents.profile_loader import load_profile
from agents.record import record
from agents.researcher import research_company
from agents.review import review, route_to_delivery
from agents.screener import screen_job
from agents.shortlist import route_to_packages, route_to_screening, shortlist
from domain import models
from graph import state
from graph.context import Context
from graph.state import (
    BuildPackageInput,
    DeliverPackageInput,
    JobLandInput,
    JobLandState,
    PackageBuildOutput,
    PackageBuildState,
    ScreenJobInput,
)
from tools.postgres import postgres_persistence, resolve_database_url

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


def build_package_graph() -> StateGraph:
    """research_company -> write_cv -> write_cover_letter -> check_package, for one posting."""
    builder = StateGraph(
        PackageBuildState, context_schema=Context, input_schema=BuildPackageInput, output_schema=PackageBuildOutput
    )
    builder.add_node(research_company)
    builder.add_node(write_cv)
    builder.add_node(write_cover_letter)
    builder.add_node(check_package)
    builder.add_edge(START, "research_company")
    builder.add_edge("research_company", "write_cv")
    builder.add_edge("write_cv", "write_cover_letter")
    builder.add_edge("write_cover_letter", "check_package")
    builder.add_edge("check_package", END)
    return builder


def build_graph() -> StateGraph:
    builder = StateGraph(JobLandState, context_schema=Context, input_schema=JobLandInput)
    builder.add_node(intake)
    builder.add_node(load_profile)
    builder.add_node(discover)
    builder.add_node("screen_job", screen_job, input_schema=ScreenJobInput)
    builder.add_node(shortlist)
    builder.add_node("build_package", build_package_graph().compile(), input_schema=BuildPackageInput)
    builder.add_node(review)
    builder.add_node("deliver", deliver, input_schema=DeliverPackageInput)
    builder.add_node(record)

    builder.add_edge(START, "intake")
    builder.add_edge("intake", "load_profile")
    builder.add_edge("load_profile", "discover")
    builder.add_conditional_edges("discover", route_to_screening, ["screen_job", "shortlist"])
    builder.add_edge("screen_job", "shortlist")
    builder.add_conditional_edges("shortlist", route_to_packages, ["build_package", "record"])
    builder.add_edge("build_package", "review")
    builder.add_conditional_edges("review", route_to_delivery, ["deliver", "record"])
    builder.add_edge("deliver", "record")
    builder.add_edge("record", END)
    return builder


def checkpoint_serializer() -> JsonPlusSerializer:
    return JsonPlusSerializer(allowed_msgpack_modules=CHECKPOINT_TYPES)


@asynccontextmanager
async def open_graph(database_url: str | None, home: Path) -> AsyncIterator[CompiledStateGraph]:
    """The graph compiled with the Postgres checkpointer and Store (embedded unless database_url is set)."""
    # Starting the embedded server blocks for a second or two; keep the event loop free meanwhile.
    url = await asyncio.to_thread(resolve_database_url, database_url, home)
    async with postgres_persistence(url, serde=checkpoint_serializer()) as (checkpointer, store):
        yield build_graph().compile(checkpointer=checkpointer, store=store, name="jobland")


def make_graph() -> CompiledStateGraph:
    """The graph without persistence; langgraph.json serves graph.studio.graph, which adds Settings defaults."""
    return build_graph().compile(name="jobland")
