"""Retry-After over real HTTP: Exa, SerpAPI and OpenAI twins answering 429, the wait honoured up to a ceiling."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from langchain_core.messages import HumanMessage
from pydantic import BaseModel

from jobland.domain.models import SearchRequest
from jobland.tools.exa import ExaClient
from jobland.tools.llm import llm_limiter, load_chat_model, structured_call
from jobland.tools.ratelimit import RedisLimiterState, ServiceError, ServiceLimiter, redis_client
from jobland.tools.serpapi_jobs import SerpApiJobSource
from tests.local_world.base import Fault, LocalService
from tests.local_world.exa import API_KEY as EXA_KEY
from tests.local_world.openai import API_KEY as OPENAI_KEY
from tests.local_world.openai import FakeOpenAI
from tests.local_world.serpapi import API_KEY as SERPAPI_KEY

Call = Callable[[], Awaitable[object]]
REDIS = "redis://127.0.0.1:6379/0"


def exa_call(world: LocalService, **limits: float) -> Call:
    client = ExaClient(EXA_KEY, base_url=world.url, limiter=ServiceLimiter("exa", **limits))
    return lambda: client.search("Kiezkraft", category="company")


def serpapi_call(world: LocalService, **limits: float) -> Call:
    jobs = SerpApiJobSource(SERPAPI_KEY, base_url=world.url, max_results=5, limiter=ServiceLimiter("serpapi", **limits))
    return lambda: jobs.fetch(SearchRequest(query="python"), now=datetime.now(UTC))


class Verdict(BaseModel):
    score: int


def openai_call(world: FakeOpenAI, **limits: float) -> Call:
    settings = SimpleNamespace(  # the LLM fields tools/llm.py reads
        llm_base_url=world.base_url,
        llm_api_key=OPENAI_KEY,
        llm_model="local-model",
        llm_role_models={},
        service_limits={"openai": limits},
    )
    model = load_chat_model(settings, "screener")
    return lambda: structured_call(model, Verdict, [HumanMessage("Grade this.")], limiter=llm_limiter(settings))


SERVICES = {
    "exa": ("exa_world", exa_call),
    "serpapi": ("serpapi_world", serpapi_call),
    "openai": ("openai_server", openai_call),
}


@pytest.fixture(params=sorted(SERVICES))
def service(request: pytest.FixtureRequest) -> tuple[LocalService, Callable[..., Call]]:
    fixture, make_call = SERVICES[request.param]
    world = request.getfixturevalue(fixture)
    if request.param == "openai":
        world.answer("Verdict", {"score": 7})
    return world, make_call


async def test_the_retry_waits_as_long_as_retry_after_asks(service) -> None:
    world, make_call = service
    world.fail_next(Fault(status=429, headers={"Retry-After": "1"}, body={"error": "slow down"}))
    assert await make_call(world, max_retry_after=5)()
    first, retry = world.requests[:2]
    assert retry.at - first.at >= 1.0


async def test_a_wait_beyond_the_ceiling_gives_up_at_once_naming_the_wait(service) -> None:
    world, make_call = service
    world.fail_next(Fault(status=429, headers={"Retry-After": "120"}, body={"error": "slow down"}))
    with pytest.raises(ServiceError, match=r"asked to wait 120 s .*longer than the 2 s .*max_retry_after") as failure:
        await make_call(world, max_retry_after=2)()
    assert failure.value.status == 429 and len(world.requests) == 1


async def test_a_two_minute_retry_after_is_waited_out_by_every_process_sharing_the_budget(exa_world) -> None:
    """Within the default 10-minute ceiling, a 429's 120 s is honoured, and a second process's limiter on the
    same Redis (its own client) waits for it too. The sleeps are recorded, not slept, to keep this fast."""
    prefix = f"jobland-test-{uuid.uuid4().hex[:10]}:"
    waits: dict[str, list[float]] = {"told": [], "other": []}

    def client(name: str) -> ExaClient:
        async def record(seconds: float) -> None:
            waits[name].append(seconds)

        state = RedisLimiterState(REDIS, prefix, "exa")
        return ExaClient(EXA_KEY, base_url=exa_world.url, limiter=ServiceLimiter("exa", sleep=record, state=state))

    told, other = client("told"), client("other")
    try:
        exa_world.fail_next(Fault(status=429, headers={"Retry-After": "120"}, body={"error": "slow down"}))
        assert await told.search("Kiezkraft", category="company")
        assert waits["told"] == [120.0] and len(exa_world.requests) == 2
        assert await other.search("Kiezkraft", category="company")
        assert len(waits["other"]) == 1 and 110 < waits["other"][0] <= 120
    finally:
        keys = redis_client(REDIS)
        for key in keys.scan_iter(f"{prefix}*"):
            keys.delete(key)
