"""A local Lever Postings API: GET /v0/postings/{company}?mode=json&skip=N&limit=M.

The documented shape: a JSON list of `{id, text, categories {location, commitment, team, department,
allLocations}, country, workplaceType, opening, openingPlain, description, descriptionPlain, lists
[{text, content}], additional, additionalPlain, hostedUrl, applyUrl, createdAt, salaryRange}`,
`skip` and `limit` paging it. An unknown company is a 404 `{"ok": false, "error": "Document not found"}`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from jobland.domain.models import JobPosting
from tests.local_world.base import LocalService, Reply, Request
from tests.local_world.postings import list_items, location_line, opening_and_lists

_COMMITMENTS = {"FULL_TIME": "Full-time", "PART_TIME": "Part-time", "CONTRACTOR": "Contract", "INTERN": "Internship"}
_WORKPLACES = {"remote": "remote", "hybrid": "hybrid", "onsite": "on-site"}
_INTERVALS = {"YEAR": "per-year-salary", "MONTH": "per-month-salary", "HOUR": "per-hour-wage"}


def lever_posting(posting: JobPosting, company: str, number: int) -> dict:
    posting_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{company}/{number}"))
    posted = posting.datePosted or datetime(2026, 11, 20, tzinfo=UTC).date()
    opening, blocks = opening_and_lists(posting)
    lists = [{"text": heading, "content": list_items(items)} for heading, items in blocks]
    item = {
        "id": posting_id,
        "text": posting.title,
        "categories": {
            "location": location_line(posting),
            "commitment": _COMMITMENTS.get(posting.employmentType[0]) if posting.employmentType else None,
            "team": "Engineering",
            "department": "Technology",
            "allLocations": [location_line(posting)],
        },
        "country": posting.jobLocation[0].address.addressCountry if posting.jobLocation else None,
        "workplaceType": _WORKPLACES.get(posting.workplace or "", "unspecified"),
        "opening": opening,
        "openingPlain": posting.description,
        "description": opening,
        "descriptionPlain": posting.description,
        "lists": lists,
        "additional": "<p>We look forward to hearing from you.</p>",
        "additionalPlain": "We look forward to hearing from you.",
        "hostedUrl": f"https://jobs.lever.co/{company}/{posting_id}",
        "applyUrl": f"https://jobs.lever.co/{company}/{posting_id}/apply",
        "createdAt": int(datetime(posted.year, posted.month, posted.day, tzinfo=UTC).timestamp() * 1000),
    }
    salary = posting.baseSalary
    if salary and salary.minValue and salary.unitText in _INTERVALS:
        item["salaryRange"] = {
            "currency": salary.currency,
            "interval": _INTERVALS[salary.unitText],
            "min": salary.minValue,
            "max": salary.maxValue or salary.minValue,
        }
    return item


class FakeLever(LocalService):
    """Companies by slug, each a list of postings served in skip/limit pages."""

    def __init__(self) -> None:
        super().__init__("lever")
        self.companies: dict[str, list[JobPosting]] = {}
        self.route("GET", "/v0/postings/", self._postings)

    def _postings(self, request: Request) -> Reply:
        company = request.path.strip("/").split("/")[2]
        if company not in self.companies:
            return Reply(404, {"ok": False, "error": "Document not found"})
        skip = int(request.query.get("skip", ["0"])[0])
        limit = int(request.query.get("limit", ["100"])[0])
        items = [lever_posting(p, company, i) for i, p in enumerate(self.companies[company])]
        return Reply(200, items[skip : skip + limit])
