"""HTTP to a URL a person gave, guarded against server-side request forgery (webhooks, pasted job links).

A URL that comes from a user must not become their way into the server's own network: only
http/https, and every address the host resolves to must be public (loopback only when the
test-only setting allow_loopback says so). The caller connects to an address checked here (so a
DNS answer that changes between check and connection cannot point it inside), and redirects are
followed here, at most MAX_REDIRECTS, each Location checked the same way before any connection.
`fetch_page` reads a GET answer with a size cap and a time limit on top.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass

import httpx

MAX_REDIRECTS = 3
MAX_PAGE_BYTES = 2 * 1024 * 1024
PAGE_TIMEOUT = 15.0
USER_AGENT = "JobLand (+https://github.com/jobland/jobland)"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# NAT64's well-known prefix carries an IPv4 address in its last 32 bits.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURLError(ValueError):
    """A URL JobLand will not call; the message says why and what to give instead."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status  # the redirect answer that led there, if any


class PageFetchError(ValueError):
    """A page that could not be read (no answer, an error status, too large, not text)."""


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address leads to through a tunnel or translator (6to4, Teredo, NAT64)."""
    found = [ip.sixtofour] if ip.sixtofour else []
    if ip.teredo:
        found.extend(ip.teredo)
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def forbidden_reason(ip: IPAddress, allow_loopback: bool) -> str | None:
    """Why JobLand must not connect to ip, or None when it is a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is a.b.c.d
            return forbidden_reason(ip.ipv4_mapped, allow_loopback)
        for inner in _embedded_ipv4(ip):
            if reason := forbidden_reason(inner, allow_loopback):
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


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def resolve_public_url(
    url: str, *, allow_loopback: bool, what: str = "a URL", error: type[UnsafeURLError] = UnsafeURLError
) -> list[IPAddress]:
    """The addresses url's host resolves to, all checked; `error` (naming `what`) when any is forbidden."""
    try:
        parts = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise error(f"{url!r} is not a URL ({exc}); give an http:// or https:// URL") from None
    if parts.scheme not in ("http", "https"):
        raise error(f"{url!r}: {what} must start with http:// or https://")
    if not parts.host:
        raise error(f"{url!r} names no host; give a URL like https://example.com/page")
    if parts.userinfo:
        raise error(f"{url!r} carries a user name or password; put credentials in the path or drop them")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        answers = await asyncio.get_running_loop().getaddrinfo(parts.host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise error(f"{url!r}: the host {parts.host!r} does not resolve ({exc}); check its spelling") from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(answer[4][0].split("%")[0]) for answer in answers))
    for ip in addresses:
        if reason := forbidden_reason(ip, allow_loopback):
            literal = _is_ip_literal(parts.host)
            said = f"{parts.host} is {reason}" if literal else f"{parts.host} resolves to {ip}, {reason}"
            raise error(f"{url!r}: {said}; {what} must point at a public address")
    return addresses


async def send_pinned(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    allow_loopback: bool,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
    what: str = "a URL",
    error: type[UnsafeURLError] = UnsafeURLError,
) -> tuple[httpx.Response, str]:
    """The streamed answer to method url (the same request again after each redirect) and the URL that gave it.

    The client must not follow redirects itself. Raises `error` for a forbidden target or too many
    redirects; httpx's TimeoutException and TransportError pass through. The caller closes the answer.
    """
    target, status = url, None
    for _ in range(MAX_REDIRECTS + 1):
        try:
            addresses = await resolve_public_url(target, allow_loopback=allow_loopback, what=what, error=error)
        except UnsafeURLError as exc:
            message = f"HTTP {status} redirected to a forbidden URL: {exc}" if status else str(exc)
            raise error(message, status=status) from None
        request = client.build_request(
            method, target, headers=headers, content=content, extensions={"sni_hostname": httpx.URL(target).host}
        )
        # Connect to the address just checked; Host and TLS still name the URL's host.
        request.url = request.url.copy_with(host=str(addresses[0]))
        response = await client.send(request, stream=True)
        status = response.status_code
        if status in _REDIRECTS and "location" in response.headers:
            await response.aclose()
            target = str(httpx.URL(target).join(response.headers["location"]))
            continue
        return response, target
    raise error(f"{url} redirected more than {MAX_REDIRECTS} times", status=status)


@dataclass(frozen=True)
class Page:
    """A fetched page: the URL it finally came from, its media type and its text."""

    url: str
    content_type: str
    text: str


async def fetch_page(
    url: str,
    *,
    allow_loopback: bool,
    max_bytes: int = MAX_PAGE_BYTES,
    timeout: float = PAGE_TIMEOUT,
    accept: str = "text/html,application/xhtml+xml,application/ld+json,application/json;q=0.9,text/plain;q=0.8",
) -> Page:
    """GET a public page: UnsafeURLError for a forbidden URL, PageFetchError when it cannot be read in limits."""
    deadline = time.monotonic() + timeout
    headers = {"User-Agent": USER_AGENT, "Accept": accept}
    async with httpx.AsyncClient(follow_redirects=False, timeout=timeout, trust_env=False) as client:
        try:
            async with asyncio.timeout(timeout):
                response, final_url = await send_pinned(
                    client, "GET", url, allow_loopback=allow_loopback, headers=headers
                )
                try:
                    if response.status_code != 200:
                        raise PageFetchError(f"{final_url} answered HTTP {response.status_code}; check the link")
                    declared = int(response.headers.get("content-length") or 0)
                    if declared > max_bytes:
                        raise PageFetchError(_too_large(final_url, max_bytes))
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > max_bytes:
                            raise PageFetchError(_too_large(final_url, max_bytes))
                finally:
                    await response.aclose()
        except TimeoutError:
            raise PageFetchError(f"{url} was not read within {timeout:g} s; try again later") from None
        except httpx.TimeoutException:
            waited = timeout - max(0.0, deadline - time.monotonic())
            raise PageFetchError(f"{url} did not answer within {waited:.0f} s; try again later") from None
        except httpx.TransportError as exc:
            raise PageFetchError(f"{url}: cannot connect ({type(exc).__name__}: {exc})") from None
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and not (content_type.startswith("text/") or "json" in content_type or "xml" in content_type):
        raise PageFetchError(f"{final_url} is {content_type}, not a web page; paste the posting's text instead")
    return Page(url=final_url, content_type=content_type, text=body.decode(response.encoding or "utf-8", "replace"))


def _too_large(url: str, max_bytes: int) -> str:
    return f"{url} is larger than {max_bytes // 1024 // 1024} MB; paste the posting's text instead"
