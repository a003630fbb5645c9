"""Postgres for checkpoints and the Store: the server at DATABASE_URL, or an embedded one.

The embedded server (tools/embedded_postgres.py) is started when DATABASE_URL is unset.

Connections are checked when taken from the pool, so one PostgreSQL closed while idle (a restart,
pg_terminate_backend, an idle timeout) is replaced unseen (a query is sent only to one the server wrote
to); a read or write that loses its connection midway is tried again on a fresh one (every checkpoint
and Store write is an upsert, so a second try is safe). Only an outage that outlasts the pool's wait
reaches the caller.
"""

from __future__ import annotations

import asyncio
import logging
import re
import select
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, TypeVar

import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata, CheckpointTuple
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.store.base import Op, Result
from langgraph.store.postgres.aio import AsyncPostgresStore
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from jobland.tools.embedded_postgres import DatabaseError

POOL_WAIT_S = 15.0  # how long an operation waits for a connection (the pool reconnecting meanwhile)
ATTEMPTS_PER_OPERATION = 4
log = logging.getLogger(__name__)
T = TypeVar("T")


# What a face reports as an outage once the retries below are spent (PoolTimeout is one of them).
DATABASE_OUTAGES = (psycopg.OperationalError,)


def connection_lost(error: BaseException) -> bool:
    """A database operation that failed because its connection went away, and may succeed on a new one.

    A pool that found no connection in POOL_WAIT_S is an outage, not a lost connection: trying again
    would only make the person wait longer for the message.
    """
    return isinstance(error, psycopg.OperationalError) and not isinstance(error, PoolTimeout)


def outage_message(error: psycopg.OperationalError) -> str:
    """What a person reads when PostgreSQL cannot be reached, in one line."""
    reason = " ".join(str(error).split()) or type(error).__name__
    return (
        f"lost the connection to PostgreSQL ({reason}). Check that it is running (DATABASE_URL, or unset it "
        "for the embedded one), then run the command again; an interrupted run goes on with `jobland resume THREAD`."
    )


async def retry_on_lost_connection(operation: Callable[[], Awaitable[T]], what: str) -> T:
    for attempt in range(1, ATTEMPTS_PER_OPERATION):
        try:
            return await operation()
        except psycopg.OperationalError as error:
            if not connection_lost(error):
                raise
            log.warning("%s lost its database connection (%s); trying again", what, error)
            await asyncio.sleep(0.1 * 2**attempt)
    return await operation()


class ReconnectingSaver(AsyncPostgresSaver):
    """Checkpoint reads and writes, each tried again on a fresh connection if its connection is lost."""

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await retry_on_lost_connection(partial(super().aget_tuple, config), "reading a checkpoint")

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        write = partial(super().aput, config, checkpoint, metadata, new_versions)
        return await retry_on_lost_connection(write, "writing a checkpoint")

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        write = partial(super().aput_writes, config, writes, task_id, task_path)
        await retry_on_lost_connection(write, "writing a step's results")

    async def adelete_thread(self, thread_id: str) -> None:
        await retry_on_lost_connection(partial(super().adelete_thread, thread_id), "deleting a thread")


class ReconnectingStore(AsyncPostgresStore):
    """Store batches (reads, upserts, deletes), each tried again on a fresh connection if its connection is lost."""

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await retry_on_lost_connection(partial(super().abatch, list(ops)), "a Store batch")


@asynccontextmanager
async def postgres_persistence(
    url: str, *, serde: SerializerProtocol | None = None, max_connections: int = 10
) -> AsyncIterator[tuple[AsyncPostgresSaver, AsyncPostgresStore]]:
    """A checkpointer and a Store on one connection pool, with their tables created."""
    # setup() creates tables and indexes, which needs autocommit; prepared statements break pgbouncer.
    kwargs: dict[str, Any] = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}

    async def check(conn: psycopg.AsyncConnection) -> None:
        """The pool's check before handing out a connection; one found dead sends every idle one to be checked.

        The server usually drops them all at once (a restart, pg_terminate_backend), and the pool waits
        a second or more between one failed check and the next connection it tries.
        """
        if not server_wrote_since(conn):
            return
        try:
            await AsyncConnectionPool.check_connection(conn)
        except psycopg.Error:
            await pool.check()
            raise

    pool = AsyncConnectionPool(
        url,
        min_size=1,
        max_size=max_connections,
        kwargs=kwargs,
        open=False,
        check=check,
        timeout=POOL_WAIT_S,
    )
    try:
        await pool.open(wait=True, timeout=POOL_WAIT_S)
    except Exception as exc:
        raise DatabaseError(
            f"cannot connect to PostgreSQL at {_redact(url)}: {exc}. Is the server running? "
            "Unset DATABASE_URL to use the embedded database instead."
        ) from exc
    try:
        saver = ReconnectingSaver(pool, serde=serde)
        store = ReconnectingStore(pool)
        await saver.setup()
        await store.setup()
        yield saver, store
    finally:
        await pool.close()


def server_wrote_since(conn: psycopg.AsyncConnection) -> bool:
    """Whether an idle connection has something to read: the server ends one (a restart, pg_terminate_backend, an
    idle timeout) by writing why and closing it, so one with nothing to read needs no round trip to be trusted;
    a run takes a connection from the pool hundreds of times a second, and the check's query doubled each."""
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except psycopg.OperationalError:  # closed already: the check's query fails it the usual way
        return True
    return bool(readable)


def _redact(url: str) -> str:
    """Hide a password in a connection URL before it goes into an error message."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def checkpoint_stats(url: str, thread_id: str) -> dict[str, int]:
    """How much a thread's checkpoints hold in PostgreSQL (the benchmark and the size test read it)."""
    with psycopg.connect(url) as conn:
        checkpoints = conn.execute("SELECT count(*) FROM checkpoints WHERE thread_id = %s", (thread_id,)).fetchone()[0]
        blobs = conn.execute(
            "SELECT coalesce(sum(length(blob)), 0) FROM checkpoint_blobs WHERE thread_id = %s", (thread_id,)
        ).fetchone()[0]
        writes = conn.execute(
            "SELECT coalesce(sum(length(blob)), 0) FROM checkpoint_writes WHERE thread_id = %s", (thread_id,)
        ).fetchone()[0]
        largest = conn.execute(
            "SELECT coalesce(max(length(blob)), 0) FROM checkpoint_blobs WHERE thread_id = %s", (thread_id,)
        ).fetchone()[0]
    return {
        "checkpoints": checkpoints,
        "blob_bytes": int(blobs),
        "write_bytes": int(writes),
        "bytes_per_step": round((int(blobs) + int(writes)) / max(checkpoints, 1)),
        "largest_blob_bytes": int(largest),
    }
