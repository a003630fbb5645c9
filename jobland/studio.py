"""What langgraph.json points at: the graph, and its Postgres checkpoints and Store for `langgraph dev`.

Studio and the LangGraph SDK then see the same threads and records as the CLI: the PostgreSQL at
DATABASE_URL, or the embedded one under JOBLAND_HOME when it is unset; a run's context defaults to
the same Settings (JOBLAND_EMAIL, JOBLAND_HOME, ...).
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import typing
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.store.postgres.aio import AsyncPostgresStore

from jobland.service import (
    SECRET_VARIABLES,
    Context,
    build_graph,
    checkpoint_serializer,
    postgres_persistence,
    resolve_database_url,
)
from jobland.settings import Settings

# The server opens the checkpointer and the Store separately, each with its own small pool.
POOL_SIZE = 5


def graph() -> CompiledStateGraph:
    """langgraph.json `graphs.jobland`; the server supplies the checkpointer and Store below."""
    settings = Settings()
    builder = build_graph(settings.node_timeouts)
    builder.context_schema = context_with_defaults(settings.context())
    return builder.compile(name="jobland")


def _default(value: object, metadata: typing.Mapping) -> dataclasses.Field:
    if isinstance(value, dict | list):  # a mutable default must be a factory
        return dataclasses.field(default_factory=lambda: copy.deepcopy(value), metadata=metadata)
    return dataclasses.field(default=value, metadata=metadata)


def context_with_defaults(defaults: Context) -> type[Context]:
    """Context whose field defaults are these values: what Studio's form shows and an empty context gets."""
    types = typing.get_type_hints(Context)
    fields = []
    for f in dataclasses.fields(Context):
        # Studio shows context defaults to anyone who opens it: keys stay out, and runs read them from the environment.
        value = None if f.name in SECRET_VARIABLES else getattr(defaults, f.name)
        fields.append((f.name, types[f.name], _default(value, f.metadata)))
    return dataclasses.make_dataclass("Context", fields, bases=(Context,), kw_only=True)


@asynccontextmanager
async def _persistence() -> AsyncIterator[tuple[AsyncPostgresSaver, AsyncPostgresStore]]:
    settings = Settings()
    # Starting the embedded server blocks for a second or two; keep the event loop free meanwhile.
    url = await asyncio.to_thread(resolve_database_url, settings.database_url, settings.home)
    async with postgres_persistence(url, serde=checkpoint_serializer(), max_connections=POOL_SIZE) as persistence:
        yield persistence


@asynccontextmanager
async def checkpointer() -> AsyncIterator[AsyncPostgresSaver]:
    """langgraph.json `checkpointer.path`."""
    async with _persistence() as (saver, _):
        yield saver


@asynccontextmanager
async def store() -> AsyncIterator[AsyncPostgresStore]:
    """langgraph.json `store.path`."""
    async with _persistence() as (_, postgres_store):
        yield postgres_store
