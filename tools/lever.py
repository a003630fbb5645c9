"""Lever's public Postings API: a company's published postings, paged with skip and limit.

`GET {base}/v0/postings/{company}?mode=json&skip=N&limit=M` answers a JSON list of postings:
`{id, text (the title), categories {location, commitment, team, department, allLocations}, country,
workplaceType, description (HTML), descriptionPlain, lists [{text, content (HTML <li>s)}], additional,
hostedUrl, applyUrl, createdAt (ms), salaryRange {min, max, currency, interval}}`. A page shorter than
the limit is the last. Lever names no company in a posting: the board's name stands for it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from jobland.domain.workplace import places_from_location
from jobland.tools.job_boards import BoardCall, BoardJobSource, company_of_slug
from jobland.tools.job_folder import PostingDraft

SERVICE = "lever"
BASE_URL = "https://api.lever.co"
PAGE_SIZE = 100
_INTERVALS = {
    "per-year-salary": "YEAR",
    "per-month-salary": "MONTH",
    "per-week-salary": "WEEK",
    "per-day-wage": "DAY",
    "per-hour-wage": "HOUR",
}


def _salary(job: dict) -> dict | None:
    pay = job.get("salaryRange")
    if not isinstance(pay, dict) or pay.get("interval") not in _INTERVALS:
        return None  # "one-time" amounts are no pay rate
    value = {"minValue": pay.get("min"), "maxValue": pay.get("max"), "unitText": _INTERVALS[pay["interval"]]}
    return {"currency": pay.get("currency"), "value": value}


def _description(job: dict) -> str:
    """The opening, each list under its own heading ("Requirements", "What you'll do"), then the closing."""
    parts = [str(job.get("description") or "")]
    for block in job.get("lists") or []:
        if isinstance(block, dict):
            parts.append(f"<h3>{block.get('text') or ''}</h3><ul>{block.get('content') or ''}</ul>")
    parts.append(str(job.get("additional") or ""))
    return "\n".join(part for part in parts if part.strip())


def draft_of_job(job: dict, company: str) -> PostingDraft:
    categories = job.get("categories") if isinstance(job.get("categories"), dict) else {}
    location = str(categories.get("location") or "")
    places, workplace = places_from_location(location)
    created = job.get("createdAt")
    return PostingDraft(
        title=job.get("text"),
        company=company,
        places=places,
        workplace_hint=job.get("workplaceType") if job.get("workplaceType") != "unspecified" else workplace,
        date_posted=datetime.fromtimestamp(created / 1000, UTC).date() if isinstance(created, int | float) else None,
        employment_type=categories.get("commitment"),
        salary=_salary(job),
        description=_description(job),
        identifier=job.get("id"),
        url=job.get("hostedUrl") or job.get("applyUrl"),
        location_text=location,
    )


class LeverJobSource(BoardJobSource):
    service = SERVICE
    default_base_url = BASE_URL
    page_size = PAGE_SIZE

    async def drafts(self, call: BoardCall, now: datetime) -> list[PostingDraft]:
        jobs: list[dict] = []
        while len(jobs) < self.max_results:
            params = {"mode": "json", "skip": len(jobs), "limit": self.page_size}
            page = await call.json("GET", f"{self.api}/v0/postings/{self.board}", params=params)
            page = [job for job in page if isinstance(job, dict)] if isinstance(page, list) else []
            jobs.extend(page)
            if len(page) < self.page_size:
                break
        company = company_of_slug(self.board)
        return [draft_of_job(job, company) for job in jobs[: self.max_results]]
