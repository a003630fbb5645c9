"""A local Greenhouse Job Board API: GET /v1/boards/{token}/jobs?content=true and GET /v1/boards/{token}.

The documented shapes: `{"jobs": [{id, internal_job_id, title, updated_at, requisition_id, location
{name}, absolute_url, metadata, content (entity-escaped HTML), departments, offices, company_name,
first_published}], "meta": {"total"}}`; the board itself is `{"name", "content"}`. The Job Board API
answers a whole board at once: there is no paging to fake. An unknown board is a 404.
"""

from __future__ import annotations

import html

from jobland.domain.models import JobPosting
from tests.local_world.base import LocalService, Reply, Request
from tests.local_world.postings import description_html, iso_moment, location_line

_SCHEDULES = {"FULL_TIME": "Full-time", "PART_TIME": "Part-time", "CONTRACTOR": "Contract", "INTERN": "Intern"}


def greenhouse_job(posting: JobPosting, token: str, number: int, *, company_name: bool = True) -> dict:
    job_id = 4_000_000 + number
    job = {
        "id": job_id,
        "internal_job_id": 2_000_000 + number,
        "title": posting.title,
        "updated_at": iso_moment(posting),
        "requisition_id": f"REQ-{number:04d}",
        "location": {"name": location_line(posting)},
        "absolute_url": f"https://job-boards.greenhouse.io/{token}/jobs/{job_id}",
        "language": "en",
        "metadata": [
            {
                "id": 91,
                "name": "Employment Type",
                "value": _SCHEDULES.get(posting.employmentType[0]) if posting.employmentType else None,
                "value_type": "single_select",
            }
        ],
        "content": html.escape(description_html(posting)),  # Greenhouse escapes the HTML once more
        "departments": [{"id": 11, "name": "Engineering", "child_ids": [], "parent_id": None}],
        "offices": [{"id": 21, "name": location_line(posting), "location": location_line(posting)}],
        "first_published": iso_moment(posting),
    }
    if company_name:
        job["company_name"] = posting.company
    return job


class FakeGreenhouse(LocalService):
    """Boards by token: each a company name and its postings."""

    def __init__(self) -> None:
        super().__init__("greenhouse")
        self.boards: dict[str, tuple[str, list[JobPosting]]] = {}
        self.company_names = True  # older boards' jobs carry no company_name
        self.route("GET", "/v1/boards/", self._board)

    def _board(self, request: Request) -> Reply:
        parts = request.path.strip("/").split("/")  # v1 boards TOKEN [jobs]
        token = parts[2] if len(parts) >= 3 else ""
        if token not in self.boards:
            return Reply(404, {"status": 404, "error": "Job not found"})
        company, postings = self.boards[token]
        if len(parts) == 3:
            return Reply(200, {"name": company, "content": f"<p>Careers at {html.escape(company)}</p>"})
        with_content = request.query.get("content", ["false"])[0] == "true"
        jobs = [
            greenhouse_job(p.model_copy(update={"company": company}), token, i, company_name=self.company_names)
            for i, p in enumerate(postings)
        ]
        if not with_content:
            for job in jobs:
                job.pop("content"), job.pop("departments"), job.pop("offices")
        return Reply(200, {"jobs": jobs, "meta": {"total": len(jobs)}})
