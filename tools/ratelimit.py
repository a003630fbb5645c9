"""Per-service limits and retries, shared by every client of an outside service.

One `ServiceLimiter` per service and process caps concurrent calls and the request rate, and
retries with one bounded budget of attempts: Retry-After on 429 (up to `max_retry_after`; a service
asking for longer is given up on with the wait it asked for), exponential backoff on 5xx and timeouts.
A Retry-After holds back every call to the service, not only the one that was told, so concurrent
callers do not hammer a service that asked for a pause. Client libraries' own retries must be turned off (max_retries=0) so the budget is the
only one. A call that may have been accepted (e.g. an email send whose answer was lost) is never
retried: callers mark such operations `idempotent=False`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TypeVar

T = TypeVar("T")


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
    max_retry_after: float = 300.0
    _semaphore: asyncio.Semaphore | None = field(default=None, init=False, repr=False)
    _last_start: float = field(default=0.0, init=False, repr=False)
    _not_before: float = field(default=0.0, init=False, repr=False)  # monotonic time a Retry-After asked for
    _pace: asyncio.Lock | None = field(default=None, init=False, repr=False)
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)

    def _primitives(self) -> tuple[asyncio.Semaphore, asyncio.Lock]:
        if self._semaphore is None or self._pace is None:
            self._semaphore = asyncio.Semaphore(self.max_concurrency)
            self._pace = asyncio.Lock()
        return self._semaphore, self._pace

    async def _wait_for_turn(self, pace: asyncio.Lock, *, paused_already: bool) -> None:
        paused = self._not_before - time.monotonic()
        if paused > 0 and not paused_already:
            await self.sleep(paused)
        if not self.requests_per_second:
            return
        async with pace:
            gap = 1.0 / self.requests_per_second - (time.monotonic() - self._last_start)
            if gap > 0:
                await self.sleep(gap)
            self._last_start = time.monotonic()

    def backoff(self, attempt: int) -> float:
        """Exponential with a little jitter (at most 10%), capped."""
        delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return delay * (1 + random.random() * 0.1)

    async def call(self, operation: Callable[[], Awaitable[T]], *, idempotent: bool = True) -> T:
        """Run operation under the limits; retry what it marks retryable, within the budget."""
        semaphore, pace = self._primitives()
        last: RetryableError | None = None
        attempts = self.max_attempts if idempotent else 1
        for attempt in range(1, attempts + 1):
            async with semaphore:
                await self._wait_for_turn(pace, paused_already=last is not None and last.retry_after is not None)
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
        self._not_before = max(self._not_before, time.monotonic() + asked)
        await self.sleep(asked)


_INTEGER_LIMITS = frozenset({"max_concurrency", "max_attempts"})


def configured_limiter(
    service: str, defaults: Mapping[str, float], overrides: Mapping[str, float] | None = None
) -> ServiceLimiter:
    """A limiter with the service's published defaults, overridden by configuration (service_limits).

    Keys that are not limiter settings (e.g. an LLM "timeout") are left to the client that reads them.
    """
    known = {f.name for f in dataclasses.fields(ServiceLimiter) if f.init} - {"service", "sleep"}
    settings = {**defaults, **(overrides or {})}
    return ServiceLimiter(
        service, **{k: int(v) if k in _INTEGER_LIMITS else v for k, v in settings.items() if k in known}
    )
