"""The thread list that `jobland threads` shows, read without the graph stack (see tools/thread_index.py)."""

from __future__ import annotations

import psycopg
from pydantic import ValidationError

from jobland.settings import Settings
from jobland.tools.embedded_postgres import DatabaseError, resolve_database_url
from jobland.tools.thread_index import ListedThread, thread_list


class ThreadListError(RuntimeError):
    """The list could not be read; the message says what to do."""


def list_threads(owner: str | None = None) -> list[ListedThread]:
    """The newest threads of this configuration's database (an owner's, or everyone's)."""
    try:
        settings = Settings()
        return thread_list(resolve_database_url(settings.database_url, settings.home), owner)
    except ValidationError as exc:
        raise ThreadListError("; ".join(e["msg"] for e in exc.errors())) from exc
    except (DatabaseError, psycopg.OperationalError) as exc:
        raise ThreadListError(f"{exc}; check DATABASE_URL, or unset it to use the embedded database") from exc
