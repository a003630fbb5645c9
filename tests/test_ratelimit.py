"""ServiceLimiter: Retry-After, backoff, one attempt budget, no blind retry of unknown outcomes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from email.message import EmailMessage

import pytest

from jobland.graph.context import Context
from jobland.tools.mailers import make_mailer
from jobland.tools.ratelimit import (
    OutcomeUnknown,
    RedisLimiterState,
    RetryableError,
    ServiceError,
    ServiceLimiter,
    configured_limiter,
    redis_client,
    retry_after_seconds,
)
from tests.local_world.smtp import LocalSmtp
from tests.support.api import smtp_env
from tests.support.smtp_gauge import slow_and_gauged

REDIS = "redis://127.0.0.1:6379/0"


def limiter(**kwargs) -> tuple[ServiceLimiter, list[float]]:
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    return ServiceLimiter("svc", sleep=record, **kwargs), waits


def answering(*answers: str | Exception) -> Callable[[], Awaitable[str]]:
    """A call that gives these answers in turn, raising the exceptions among them."""
    script = iter(answers)

    async def call() -> str:
        answer = next(script)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return call


async def test_retry_after_is_honoured_then_success() -> None:
    svc, waits = limiter(max_attempts=3)
    call = answering(RetryableError("429", status=429, retry_after=2.5), "ok")

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
    await svc.state.hold_off(60)  # a pause another caller was told about
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


def test_the_default_ceiling_on_retry_after_is_ten_minutes() -> None:
    assert ServiceLimiter("svc").max_retry_after == 600
    assert configured_limiter("svc-ceiling", {}).max_retry_after == 600
    assert configured_limiter("svc-ceiling", {}, {"max_retry_after": 5}).max_retry_after == 5


async def test_a_retry_after_of_two_minutes_is_waited_out_within_the_default_ceiling() -> None:
    svc, waits = limiter(max_attempts=2)
    call = answering(RetryableError("429", status=429, retry_after=120), "ok")

    assert await svc.call(call) == "ok"
    assert waits == [120] and 119 < await svc.state.paused_for() <= 120  # every other caller waits too


def test_one_limiter_per_service_and_settings_in_a_process() -> None:
    first = configured_limiter("svc-shared", {"max_concurrency": 2})
    assert configured_limiter("svc-shared", {"max_concurrency": 2}) is first
    other = configured_limiter("svc-shared", {"max_concurrency": 2}, {"max_attempts": 3})
    assert other is not first and other.state is first.state  # one budget for the service, whatever the settings


def test_one_process_budget_across_threads_and_event_loops() -> None:
    """Mailers run each call on an event loop of their own in a worker thread: the cap holds across them."""
    svc = ServiceLimiter("svc", max_concurrency=2)
    running = peak = 0
    lock = threading.Lock()

    async def work() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        await asyncio.sleep(0.02)
        with lock:
            running -= 1

    threads = [threading.Thread(target=lambda: asyncio.run(svc.call(work))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 2


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    prefix = f"jobland-test-{uuid.uuid4().hex[:10]}:"
    yield prefix
    client = redis_client(REDIS)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


async def test_the_redis_budget_is_one_for_every_process(redis_prefix: str) -> None:
    """Two limiters on one Redis (as two processes would hold): their calls share the cap and the pause."""
    one, two = (
        ServiceLimiter("svc", max_concurrency=2, state=RedisLimiterState(REDIS, redis_prefix, "svc")) for _ in "ab"
    )
    running = peak = 0

    async def work() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.05)
        running -= 1

    await asyncio.gather(*(svc.call(work) for svc in (one, two) for _ in range(4)))
    assert peak == 2
    await one.state.hold_off(120)
    assert 119 < await two.state.paused_for() <= 120


HOLD_A_SLOT = """
import asyncio, sys
from jobland.tools.ratelimit import RedisLimiterState

async def main():
    async with RedisLimiterState(sys.argv[1], sys.argv[2], "svc", ttl=0.6).slot(1):
        print("held", flush=True)
        await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_a_killed_holders_redis_slot_frees_itself(redis_prefix: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_A_SLOT, REDIS, redis_prefix], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    state = RedisLimiterState(REDIS, redis_prefix, "svc", ttl=0.6)
    with pytest.raises(TimeoutError):  # renewed while its holder lives
        await asyncio.wait_for(state.slot(1).__aenter__(), 1.0)
    holder.kill()
    holder.wait()
    killed = time.monotonic()
    async with state.slot(1):
        assert time.monotonic() - killed < 1.0


async def test_mailers_made_per_package_share_the_process_smtp_budget(smtp_server: LocalSmtp) -> None:
    """The issue's measure: deliver makes a mailer per package; five sends at once still meet smtp's cap of 2."""
    gauge = slow_and_gauged(smtp_server, seconds=0.3)
    env = smtp_env(smtp_server)
    context = Context(
        mailer="smtp",
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_username=env["JOBLAND_SMTP_USERNAME"],
        smtp_password=env["JOBLAND_SMTP_PASSWORD"],
        smtp_ca_file=env["JOBLAND_SMTP_CA_FILE"],
        service_limits={"smtp": {"max_attempts": 2, "base_delay": 0.05}},
    )

    def send(n: int) -> str:
        message = EmailMessage()
        message["From"] = message["To"] = "alex@example.com"
        message["Message-ID"], message["X-JobLand-Package"] = f"<pkg-{n}@jobland.local>", f"pkg-{n}"
        message.set_content("a package")
        return make_mailer(context).send(message, key=f"pkg-{n}")  # a mailer of its own, as each package makes

    await asyncio.gather(*(asyncio.to_thread(send, n) for n in range(5)))
    assert len(smtp_server.handler.deliveries) == 5 and gauge.peak == 2
