"""Webhooks: signed JSON POSTs to a URL the person gave, guarded against server-side request forgery.

A webhook URL comes from a user: tools/safe_fetch.py checks it (public addresses only; loopback only
when the test-only setting allows it), connects to the address it checked and follows redirects
itself, checking each Location the same way; every redirect is POSTed to again. Retries (429, 5xx, timeouts, connection errors)
run under the "webhook" ServiceLimiter; every attempt is reported to the caller, which logs it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from jobland.tools.ratelimit import RetryableError, ServiceError, ServiceLimiter, retry_after_seconds
from jobland.tools.safe_fetch import IPAddress, UnsafeURLError, resolve_public_url, send_pinned

SERVICE = "webhook"
# A receiver that is down gets three more tries over about 7 s; JOBLAND_SERVICE_LIMITS may change it.
DEFAULT_LIMITS = {"max_concurrency": 4, "max_attempts": 4, "base_delay": 1.0, "max_delay": 30.0}
REQUEST_TIMEOUT = 10.0
SIGNATURE_HEADER = "X-JobLand-Signature-256"
USER_AGENT = "JobLand-Webhook"
Outcome = Literal["ok", "retrying", "failed"]


class WebhookURLError(UnsafeURLError):
    """A webhook URL that JobLand will not call; the message says why and what to give instead."""


async def resolve_webhook_url(url: str, *, allow_loopback: bool) -> list[IPAddress]:
    """The addresses url's host resolves to, all checked; WebhookURLError when any is forbidden."""
    return await resolve_public_url(url, allow_loopback=allow_loopback, what="a webhook", error=WebhookURLError)


async def check_webhook_url(url: str, *, allow_loopback: bool) -> None:
    """Raise WebhookURLError unless url is an http(s) URL whose host resolves to public addresses only."""
    await resolve_webhook_url(url, allow_loopback=allow_loopback)


def webhook_signature(secret: str, body: bytes) -> str:
    """The X-JobLand-Signature-256 value: "sha256=" and the hex HMAC-SHA256 of the body under the secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class WebhookAttempt:
    """One try at delivering: its number, what came back (status or error) and what follows."""

    url: str
    attempt: int
    status_code: int | None
    error: str | None
    outcome: Outcome


AttemptReporter = Callable[[WebhookAttempt], Awaitable[None]]


class _AttemptFailed(Exception):
    """One attempt ended without a 2xx; status and reason for the report."""

    def __init__(self, reason: str, status: int | None = None, *, retryable: bool, retry_after: float | None = None):
        super().__init__(reason)
        self.reason, self.status, self.retryable, self.retry_after = reason, status, retryable, retry_after


class WebhookSender:
    """Signs and POSTs one event body to a checked URL, under the limiter's retry budget."""

    def __init__(
        self,
        secret: str,
        *,
        allow_loopback: bool,
        limiter: ServiceLimiter,
        on_attempt: AttemptReporter,
        timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        self.secret = secret
        self.allow_loopback = allow_loopback
        self.limiter = limiter
        self.on_attempt = on_attempt
        self.timeout = timeout

    async def send(self, url: str, event: str, delivery_id: str, body: dict[str, Any]) -> int:
        """POST body; the 2xx status on success. Raises ServiceError when it fails, after reporting every attempt."""
        data = json.dumps(body, ensure_ascii=False, default=str).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-JobLand-Event": event,
            "X-JobLand-Delivery": delivery_id,
            SIGNATURE_HEADER: webhook_signature(self.secret, data),
        }
        attempt = 0
        async with httpx.AsyncClient(follow_redirects=False, timeout=self.timeout, trust_env=False) as client:

            async def one_attempt() -> int:
                nonlocal attempt
                attempt += 1
                try:
                    status = await self._post(client, url, headers, data)
                except _AttemptFailed as exc:
                    last = attempt >= self.limiter.max_attempts or not exc.retryable
                    report = WebhookAttempt(url, attempt, exc.status, exc.reason, "failed" if last else "retrying")
                    await self.on_attempt(report)
                    if exc.retryable:
                        raise RetryableError(exc.reason, status=exc.status, retry_after=exc.retry_after) from None
                    raise ServiceError(SERVICE, exc.reason, status=exc.status, attempts=attempt) from None
                await self.on_attempt(WebhookAttempt(url, attempt, status, None, "ok"))
                return status

            return await self.limiter.call(one_attempt)

    async def _post(self, client: httpx.AsyncClient, url: str, headers: dict[str, str], data: bytes) -> int:
        """One attempt: the POST and its redirects (safe_fetch.send_pinned checks each target before connecting)."""
        try:
            response, target = await send_pinned(
                client,
                "POST",
                url,
                allow_loopback=self.allow_loopback,
                headers=headers,
                content=data,
                what="a webhook",
                error=WebhookURLError,
            )
            await response.aclose()  # the answer's body means nothing to a webhook
        except WebhookURLError as exc:
            raise _AttemptFailed(str(exc), exc.status, retryable=False) from None
        except httpx.TimeoutException:
            raise _AttemptFailed(f"{url} did not answer within {self.timeout:g} s", retryable=True) from None
        except httpx.TransportError as exc:
            raise _AttemptFailed(f"{url}: {type(exc).__name__}: {exc}", retryable=True) from None
        status = response.status_code
        if 200 <= status < 300:
            return status
        reason = f"{target} answered HTTP {status}"
        if status == 429:
            wait = retry_after_seconds(dict(response.headers))
            raise _AttemptFailed(reason, status, retryable=True, retry_after=wait)
        raise _AttemptFailed(reason, status, retryable=status >= 500)
