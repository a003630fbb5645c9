"""A local Exa: POST /search and /contents with x-api-key, answering in Exa's response shape.

Its web is built from the demo postings (examples/jobs): each posting as a job-board page
(Greenhouse, Lever or Ashby, titled the way each board titles it), each company's About page and
one recent news article about it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import pytest

from jobland.domain.dedupe import company_key
from jobland.domain.models import JobPosting
from jobland.tools.job_folder import load_folder
from tests.local_world.base import LocalService, Reply, Request
from tests.local_world.serpapi import EXAMPLE_JOBS, salary_text

API_KEY = "exa-test-key"


@dataclass
class Page:
    url: str
    title: str
    text: str
    published: datetime
    category: str  # "job", "company" or "news"
    company: str


def _slug(company: str) -> str:
    return company_key(company).replace(" ", "-")


def board_page(posting: JobPosting, index: int, published: datetime) -> Page:
    """The posting on a job board, its page title written the way that board writes it."""
    slug, number = _slug(posting.company), 4_000_000 + index
    boards = (
        (
            f"https://boards.greenhouse.io/{slug}/jobs/{number}",
            f"Job Application for {posting.title} at {posting.company}",
        ),
        (f"https://jobs.lever.co/{slug}/{uuid.UUID(int=number)}", f"{posting.company} - {posting.title}"),
        (f"https://jobs.ashbyhq.com/{slug}/{uuid.UUID(int=number)}", f"{posting.title} @ {posting.company}"),
    )
    url, title = boards[index % len(boards)]
    location = posting.jobLocation[0].label() if posting.jobLocation else "Remote"
    header = [f"Location: {location}"]
    if salary := salary_text(posting):
        header.append(f"Salary: {salary}")
    text = "\n".join([f"# {posting.title}", *header, "", posting.description])
    return Page(url, title, text, published, "job", posting.company)


def company_pages(company: str, description: str, published: datetime) -> list[Page]:
    slug = _slug(company)
    about = f"About {company}\n\n{description or f'{company} builds software with a small, senior team.'}"
    news = (
        f"{company} opens a new engineering office\n\n{company} announced this month that it is growing its "
        f"engineering team and opening a second office, after a year of steady customer growth."
    )
    return [
        Page(
            f"https://{slug}.example/about",
            f"About us | {company}",
            about,
            published - timedelta(days=400),
            "company",
            company,
        ),
        Page(
            f"https://news.example/{slug}-new-office", f"{company} opens a new office", news, published, "news", company
        ),
    ]


def demo_web(now: datetime) -> list[Page]:
    postings = load_folder(EXAMPLE_JOBS, now=now).postings
    pages = [board_page(p, i, now - timedelta(days=3 + i % 20)) for i, p in enumerate(postings)]
    companies = {p.company: p.hiringOrganization.description or "" for p in postings if p.company}
    for company, description in companies.items():
        pages += company_pages(company, description, now - timedelta(days=10))
    return pages


def _result(page: Page, with_text: bool) -> dict:
    result = {
        "id": page.url,
        "url": page.url,
        "title": page.title,
        "score": 0.42,
        "publishedDate": page.published.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "author": None,
        "image": None,
        "favicon": f"https://{urlparse(page.url).netloc}/favicon.ico",
    }
    if with_text:
        result["text"] = page.text
    return result


class FakeExa(LocalService):
    """Search matches query words (ignoring 'job', 'opening', 'company', 'news') against title and text."""

    _FILLER = frozenset({"job", "opening", "company", "news", "in", "or"})

    def __init__(self, *, api_key: str = API_KEY, now: datetime | None = None):
        super().__init__("exa")
        self.api_key = api_key
        self.pages: list[Page] = demo_web(now or datetime.now(UTC))
        self.route("POST", "/search", self._search)
        self.route("POST", "/contents", self._contents)

    def _envelope(self, results: list[dict]) -> dict:
        return {
            "requestId": uuid.uuid4().hex,
            "resolvedSearchType": "neural",
            "results": results,
            "costDollars": {"total": 0.005 + 0.001 * len(results)},
            "searchTime": 412.5,
        }

    def _authorised(self, request: Request) -> Reply | None:
        if request.headers.get("x-api-key") != self.api_key:
            return Reply(401, {"requestId": uuid.uuid4().hex, "error": "Invalid API key", "tag": "INVALID_API_KEY"})
        return None

    def _search(self, request: Request) -> Reply:
        if refused := self._authorised(request):
            return refused
        body = request.json()
        words = [w for w in re.findall(r"\w+", body.get("query", "").casefold()) if w not in self._FILLER]
        domains = body.get("includeDomains") or []
        since = body.get("startPublishedDate")
        category = body.get("category")
        hits = []
        for page in self.pages:
            host = urlparse(page.url).netloc
            if domains and not any(host == d or host.endswith("." + d) for d in domains):
                continue
            if not domains and page.category == "job":
                continue
            if category and page.category != category:
                continue
            if since and page.published.date().isoformat() < since[:10]:
                continue
            haystack = f"{page.title}\n{page.text}".casefold()
            if all(word in haystack for word in words):
                hits.append(page)
        with_text = "text" in (body.get("contents") or {})
        return Reply(200, self._envelope([_result(p, with_text) for p in hits[: body.get("numResults", 10)]]))

    def _contents(self, request: Request) -> Reply:
        if refused := self._authorised(request):
            return refused
        urls = request.json().get("urls") or []
        known = {page.url: page for page in self.pages}
        body = self._envelope([_result(known[url], True) for url in urls if url in known])
        body["statuses"] = [
            {"id": url, "status": "success"}
            if url in known
            else {"id": url, "status": "error", "error": {"tag": "CRAWL_NOT_FOUND", "httpStatusCode": 404}}
            for url in urls
        ]
        return Reply(200, body)


@pytest.fixture
def exa_world() -> Iterator[FakeExa]:
    service = FakeExa().start()
    yield service
    service.stop()
