"""Shared by the test modules: graph runs."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from jobland.domain.models import SearchRequest
from jobland.graph.context import Context
from tests.conftest import EXAMPLE_CV


def context_for(home: Path) -> Context:
    return Context(user_email="alex.morgan@example.com", user_name="Alex Morgan", home=str(home), render_pdf=True)


async def run_to_review(graph, home: Path, jobs: Path, thread_id: str) -> dict:
    config = {"configurable": {"thread_id": thread_id}}
    request = SearchRequest(cv_path=str(EXAMPLE_CV), jobs_dir=str(jobs), max_packages=4)
    await graph.ainvoke({"request": request}, config, context=context_for(home), durability="sync")
    return config


def outbox_messages(home: Path) -> list[email.message.EmailMessage]:
    folder = home / "outbox"
    files = sorted(folder.glob("*.eml")) if folder.exists() else []
    return [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]
