"""Workday's public career-site API (CXS): a company's job search, then each job's page.

A board is named "tenant/site@host", as in https://acme.wd5.myworkdayjobs.com/en-US/External ->
"acme/External@acme.wd5.myworkdayjobs.com". `POST {base}/wday/cxs/{tenant}/{site}/jobs` with
`{"appliedFacets": {}, "limit": 20, "offset": N, "searchText": ""}` answers `{"total", "jobPostings":
[{title, externalPath, locationsText, postedOn, bulletFields}], "facets"}` (Workday gives the total on
the first page only); `GET {base}/wday/cxs/{tenant}/{site}{externalPath}` answers `{"jobPostingInfo":
{id, title, jobDescription (HTML), location, additionalLocations, country {descriptor}, postedOn,
startDate, timeType, remoteType, jobReqId, externalUrl}, "hiringOrganization": {name, url}}`.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime

from jobland.domain.workplace import places_from_location
from jobland.tools.job_boards import BoardCall, BoardJobSource, company_of_slug
from jobland.tools.job_folder import JobSourceError, PostingDraft
from jobland.tools.serpapi_jobs import posted_on

SERVICE = "workday"
PAGE_SIZE = 20  # the most a CXS search page holds
_BOARD = re.compile(r"^(?P<tenant>[\w.-]+)/(?P<site>[\w.-]+)@(?P<host>[A-Za-z0-9.-]+\.[A-Za-z]{2,})$")


@dataclass(frozen=True)
class WorkdayBoard:
    tenant: str
    site: str
    host: str


def workday_board(spec: str) -> WorkdayBoard:
    """'acme/External@acme.wd5.myworkdayjobs.com' -> its tenant, site and host."""
    match = _BOARD.match(spec.strip())
    if not match:
        raise JobSourceError(
            f'workday board "{spec}" is not "tenant/site@host": for https://acme.wd5.myworkdayjobs.com/en-US/External '
            'write "acme/External@acme.wd5.myworkdayjobs.com"'
        )
    return WorkdayBoard(**match.groupdict())


def draft_of_job(detail: dict, listed: dict, now: datetime) -> PostingDraft:
    info = detail.get("jobPostingInfo") if isinstance(detail.get("jobPostingInfo"), dict) else {}
    organization = detail.get("hiringOrganization") if isinstance(detail.get("hiringOrganization"), dict) else {}
    location = str(info.get("location") or listed.get("locationsText") or "")
    country = (info.get("country") or {}).get("descriptor") if isinstance(info.get("country"), dict) else None
    places, workplace = places_from_location(
        f"{location}, {country}" if country and country not in location else location
    )
    posted = info.get("startDate") or posted_on(str(info.get("postedOn") or listed.get("postedOn") or ""), now)
    if posted is None and "today" in str(info.get("postedOn") or listed.get("postedOn") or "").casefold():
        posted = now.date()
    return PostingDraft(
        title=info.get("title") or listed.get("title"),
        company=organization.get("name") or "",
        company_url=organization.get("url"),
        places=places,
        workplace_hint=info.get("remoteType") or workplace,
        date_posted=posted,
        employment_type=info.get("timeType"),
        description=info.get("jobDescription") or "",
        identifier=info.get("jobReqId") or info.get("id"),
        url=info.get("externalUrl"),
        location_text=location,
    )


class WorkdayJobSource(BoardJobSource):
    service = SERVICE
    default_base_url = ""  # each board's own host
    page_size = PAGE_SIZE

    @property
    def api(self) -> str:
        board = workday_board(self.board)
        base = (self.base_url or f"https://{board.host}").rstrip("/")
        return f"{base}/wday/cxs/{board.tenant}/{board.site}"

    async def drafts(self, call: BoardCall, now: datetime) -> list[PostingDraft]:
        listed: list[dict] = []
        total: int | None = None
        while len(listed) < self.max_results:
            body = {"appliedFacets": {}, "limit": self.page_size, "offset": len(listed), "searchText": ""}
            page = await call.json("POST", f"{self.api}/jobs", json=body)
            page = page if isinstance(page, dict) else {}
            if total is None:
                total = page.get("total") if isinstance(page.get("total"), int) else None
            jobs = [job for job in page.get("jobPostings") or [] if isinstance(job, dict) and job.get("externalPath")]
            listed.extend(jobs)
            if len(jobs) < self.page_size or (total is not None and len(listed) >= total):
                break
        listed = listed[: self.max_results]
        details = await asyncio.gather(*(call.json("GET", f"{self.api}{job['externalPath']}") for job in listed))
        company = company_of_slug(workday_board(self.board).tenant)
        drafts = [
            draft_of_job(d if isinstance(d, dict) else {}, job, now) for d, job in zip(details, listed, strict=True)
        ]
        for draft in drafts:
            draft.company = draft.company or company
        return drafts
