"""A local Workday career site (CXS): POST /wday/cxs/{tenant}/{site}/jobs, GET .../job/{place}/{slug}_{id}.

The search takes `{"appliedFacets", "limit", "offset", "searchText"}` and answers `{"total",
"jobPostings": [{title, externalPath, locationsText, postedOn, bulletFields}], "facets"}` (the total
on the first page only, as Workday does); a job's page answers `{"jobPostingInfo": {...},
"hiringOrganization": {name, url}, "similarJobs": []}`. More than 20 a page is refused, as Workday does.
"""

from __future__ import annotations

import re

from jobland.domain.models import JobPosting
from tests.local_world.base import LocalService, Reply, Request
from tests.local_world.postings import description_html, location_line

_TIME_TYPES = {"FULL_TIME": "Full time", "PART_TIME": "Part time"}
_REMOTE_TYPES = {"remote": "Remote", "hybrid": "Hybrid", "onsite": "On-site"}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")


def external_path(posting: JobPosting, number: int) -> str:
    place = posting.jobLocation[0].address.addressLocality if posting.jobLocation else "Remote"
    return f"/job/{_slug(place or 'Remote')}/{_slug(posting.title)}_R{number:05d}"


def listed_job(posting: JobPosting, number: int) -> dict:
    return {
        "title": posting.title,
        "externalPath": external_path(posting, number),
        "locationsText": location_line(posting),
        "postedOn": "Posted 3 Days Ago",
        "bulletFields": [f"R{number:05d}"],
    }


def job_detail(posting: JobPosting, number: int, host: str, tenant: str, site: str) -> dict:
    address = posting.jobLocation[0].address if posting.jobLocation else None
    return {
        "jobPostingInfo": {
            "id": f"{number:032x}",
            "title": posting.title,
            "jobDescription": description_html(posting),
            "location": address.addressLocality if address and address.addressLocality else location_line(posting),
            "additionalLocations": [],
            "country": {"descriptor": "Germany" if address and address.addressCountry == "DE" else None, "id": "c"},
            "postedOn": "Posted 3 Days Ago",
            "startDate": posting.datePosted.isoformat() if posting.datePosted else None,
            "timeType": _TIME_TYPES.get(posting.employmentType[0]) if posting.employmentType else None,
            "remoteType": _REMOTE_TYPES.get(posting.workplace or ""),
            "jobReqId": f"R{number:05d}",
            "jobPostingId": f"{_slug(posting.title)}_R{number:05d}",
            "jobPostingSiteId": site,
            "canApply": True,
            "externalUrl": f"https://{host}/{site}{external_path(posting, number)}",
        },
        "hiringOrganization": {"name": posting.company, "url": ""},
        "similarJobs": [],
    }


class FakeWorkday(LocalService):
    """Career sites by (tenant, site): a host name for their links and the postings they list."""

    def __init__(self) -> None:
        super().__init__("workday")
        self.sites: dict[tuple[str, str], tuple[str, list[JobPosting]]] = {}
        self.route("POST", "/wday/cxs/", self._search)
        self.route("GET", "/wday/cxs/", self._detail)

    def _site(self, request: Request) -> tuple[str, str, str, list[JobPosting]] | None:
        parts = request.path.strip("/").split("/")  # wday cxs TENANT SITE ...
        key = (parts[2], parts[3]) if len(parts) >= 4 else ("", "")
        if key not in self.sites:
            return None
        host, postings = self.sites[key]
        return key[0], key[1], host, postings

    def _search(self, request: Request) -> Reply:
        found = self._site(request)
        if found is None or not request.path.endswith("/jobs"):
            return Reply(404, {"errorCode": "HTTP_404", "message": "Not found"})
        body = request.json() or {}
        limit, offset = int(body.get("limit", 20)), int(body.get("offset", 0))
        if limit > 20:
            return Reply(400, {"errorCode": "HTTP_400", "message": "limit must be at most 20"})
        postings = found[3]
        page = [listed_job(p, i) for i, p in enumerate(postings)][offset : offset + limit]
        return Reply(200, {"total": len(postings) if offset == 0 else 0, "jobPostings": page, "facets": []})

    def _detail(self, request: Request) -> Reply:
        found = self._site(request)
        if found is None:
            return Reply(404, {"errorCode": "HTTP_404", "message": "Not found"})
        tenant, site, host, postings = found
        prefix = f"/wday/cxs/{tenant}/{site}"
        for i, posting in enumerate(postings):
            if request.path == prefix + external_path(posting, i):
                return Reply(200, job_detail(posting, i, host, tenant, site))
        return Reply(404, {"errorCode": "HTTP_404", "message": "Not found"})
