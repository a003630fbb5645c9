"""The person's search, read the way a recruiter reads a brief: "senior Python backend, Munich or
remote, at least 75k" -> the backend family, Munich, remote accepted, a 75,000 floor.

intake turns it into the SearchRequest fields; the screener reads the roles and the remote region from
the request's query, so the search counts on every source, the embedded folder included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from jobland.domain.models import SearchRequest
from jobland.domain.places import areas_in
from jobland.domain.posting_facts import Area
from jobland.domain.roles import families_named
from jobland.domain.salary import AMOUNT, amount_of
from jobland.domain.workplace import NO_REMOTE

_SALARY = re.compile(r"(?:at least|min(?:imum)?|>=?|mindestens|ab)\s*[€$£]?\s*(\d{2,3})(?:[.,]?(\d{3})|\s*k)\b", re.I)
_REMOTE_ONLY = re.compile(r"\bremote only\b|\bonly remote\b|\bnur remote\b|\bfully remote\b", re.I)
# "data engineer roles, remote": a part that says nothing but remote, with no place beside it.
_JUST_REMOTE = re.compile(r"^\W*(?:fully |100% )?remote(?: roles?| jobs?| work)?\W*$", re.I)
_REMOTE_WITHIN = re.compile(
    r"\bremote\s*(?:\(|within|in|across|from)\s*(?:the\s+)?([\w/ ]{2,30}?)\)?\s*(?=$|[,;.]|\bor\b)", re.I
)
_PLACE_PARTS = re.compile(r"\s*(?:,|;|\bor\b|\boder\b|\band\b|\bin\b|\bnear\b|\baround\b)\s*", re.I)


@dataclass(frozen=True)
class SearchIntent:
    families: list[str] = field(default_factory=list)
    places: list[Area] = field(default_factory=list)
    remote_ok: bool = True
    remote_only: bool = False
    remote_within: list[Area] = field(default_factory=list)
    min_salary: int | None = None


def read_search(text: str) -> SearchIntent:
    """What a search message asks for; parts it does not understand are left to the embedding."""
    salary = _SALARY.search(text)
    amount = AMOUNT.search(salary.group(0)) if salary else None
    min_salary = round(amount_of(amount)) if amount else None
    within = [a for m in _REMOTE_WITHIN.finditer(text) for a in areas_in(m.group(1)) if a.kind != "city"]
    rest = _REMOTE_WITHIN.sub(" ", _SALARY.sub(" ", text))
    places: dict[str, Area] = {}
    for part in _PLACE_PARTS.split(rest):
        # Only a part that is nothing but a place name: "Python backend" is no place, "Munich" is.
        for area in (
            areas_in(part.strip(), min_city_population=50_000) if part.strip() and len(part.split()) <= 3 else []
        ):
            if not families_named(part) and part.strip()[:1].isupper():
                places.setdefault(area.name, area)
    return SearchIntent(
        families=families_named(text),
        places=list(places.values()),
        remote_ok=not NO_REMOTE.search(text),
        remote_only=bool(_REMOTE_ONLY.search(text))
        or not places
        and any(_JUST_REMOTE.match(part) for part in re.split(r"[,;]", text)),
        remote_within=within,
        min_salary=min_salary,
    )


@dataclass(frozen=True)
class SearchTerms:
    """What a search holds every posting to, from every source, whichever way it came (message, --location, API).

    The request's own fields win over what its query text says.
    """

    families: list[str]
    places: list[str]
    remote: Literal["onsite_only", "remote_only"] | None
    remote_within: list[Area]
    min_salary: int | None

    def summary(self) -> str:
        """'roles: backend · places: Munich · remote: accepted · salary: at least 75,000', for the person to check."""
        remote = {"onsite_only": "ruled out (on-site only)", "remote_only": "only"}.get(self.remote or "", "accepted")
        if self.remote_within:
            remote += f" (within {', '.join(a.name for a in self.remote_within)})"
        parts = [
            f"roles: {', '.join(self.families) or 'any (read from your CV)'}",
            f"places: {', '.join(self.places) or 'any'}",
            f"remote: {remote}",
        ]
        if self.min_salary is not None:
            parts.append(f"salary: at least {self.min_salary:,}")
        return " · ".join(parts)


def search_terms(request: SearchRequest) -> SearchTerms:
    intent = read_search(request.query)
    remote: Literal["onsite_only", "remote_only"] | None = None
    if not request.remote_ok or not intent.remote_ok:
        remote = "onsite_only"
    elif intent.remote_only:
        remote = "remote_only"
    return SearchTerms(
        families=intent.families,
        places=request.locations or [a.name for a in intent.places],
        remote=remote,
        remote_within=intent.remote_within,
        min_salary=request.min_salary if request.min_salary is not None else intent.min_salary,
    )
