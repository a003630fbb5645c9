"""A local Indeed job-search GraphQL API, as python-jobspy's Indeed scraper calls it: POST /graphql.

The request is `{"query": "query GetJobData { jobSearch(what: \"...\" location: {...} limit: 100
cursor: \"...\" ...) { pageInfo { nextCursor } results { job { ... } } } }"}`; the answer is
`{"data": {"jobSearch": {"pageInfo": {"nextCursor"}, "results": [{"job": {key, title,
sourceEmployerName, dateOnIndeed (ms), description {html}, location {countryCode, admin1Code, city},
compensation {baseSalary {unitOfWork, range {min, max}}, currencyCode, estimated}, attributes [{key,
label}], employer {name, relativeCompanyPageUrl, dossier}, recruit {viewJobUrl}}}]}}}`.
`page_size` results a page, the cursor naming the next offset.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from jobland.domain.models import JobPosting
from tests.local_world.base import LocalService, Reply, Request
from tests.local_world.postings import description_html

_TYPES = {"FULL_TIME": ("CF3CP", "Full-time"), "PART_TIME": ("75GKK", "Part-time"), "CONTRACTOR": ("NJXCK", "Contract")}
_REMOTE = ("DSQF7", "Remote")
_COUNTRIES = {"DE": "DE", "GB": "GB", "PT": "PT", "NL": "NL"}


def indeed_job(posting: JobPosting, number: int) -> dict:
    address = posting.jobLocation[0].address if posting.jobLocation else None
    posted = posting.datePosted or datetime(2026, 11, 20, tzinfo=UTC).date()
    attributes = [_TYPES[t] for t in posting.employmentType if t in _TYPES]
    if posting.workplace == "remote":
        attributes.append(_REMOTE)
    salary = posting.baseSalary
    base = None
    if salary and salary.minValue and salary.unitText:
        base = {"unitOfWork": salary.unitText, "range": {"min": salary.minValue, "max": salary.maxValue}}
    return {
        "key": f"{number:016x}",
        "title": posting.title,
        "sourceEmployerName": posting.company,
        "dateOnIndeed": int(datetime(posted.year, posted.month, posted.day, tzinfo=UTC).timestamp() * 1000),
        "description": {"html": description_html(posting)},
        "location": {
            "countryCode": _COUNTRIES.get(address.addressCountry or "") if address else None,
            "admin1Code": None,
            "city": address.addressLocality if address else None,
        },
        "compensation": {"baseSalary": base, "currencyCode": salary.currency if salary else None, "estimated": None},
        "attributes": [{"key": key, "label": label} for key, label in attributes],
        "employer": {"name": posting.company, "relativeCompanyPageUrl": None, "dossier": None},
        "recruit": {"viewJobUrl": posting.url},
    }


class FakeIndeed(LocalService):
    """Postings matched by every word of `what` in their title or description."""

    def __init__(self, page_size: int = 3) -> None:
        super().__init__("indeed")
        self.postings: list[JobPosting] = []
        self.page_size = page_size
        self.route("POST", "/graphql", self._search)

    def _search(self, request: Request) -> Reply:
        query = str((request.json() or {}).get("query") or "")
        what = re.search(r'what: "([^"]*)"', query)
        cursor = re.search(r'cursor: "(\d+)"', query)
        words = (what.group(1) if what else "").casefold().split()
        hits = [p for p in self.postings if all(w in f"{p.title} {p.description}".casefold() for w in words)]
        offset = int(cursor.group(1)) if cursor else 0
        page = [indeed_job(p, offset + i) for i, p in enumerate(hits[offset : offset + self.page_size])]
        following = str(offset + self.page_size) if offset + self.page_size < len(hits) else None
        search = {"pageInfo": {"nextCursor": following}, "results": [{"job": job} for job in page]}
        return Reply(200, {"data": {"jobSearch": search}})
