"""Greenhouse's public Job Board API: every open job of a company's board, with its description.

`GET {base}/v1/boards/{token}/jobs?content=true` answers the whole board at once (the Job Board API
does not page): `{"jobs": [{id, title, location: {name}, absolute_url, updated_at, first_published,
content (HTML, entity-escaped), departments, offices, metadata, company_name}], "meta": {"total"}}`.
A board whose jobs carry no company_name is named by `GET {base}/v1/boards/{token}` (`{"name", ...}`).
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from jobland.domain.workplace import places_from_location
from jobland.tools.job_boards import BoardCall, BoardJobSource
from jobland.tools.job_folder import PostingDraft

SERVICE = "greenhouse"
BASE_URL = "https://boards-api.greenhouse.io"


def _metadata(job: dict, name: str) -> Any:
    for item in job.get("metadata") or []:
        if isinstance(item, dict) and str(item.get("name") or "").strip().casefold() == name:
            return item.get("value")
    return None


def draft_of_job(job: dict, company: str) -> PostingDraft:
    location = str((job.get("location") or {}).get("name") or "")
    places, workplace = places_from_location(location)
    return PostingDraft(
        title=job.get("title"),
        company=job.get("company_name") or company,
        places=places,
        workplace_hint=workplace,
        date_posted=job.get("first_published") or job.get("updated_at"),
        employment_type=_metadata(job, "employment type"),
        salary=_metadata(job, "salary"),
        # The API escapes the description's HTML once more ("&lt;p&gt;").
        description=html.unescape(str(job.get("content") or "")),
        identifier=job.get("id"),
        url=job.get("absolute_url"),
        location_text=location,
    )


class GreenhouseJobSource(BoardJobSource):
    service = SERVICE
    default_base_url = BASE_URL

    async def drafts(self, call: BoardCall, now: datetime) -> list[PostingDraft]:
        answer = await call.json("GET", f"{self.api}/v1/boards/{self.board}/jobs", params={"content": "true"})
        jobs = [job for job in (answer or {}).get("jobs") or [] if isinstance(job, dict)][: self.max_results]
        company = ""
        if any(not job.get("company_name") for job in jobs):
            board = await call.json("GET", f"{self.api}/v1/boards/{self.board}")
            company = str((board or {}).get("name") or "")
        return [draft_of_job(job, company) for job in jobs]
