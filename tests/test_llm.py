"""tools/llm.py over real HTTP against the local OpenAI-compatible server (tests/local_world/openai.py)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, NotRequired

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.graph import START, StateGraph
from pydantic import BaseModel
from typing_extensions import TypedDict

from jobland.tools.llm import _structured, llm_limiter, load_chat_model, structured_call
from jobland.tools.ratelimit import ServiceError
from tests.local_world.base import Fault
from tests.local_world.openai import API_KEY, FakeOpenAI


class Verdict(BaseModel):
    score: int
    label: str
    tags: list[str]


@dataclass
class Settings:
    """Any object with the LLM fields will do (tools/ never imports graph/)."""

    llm_base_url: str | None = None
    llm_api_key: str | None = API_KEY
    llm_model: str = "local-model"
    llm_role_models: dict[str, str] = field(default_factory=dict)
    service_limits: dict[str, dict[str, float]] = field(default_factory=dict)


def settings_for(server: FakeOpenAI, **limits: float) -> Settings:
    return Settings(llm_base_url=server.base_url, service_limits={"openai": {"max_attempts": 4, **limits}})


MESSAGES = [SystemMessage("You grade things."), HumanMessage("Grade this.")]
GOOD = {"score": 7, "label": "fine", "tags": ["a"]}


async def test_no_base_url_means_the_embedded_engine_and_models_are_per_role_and_cached() -> None:
    assert load_chat_model(Settings(), "screener") is None
    settings = Settings(llm_base_url="http://127.0.0.1:9/v1", llm_role_models={"writer": "big-model"})
    writer, screener = load_chat_model(settings, "writer"), load_chat_model(settings, "screener")
    assert writer is not None and writer.model_name == "big-model" and writer.max_retries == 0
    assert screener is not None and screener.model_name == "local-model" and screener.temperature == 0
    assert load_chat_model(settings, "intake") is screener, "one model per name and event loop"


class Asked(TypedDict):
    question: str
    answer: NotRequired[dict]


def test_two_event_loops_in_one_process_each_get_their_own_clients(openai_server: FakeOpenAI) -> None:
    """A server, a worker or a test that runs asyncio.run twice: no client of the first loop is reused."""
    settings = settings_for(openai_server)

    async def ask(state: Asked) -> dict:
        model = load_chat_model(settings, "screener")
        verdict = await structured_call(
            model, Verdict, [HumanMessage(state["question"])], limiter=llm_limiter(settings)
        )
        return {"answer": {"verdict": verdict.model_dump(), "model": id(model)}}

    builder = StateGraph(Asked)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    graph = builder.compile()
    openai_server.answer("Verdict", GOOD, GOOD)
    first = asyncio.run(graph.ainvoke({"question": "first"}))["answer"]
    second = asyncio.run(graph.ainvoke({"question": "second"}))["answer"]  # failed with "Event loop is closed"
    assert first["verdict"] == second["verdict"] == GOOD
    assert len(openai_server.chat_requests()) == 2


class Other(BaseModel):
    note: str


def test_each_model_and_schema_is_made_into_a_runnable_once_and_every_loop_s_clients_share_one_tls_context(
    openai_server: FakeOpenAI,
) -> None:
    """Per call, with_structured_output rebuilt the schema's JSON and each loop's clients loaded the CA bundle:
    both on the path of every first call. The requests still carry the strict schema each time."""
    settings = settings_for(openai_server)

    async def models_and_runnables() -> tuple:
        model = load_chat_model(settings, "screener")
        openai_server.answer("Verdict", GOOD, GOOD)
        openai_server.answer("Other", {"note": "n"})
        for schema in (Verdict, Verdict, Other):
            await structured_call(model, schema, MESSAGES, limiter=llm_limiter(settings))
        runnables = (_structured(model, Verdict, "json_schema"), _structured(model, Other, "json_schema"))
        return model, runnables

    first, (verdict, other) = asyncio.run(models_and_runnables())
    second, (verdict_again, _) = asyncio.run(models_and_runnables())
    assert verdict is _structured(first, Verdict, "json_schema") and verdict is not other
    assert second is not first and verdict_again is not verdict, "a second loop's model has its own runnable"
    contexts = {
        id(client._transport._pool._ssl_context)
        for model in (first, second)
        for client in (model.http_async_client, model.http_client)
    }
    assert len(contexts) == 1
    formats = [r.body["response_format"]["json_schema"] for r in openai_server.chat_requests()]
    assert [f["name"] for f in formats] == ["Verdict", "Verdict", "Other"] * 2
    assert all(f["strict"] is True for f in formats) and formats[0] == formats[1] == formats[3]


async def test_json_schema_round_trip_into_a_pydantic_model(openai_server: FakeOpenAI) -> None:
    settings = settings_for(openai_server)
    openai_server.answer("Verdict", GOOD)
    model = load_chat_model(settings, "screener")
    result = await structured_call(model, Verdict, MESSAGES, limiter=llm_limiter(settings))
    assert result == Verdict(**GOOD)
    (request,) = openai_server.chat_requests()
    response_format = request.body["response_format"]
    assert response_format["type"] == "json_schema" and response_format["json_schema"]["strict"] is True
    assert response_format["json_schema"]["schema"]["additionalProperties"] is False
    assert request.body["model"] == "local-model" and request.body["temperature"] == 0
    assert openai_server.requests[0].headers["authorization"] == f"Bearer {API_KEY}"


async def test_tool_call_mode_is_parsed(openai_server: FakeOpenAI) -> None:
    settings = settings_for(openai_server)
    openai_server.answer("Verdict", {"score": 3, "label": "tool", "tags": []})
    model = load_chat_model(settings, "screener")
    result = await structured_call(model, Verdict, MESSAGES, limiter=llm_limiter(settings), method="function_calling")
    assert result == Verdict(score=3, label="tool", tags=[])
    (request,) = openai_server.chat_requests()
    assert request.body["tool_choice"] == {"type": "function", "function": {"name": "Verdict"}}
    assert "response_format" not in request.body


async def test_streaming_with_usage_and_cached_prefix(openai_server: FakeOpenAI) -> None:
    settings = settings_for(openai_server)
    streaming = load_chat_model(settings, "writer").bind(stream_options={"include_usage": True})

    async def streamed() -> list:  # through the limiter, as every request to the model goes
        return await llm_limiter(settings).call(lambda: _chunks(streaming), slot_per_request=True)

    first = await streamed()
    assert len(first) > 3  # the answer came as server-sent chunks, parsed piece by piece
    message = first[0]
    for chunk in first[1:]:
        message += chunk
    assert message.content == "Hello from the local model."
    assert message.usage_metadata["input_tokens"] > 0 and message.usage_metadata["output_tokens"] > 0
    assert openai_server.chat_requests()[0].body["stream"] is True
    # The same system message again: the provider reports it as cached prompt tokens.
    second = await streamed()
    usage = [c.usage_metadata for c in second if c.usage_metadata]
    assert usage and usage[-1]["input_token_details"]["cache_read"] > 0


async def _chunks(streaming: Any) -> list:
    return [chunk async for chunk in streaming.astream(MESSAGES)]


async def test_a_request_made_outside_the_limiter_is_refused_and_one_slot_lets_one_request_at_a_time_through(
    openai_server: FakeOpenAI,
) -> None:
    settings = settings_for(openai_server)
    model = load_chat_model(settings, "screener")
    with pytest.raises(RuntimeError, match="outside ServiceLimiter.call"):
        await model.ainvoke(MESSAGES)
    assert openai_server.chat_requests() == [], "nothing reached the provider"
    # One slot, two calls at once: the second request goes out only after the first answer is in, and
    # the fake never sees two at a time.
    single = settings_for(openai_server, max_concurrency=1)
    openai_server.latency = 0.3
    openai_server.answer("Verdict", GOOD, GOOD)
    limiter = llm_limiter(single)
    results = await asyncio.gather(
        *(structured_call(load_chat_model(single, "screener"), Verdict, MESSAGES, limiter=limiter) for _ in range(2))
    )
    assert results == [Verdict(**GOOD)] * 2
    assert openai_server.peak_in_flight == 1


async def test_429_waits_for_retry_after_and_the_sdk_does_not_retry_on_its_own(openai_server: FakeOpenAI) -> None:
    settings = settings_for(openai_server)
    openai_server.fail_next(Fault(status=429, headers={"retry-after": "1"}, body={"error": {"message": "slow down"}}))
    stamps: list[float] = []
    openai_server.responders["Verdict"] = lambda request: stamps.append(time.monotonic()) or GOOD
    started = time.monotonic()
    result = await structured_call(
        load_chat_model(settings, "screener"), Verdict, MESSAGES, limiter=llm_limiter(settings)
    )
    assert result == Verdict(**GOOD)
    assert len(openai_server.requests) == 2  # one 429, one answer: no hidden retry anywhere
    assert stamps[0] - started >= 1.0


async def test_retry_after_ms_is_honoured(openai_server: FakeOpenAI) -> None:
    settings = settings_for(openai_server)
    openai_server.fail_next(Fault(status=429, headers={"retry-after-ms": "300"}))
    openai_server.answer("Verdict", GOOD)
    started = time.monotonic()
    await structured_call(load_chat_model(settings, "screener"), Verdict, MESSAGES, limiter=llm_limiter(settings))
    assert time.monotonic() - started >= 0.3 and len(openai_server.requests) == 2


async def test_500s_exhaust_the_budget_with_exactly_max_attempts_requests(openai_server: FakeOpenAI) -> None:
    settings = settings_for(openai_server, max_attempts=3)
    openai_server.fail_next(*[Fault(status=500, body={"error": {"message": "boom"}})] * 5)
    limiter = llm_limiter(settings)
    limiter.base_delay = 0.05
    with pytest.raises(ServiceError, match=r"openai: gave up after 3 attempt\(s\): server error \(500\)") as failure:
        await structured_call(load_chat_model(settings, "screener"), Verdict, MESSAGES, limiter=limiter)
    assert failure.value.attempts == 3
    assert len(openai_server.requests) == 3


async def test_a_stall_past_the_timeout_is_retried(openai_server: FakeOpenAI) -> None:
    settings = settings_for(openai_server, timeout=0.5)
    openai_server.fail_next(Fault(stall=2.0))
    openai_server.answer("Verdict", GOOD)
    limiter = llm_limiter(settings)
    limiter.base_delay = 0.05
    started = time.monotonic()
    result = await structured_call(load_chat_model(settings, "screener"), Verdict, MESSAGES, limiter=limiter)
    assert result == Verdict(**GOOD)
    assert len(openai_server.requests) == 2
    assert time.monotonic() - started < 1.5  # gave up on the stall at the timeout, not after it


async def test_malformed_answers_are_asked_again_then_fail_clearly(openai_server: FakeOpenAI) -> None:
    settings = settings_for(openai_server, max_attempts=6)
    limiter = llm_limiter(settings)
    model = load_chat_model(settings, "screener")
    openai_server.answer("Verdict", "Sure! Here is the verdict: 7", GOOD)
    assert await structured_call(model, Verdict, MESSAGES, limiter=limiter) == Verdict(**GOOD)
    assert len(openai_server.requests) == 2

    openai_server.answer("Verdict", "not json", '```json\n{"score": 7}\n```', '{"score": "high"}', GOOD)
    with pytest.raises(ServiceError, match="the model's answer did not match Verdict .* after 3 attempts"):
        await structured_call(model, Verdict, MESSAGES, limiter=limiter, attempts_on_malformed=2)
    assert len(openai_server.requests) == 5  # 1 + 2 retries, then no more


async def test_a_wrong_key_fails_at_once_and_says_what_to_check(openai_server: FakeOpenAI) -> None:
    settings = settings_for(openai_server)
    settings.llm_api_key = "sk-wrong"
    with pytest.raises(ServiceError, match="HTTP 401.*check JOBLAND_LLM_API_KEY"):
        await structured_call(load_chat_model(settings, "screener"), Verdict, MESSAGES, limiter=llm_limiter(settings))
    assert len(openai_server.requests) == 1
