"""intake: a chat message or a structured request becomes a SearchRequest.

The embedded provider parses the message with rules; a later LLM provider fills the same model.
"""

from __future__ import annotations

import re

from langgraph.runtime import Runtime
from langgraph.types import Overwrite

from domain.models import SearchRequest, ThreadRecord
from domain.repository import Records
from graph.context import Context
from graph.state import JobLandState

_ONSITE_ONLY = re.compile(r"\b(on[- ]?site only|no remote)\b", re.IGNORECASE)
_SALARY = re.compile(r"(?:at least|min(?:imum)?|>=?)\s*[€$£]?\s*(\d{2,3})(?:[.,]?(\d{3})|\s*k)\b", re.IGNORECASE)
# "in Berlin", "in Berlin or Munich", "Berlin or remote": capitalised place names after "in"/"or".
_PLACES = re.compile(r"\b(?:in|or|near|around)\s+((?:[A-Z][\w-]+)(?:\s+[A-Z][\w-]+)?)")
_NOT_PLACES = {"Remote", "Python", "Java", "Go", "Senior", "Junior", "Lead"}


def parse_search_message(message: str) -> SearchRequest:
    """Rule-based reading of "senior Python backend, Berlin or remote, at least 70k"."""
    locations = [p for p in _PLACES.findall(message) if p.split()[0] not in _NOT_PLACES]
    salary = _SALARY.search(message)
    min_salary = None
    if salary:
        min_salary = int(salary.group(1) + salary.group(2)) if salary.group(2) else int(salary.group(1)) * 1000
    return SearchRequest(
        query=message.strip(),
        locations=list(dict.fromkeys(locations)),
        remote_ok=not _ONSITE_ONLY.search(message),
        min_salary=min_salary,
    )


def merge_requests(parsed: SearchRequest, given: SearchRequest | None) -> SearchRequest:
    """Fields given explicitly win over what was read from the message."""
    if given is None:
        return parsed
    explicit = given.model_dump(exclude_unset=True)
    return parsed.model_copy(update=explicit)


async def intake(state: JobLandState, runtime: Runtime[Context]) -> dict:
    given = state.get("request")
    if isinstance(given, dict):
        given = SearchRequest.model_validate(given)
    message = state.get("message") or ""
    request = merge_requests(parse_search_message(message), given) if message else (given or SearchRequest())
    # Without a checkpointer (unit tests) there is no thread; packages still need a namespace.
    thread_id = runtime.execution_info.thread_id or "local"
    records = Records(runtime.store)
    if await records.thread(thread_id) is None:
        await records.put_thread(ThreadRecord(thread_id=thread_id, owner=runtime.context.user_id, request=request))
    # A thread may hold several searches in turn: each starts from empty results, and the message
    # is consumed so that a later input without one does not repeat it.
    fresh = {key: Overwrite([]) for key in ("screenings", "packages", "deliveries")}
    return {
        "request": request,
        "thread_id": thread_id,
        "message": "",
        "posting_ids": [],
        "discarded": [],
        "shortlist": [],
        "decisions": [],
        **fresh,
    }
