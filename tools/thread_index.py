"""The thread list read straight from PostgreSQL, without the graph stack (`jobland threads` starts in well under 1 s).

Thread records are rows of the LangGraph Store's table (namespace "threads"). Whether a process advances a
thread right now is asked of PostgreSQL itself: the thread's lease is an advisory lock (tools/leases.py), so
pg_locks shows it while its holder lives. A thread nobody holds is in the stage its last holder left it in.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from jobland.tools.leases import THREAD_LOCKS

RUNNING = "running"
# A record no JobLand process has let go of yet (started by Studio, or before stages were noted).
UNKNOWN = "unknown"

_QUERY = """
SELECT s.value,
       EXISTS (
           SELECT 1 FROM pg_locks l
           WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
             AND l.classid = %(locks)s::oid AND l.objid = (hashtext(s.key)::bigint & 4294967295)::oid
       ) AS held
FROM store s
WHERE s.prefix = 'threads' AND (%(owner)s::text IS NULL OR s.value ->> 'owner' = %(owner)s)
ORDER BY s.value ->> 'created_at' DESC
LIMIT %(limit)s
"""


@dataclass(frozen=True)
class ListedThread:
    """What the list shows of a thread record (read as JSON: the list needs no model classes)."""

    thread_id: str
    created_at: str
    stage: str
    jobs: str | None


def thread_list(database_url: str, owner: str | None = None, limit: int = 100) -> list[ListedThread]:
    """The newest threads, an owner's or everyone's; the stage is "running" while a process holds the thread."""
    try:
        with psycopg.connect(database_url, connect_timeout=10) as conn:
            rows = conn.execute(_QUERY, {"locks": THREAD_LOCKS, "owner": owner, "limit": limit}).fetchall()
    except psycopg.errors.UndefinedTable:  # a database no thread was ever started in
        return []
    return [
        ListedThread(
            thread_id=value["thread_id"],
            created_at=value["created_at"],
            stage=RUNNING if held else value.get("stage") or UNKNOWN,
            jobs=(value.get("request") or {}).get("jobs_dir"),
        )
        for value, held in rows
    ]
