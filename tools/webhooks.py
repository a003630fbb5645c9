"""Webhooks: signed JSON POSTs to a URL the person gave, guarded against server-side request forgery.

A webhook URL comes from a user, so the server must not become their way into its own network:
only http/https, and every address the host resolves to must be public (loopback only when a
setting allows it, for tests). The sender connects to an address it checked itself (so a DNS
answer that changes between check and connection cannot point it inside), follows redirects
itself and checks each Location the same way. Retries (429, 5xx, timeouts, connection errors)
run under the "webhook" ServiceLimiter; every attempt is reported to the caller, which logs it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from jobland.tools.ratelimit import RetryableError, ServiceError, ServiceLimiter, retry_after_seconds

SERVICE = "webhook"
# A receiver that is down gets three more tries over about 7 s; JOBLAND_SERVICE_LIMITS may change it.
DEFAULT_LIMITS = {"max_concurrency": 4, "max_attempts": 4, "base_delay": 1.0, "max_delay": 30.0}
REQUEST_TIMEOUT = 10.0
MAX_REDIRECTS = 3
SIGNATURE_HEADER = "X-JobLand-Signature-256"
USER_AGENT = "JobLand-Webhook"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# NAT64's well-known prefix carries an IPv4 address in its last 32 bits.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Outcome = Literal["ok", "retrying", "failed"]


class WebhookURLError(ValueError):
    """A webhook URL that JobLand will not call; the message says why and what to give instead."""


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address leads to through a tunnel or translator (6to4, Teredo, NAT64)."""
    found = [ip.sixtofour] if ip.sixtofour else []
    if ip.teredo:
        found.extend(ip.teredo)
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _forbidden_reason(ip: IPAddress, allow_loopback: bool) -> str | None:
    """Why JobLand must not connect to ip, or None when it is a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is a.b.c.d
            return _forbidden_reason(ip.ipv4_mapped, allow_loopback)
        for inner in _embedded_ipv4(ip):
            if reason := _forbidden_reason(inner, allow_loopback):
                return f"{reason} (inside {ip})"
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    checks = (
        ("is_unspecified", "an unspecified address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
        ("is_site_local", "a site-local address"),  # IPv6 only; Python counts fec0::/10 neither private nor reserved
    )
    for attribute, reason in checks:
        if getattr(ip, attribute, False):
            return reason
    return None if ip.is_global else "not a public address"


async def resolve_webhook_url(url: str, *, allow_loopback: bool) -> list[IPAddress]:
    """The addresses url's host resolves to, all checked; WebhookURLError when any is forbidden."""
    try:
        parts = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise WebhookURLError(f"{url!r} is not a URL ({exc}); give an http:// or https:// URL") from None
    if parts.scheme not in ("http", "https"):
        raise WebhookURLError(f"{url!r}: a webhook URL must start with http:// or https://")
    if not parts.host:
        raise WebhookURLError(f"{url!r} names no host; give a URL like https://hooks.example.com/jobland")
    if parts.userinfo:
        raise WebhookURLError(f"{url!r} carries a user name or password; put credentials in the path or drop them")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        answers = await asyncio.get_running_loop().getaddrinfo(parts.host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebhookURLError(
            f"{url!r}: the host {parts.host!r} does not resolve ({exc}); check its spelling"
        ) from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(answer[4][0].split("%")[0]) for answer in answers))
    for ip in addresses:
        if reason := _forbidden_reason(ip, allow_loopback):
            literal = _is_ip_literal(parts.host)
            what = f"{parts.host} is {reason}" if literal else f"{parts.host} resolves to {ip}, {reason}"
            raise WebhookURLError(f"{url!r}: {what}; a webhook must point at a public address")
    return addresses


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


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
        """One attempt: the POST and up to MAX_REDIRECTS redirects, each target checked before connecting."""
        target, status = url, None
        for _ in range(MAX_REDIRECTS + 1):
            try:
                addresses = await resolve_webhook_url(target, allow_loopback=self.allow_loopback)
            except WebhookURLError as exc:
                reason = f"HTTP {status} redirected to a forbidden URL: {exc}" if status else str(exc)
                raise _AttemptFailed(reason, status, retryable=False) from None
            request = client.build_request(
                "POST", target, headers=headers, content=data, extensions={"sni_hostname": httpx.URL(target).host}
            )
            # Connect to the address just checked; Host and TLS still name the URL's host.
            request.url = request.url.copy_with(host=str(addresses[0]))
            try:
                response = await client.send(request, stream=True)
                await response.aclose()  # the answer's body means nothing to a webhook
            except httpx.TimeoutException:
                raise _AttemptFailed(f"{target} did not answer within {self.timeout:g} s", retryable=True) from None
            except httpx.TransportError as exc:
                raise _AttemptFailed(f"{target}: {type(exc).__name__}: {exc}", retryable=True) from None
            status = response.status_code
            if status in _REDIRECTS and "location" in response.headers:
                # The body is the webhook's whole meaning, so every redirect is POSTed to again.
                target = str(httpx.URL(target).join(response.headers["location"]))
                continue
            if 200 <= status < 300:
                return status
            reason = f"{target} answered HTTP {status}"
            if status == 429:
                wait = retry_after_seconds(dict(response.headers))
                raise _AttemptFailed(reason, status, retryable=True, retry_after=wait)
            raise _AttemptFailed(reason, status, retryable=status >= 500)
        raise _AttemptFailed(f"{url} redirected more than {MAX_REDIRECTS} times", status, retryable=False)
