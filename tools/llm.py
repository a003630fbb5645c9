"""The OpenAI-compatible chat model behind every LLM role, and the one way to call it.

`load_chat_model` builds `ChatOpenAI` for a role (screener, researcher, writer, intake) against any
OpenAI-compatible `base_url` (OpenAI, Ollama, vLLM); None means the embedded engine. The SDK's own
retries are off (max_retries=0): `structured_call` runs every request through the service's
`ServiceLimiter`, whose single budget covers 429 (Retry-After), 5xx, timeouts and malformed answers.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import json
import ssl
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from langchain_core.exceptions import OutputParserException
from langchain_core.messages import BaseMessage
from pydantic import BaseModel, ValidationError

from jobland.tools.ratelimit import (
    RetryableError,
    ServiceError,
    ServiceLimiter,
    configured_limiter,
    request_slot,
    retry_after_seconds,
)

if TYPE_CHECKING:  # the OpenAI client takes a second to import: only runs that use an LLM pay for it
    import httpx
    import openai
    from langchain_openai import ChatOpenAI

Role = Literal["screener", "researcher", "writer", "intake"]
SchemaT = TypeVar("SchemaT", bound=BaseModel)
T = TypeVar("T")

SERVICE = "openai"
DEFAULT_TIMEOUT = 60.0
# The limiter's defaults (its attempt budget is ServiceLimiter's); context.service_limits["openai"]
# overrides any of them (and "timeout").
DEFAULT_LIMITS: dict[str, float] = {"max_concurrency": 8}
_RETRIED_STATUSES = (408, 409)  # the statuses the SDK itself would retry, besides 429 and 5xx


class LLMSettings(Protocol):
    """What the LLM layer reads from the run's settings (graph.context.Context has these)."""

    llm_base_url: str | None
    llm_api_key: str | None
    llm_model: str
    llm_role_models: dict[str, str]
    service_limits: dict[str, dict[str, float]]


def model_name(settings: LLMSettings, role: Role) -> str:
    return settings.llm_role_models.get(role, settings.llm_model)


def _limits(settings: LLMSettings) -> dict[str, float]:
    return {**DEFAULT_LIMITS, **settings.service_limits.get(SERVICE, {})}


# Clients and asyncio primitives belong to the event loop that made them: a server, a worker or a test that
# runs a second asyncio.run would otherwise reuse a client bound to a closed loop ("Event loop is closed").
_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple, object]] = weakref.WeakKeyDictionary()


def _of_this_loop(key: tuple, make: Callable[[], T]) -> T:
    """The object made for key on the running loop (made now if it is the first ask on this loop)."""
    try:
        kept = _per_loop.setdefault(asyncio.get_running_loop(), {})
    except RuntimeError:  # no loop: nothing to share it with
        return make()
    if key not in kept:
        kept[key] = make()
    return kept[key]  # type: ignore[return-value]


@functools.cache
def _tls_context() -> ssl.SSLContext:
    import httpx

    return httpx.create_ssl_context()


def _slotted_transport(tls: ssl.SSLContext) -> httpx.AsyncBaseTransport:
    """HTTP whose every request holds a slot of the service's limiter while the provider has it.

    The slot is taken when the request is ready to go and given back once the whole answer is in: turning
    messages into a request and an answer into a schema (a few ms each, on the loop that 8 answers arriving
    at once share) happen outside the budget, so the next waiting request goes out as soon as one returns.
    A streamed answer is therefore read whole before its first chunk is handed on (structured_call never
    streams; a caller that wants tokens as they come would need the slot given back when the stream closes).
    """
    import httpx

    class SlottedTransport(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            async with request_slot():
                response = await super().handle_async_request(request)
                try:
                    await response.aread()
                except BaseException:
                    await response.aclose()
                    raise
            return response

    return SlottedTransport(verify=tls)


def _chat_model(base_url: str, model: str, api_key: str, timeout: float) -> ChatOpenAI:
    def make() -> ChatOpenAI:
        import httpx
        from langchain_openai import ChatOpenAI

        # HTTP clients of our own (langchain-openai's default ones are cached for the whole process), on the
        # process's one TLS context: each client would otherwise load the CA bundle (~20 ms), on the first
        # screening call's path and again on every worker task's event loop.
        tls = _tls_context()
        return ChatOpenAI(
            model=model,
            base_url=base_url,
            api_key=api_key,
            max_retries=0,
            timeout=timeout,
            temperature=0,
            http_async_client=httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=_slotted_transport(tls)),
            http_client=httpx.Client(base_url=base_url, timeout=timeout, verify=tls),
        )

    return _of_this_loop(("model", base_url, model, api_key, timeout), make)


def load_chat_model(settings: LLMSettings, role: Role) -> ChatOpenAI | None:
    """The chat model for a role, or None when no LLM is configured (the embedded engine runs)."""
    if not settings.llm_base_url:
        return None
    timeout = float(_limits(settings).get("timeout", DEFAULT_TIMEOUT))
    # Local servers (Ollama, vLLM) take any key; the SDK refuses to start without one.
    return _chat_model(settings.llm_base_url, model_name(settings, role), settings.llm_api_key or "none", timeout)


def llm_limiter(settings: LLMSettings) -> ServiceLimiter:
    """The one limiter for this process's calls to settings.llm_base_url (call it from async code)."""
    limits = _limits(settings)
    key = ("limiter", settings.llm_base_url, tuple(sorted(limits.items())))
    return _of_this_loop(key, lambda: configured_limiter(SERVICE, limits))


def _headers(exc: openai.APIStatusError) -> Mapping[str, str]:
    return dict(exc.response.headers) if exc.response is not None else {}


def _as_service_outcome(exc: openai.OpenAIError) -> Exception:
    """RetryableError for what another attempt may fix; ServiceError (with what to do) otherwise."""
    import openai  # loaded already: a model exists

    if isinstance(exc, openai.RateLimitError):
        return RetryableError("rate limited (429)", status=429, retry_after=retry_after_seconds(dict(_headers(exc))))
    if isinstance(exc, openai.InternalServerError):
        return RetryableError(f"server error ({exc.status_code})", status=exc.status_code)
    if isinstance(exc, openai.APITimeoutError):
        return RetryableError("timed out")
    if isinstance(exc, openai.APIConnectionError):
        return RetryableError(f"cannot connect ({exc})")
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code in _RETRIED_STATUSES:
            return RetryableError(f"HTTP {exc.status_code}", status=exc.status_code)
        hint = {
            401: "check JOBLAND_LLM_API_KEY",
            403: "check that the API key may use this model",
            404: "check JOBLAND_LLM_BASE_URL (it should end in /v1) and the model name",
        }.get(exc.status_code, "check the LLM settings and the server's logs")
        return ServiceError(SERVICE, f"HTTP {exc.status_code}: {exc.message}; {hint}", status=exc.status_code)
    return ServiceError(SERVICE, f"{type(exc).__name__}: {exc}")


# with_structured_output turns the schema into JSON Schema each time it is called (a few ms of pydantic per
# call, on the loop every other call waits on): each model's runnable per schema is made once.
_structured_runnables: collections.OrderedDict[tuple, tuple[object, object]] = collections.OrderedDict()
_STRUCTURED_KEPT = 64


def _structured(model: ChatOpenAI, schema: type[BaseModel], method: str) -> Any:
    key = (id(model), schema, method)
    kept = _structured_runnables.get(key)
    if kept is None or kept[0] is not model:  # (an id reused by a model made after the first was dropped)
        kept = (model, model.with_structured_output(schema, method=method, strict=True, include_raw=True))
        _structured_runnables[key] = kept
        while len(_structured_runnables) > _STRUCTURED_KEPT:
            _structured_runnables.popitem(last=False)
    return kept[1]


async def structured_call(
    model: ChatOpenAI,
    schema: type[SchemaT],
    messages: list[BaseMessage],
    *,
    limiter: ServiceLimiter,
    attempts_on_malformed: int = 2,
    method: Literal["json_schema", "function_calling"] = "json_schema",
) -> SchemaT:
    """Ask the model for an answer in `schema`; retried within the limiter's budget.

    A malformed answer (not JSON, not the schema, no tool call) is asked again at most
    `attempts_on_malformed` times, then fails with a ServiceError naming the schema.
    """
    import openai  # loaded already with the model

    runnable = _structured(model, schema, method)
    malformed = 0

    async def attempt() -> SchemaT:
        nonlocal malformed
        try:
            answer = await runnable.ainvoke(messages)
        except openai.OpenAIError as exc:
            raise _as_service_outcome(exc) from exc
        except (ValidationError, OutputParserException, json.JSONDecodeError) as exc:
            answer = {"parsed": None, "parsing_error": exc}
        parsed = answer.get("parsed")
        if isinstance(parsed, schema):
            return parsed
        error = answer.get("parsing_error") or "no structured answer came back"
        malformed += 1
        reason = f"the model's answer did not match {schema.__name__} ({_first_line(error)})"
        if malformed > attempts_on_malformed:
            raise ServiceError(
                SERVICE,
                f"{reason} after {malformed} attempts; try a model that supports structured output "
                f"(JOBLAND_LLM_MODEL or llm_role_models)",
            )
        # Another attempt right away: waiting does not make a model's answer better formed.
        raise RetryableError(reason, retry_after=0.0)

    return await limiter.call(attempt, slot_per_request=True)  # the model's transport takes each slot


def _first_line(error: object) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__
