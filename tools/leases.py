"""Who may advance a thread and who may send a package, decided in PostgreSQL for every process.

Two guards, both held by a session-level advisory lock on a connection of their own, so that a killed
process gives them up the moment its connection closes (no expiry to wait for, nothing to clean up):

- A **thread lease**: whoever advances a thread (a CLI command, a server, a worker) holds it for the
  whole segment. A second process asking for it is told at once who holds it (ThreadBusy).
- A **send claim**: before any byte goes to a mailer, the sender inserts the package's send record
  (an atomic INSERT ... ON CONFLICT); a record left "sending" by a sender that is gone means the
  outcome is unknown, and the package is looked up or becomes a dead letter, never sent blind.

The embedded twin serves graphs compiled on an in-memory Store (unit tests): one process, asyncio locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

import psycopg

# The advisory-lock class ids (the first key of pg_advisory_lock(int, int)), one per kind of guard.
THREAD_LOCKS = 0x4A4C01
_SEND_LOCKS = 0x4A4C02

SendState = Literal["sending", "sent", "failed"]

_TABLES = """
CREATE TABLE IF NOT EXISTS jobland_thread_leases (
    thread_id text PRIMARY KEY,
    token bigint NOT NULL,
    holder text NOT NULL,
    since timestamptz NOT NULL DEFAULT now()
);
-- Every lease taken (one row per segment): who advanced a thread, and when, for audits and the scale-out test.
-- A holder that died leaves released_at empty; its lock went with its connection.
CREATE TABLE IF NOT EXISTS jobland_thread_lease_log (
    thread_id text NOT NULL,
    token bigint NOT NULL,
    holder text NOT NULL,
    acquired_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    released_at timestamptz,
    PRIMARY KEY (thread_id, token)
);
CREATE TABLE IF NOT EXISTS jobland_send_claims (
    package_id text PRIMARY KEY,
    thread_id text NOT NULL,
    attempt integer NOT NULL,
    state text NOT NULL,
    holder text NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    location text
);
"""


class ThreadBusy(RuntimeError):
    """Another process is advancing this thread right now."""


class PackageBusy(RuntimeError):
    """Another process holds the package's send lock."""


def holder_name() -> str:
    """Who holds a guard, as a person would look for it: host and process id."""
    return f"pid {os.getpid()} on {socket.gethostname()}"


@dataclass(frozen=True)
class SendClaim:
    """The send record of a package as the claimant found it."""

    package_id: str
    attempt: int
    state: SendState
    location: str | None = None


@dataclass(frozen=True)
class ClaimOutcome:
    """What claiming a send gave: `claimed` to send now; otherwise the record someone else left."""

    claimed: bool
    record: SendClaim


class Guards(Protocol):
    def thread_lease(self, thread_id: str) -> contextlib.AbstractAsyncContextManager[int]: ...

    async def held_by(self, thread_id: str) -> str | None: ...

    def package_lock(self, package_id: str, wait_s: float) -> contextlib.AbstractAsyncContextManager[bool]: ...

    async def claim_send(self, package_id: str, thread_id: str, *, retry: bool) -> ClaimOutcome: ...

    async def finish_send(self, package_id: str, state: SendState, location: str | None = None) -> None: ...


async def _lock_connection(conninfo: str) -> psycopg.AsyncConnection:
    return await psycopg.AsyncConnection.connect(conninfo, autocommit=True, prepare_threshold=None)


class PostgresGuards:
    """Leases and send claims in the PostgreSQL that holds the checkpoints."""

    def __init__(self, conninfo: str):
        self.conninfo = conninfo
        self._ready = False

    async def _setup(self, conn: psycopg.AsyncConnection) -> None:
        if not self._ready:
            # Two processes creating the tables at once would race on the catalog: serialise it.
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (THREAD_LOCKS,))
                await conn.execute(_TABLES)
            self._ready = True

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection]:
        conn = await _lock_connection(self.conninfo)
        try:
            await self._setup(conn)
            yield conn
        finally:
            await conn.close()  # closing the session releases every advisory lock it held

    @contextlib.asynccontextmanager
    async def thread_lease(self, thread_id: str) -> AsyncIterator[int]:
        """Hold the thread for this process; its fencing token (one more than the last holder's) is yielded."""
        async with self._connection() as conn:
            got = await _fetch(conn, "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (THREAD_LOCKS, thread_id))
            if not got:
                row = await (
                    await conn.execute(
                        "SELECT holder, since FROM jobland_thread_leases WHERE thread_id = %s", (thread_id,)
                    )
                ).fetchone()
                who = f"{row[0]}, since {_clock(row[1])}" if row else "another process"
                raise ThreadBusy(
                    f"thread {thread_id} is being advanced by {who}: wait for it to finish "
                    f"(`jobland status {thread_id}`), then try again"
                )
            token = await _fetch(
                conn,
                "WITH lease AS (INSERT INTO jobland_thread_leases (thread_id, token, holder) VALUES (%s, 1, %s) "
                "ON CONFLICT (thread_id) DO UPDATE SET token = jobland_thread_leases.token + 1, "
                "holder = excluded.holder, since = now() RETURNING thread_id, token, holder) "
                "INSERT INTO jobland_thread_lease_log (thread_id, token, holder) SELECT * FROM lease RETURNING token",
                (thread_id, holder_name()),
            )
            try:
                yield token
            finally:
                with contextlib.suppress(psycopg.Error):  # a lost connection released the lock all the same
                    await conn.execute(
                        "UPDATE jobland_thread_lease_log SET released_at = clock_timestamp() "
                        "WHERE thread_id = %s AND token = %s",
                        (thread_id, token),
                    )

    async def held_by(self, thread_id: str) -> str | None:
        """Who advances the thread right now, or None: asked of pg_locks, so a holder that died never counts."""
        async with self._connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT holder FROM jobland_thread_leases WHERE thread_id = %s AND EXISTS ("
                    " SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2"
                    " AND classid = %s::oid AND objid = (hashtext(%s)::bigint & 4294967295)::oid)",
                    (thread_id, THREAD_LOCKS, thread_id),
                )
            ).fetchone()
        return row[0] if row else None

    @contextlib.asynccontextmanager
    async def package_lock(self, package_id: str, wait_s: float) -> AsyncIterator[bool]:
        """Hold the package's send lock (waiting up to wait_s for another sender); yields False if it never came."""
        async with self._connection() as conn:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait_s
            while not (
                got := await _fetch(conn, "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (_SEND_LOCKS, package_id))
            ):
                if loop.time() >= deadline:
                    break
                await asyncio.sleep(0.2)
            yield bool(got)

    async def claim_send(self, package_id: str, thread_id: str, *, retry: bool) -> ClaimOutcome:
        """Insert the package's send record, or take it over for a retry the person asked for."""
        async with self._connection() as conn:
            inserted = await (
                await conn.execute(
                    "INSERT INTO jobland_send_claims (package_id, thread_id, attempt, state, holder) "
                    "VALUES (%s, %s, 1, 'sending', %s) ON CONFLICT (package_id) DO NOTHING RETURNING attempt",
                    (package_id, thread_id, holder_name()),
                )
            ).fetchone()
            if inserted:
                return ClaimOutcome(True, SendClaim(package_id, inserted[0], "sending"))
            if retry:
                taken = await (
                    await conn.execute(
                        "UPDATE jobland_send_claims SET attempt = attempt + 1, state = 'sending', holder = %s, "
                        "claimed_at = now() WHERE package_id = %s AND state = 'failed' RETURNING attempt",
                        (holder_name(), package_id),
                    )
                ).fetchone()
                if taken:
                    return ClaimOutcome(True, SendClaim(package_id, taken[0], "sending"))
            row = await (
                await conn.execute(
                    "SELECT attempt, state, location FROM jobland_send_claims WHERE package_id = %s", (package_id,)
                )
            ).fetchone()
            return ClaimOutcome(False, SendClaim(package_id, row[0], row[1], row[2]))

    async def finish_send(self, package_id: str, state: SendState, location: str | None = None) -> None:
        async with self._connection() as conn:
            await conn.execute(
                "UPDATE jobland_send_claims SET state = %s, location = coalesce(%s, location) WHERE package_id = %s",
                (state, location, package_id),
            )


@contextlib.asynccontextmanager
async def keyed_lock(locks: dict[str, asyncio.Lock], key: str, wait_s: float) -> AsyncIterator[bool]:
    """The in-process twin of a keyed advisory lock: yields whether it was taken within wait_s."""
    lock = locks.setdefault(key, asyncio.Lock())
    try:
        await asyncio.wait_for(lock.acquire(), wait_s)
    except TimeoutError:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


class InProcessGuards:
    """The twin for an in-memory Store: the same answers, for one process."""

    def __init__(self) -> None:
        self._threads: dict[str, int] = {}
        self._held: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._claims: dict[str, SendClaim] = {}

    @contextlib.asynccontextmanager
    async def thread_lease(self, thread_id: str) -> AsyncIterator[int]:
        if thread_id in self._held:
            raise ThreadBusy(f"thread {thread_id} is being advanced already: wait for it to finish")
        self._held.add(thread_id)
        self._threads[thread_id] = token = self._threads.get(thread_id, 0) + 1
        try:
            yield token
        finally:
            self._held.discard(thread_id)

    async def held_by(self, thread_id: str) -> str | None:
        return holder_name() if thread_id in self._held else None

    def package_lock(self, package_id: str, wait_s: float) -> contextlib.AbstractAsyncContextManager[bool]:
        return keyed_lock(self._locks, package_id, wait_s)

    async def claim_send(self, package_id: str, thread_id: str, *, retry: bool) -> ClaimOutcome:
        found = self._claims.get(package_id)
        if found is None or (retry and found.state == "failed"):
            claim = SendClaim(package_id, (found.attempt if found else 0) + 1, "sending")
            self._claims[package_id] = claim
            return ClaimOutcome(True, claim)
        return ClaimOutcome(False, found)

    async def finish_send(self, package_id: str, state: SendState, location: str | None = None) -> None:
        found = self._claims[package_id]
        self._claims[package_id] = SendClaim(package_id, found.attempt, state, location or found.location)


_twins: weakref.WeakKeyDictionary[Any, InProcessGuards] = weakref.WeakKeyDictionary()


def guards_for(store: Any) -> Guards:
    """The guards that go with a graph's Store: PostgreSQL's when it is one, else a per-Store twin."""
    pool = getattr(store, "conn", None)
    conninfo = getattr(pool, "conninfo", None)
    if conninfo is None and isinstance(pool, psycopg.AsyncConnection):
        conninfo = pool.info.dsn
    if conninfo:
        return PostgresGuards(conninfo)
    return _twins.setdefault(store, InProcessGuards())


async def _fetch(conn: psycopg.AsyncConnection, query: str, params: tuple) -> Any:
    row = await (await conn.execute(query, params)).fetchone()
    return row[0] if row else None


def _clock(at: datetime) -> str:
    return at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
