"""Exa: job-board pages as a job source, and sourced web material about a company.

`ExaClient` runs exa_py's blocking calls in a thread under the service's ServiceLimiter (which owns
all retries, and honours Exa's Retry-After: exa_py drops response headers, so its HTTP call is
replaced by one that keeps them). `ExaJobSource` searches job boards' domains and reads each page with the folder
source's text reader. `ExaResearch` gathers what the web says about a company, each excerpt with its
URL; summarising it into a CompanyDossier is the researcher's job.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import requests
from pydantic import BaseModel
from requests import RequestException

from jobland.domain.dedupe import company_key, dedupe_postings, freshness
from jobland.domain.models import DiscardedPosting, JobPosting, SearchRequest
from jobland.tools.job_folder import JobBatch, JobSourceError, UnusablePosting, draft_from_text, posting_from_draft
from jobland.tools.ratelimit import RetryableError, ServiceError, ServiceLimiter, retry_after_seconds

if TYPE_CHECKING:  # exa_py takes over a second to import: only runs that use Exa pay for it
    from exa_py import Exa

SERVICE = "exa"
# Published limits: /search 10 QPS, /contents 100 QPS; one limiter paced for /search covers both.
DEFAULT_LIMITS = {"max_concurrency": 5, "requests_per_second": 10.0}
REQUEST_TIMEOUT = 30.0
MAX_CHARACTERS = 10_000
JOB_BOARD_DOMAINS = (
    "boards.greenhouse.io",
    "job-boards.greenhouse.io",
    "jobs.lever.co",
    "jobs.ashbyhq.com",
    "apply.workable.com",
    "jobs.smartrecruiters.com",
    "recruitee.com",
    "personio.de",
)
_STATUS = re.compile(r"status code (\d{3})")
# Where each board puts the company in a posting's URL: boards.greenhouse.io/<company>/jobs/<id>.
_COMPANY_IN_PATH = ("greenhouse.io", "lever.co", "ashbyhq.com", "workable.com", "smartrecruiters.com")
_COMPANY_IN_HOST = ("recruitee.com", "personio.de", "personio.com")
_TITLE_PARTS = re.compile(r"\s+(?:at|@|-|–|—|\|)\s+")


class SourcedText(BaseModel):
    """One web page's text as Exa returned it; the URL travels with every excerpt."""

    url: str
    title: str = ""
    published_date: str | None = None
    text: str = ""


class ExaClient:
    """exa_py's search and get_contents, off the event loop and under the limiter."""

    def __init__(self, api_key: str, *, base_url: str | None = None, limiter: ServiceLimiter) -> None:
        self.api_key = api_key
        self.base_url = base_url.rstrip("/") if base_url else None
        self.limiter = limiter
        self._exa: Exa | None = None

    def _client(self) -> Exa:
        if self._exa is None:
            options = {"base_url": self.base_url} if self.base_url else {}
            self._exa = _header_keeping_exa()(self.api_key, timeout=REQUEST_TIMEOUT, **options)
        return self._exa

    async def search(self, query: str, **options: Any) -> list[SourcedText]:
        """Pages for `query` with their text; options are exa_py's (category, include_domains, ...)."""
        contents = {"text": {"max_characters": MAX_CHARACTERS}}
        response = await self._call(lambda: self._client().search(query, contents=contents, **options))
        return [_sourced(result) for result in response.results]

    async def contents(self, urls: list[str]) -> list[SourcedText]:
        if not urls:
            return []
        response = await self._call(lambda: self._client().get_contents(urls, text={"max_characters": MAX_CHARACTERS}))
        return [_sourced(result) for result in response.results]

    async def _call(self, request: Any) -> Any:
        return await self.limiter.call(lambda: asyncio.to_thread(_checked, request))


class ExaRefused(ValueError):
    """An HTTP error answer from Exa, with the headers exa_py would have dropped (Retry-After)."""

    def __init__(self, status: int, text: str, headers: Mapping[str, str]) -> None:
        super().__init__(f"Request failed with status code {status}: {text}")  # exa_py's own wording
        self.status = status
        self.headers = dict(headers)


@cache
def _header_keeping_exa() -> type[Exa]:
    """exa_py's client whose POSTs (search, get_contents) raise ExaRefused, headers included."""
    from exa_py import Exa
    from exa_py.errors import typed_timeouts
    from exa_py.request_options import merge_body, merge_headers, merge_query
    from exa_py.websets.core.base import ExaJSONEncoder

    class HeaderKeepingExa(Exa):
        @typed_timeouts
        def request(self, endpoint: str, data: Any = None, method: str = "POST", *args: Any, **options: Any) -> Any:
            streams = isinstance(data, dict) and data.get("stream")
            if method.upper() != "POST" or args or streams or options.get("params"):
                return super().request(endpoint, data, method, *args, **options)  # nothing JobLand calls
            headers = merge_headers({**self.headers, **(options.get("headers") or {})}, options.get("extra_headers"))
            timeout = options.get("timeout") or self.timeout
            response = requests.post(
                self.base_url + endpoint,
                data=json.dumps(merge_body(data, options.get("extra_body")), cls=ExaJSONEncoder),
                headers=headers,
                params=merge_query(None, options.get("extra_query")),
                timeout=timeout,
            )
            if response.status_code >= 400:
                raise ExaRefused(response.status_code, response.text, response.headers)
            try:
                return response.json()
            except ValueError as error:
                raise ValueError(f"Exa answered HTTP {response.status_code} with a body that is not JSON") from error

    return HeaderKeepingExa


def _checked(request: Any) -> Any:
    """Sort exa_py's failures into another attempt (429, 5xx, timeouts, garbled answers) or a stop."""
    from exa_py.errors import ExaTimeoutError  # loaded already with the client

    try:
        return request()
    except ExaTimeoutError as error:
        raise RetryableError(f"no answer in {REQUEST_TIMEOUT:g} s") from error
    except RequestException as error:
        raise RetryableError(f"cannot connect ({error})") from error
    except ValueError as error:
        status = error.status if isinstance(error, ExaRefused) else None
        if status is None:
            match = _STATUS.search(str(error))
            status = int(match.group(1)) if match else None
        if status is None or status == 429 or status >= 500:
            headers = error.headers if isinstance(error, ExaRefused) else None
            raise RetryableError(str(error)[:300], status=status, retry_after=retry_after_seconds(headers)) from error
        hint = " Check EXA_API_KEY." if status in (401, 403) else ""
        raise ServiceError(
            SERVICE, f"request refused (HTTP {status}): {str(error)[:300]}.{hint}", status=status
        ) from error


def _sourced(result: Any) -> SourcedText:
    return SourcedText(
        url=result.url,
        title=result.title or "",
        published_date=result.published_date,
        text=(getattr(result, "text", None) or "").strip(),
    )


# --------------------------------------------------------------------------- job boards


def company_from_url(url: str) -> str:
    """'https://boards.greenhouse.io/acme-robotics/jobs/1' -> 'Acme Robotics'; '' when the board is unknown."""
    parsed = urlparse(url)
    host = parsed.netloc.lower()
    slug = ""
    if any(host.endswith(domain) for domain in _COMPANY_IN_PATH):
        slug = next((part for part in parsed.path.split("/") if part), "")
    elif any(host.endswith(domain) for domain in _COMPANY_IN_HOST):
        slug = host.split(".")[0]
    return " ".join(word.capitalize() for word in re.split(r"[-_]+", slug) if word)


def title_and_company(page_title: str, url: str) -> tuple[str, str]:
    """The job title and company from a board's page title, using the URL's company to tell them apart.

    'Job Application for Senior Engineer at Acme' (Greenhouse), 'Acme - Senior Engineer' (Lever),
    'Senior Engineer @ Acme' (Ashby).
    """
    title = re.sub(r"^\s*job application for\s+", "", page_title, flags=re.I).strip()
    company = company_from_url(url)
    wanted = company_key(company)
    parts = _TITLE_PARTS.split(title)
    if wanted and len(parts) > 1:
        for i, part in enumerate(parts):
            if company_key(part) == wanted:
                return " - ".join(parts[:i] + parts[i + 1 :]), part
    return title, company


class ExaJobSource:
    """Recent postings on job boards' own pages, found by Exa's search."""

    def __init__(self, client: ExaClient, *, max_results: int = 25, max_age_days: int = 30) -> None:
        self.client = client
        self.max_results = max_results
        self.max_age_days = max_age_days

    async def fetch(self, request: SearchRequest, *, now: datetime) -> JobBatch:
        query = request.query.strip()
        if not query:
            raise JobSourceError('Exa needs a search query: give one (for example --query "senior Python backend")')
        where = f" in {' or '.join(request.locations)}" if request.locations else ""
        pages = await self.client.search(
            f"{query} job opening{where}",
            num_results=self.max_results,
            include_domains=list(JOB_BOARD_DOMAINS),
            start_published_date=(now - timedelta(days=self.max_age_days)).date().isoformat(),
        )
        postings: list[JobPosting] = []
        discarded: list[DiscardedPosting] = []
        for page in pages:
            source = f"{SERVICE}:{urlparse(page.url).netloc}"
            try:
                postings.append(posting_from_page(page, source, now))
            except UnusablePosting as problem:
                discarded.append(DiscardedPosting(source=source, title=page.title, reason=f"{page.url}: {problem}"))
        fresh, expired = freshness(postings, now)
        unique, duplicates = dedupe_postings(fresh)
        return JobBatch(postings=unique, discarded=[*discarded, *expired, *duplicates])


def posting_from_page(page: SourcedText, source: str, now: datetime) -> JobPosting:
    """A job board page read like a Markdown posting file; the page's title, URL and date fill the gaps."""
    title, company = title_and_company(page.title, page.url)
    draft = draft_from_text(page.text, title_hint=title)
    draft.title = title or draft.title
    draft.company = draft.company or company
    draft.date_posted = draft.date_posted or page.published_date
    draft.url = page.url
    return posting_from_draft(draft, source, now)


# --------------------------------------------------------------------------- company research


class ExaResearch:
    """Web material about a company: its own pages, recent news, and the posting's page."""

    def __init__(self, client: ExaClient, *, results_per_search: int = 5, news_days: int = 180) -> None:
        self.client = client
        self.results_per_search = results_per_search
        self.news_days = news_days

    async def company_material(
        self, company: str, posting_url: str | None = None, *, now: datetime | None = None
    ) -> list[SourcedText]:
        """Excerpts with their URLs, each page once; the researcher's LLM summarises these."""
        moment = now or datetime.now().astimezone()
        about, news, posting = await asyncio.gather(
            self.client.search(f"{company} company", category="company", num_results=self.results_per_search),
            self.client.search(
                f"{company} news",
                category="news",
                num_results=self.results_per_search,
                start_published_date=(moment - timedelta(days=self.news_days)).date().isoformat(),
            ),
            self.client.contents([posting_url] if posting_url else []),
        )
        unique: dict[str, SourcedText] = {}
        for item in [*about, *news, *posting]:
            if item.text:
                unique.setdefault(item.url, item)
        return list(unique.values())
