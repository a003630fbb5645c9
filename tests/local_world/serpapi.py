"""A local SerpAPI speaking google_jobs: GET /search(.json) with api_key, 10 results a page, next_page_token.

Its catalogue is the demo postings (examples/jobs) written the way Google Jobs shows them: relative
posted_at, "Full-time", "€80K–95K a year", work_from_home, job_highlights, apply_options.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlencode

import pytest

from jobland.domain.models import JobPosting
from jobland.tools.job_folder import load_folder
from tests.local_world.base import LocalService, Reply, Request

EXAMPLE_JOBS = Path(__file__).resolve().parents[2] / "examples" / "jobs"
API_KEY = "serp-test-key"
PAGE_SIZE = 10
_VIA = ("LinkedIn", "Indeed", "StepStone", "Glassdoor", "the company's careers page")
_SCHEDULES = {"FULL_TIME": "Full-time", "PART_TIME": "Part-time", "CONTRACTOR": "Contractor", "INTERN": "Internship"}
_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}
_PER = {"YEAR": "a year", "MONTH": "a month", "HOUR": "an hour", "DAY": "a day", "WEEK": "a week"}


def _short(amount: float) -> str:
    return f"{amount / 1000:g}K" if amount >= 1000 else f"{amount:g}"


def salary_text(posting: JobPosting) -> str | None:
    salary = posting.baseSalary
    if salary is None or salary.minValue is None:
        return None
    symbol = _SYMBOLS.get(salary.currency or "", "")
    low, high = salary.minValue, salary.maxValue or salary.minValue
    amount = f"{symbol}{_short(low)}" if low == high else f"{symbol}{_short(low)}–{_short(high)}"
    return f"{amount} {_PER[salary.unitText]}"


def _ago(posted: date | None, now: datetime) -> str | None:
    if posted is None:
        return None
    days = (now.date() - posted).days
    return "30+ days ago" if days >= 30 else f"{max(days, 1)} day{'s' if days != 1 else ''} ago"


def google_job(posting: JobPosting, index: int, now: datetime) -> dict:
    """One jobs_results item as Google Jobs shows this posting."""
    location = posting.jobLocation[0].label() if posting.jobLocation else "Anywhere"
    job_id = base64.b64encode(
        json.dumps({"job_title": posting.title, "company_name": posting.company, "htidocid": posting.id}).encode()
    ).decode()
    detected = {
        "posted_at": _ago(posting.datePosted, now),
        "schedule_type": _SCHEDULES.get(posting.employmentType[0]) if posting.employmentType else None,
        "work_from_home": True if posting.workplace == "remote" else None,
        "salary": salary_text(posting),
    }
    detected = {key: value for key, value in detected.items() if value is not None}
    highlights = [
        {"title": title, "items": items}
        for title, items in (("Qualifications", posting.qualifications), ("Responsibilities", posting.responsibilities))
        if items
    ]
    item = {
        "title": posting.title,
        "company_name": posting.company,
        "location": location,
        "via": f"via {_VIA[index % len(_VIA)]}",
        "share_link": f"https://www.google.com/search?ibp=htl;jobs&q={posting.title}#htidocid={posting.id}",
        "thumbnail": f"https://serpapi.com/searches/thumb/{posting.id}.png",
        "extensions": [value for value in (detected.get("posted_at"), detected.get("schedule_type")) if value],
        "detected_extensions": detected,
        "description": posting.description,
        "job_highlights": highlights,
        "job_id": job_id,
    }
    if posting.url:
        item["apply_options"] = [{"title": posting.company or "Apply", "link": posting.url}]
    return item


def demo_jobs(now: datetime) -> list[dict]:
    """The demo postings as google_jobs results."""
    batch = load_folder(EXAMPLE_JOBS, now=now)
    return [google_job(posting, i, now) for i, posting in enumerate(batch.postings)]


class FakeSerpApi(LocalService):
    """GET /search?engine=google_jobs: matches every query word in title, company or description."""

    def __init__(self, *, api_key: str = API_KEY, now: datetime | None = None):
        super().__init__("serpapi")
        self.api_key = api_key
        self.jobs: list[dict] = demo_jobs(now or datetime.now(UTC))
        self.route("GET", "/search", self._search)

    def _matches(self, job: dict, query: str) -> bool:
        haystack = " ".join(str(job.get(key) or "") for key in ("title", "company_name", "description")).casefold()
        return all(word in haystack for word in query.casefold().split())

    def _search(self, request: Request) -> Reply:
        params = {key: values[0] for key, values in request.query.items()}
        if params.get("api_key") != self.api_key:
            return Reply(
                401, {"error": "Invalid API key. Your API key should be here: https://serpapi.com/manage-api-key"}
            )
        if params.get("engine") != "google_jobs":
            return Reply(400, {"error": f"Unsupported `{params.get('engine')}` search engine."})
        query = params.get("q", "")
        if not query:
            return Reply(400, {"error": "Missing query `q` parameter."})
        hits = [job for job in self.jobs if self._matches(job, query)]
        token = params.get("next_page_token")
        offset = json.loads(base64.urlsafe_b64decode(token))["offset"] if token else 0
        page = hits[offset : offset + PAGE_SIZE]
        if not page:
            # SerpAPI's answer to a search without hits: an error body with HTTP 200.
            return Reply(200, {"error": "Google hasn't returned any results for this query."})
        search_id = base64.b16encode(json.dumps(sorted(params.items())).encode()[:12]).decode().lower()
        body = {
            "search_metadata": {
                "id": search_id,
                "status": "Success",
                "json_endpoint": f"{self.url}/searches/{search_id}.json",
                "created_at": "2026-11-30 09:00:00 UTC",
                "processed_at": "2026-11-30 09:00:00 UTC",
                "google_jobs_url": f"https://www.google.com/search?{urlencode({'q': query, 'udm': 8})}",
                "total_time_taken": 1.21,
            },
            "search_parameters": {
                "q": query,
                "engine": "google_jobs",
                "google_domain": "google.com",
                **({"location_requested": params["location"]} if "location" in params else {}),
            },
            "filters": [{"name": "Remote", "parameters": {"uds": "remote"}}],
            "jobs_results": page,
        }
        if offset + PAGE_SIZE < len(hits):
            next_token = base64.urlsafe_b64encode(json.dumps({"offset": offset + PAGE_SIZE}).encode()).decode()
            kept = {k: v for k, v in params.items() if k not in ("api_key", "next_page_token")}
            body["serpapi_pagination"] = {
                "next_page_token": next_token,
                "next": f"{self.url}/search.json?{urlencode({**kept, 'next_page_token': next_token})}",
            }
        return Reply(200, body)


@pytest.fixture
def serpapi_world() -> Iterator[FakeSerpApi]:
    service = FakeSerpApi().start()
    yield service
    service.stop()
