"""Which reply changed which application, and who is syncing a sheet: decided in PostgreSQL for every process.

- A **reply change** is claimed by an atomic INSERT ... ON CONFLICT keyed by the reply's Gmail message id,
  before the application is touched: a second `--apply`, a second process or the review page's button
  find the claim and change nothing. A process stopping between the claim and the write loses that one
  change (the reply then shows as applied; `jobland applications set` sets it by hand): at most once.
- A **sheet sync** holds a session-level advisory lock per spreadsheet (released when its connection
  closes, also when the process is killed), so two syncs never both append the same new application.

The embedded twin serves an in-memory Store (unit tests): one process, asyncio locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from typing import Any, Protocol

import psycopg

from jobland.tools.leases import PostgresGuards, guards_for, holder_name, keyed_lock

_SHEET_LOCKS = 0x4A4C03  # the advisory-lock class id (after leases' thread and send locks)

_TABLE = """
CREATE TABLE IF NOT EXISTS jobland_reply_changes (
    gmail_id text PRIMARY KEY,
    package_id text NOT NULL,
    status text NOT NULL,
    holder text NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now()
);
"""


class TrackingLedger(Protocol):
    def sheet_lock(self, spreadsheet_id: str, wait_s: float) -> contextlib.AbstractAsyncContextManager[bool]: ...

    async def claim_reply(self, gmail_id: str, package_id: str, status: str) -> bool:
        """True if this caller may apply the reply's change now; False if someone did (or does) already."""
        ...

    async def applied_replies(self, gmail_ids: list[str]) -> dict[str, str]:
        """Gmail id -> package id of the replies among these whose change was claimed."""
        ...


class PostgresLedger:
    def __init__(self, conninfo: str):
        self.conninfo = conninfo
        self._ready = False

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection]:
        conn = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True, prepare_threshold=None)
        try:
            if not self._ready:
                async with conn.transaction():  # two processes creating the table at once would race on the catalog
                    await conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (_SHEET_LOCKS,))
                    await conn.execute(_TABLE)
                self._ready = True
            yield conn
        finally:
            await conn.close()  # closing the session releases every advisory lock it held

    @contextlib.asynccontextmanager
    async def sheet_lock(self, spreadsheet_id: str, wait_s: float) -> AsyncIterator[bool]:
        async with self._connection() as conn:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait_s
            while True:
                cursor = await conn.execute(
                    "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (_SHEET_LOCKS, spreadsheet_id)
                )
                got = (await cursor.fetchone())[0]
                if got or loop.time() >= deadline:
                    break
                await asyncio.sleep(0.2)
            yield bool(got)

    async def claim_reply(self, gmail_id: str, package_id: str, status: str) -> bool:
        async with self._connection() as conn:
            cursor = await conn.execute(
                "INSERT INTO jobland_reply_changes (gmail_id, package_id, status, holder) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (gmail_id) DO NOTHING RETURNING gmail_id",
                (gmail_id, package_id, status, holder_name()),
            )
            return await cursor.fetchone() is not None

    async def applied_replies(self, gmail_ids: list[str]) -> dict[str, str]:
        if not gmail_ids:
            return {}
        async with self._connection() as conn:
            cursor = await conn.execute(
                "SELECT gmail_id, package_id FROM jobland_reply_changes WHERE gmail_id = ANY(%s)", (gmail_ids,)
            )
            return {row[0]: row[1] for row in await cursor.fetchall()}


class InProcessLedger:
    """The twin for an in-memory Store: the same answers, for one process."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._claims: dict[str, str] = {}

    def sheet_lock(self, spreadsheet_id: str, wait_s: float) -> contextlib.AbstractAsyncContextManager[bool]:
        return keyed_lock(self._locks, spreadsheet_id, wait_s)

    async def claim_reply(self, gmail_id: str, package_id: str, status: str) -> bool:
        if gmail_id in self._claims:
            return False
        self._claims[gmail_id] = package_id
        return True

    async def applied_replies(self, gmail_ids: list[str]) -> dict[str, str]:
        return {g: self._claims[g] for g in gmail_ids if g in self._claims}


_twins: weakref.WeakKeyDictionary[Any, InProcessLedger] = weakref.WeakKeyDictionary()


def ledger_for(store: Any) -> TrackingLedger:
    """The ledger that goes with a graph's Store: in its PostgreSQL when it is one (as the leases are)."""
    guards = guards_for(store)
    if isinstance(guards, PostgresGuards):
        return PostgresLedger(guards.conninfo)
    return _twins.setdefault(store, InProcessLedger())
