"""What the company career boards (Greenhouse, Lever, Ashby, Workday) share as job sources.

Each board is one company's public job API, and one job source of its own ("greenhouse:acme"), so a
board that fails is a SourceFailure of that board while the others go on. `BoardJobSource` asks its
service for the board's jobs (every call under the service's ServiceLimiter, which owns all retries:
429 with Retry-After, 5xx, timeouts, answers that are not JSON), reads each into the PostingDraft the
folder source uses, and hands back fresh, deduplicated postings like every other source.
"""

from __future__ import annotations

import asyncio
import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import httpx

from jobland.domain.models import SearchRequest
from jobland.tools.job_folder import JobBatch, JobSourceError, PostingDraft, batch_of_sourced_drafts
from jobland.tools.ratelimit import RetryableError, ServiceLimiter, retry_after_seconds

REQUEST_TIMEOUT = 30.0
# The boards are public pages' APIs: a few requests a second per service and a few at once are plenty.
DEFAULT_LIMITS = {"max_concurrency": 4, "requests_per_second": 4.0, "max_attempts": 4}
USER_AGENT = "JobLand (+https://github.com/jobland/jobland)"
MAX_ANSWER_BYTES = 20 * 1024 * 1024


def company_of_slug(slug: str) -> str:
    """'acme-robotics' -> 'Acme Robotics': a board's own name where its API gives none."""
    return " ".join(word.capitalize() for word in re.split(r"[-_\s]+", slug) if word)


@dataclass
class BoardCall:
    """JSON requests to one board's service, each one attempt under the limiter's budget."""

    client: httpx.AsyncClient
    limiter: ServiceLimiter
    service: str
    board: str

    async def json(self, method: str, url: str, **options: Any) -> Any:
        return await self.limiter.call(lambda: self._attempt(method, url, **options))

    async def _attempt(self, method: str, url: str, **options: Any) -> Any:
        try:
            response = await self.client.request(method, url, **options)
        except httpx.TimeoutException as error:
            raise RetryableError(f"no answer in {REQUEST_TIMEOUT:g} s") from error
        except httpx.TransportError as error:
            raise RetryableError(f"cannot connect ({type(error).__name__}: {error})") from error
        status = response.status_code
        if status == 429 or status >= 500:
            raise RetryableError(
                f"HTTP {status}", status=status, retry_after=retry_after_seconds(dict(response.headers))
            )
        if status == 404:
            raise JobSourceError(
                f'{self.service} has no board "{self.board}" (HTTP 404): check its name in JOBLAND_BOARDS'
            )
        if status >= 400:
            raise JobSourceError(f'{self.service} refused board "{self.board}" (HTTP {status}): {response.text[:200]}')
        if len(response.content) > MAX_ANSWER_BYTES:
            raise JobSourceError(f'{self.service} board "{self.board}" answered more than 20 MB; not read')
        try:
            return response.json()
        except json.JSONDecodeError as error:
            raise RetryableError(f"the answer is not JSON: {response.text[:120]!r}", status=status) from error


@dataclass
class BoardJobSource(ABC):
    """One company's board on one service; subclasses say how to page through it and read its jobs."""

    service: ClassVar[str]
    default_base_url: ClassVar[str]

    board: str
    limiter: ServiceLimiter
    base_url: str | None = None
    max_results: int = 200

    @property
    def source(self) -> str:
        return f"{self.service}:{self.board}"

    @property
    def api(self) -> str:
        return (self.base_url or self.default_base_url).rstrip("/")

    async def fetch(self, request: SearchRequest, *, now: datetime) -> JobBatch:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT, trust_env=False, headers=headers) as client:
            drafts = await self.drafts(BoardCall(client, self.limiter, self.service, self.board), now)
        sourced = [(draft, self.source) for draft in drafts[: self.max_results]]
        return await asyncio.to_thread(batch_of_sourced_drafts, sourced, now)

    @abstractmethod
    async def drafts(self, call: BoardCall, now: datetime) -> list[PostingDraft]:
        """The board's jobs, read into drafts, up to max_results."""
