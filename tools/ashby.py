"""Ashby's public posting API: a company's job board, with the pay it publishes.

`GET {base}/posting-api/job-board/{board}?includeCompensation=true` answers the whole board at once
(the API does not page): `{"apiVersion": "1", "jobs": [{id, title, department, team, employmentType,
location, secondaryLocations, address {postalAddress {addressLocality, addressRegion, addressCountry}},
isRemote, workplaceType, publishedAt, isListed, jobUrl, applyUrl, descriptionHtml, descriptionPlain,
compensation {compensationTierSummary, summaryComponents [{compensationType, interval, currencyCode,
minValue, maxValue}]}}]}`. Ashby names no company in a job: the board's name stands for it.
"""

from __future__ import annotations

from datetime import datetime

from jobland.domain.workplace import places_from_location
from jobland.tools.job_boards import BoardCall, BoardJobSource, company_of_slug
from jobland.tools.job_folder import PostingDraft

SERVICE = "ashby"
BASE_URL = "https://api.ashbyhq.com"
_INTERVALS = {"1 YEAR": "YEAR", "1 MONTH": "MONTH", "1 WEEK": "WEEK", "1 DAY": "DAY", "1 HOUR": "HOUR"}


def _salary(job: dict) -> dict | None:
    compensation = job.get("compensation") if isinstance(job.get("compensation"), dict) else {}
    for part in compensation.get("summaryComponents") or []:
        if isinstance(part, dict) and part.get("compensationType") == "Salary" and part.get("interval") in _INTERVALS:
            value = {
                "minValue": part.get("minValue"),
                "maxValue": part.get("maxValue"),
                "unitText": _INTERVALS[part["interval"]],
            }
            return {"currency": part.get("currencyCode"), "value": value}
    return compensation.get("compensationTierSummary") or None


def draft_of_job(job: dict, company: str) -> PostingDraft:
    location = str(job.get("location") or "")
    places, workplace = places_from_location(location)
    return PostingDraft(
        title=job.get("title"),
        company=company,
        places=places,
        workplace_hint=job.get("workplaceType") or (True if job.get("isRemote") else workplace),
        date_posted=job.get("publishedAt"),
        employment_type=job.get("employmentType"),
        salary=_salary(job),
        description=job.get("descriptionHtml") or job.get("descriptionPlain") or "",
        identifier=job.get("id"),
        url=job.get("jobUrl") or job.get("applyUrl"),
        location_text=location,
    )


class AshbyJobSource(BoardJobSource):
    service = SERVICE
    default_base_url = BASE_URL

    async def drafts(self, call: BoardCall, now: datetime) -> list[PostingDraft]:
        url = f"{self.api}/posting-api/job-board/{self.board}"
        answer = await call.json("GET", url, params={"includeCompensation": "true"})
        jobs = [job for job in (answer or {}).get("jobs") or [] if isinstance(job, dict) and job.get("isListed", True)]
        company = company_of_slug(self.board)
        return [draft_of_job(job, company) for job in jobs[: self.max_results]]
