"""A local Ashby posting API: GET /posting-api/job-board/{board}?includeCompensation=true.

The documented shape: `{"apiVersion": "1", "jobs": [{id, title, department, team, employmentType,
location, secondaryLocations, address {postalAddress}, isRemote, workplaceType, publishedAt, isListed,
jobUrl, applyUrl, descriptionHtml, descriptionPlain, shouldDisplayCompensationOnJobPostings,
compensation}]}`. One answer holds the whole board (Ashby does not page). An unknown board is a 404.
"""

from __future__ import annotations

import uuid

from jobland.domain.models import JobPosting
from tests.local_world.base import LocalService, Reply, Request
from tests.local_world.postings import description_html, iso_moment, location_line

_TYPES = {"FULL_TIME": "FullTime", "PART_TIME": "PartTime", "CONTRACTOR": "Contract", "INTERN": "Intern"}
_WORKPLACES = {"remote": "Remote", "hybrid": "Hybrid", "onsite": "OnSite"}
_INTERVALS = {"YEAR": "1 YEAR", "MONTH": "1 MONTH", "HOUR": "1 HOUR"}


def _compensation(posting: JobPosting) -> dict | None:
    salary = posting.baseSalary
    if not salary or not salary.minValue or salary.unitText not in _INTERVALS:
        return None
    low, high = salary.minValue, salary.maxValue or salary.minValue
    summary = f"{salary.currency} {low / 1000:g}K – {high / 1000:g}K"
    component = {
        "id": "c1",
        "summary": summary,
        "compensationType": "Salary",
        "interval": _INTERVALS[salary.unitText],
        "currencyCode": salary.currency,
        "minValue": low,
        "maxValue": high,
    }
    return {
        "compensationTierSummary": summary,
        "scrapeableCompensationSalarySummary": summary,
        "compensationTiers": [{"id": "t1", "tierSummary": summary, "components": [component]}],
        "summaryComponents": [component],
    }


def ashby_job(posting: JobPosting, board: str, number: int, *, listed: bool = True) -> dict:
    job_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"ashby/{board}/{number}"))
    address = posting.jobLocation[0].address if posting.jobLocation else None
    job = {
        "id": job_id,
        "title": posting.title,
        "department": "Engineering",
        "team": "Platform",
        "employmentType": _TYPES.get(posting.employmentType[0]) if posting.employmentType else "FullTime",
        "location": location_line(posting),
        "secondaryLocations": [],
        "address": {
            "postalAddress": {
                "addressLocality": address.addressLocality if address else None,
                "addressRegion": address.addressRegion if address else None,
                "addressCountry": address.addressCountry if address else None,
            }
        },
        "isRemote": posting.workplace == "remote",
        "workplaceType": _WORKPLACES.get(posting.workplace or ""),
        "publishedAt": iso_moment(posting),
        "isListed": listed,
        "jobUrl": f"https://jobs.ashbyhq.com/{board}/{job_id}",
        "applyUrl": f"https://jobs.ashbyhq.com/{board}/{job_id}/application",
        "descriptionHtml": description_html(posting),
        "descriptionPlain": posting.description,
        "shouldDisplayCompensationOnJobPostings": True,
    }
    if compensation := _compensation(posting):
        job["compensation"] = compensation
    return job


class FakeAshby(LocalService):
    """Boards by name, each a list of postings; `unlisted` ones are on the board but not shown."""

    def __init__(self) -> None:
        super().__init__("ashby")
        self.boards: dict[str, list[JobPosting]] = {}
        self.unlisted: dict[str, list[JobPosting]] = {}
        self.route("GET", "/posting-api/job-board/", self._board)

    def _board(self, request: Request) -> Reply:
        board = request.path.strip("/").split("/")[2]
        if board not in self.boards:
            return Reply(404, {"success": False, "errors": ["Job board not found"]})
        postings = [(p, True) for p in self.boards[board]] + [(p, False) for p in self.unlisted.get(board, [])]
        jobs = [ashby_job(p, board, i, listed=listed) for i, (p, listed) in enumerate(postings)]
        if request.query.get("includeCompensation", ["false"])[0] != "true":
            for job in jobs:
                job.pop("compensation", None)
        return Reply(200, {"apiVersion": "1", "jobs": jobs})
