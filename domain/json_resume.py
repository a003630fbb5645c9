"""JSON Resume out: a Profile, or one package's tailored CV, as a document valid against the official schema.

The schema (jsonresume/resume-schema v1.0.0) wants ISO 8601 dates ("2021-03-01", "2021-03" or "2021") and URIs;
a CV writes "Mar 2021", "03/2021" or "since 2019" and "example.dev". Dates are read in any common form and written
at the precision the CV gave; a date that cannot be read is left out rather than written invalid. An ongoing end
date ("present") is no endDate at all, as the schema means it.
"""

from __future__ import annotations

import re
from typing import Any

from jobland.domain.dates import month_number as month_of
from jobland.domain.models import Profile, TailoredCV
from jobland.domain.person import is_ongoing

SCHEMA_URL = "https://raw.githubusercontent.com/jsonresume/resume-schema/v1.0.0/schema.json"

_ISO = re.compile(r"^(?P<y>\d{4})(?:-(?P<m>\d{1,2})(?:-(?P<d>\d{1,2}))?)?(?:T[\d:.]+Z?)?$")
_DAY_MONTH_YEAR = re.compile(r"^(?P<d>\d{1,2})[./](?P<m>\d{1,2})[./](?P<y>\d{4})$")
_MONTH_YEAR = re.compile(r"^(?P<m>\d{1,2})\s*[./-]\s*(?P<y>\d{4})$")
_YEAR_MONTH = re.compile(r"^(?P<y>\d{4})\s*[./]\s*(?P<m>\d{1,2})$")
_NAMED_MONTH = re.compile(
    r"^(?:(?P<d>\d{1,2})\.?\s+)?(?P<name>[^\W\d_]+)\.?,?\s*(?:(?P<d2>\d{1,2}),?\s+)?(?P<y>\d{4})$"
)
_SINCE = re.compile(r"^(?:since|seit|from|ab|depuis|desde)\s+", re.IGNORECASE)


def iso_date(value: str | None) -> str | None:
    """ "Mar 2021", "March 2021", "2021-03", "03/2021", "2021" -> "2021-03" (or "2021"); None when unreadable
    or ongoing. A day is kept when the CV gives one ("2014-12-01", "1 Dec 2014", "01.12.2014")."""
    if not value:
        return None
    text = _SINCE.sub("", " ".join(value.replace("\u00ad", "-").split())).strip(" ,;()")
    if is_ongoing(text) or text in ("-", "–"):  # "2019 –": still there
        return None
    year = month = day = None
    if match := _ISO.match(text) or _DAY_MONTH_YEAR.match(text) or _MONTH_YEAR.match(text) or _YEAR_MONTH.match(text):
        parts = match.groupdict()
        year, month, day = parts["y"], parts.get("m"), parts.get("d")
    elif match := _NAMED_MONTH.match(text):
        month_number = month_of(match.group("name"))
        if month_number is None:
            return None
        year, month, day = match.group("y"), str(month_number), match.group("d") or match.group("d2")
    else:
        return None
    if not 1900 <= int(year) <= 2100:
        return None
    if month is None:
        return year
    if not 1 <= int(month) <= 12:
        return None
    if day is None:
        return f"{year}-{int(month):02d}"
    return f"{year}-{int(month):02d}-{int(day):02d}" if 1 <= int(day) <= 31 else f"{year}-{int(month):02d}"


def uri(value: str | None) -> str | None:
    """A link as the schema's "uri" format wants it: "example.dev" -> "https://example.dev"."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if re.match(r"^[a-z][a-z0-9+.-]*:", value, re.IGNORECASE):
        return value
    return f"https://{value.removeprefix('//')}"


def _dates(item: dict[str, Any], *keys: str) -> None:
    for key in keys:
        if key in item:
            if found := iso_date(item[key]):
                item[key] = found
            else:
                del item[key]


def _links(item: dict[str, Any]) -> None:
    _links_named(item, "url")


def _links_named(item: dict[str, Any], key: str) -> None:
    if key in item:
        if link := uri(item[key]):
            item[key] = link
        else:
            del item[key]


def _pruned(value: Any) -> Any:
    """Without empty lists and empty objects: the schema allows them, but a theme prints an empty heading."""
    if isinstance(value, dict):
        kept = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in ([], {}, None)}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def profile_to_json_resume(profile: Profile) -> dict[str, Any]:
    """The profile as JSON Resume: highlights as strings, ISO 8601 dates, preferences under meta.jobland."""
    data = profile.model_dump(
        mode="json", exclude={"id", "source", "content_hash", "sections", "preferences", "meta"}, exclude_none=True
    )
    basics = data.get("basics", {})
    _links(basics)
    for social in basics.get("profiles", []):
        _links(social)
    for key in ("work", "volunteer", "projects"):
        for item in data.get(key, []):
            item["highlights"] = [h["text"] for h in item.get("highlights", [])]
            _dates(item, "startDate", "endDate")
            _links(item)
    for item in data.get("volunteer", []):
        item["organization"] = item.pop("name")
    for item in data.get("education", []):
        _dates(item, "startDate", "endDate")
        _links(item)
    for key, date_key in (("awards", "date"), ("certificates", "date"), ("publications", "releaseDate")):
        for item in data.get(key, []):
            _dates(item, date_key)
            _links(item)
    meta = dict(profile.meta)
    if preferences := profile.preferences.model_dump(mode="json", exclude_defaults=True):
        meta["jobland"] = preferences
    _links_named(meta, "canonical")
    return _pruned({"$schema": SCHEMA_URL, **data, "meta": meta})


_FIELD = re.compile(r"^(?P<key>work|volunteer|projects|education|awards|certificates)\[(?P<index>\d+)\]$")


def tailored_json_resume(profile: Profile, cv: TailoredCV) -> dict[str, Any]:
    """The tailored CV as JSON Resume: what the CV shows, in its order and words, and nothing else.

    Every line of the CV says what it rests on (EvidenceLine): an entry's lines name its profile field
    ("work[2]"), a bullet the highlights it rests on (its words may be reworded), a list line its field.
    """
    master = profile_to_json_resume(profile)
    owner: dict[str, tuple[str, int]] = {}  # highlight id -> (list key, index) of the item it belongs to
    for key in ("work", "volunteer", "projects"):
        for index, item in enumerate(getattr(profile, key)):
            owner.update({h.id: (key, index) for h in item.highlights})
    shown: dict[tuple[str, int], list[str]] = {}  # (list key, index) -> bullets, in the CV's order
    fields: set[str] = set()
    summary = skills_line = None
    for line in cv.lines:
        fields.update(line.source_fields)
        if "basics.summary" in line.source_fields:
            summary = line.text
        if "skills" in line.source_fields:
            skills_line = line.text
        for source in line.source_fields:
            if match := _FIELD.match(source):
                shown.setdefault((match.group("key"), int(match.group("index"))), [])
        if line.highlight_ids and (where := owner.get(line.highlight_ids[0])):
            shown.setdefault(where, []).append(line.text)

    resume: dict[str, Any] = {"$schema": SCHEMA_URL, "basics": dict(master.get("basics", {}))}
    resume["basics"].pop("summary", None)
    if summary:
        resume["basics"]["summary"] = summary
    if "basics.label" not in fields:
        resume["basics"].pop("label", None)
    for key in ("work", "volunteer", "projects"):
        items = [
            {**master[key][index], "highlights": bullets}
            for (kind, index), bullets in shown.items()
            if kind == key and index < len(master.get(key, []))
        ]
        if items:
            resume[key] = items
    for key in ("education", "awards", "certificates"):
        if items := [item for index, item in enumerate(master.get(key, [])) if f"{key}[{index}]" in fields]:
            resume[key] = items
    if skills_line is not None:
        resume["skills"] = _skills_shown(master.get("skills", []), skills_line)
    if "languages" in fields and master.get("languages"):
        resume["languages"] = master["languages"]
    return _pruned(resume)


def _skills_shown(skills: list[dict[str, Any]], line: str) -> list[dict[str, Any]]:
    """The master CV's skill groups cut to the names the tailored skills line shows."""

    def named(name: str) -> bool:
        return re.search(rf"(?<!\w){re.escape(name.strip())}(?!\w)", line, re.IGNORECASE) is not None

    kept = []
    for skill in skills:
        keywords = [k for k in skill.get("keywords", []) if named(k)]
        if keywords or named(skill["name"]):
            kept.append({**skill, "keywords": keywords} if skill.get("keywords") else skill)
    return kept
