"""The person's search, read the way a recruiter reads a brief: "senior Python backend, Munich or
remote, at least 75k" -> the backend family, Munich, remote accepted, a 75,000 floor.

intake turns it into the SearchRequest fields; the screener reads the roles and the remote region from
the request's query, so the search counts on every source, the embedded folder included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from jobland.domain.places import areas_in
from jobland.domain.posting_facts import Area
from jobland.domain.roles import families_named

_SALARY = re.compile(r"(?:at least|min(?:imum)?|>=?|mindestens|ab)\s*[€$£]?\s*(\d{2,3})(?:[.,]?(\d{3})|\s*k)\b", re.I)
_ONSITE_ONLY = re.compile(r"\b(?:on[- ]?site only|no remote|kein remote|nur vor ort)\b", re.I)
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
    min_salary = None
    if salary:
        min_salary = int(salary.group(1) + salary.group(2)) if salary.group(2) else int(salary.group(1)) * 1000
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
        remote_ok=not _ONSITE_ONLY.search(text),
        remote_only=bool(_REMOTE_ONLY.search(text))
        or not places
        and any(_JUST_REMOTE.match(part) for part in re.split(r"[,;]", text)),
        remote_within=within,
        min_salary=min_salary,
    )
