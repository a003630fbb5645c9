"""intake: a chat message or a structured request becomes a SearchRequest.

The embedded provider parses the message with rules. With an LLM configured, the model reads the
message into SearchFields: the search fields only, so nothing in a message can choose a CV, a
folder or a file path.
"""

from __future__ import annotations

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from langgraph.types import Overwrite
from pydantic import BaseModel, Field

from jobland.domain.models import SearchRequest, ThreadRecord
from jobland.domain.repository import Records
from jobland.domain.search_reader import read_search
from jobland.graph.context import Context
from jobland.graph.state import JobLandState
from jobland.prompts import load_prompt, quoted_data
from jobland.tools.llm import LLMSettings, llm_limiter, load_chat_model, structured_call


def parse_search_message(message: str) -> SearchRequest:
    """Rule-based reading of "senior Python backend, Berlin or remote, at least 70k" (domain.search_reader).

    The roles and the remote region it names stay in the query, which the screener reads on every source.
    """
    intent = read_search(message)
    return SearchRequest(
        query=message.strip(),
        locations=[area.name for area in intent.places],
        remote_ok=intent.remote_ok,
        min_salary=intent.min_salary,
    )


class SearchFields(BaseModel):
    """What the intake model may fill: the search itself, nothing that names a file or a recipient."""

    query: str = Field(description="The kind of role, as the person put it.")
    locations: list[str] = Field(description="Places to work named in the message; not 'remote'.")
    remote_ok: bool = Field(description="False only when the message rules remote work out.")
    min_salary: int | None = Field(description="Yearly minimum as a whole number, or null.")


async def read_search_message(message: str, settings: LLMSettings) -> SearchRequest:
    """The message read by the intake model when one is configured, else by the rules."""
    model = load_chat_model(settings, "intake")
    if model is None:
        return parse_search_message(message)
    messages = [SystemMessage(load_prompt("intake")), HumanMessage(quoted_data("message", message))]
    fields = await structured_call(model, SearchFields, messages, limiter=llm_limiter(settings))
    return SearchRequest(**fields.model_dump())


def merge_requests(parsed: SearchRequest, given: SearchRequest | None) -> SearchRequest:
    """Fields given explicitly win over what was read from the message."""
    if given is None:
        return parsed
    explicit = given.model_dump(exclude_unset=True)
    return parsed.model_copy(update=explicit)


def with_configured_inputs(request: SearchRequest, context: Context) -> SearchRequest:
    """A request naming no CV or postings folder uses the configured ones: Studio may send only a message."""
    updates = {
        "cv_path": request.cv_path or context.default_cv,
        "jobs_dir": request.jobs_dir or context.default_jobs_dir,
    }
    return request.model_copy(update={k: v for k, v in updates.items() if v and v != getattr(request, k)})


async def intake(state: JobLandState, runtime: Runtime[Context]) -> dict:
    given = state.get("request")
    if isinstance(given, dict):
        given = SearchRequest.model_validate(given)
    message = state.get("message") or ""
    # Without a checkpointer (unit tests) there is no thread; packages still need a namespace.
    thread_id = runtime.execution_info.thread_id or "local"
    records = Records(runtime.store)
    if await records.thread(thread_id) is None:
        # Recorded before the model is asked: a failing call leaves a thread to resume, its message as the query.
        first = with_configured_inputs(given or SearchRequest(query=message), runtime.context)
        await records.put_thread(ThreadRecord(thread_id=thread_id, owner=runtime.context.user_id, request=first))
    if message:
        request = merge_requests(await read_search_message(message, runtime.context), given)
    else:
        request = given or SearchRequest()
    request = with_configured_inputs(request, runtime.context)
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
