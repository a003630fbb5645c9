"""Per-service limits and retries, shared by every client of an outside service.

One `ServiceLimiter` per service and process (`configured_limiter` keeps them) caps concurrent calls and
the request rate, and retries with one bounded budget of attempts: Retry-After on 429 (up to
`max_retry_after`, 10 minutes by default; a service asking for longer is given up on with the wait it
asked for), exponential backoff on 5xx and timeouts. A Retry-After holds back every call to the service,
not only the one that was told, so concurrent callers do not hammer a service that asked for a pause.
Client libraries' own retries must be turned off (max_retries=0) so the budget is the only one. A call
that may have been accepted (e.g. an email send whose answer was lost) is never retried: callers mark
such operations `idempotent=False`.

Where the limits are counted is the limiter's `state`: in this process (`LocalLimiterState`, shared by
every thread and event loop of it, since mailers run their calls on loops of their own), or in Redis
(`RedisLimiterState`) when a broker is configured, so that every worker and server spends one budget.
A Redis slot expires unless its holder renews it, so a killed process frees its slots within seconds.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import random
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    import redis

T = TypeVar("T")
logger = logging.getLogger(__name__)


class ServiceError(RuntimeError):
    """A call to an outside service failed for good; the message says why and what to do."""

    def __init__(
        self,
        service: str,
        message: str,
        *,
        status: int | None = None,
        attempts: int = 0,
        outcome_unknown: bool = False,
    ):
        super().__init__(f"{service}: {message}")
        self.service = service
        self.status = status
        self.attempts = attempts
        self.outcome_unknown = outcome_unknown  # the request may have been carried out: never retry by itself


class RetryableError(Exception):
    """Raised by a call to ask for another attempt (429, 5xx, timeout, malformed answer)."""

    def __init__(self, reason: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class OutcomeUnknown(Exception):
    """The request may have reached the service (connection lost after sending): never retried."""


def retry_after_seconds(headers: dict[str, str] | None) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lowered:
        try:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


class LimiterState(Protocol):
    """Where a service's budget is counted: its held slots, the next request's earliest start, its pause."""

    def slot(self, limit: int) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold one of `limit` concurrency slots (waiting for one) for the duration of the block."""
        ...

    async def reserve_start(self, spacing: float) -> float:
        """Book the next request start at least `spacing` s after the last; seconds to wait for it."""
        ...

    async def hold_off(self, seconds: float) -> None:
        """Hold every caller back for `seconds` (a Retry-After); a longer pause already asked for stays."""
        ...

    async def paused_for(self) -> float:
        """Seconds left of the pause a Retry-After asked for (0 when none)."""
        ...


class LocalLimiterState:
    """The budget of one process, shared by every thread and event loop in it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held = 0
        self._waiters: collections.deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = collections.deque()
        self._next_start = 0.0
        self._not_before = 0.0

    @contextlib.asynccontextmanager
    async def slot(self, limit: int) -> AsyncIterator[None]:
        await self._acquire(limit)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, limit: int) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._held < limit and not self._waiters:
                self._held += 1
                return
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append((loop, waiter))
        try:
            await waiter
        except asyncio.CancelledError:
            with self._lock:
                try:
                    self._waiters.remove((loop, waiter))
                    handed = False
                except ValueError:  # a release handed this waiter the slot already
                    handed = True
            if handed and waiter.done() and not waiter.cancelled():
                self._release()  # (a cancelled one is released by _hand_over, which finds it done)
            raise

    def _release(self) -> None:
        with self._lock:
            while self._waiters:  # the slot passes straight to the first waiter, on its own loop
                loop, waiter = self._waiters.popleft()
                try:
                    loop.call_soon_threadsafe(self._hand_over, waiter)
                    return
                except RuntimeError:  # its loop is closed: nobody waits there any more
                    continue
            self._held -= 1

    def _hand_over(self, waiter: asyncio.Future[None]) -> None:
        if waiter.done():  # cancelled meanwhile: pass the slot on
            self._release()
        else:
            waiter.set_result(None)

    async def reserve_start(self, spacing: float) -> float:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start)
            self._next_start = start + spacing
            return start - now

    async def hold_off(self, seconds: float) -> None:
        with self._lock:
            self._not_before = max(self._not_before, time.monotonic() + seconds)

    async def paused_for(self) -> float:
        return max(0.0, self._not_before - time.monotonic())


# Each script reads Redis's clock (TIME), so every process on every machine counts on one clock.
_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) + tonumber(t[2]) / 1e6 "
_ACQUIRE = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) * 1000) + 1000)
  return 1
end
return 0
"""
)
_RENEW = (
    _NOW
    + """
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[1]) * 1000) + 1000)
return 1
"""
)
_RESERVE = (
    _NOW
    + """
local start = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local spacing = tonumber(ARGV[1])
redis.call('SET', KEYS[1], tostring(start + spacing), 'PX', math.ceil((start - now + spacing) * 1000) + 1000)
return tostring(start - now)
"""
)
_HOLD_OFF = (
    _NOW
    + """
local seconds = tonumber(ARGV[1])
if now + seconds > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], tostring(now + seconds), 'PX', math.ceil(seconds * 1000) + 1000)
end
return 1
"""
)
_PAUSED_FOR = _NOW + "return tostring(math.max(0, tonumber(redis.call('GET', KEYS[1]) or '0') - now))"

_redis_clients: dict[str, redis.Redis] = {}
_redis_lock = threading.Lock()


def redis_client(url: str) -> redis.Redis:
    """This process's client for url (thread-safe: its connection pool hands each thread a connection)."""
    with _redis_lock:
        if url not in _redis_clients:
            try:
                import redis  # only when a broker is configured
            except ImportError as exc:
                raise RuntimeError(
                    "JOBLAND_BROKER_URL is set, but the Redis client is not installed: pip install 'jobland[workers]'"
                ) from exc

            _redis_clients[url] = redis.Redis.from_url(url, socket_timeout=10, health_check_interval=30)
        return _redis_clients[url]


class RedisLimiterState:
    """The budget of every process on one Redis: slots are expiring members of a sorted set.

    A holder renews its slot every `ttl / 3` s while its call runs; a process killed mid-call stops
    renewing and its slot is free `ttl` s later. Waiting for a slot polls every `poll_s`.
    """

    def __init__(self, url: str, key_prefix: str, service: str, *, ttl: float = 15.0, poll_s: float = 0.05):
        self.url, self.ttl, self.poll_s = url, ttl, poll_s
        self.keys = {part: f"{key_prefix}limits:{service}:{part}" for part in ("slots", "next", "pause")}

    async def _run(self, script: str, key: str, *args: object) -> object:
        client = redis_client(self.url)
        return await asyncio.to_thread(client.eval, script, 1, self.keys[key], *args)

    @contextlib.asynccontextmanager
    async def slot(self, limit: int) -> AsyncIterator[None]:
        token = uuid.uuid4().hex
        while not await self._run(_ACQUIRE, "slots", limit, self.ttl, token):
            await asyncio.sleep(self.poll_s * (1 + random.random()))
        renewing = asyncio.create_task(self._renew(token))
        try:
            yield
        finally:
            renewing.cancel()
            try:
                await asyncio.shield(asyncio.to_thread(redis_client(self.url).zrem, self.keys["slots"], token))
            except Exception:  # the call's outcome stands; the slot expires by itself within ttl
                logger.warning("could not give back a %s slot in Redis", self.keys["slots"], exc_info=True)

    async def _renew(self, token: str) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                await self._run(_RENEW, "slots", self.ttl, token)
            except Exception:  # tried again at the next beat; past ttl the slot may go to another caller
                logger.warning("could not renew a %s slot in Redis", self.keys["slots"], exc_info=True)

    async def reserve_start(self, spacing: float) -> float:
        return float(await self._run(_RESERVE, "next", spacing))

    async def hold_off(self, seconds: float) -> None:
        await self._run(_HOLD_OFF, "pause", seconds)

    async def paused_for(self) -> float:
        return float(await self._run(_PAUSED_FOR, "pause"))


@dataclass
class ServiceLimiter:
    """Concurrency cap, minimum spacing between requests, and a bounded retry budget."""

    service: str
    max_concurrency: int = 4
    requests_per_second: float | None = None
    # 8 attempts: with 30% of calls failing, one call in 15,000 still fails (4 attempts: one in 120).
    max_attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 30.0  # the cap on our own backoff; a service's Retry-After is capped by max_retry_after
    max_retry_after: float = 600.0
    state: LimiterState = field(default_factory=LocalLimiterState, repr=False)
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)

    async def _wait_for_turn(self, *, paused_already: bool) -> None:
        paused = await self.state.paused_for()
        if paused > 0 and not paused_already:
            await self.sleep(paused)
        if not self.requests_per_second:
            return
        gap = await self.state.reserve_start(1.0 / self.requests_per_second)
        if gap > 0:
            await self.sleep(gap)

    def backoff(self, attempt: int) -> float:
        """Exponential with a little jitter (at most 10%), capped."""
        delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return delay * (1 + random.random() * 0.1)

    @contextlib.asynccontextmanager
    async def in_flight(self, *, paused_already: bool = False) -> AsyncIterator[None]:
        """One request at the service: a slot held, once the pause and spacing the service asked for are over."""
        async with self.state.slot(self.max_concurrency):
            await self._wait_for_turn(paused_already=paused_already)
            yield

    @contextlib.asynccontextmanager
    async def _attempt(self, *, paused_already: bool, slot_per_request: bool) -> AsyncIterator[None]:
        if not slot_per_request:
            async with self.in_flight(paused_already=paused_already):
                yield
            return
        turn = _attempt_of_request.set((self, paused_already))
        try:
            yield
        finally:
            _attempt_of_request.reset(turn)

    async def call(
        self, operation: Callable[[], Awaitable[T]], *, idempotent: bool = True, slot_per_request: bool = False
    ) -> T:
        """Run operation under the limits; retry what it marks retryable, within the budget.

        The slot is held for the whole operation, or with `slot_per_request` by each HTTP request it makes
        (its client's transport takes it through `request_slot`): building a request and parsing its answer
        then happen outside the budget, which counts the requests the service is working on.
        """
        last: RetryableError | None = None
        attempts = self.max_attempts if idempotent else 1
        for attempt in range(1, attempts + 1):
            paused_already = last is not None and last.retry_after is not None
            async with self._attempt(paused_already=paused_already, slot_per_request=slot_per_request):
                try:
                    return await operation()
                except RetryableError as exc:
                    last = exc
                except OutcomeUnknown as exc:
                    raise ServiceError(
                        self.service,
                        f"the outcome is unknown ({exc}); not retried, check before trying again",
                        attempts=attempt,
                        outcome_unknown=True,
                    ) from exc
            if attempt < attempts:
                await self._pause(last, attempt)
        assert last is not None
        raise ServiceError(
            self.service,
            f"gave up after {attempts} attempt(s): {last.reason}",
            status=last.status,
            attempts=attempts,
        )

    async def _pause(self, failure: RetryableError, attempt: int) -> None:
        """Before the next attempt: the Retry-After the service asked for (every caller waits), else backoff."""
        asked = failure.retry_after
        if asked is None:
            await self.sleep(self.backoff(attempt))
            return
        if asked > self.max_retry_after:
            raise ServiceError(
                self.service,
                f"asked to wait {asked:g} s before trying again (Retry-After), longer than the "
                f"{self.max_retry_after:g} s this app waits (service_limits.{self.service}.max_retry_after); "
                f"try again later or raise that limit ({failure.reason})",
                status=failure.status,
                attempts=attempt,
            )
        logger.info("%s asked to wait %g s (Retry-After); every call to it waits", self.service, asked)
        await self.state.hold_off(asked)
        await self.sleep(asked)


# The limiter (and whether its attempt waited out a Retry-After already) of the call the running code is an
# attempt of, when that call's slots are taken per request.
_attempt_of_request: ContextVar[tuple[ServiceLimiter, bool] | None] = ContextVar("attempt_of_request", default=None)


@contextlib.asynccontextmanager
async def request_slot() -> AsyncIterator[None]:
    """For a client's transport: hold a slot of the call this request is made in, for the request's duration."""
    turn = _attempt_of_request.get()
    if turn is None:
        raise RuntimeError(
            "a request to a rate-limited service was made outside ServiceLimiter.call(slot_per_request=True); "
            "make it through the service's client function (tools/llm.py structured_call), which holds its budget"
        )
    limiter, paused_already = turn
    async with limiter.in_flight(paused_already=paused_already):
        yield


_INTEGER_LIMITS = frozenset({"max_concurrency", "max_attempts"})


# Where this process counts its limits: (Redis URL or None for this process, key prefix). Set once by the
# service layer from the settings (count_limits_in); every limiter made afterwards counts there.
_budget: tuple[str | None, str] = (None, "jobland:")
_limiters: dict[tuple, ServiceLimiter] = {}
_local_states: dict[str, LocalLimiterState] = {}
_registry_lock = threading.Lock()


def count_limits_in(url: str | None, key_prefix: str = "jobland:") -> None:
    """Count every service's limits in the Redis at url (shared by every process on it), or in this process."""
    global _budget
    with _registry_lock:
        _budget = (url, key_prefix)


def configured_limiter(
    service: str, defaults: Mapping[str, float], overrides: Mapping[str, float] | None = None
) -> ServiceLimiter:
    """This process's one limiter for the service: its published defaults, overridden by configuration.

    Every caller with the same settings gets the same limiter, and every limiter of a service counts in one
    state (this process's, or Redis's when `count_limits_in` named one), so that nodes, packages and
    processes spend one budget. Keys that are not limiter settings (e.g. an LLM "timeout") are left to
    the client that reads them.
    """
    known = {f.name for f in dataclasses.fields(ServiceLimiter) if f.init} - {"service", "sleep", "state"}
    settings = {
        k: int(v) if k in _INTEGER_LIMITS else v for k, v in {**defaults, **(overrides or {})}.items() if k in known
    }
    with _registry_lock:
        key = (service, tuple(sorted(settings.items())), _budget)
        if key not in _limiters:
            url, prefix = _budget
            state = (
                RedisLimiterState(url, prefix, service)
                if url
                else _local_states.setdefault(service, LocalLimiterState())
            )
            _limiters[key] = ServiceLimiter(service, **settings, state=state)
        return _limiters[key]
