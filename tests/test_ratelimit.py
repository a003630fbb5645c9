"""ServiceLimiter: Retry-After, backoff, one attempt budget, no blind retry of unknown outcomes."""

from __future__ import annotations

import asyncio
import time

import pytest

from jobland.tools.ratelimit import OutcomeUnknown, RetryableError, ServiceError, ServiceLimiter, retry_after_seconds


def limiter(**kwargs) -> tuple[ServiceLimiter, list[float]]:
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    return ServiceLimiter("svc", sleep=record, **kwargs), waits


async def test_retry_after_is_honoured_then_success() -> None:
    svc, waits = limiter(max_attempts=3)
    answers = iter([RetryableError("429", status=429, retry_after=2.5), "ok"])

    async def call() -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert await svc.call(call) == "ok"
    assert len(waits) == 1 and 2.4 < waits[0] <= 2.5


async def test_retry_after_holds_back_every_caller_of_the_service() -> None:
    svc = ServiceLimiter("svc", max_concurrency=4)
    started: dict[str, float] = {}
    told = False

    async def call(name: str) -> None:
        nonlocal told
        started[name] = time.monotonic()
        if not told:
            told = True
            raise RetryableError("429", status=429, retry_after=0.5)

    first = time.monotonic()
    await svc.call(lambda: call("first"))  # told to wait, waited, succeeded
    await svc.call(lambda: call("second"))
    assert started["first"] - first >= 0.5 and started["second"] >= started["first"]

    svc, waits = limiter()
    svc._not_before = time.monotonic() + 60  # a pause another caller was told about
    await svc.call(lambda: asyncio.sleep(0))
    assert len(waits) == 1 and waits[0] > 59


async def test_retry_after_beyond_the_ceiling_gives_up_naming_the_wait() -> None:
    svc, waits = limiter(max_retry_after=60)

    async def call() -> None:
        raise RetryableError("HTTP 429", status=429, retry_after=120)

    with pytest.raises(ServiceError, match=r"asked to wait 120 s .*longer than the 60 s") as info:
        await svc.call(call)
    assert waits == [] and info.value.attempts == 1


async def test_backoff_grows_and_the_budget_is_bounded() -> None:
    svc, waits = limiter(max_attempts=4, base_delay=1.0)
    calls = 0

    async def always_500() -> None:
        nonlocal calls
        calls += 1
        raise RetryableError("HTTP 500", status=500)

    with pytest.raises(ServiceError, match="gave up after 4 attempt") as info:
        await svc.call(always_500)
    assert calls == 4 and info.value.status == 500
    assert len(waits) == 3 and waits[0] < waits[1] < waits[2] and waits[0] >= 1.0


async def test_non_idempotent_and_unknown_outcomes_are_never_retried() -> None:
    svc, waits = limiter(max_attempts=5)
    calls = 0

    async def send() -> None:
        nonlocal calls
        calls += 1
        raise RetryableError("HTTP 503", status=503)

    with pytest.raises(ServiceError):
        await svc.call(send, idempotent=False)
    assert calls == 1 and waits == []

    async def lost() -> None:
        raise OutcomeUnknown("connection dropped after the data was sent")

    with pytest.raises(ServiceError, match="outcome is unknown"):
        await svc.call(lost)


async def test_concurrency_cap() -> None:
    svc = ServiceLimiter("svc", max_concurrency=2)
    running = peak = 0

    async def work() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    await asyncio.gather(*(svc.call(work) for _ in range(8)))
    assert peak == 2


def test_retry_after_headers() -> None:
    assert retry_after_seconds({"Retry-After": "3"}) == 3.0
    assert retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_seconds({}) is None
