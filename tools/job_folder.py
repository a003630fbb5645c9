"""The embedded job source: a folder of posting files.

Reads schema.org JobPosting JSON (single, list or @graph), HTML pages (JSON-LD, or the page text
when there is none), JSON Resume job files and Markdown/plain-text postings, and maps them onto
domain.models.JobPosting. Everything in a posting is data: text stays text, nothing from a file
chooses a path, a recipient or a tool, and a broken file becomes a DiscardedPosting, not a crash.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import yaml
from bs4 import BeautifulSoup, NavigableString, Tag
from dateutil import parser as date_parser
from pydantic_core import to_jsonable_python

from jobland.domain.dedupe import canonical_key, dedupe_postings, freshness
from jobland.domain.models import (
    DiscardedPosting,
    JobPosting,
    Organization,
    Place,
    PostalAddress,
    SearchRequest,
)
from jobland.domain.posting_reader import (
    listed_duties_and_qualifications,
    read_posting,
    required_languages,  # noqa: F401 (callers of the folder source read it from here)
)
from jobland.domain.roles import seniority_of as infer_seniority  # noqa: F401 (as above)
from jobland.domain.salary import parse_salary, salary_in_description
from jobland.domain.skills import canonical_skill, extract_skills
from jobland.domain.text import content_hash, normalize_text, stable_id, strip_bullet
from jobland.domain.workplace import address_from_text, places_from_location
from jobland.examples import EXAMPLE_JOBS

MAX_FILE_BYTES = 2 * 1024 * 1024
JSON_SUFFIXES = frozenset({".json", ".jsonld"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
TEXT_SUFFIXES = frozenset({".md", ".markdown", ".txt"})
_SUPPORTED = ", ".join(sorted(JSON_SUFFIXES | HTML_SUFFIXES | TEXT_SUFFIXES))
# Notes about a folder, not postings.
_SKIPPED_NAMES = frozenset({"readme.md", "readme.txt"})


class JobSourceError(ValueError):
    """A job source cannot be read at all (as opposed to one bad posting, which is discarded)."""


class UnusablePosting(ValueError):
    """One file or posting that cannot become a JobPosting; its message is the discard reason."""


@dataclass(frozen=True)
class JobBatch:
    postings: list[JobPosting]
    discarded: list[DiscardedPosting]


class JobSource(Protocol):
    async def fetch(self, request: SearchRequest, *, now: datetime) -> JobBatch:
        """Postings open at `now`, deduplicated, with the ones dropped and why."""
        ...


@dataclass(frozen=True)
class FolderJobSource:
    """Every posting in one folder; filtering by the request is the screener's job, not this source's."""

    folder: Path

    async def fetch(self, request: SearchRequest, *, now: datetime) -> JobBatch:
        return await asyncio.to_thread(load_folder, self.folder, now=now)


@dataclass(frozen=True)
class FileJobSource:
    """The postings in one file (JSON, JSON-LD, HTML, Markdown or text), read like a folder's files."""

    path: Path

    async def fetch(self, request: SearchRequest, *, now: datetime) -> JobBatch:
        return await asyncio.to_thread(load_file, self.path, now=now)


@dataclass(frozen=True)
class TextJobSource:
    """One posting's text as the person pasted it (stdin, the API, the home page)."""

    text: str

    async def fetch(self, request: SearchRequest, *, now: datetime) -> JobBatch:
        return await asyncio.to_thread(load_text, self.text, now=now)


def load_folder(folder: Path, *, now: datetime) -> JobBatch:
    """Read every posting file in `folder` (not its subfolders), then drop expired ones and duplicates."""
    return _batch([_postings_of_file(path, now) for path in _posting_files(Path(folder))], now)


def load_file(path: Path, *, now: datetime) -> JobBatch:
    """Read the postings in one file, then drop expired ones and duplicates."""
    path = Path(path)
    if not path.is_file():
        raise JobSourceError(f"Job file {path} does not exist. Give a posting file ({_SUPPORTED}) or a folder of them.")
    return _batch([_postings_of_file(path, now)], now)


def load_text(text: str, *, now: datetime, source: str = "pasted") -> JobBatch:
    """One pasted posting: JSON or JSON-LD, HTML, or Markdown/plain text, told apart by what it looks like."""
    text = text.lstrip("\ufeff").strip()
    if not text:
        raise JobSourceError("the pasted posting is empty: paste the posting's text (or give its URL)")
    if len(text.encode()) > MAX_FILE_BYTES:
        raise JobSourceError(f"the pasted posting is over {MAX_FILE_BYTES // 1024 // 1024} MB; paste one posting")
    if text[0] in "[{":
        read: Callable[[str], list[PostingDraft]] = drafts_from_json
    elif _looks_like_html(text[:2000]) and text.startswith("<"):
        read = drafts_from_html
    else:
        read = _text_drafts
    return batch_of_drafts(read, text, source, now)


def batch_of_drafts(read: Callable[[str], list[PostingDraft]], text: str, source: str, now: datetime) -> JobBatch:
    """The postings `read` finds in text (one source: a page, a paste), each bad one discarded with its reason."""
    try:
        drafts = read(text)
    except UnusablePosting as problem:
        raise JobSourceError(f"{source}: {problem}") from problem
    if not drafts:
        raise JobSourceError(f"{source}: no job posting found in it")
    batch = batch_of_sourced_drafts([(draft, source) for draft in drafts], now)
    if not batch.postings:  # the one posting given is unusable or expired: say why
        raise JobSourceError(f"{source}: {batch.discarded[0].reason}")
    return batch


def batch_of_sourced_drafts(drafts: list[tuple[PostingDraft, str]], now: datetime) -> JobBatch:
    """Drafts, each with its source ("lever:acme", "jobspy:indeed") -> fresh, deduplicated postings and discards."""
    postings: list[JobPosting] = []
    discarded: list[DiscardedPosting] = []
    for draft, source in drafts:
        try:
            postings.append(posting_from_draft(draft, source, now))
        except UnusablePosting as problem:
            discarded.append(DiscardedPosting(source=source, title=_one_line(draft.title), reason=str(problem)))
    return _batch([(postings, discarded)], now)


def _text_drafts(text: str) -> list[PostingDraft]:
    return [draft_from_text(text)]


def _postings_of_file(path: Path, now: datetime) -> tuple[list[JobPosting], list[DiscardedPosting]]:
    source = f"folder:{path.name}"
    try:
        drafts = _read_drafts(path)
    except UnusablePosting as problem:
        return [], [DiscardedPosting(source=source, reason=f"{path.name}: {problem}")]
    postings: list[JobPosting] = []
    discarded: list[DiscardedPosting] = []
    for draft in drafts:  # one bad posting in a list must not cost the others
        try:
            postings.append(posting_from_draft(draft, source, now))
        except UnusablePosting as problem:
            discarded.append(DiscardedPosting(source=source, reason=f"{path.name}: {problem}"))
    return postings, discarded


def _batch(parts: list[tuple[list[JobPosting], list[DiscardedPosting]]], now: datetime) -> JobBatch:
    fresh, expired = freshness([p for postings, _ in parts for p in postings], now)
    unique, duplicates = dedupe_postings(fresh)
    return JobBatch(postings=unique, discarded=[*(d for _, dropped in parts for d in dropped), *expired, *duplicates])


def _posting_files(folder: Path) -> list[Path]:
    if not folder.exists():
        raise JobSourceError(
            f"Job folder {folder} does not exist. Point the jobs folder at a directory of postings ({_SUPPORTED})."
        )
    if not folder.is_dir():
        raise JobSourceError(
            f"{folder} is a file, not a folder. Put posting files ({_SUPPORTED}) in a folder and pass that."
        )
    try:
        entries = sorted(folder.iterdir())
    except OSError as error:
        raise JobSourceError(
            f"Cannot read job folder {folder}: {error.strerror or error}. Check its permissions."
        ) from error
    # Regular files only: a FIFO or device named like a posting would block or never end.
    files = [p for p in entries if not p.name.startswith(".") and p.name.lower() not in _SKIPPED_NAMES and p.is_file()]
    if not files:
        raise JobSourceError(
            f"Job folder {folder} holds no posting files. "
            f"Add postings ({_SUPPORTED}) or use the demo set in {EXAMPLE_JOBS}."
        )
    return files


def _read_drafts(path: Path) -> list[PostingDraft]:
    suffix = path.suffix.lower()
    if suffix not in JSON_SUFFIXES | HTML_SUFFIXES | TEXT_SUFFIXES:
        raise UnusablePosting(f"unsupported file type '{suffix or path.name}'; postings are {_SUPPORTED} files")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UnusablePosting(
                f"file is {size:,} bytes, over the {MAX_FILE_BYTES // 1024 // 1024} MB limit for a posting; "
                "keep one posting per file"
            )
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnusablePosting(f"not UTF-8 text (byte {error.start}); save it as UTF-8") from error
    except OSError as error:
        raise UnusablePosting(f"cannot be read ({error.strerror or error})") from error

    if suffix in JSON_SUFFIXES:
        return drafts_from_json(text)
    if suffix in HTML_SUFFIXES:
        return drafts_from_html(text)
    return [draft_from_text(text)]


# --------------------------------------------------------------------------- drafts: what a file says


@dataclass
class PostingDraft:
    """A posting as a source states it, before interpretation; every format and job source fills what it has."""

    title: Any = ""
    company: Any = ""
    company_url: Any = None
    company_description: Any = None
    places: list[PostalAddress] = field(default_factory=list)
    location_type: Any = None
    workplace_hint: Any = None
    date_posted: Any = None
    valid_through: Any = None
    employment_type: Any = None
    salary: Any = None
    salary_currency: Any = None
    description: Any = ""
    skills: Any = None
    qualifications: Any = None
    responsibilities: Any = None
    experience: Any = None
    seniority_hint: Any = None
    languages: Any = None
    identifier: Any = None
    url: Any = None
    location_text: Any = None
    applicant_locations: Any = None


def _text_of(value: Any) -> str:
    """Readable text of a JSON value: strings as they are, objects by their name or value."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        for key in ("name", "value", "text", "description", "@value"):
            if key in value:
                return _text_of(value[key])
        return ""
    if isinstance(value, list):
        return ", ".join(t for t in (_text_of(v) for v in value) if t)
    return ""


def _items_of(value: Any) -> list[str]:
    """A list field given as a list, a comma/line separated string or HTML list."""
    if value is None:
        return []
    if isinstance(value, list):
        return [t for t in (_text_of(v).strip() for v in value) if t]
    text = _text_of(value)
    if _looks_like_html(text):
        text = _markdown_of_html(text)
    separator = "\n" if "\n" in text else ","
    return [strip_bullet(part)[0] for part in text.split(separator) if strip_bullet(part)[0]]


# --------------------------------------------------------------------------- JSON and JSON-LD


def _schema_type(node: dict) -> set[str]:
    kinds = node.get("@type")
    names = kinds if isinstance(kinds, list) else [kinds]
    return {re.split(r"[/:#]", n)[-1] for n in names if isinstance(n, str)}


def _job_postings_in(data: Any) -> Iterator[dict]:
    """schema.org JobPosting objects in a JSON-LD value: the object itself, a list, or an @graph."""
    if isinstance(data, list):
        for item in data:
            yield from _job_postings_in(item)
    elif isinstance(data, dict):
        untyped_posting = "@type" not in data and {"title", "hiringOrganization"} <= data.keys()
        if "JobPosting" in _schema_type(data) or untyped_posting:
            yield data
        elif "@graph" in data:
            yield from _job_postings_in(data["@graph"])


def _is_json_resume_job(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and "@type" not in data
        and "hiringOrganization" not in data
        and bool(data.get("title"))
        and bool({"company", "responsibilities", "qualifications", "remote", "experience"} & data.keys())
    )


def drafts_from_json(text: str) -> list[PostingDraft]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise UnusablePosting(f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}") from error
    drafts = [_draft_from_schema_org(node) for node in _job_postings_in(data)]
    resume_jobs = data if isinstance(data, list) else [data]
    drafts += [_draft_from_json_resume(node) for node in resume_jobs if _is_json_resume_job(node)]
    if not drafts:
        raise UnusablePosting(
            "no job posting in this JSON: expected '\"@type\": \"JobPosting\"' (alone, in a list or in '@graph') "
            "or a JSON Resume job with 'title' and 'company'"
        )
    return drafts


def _address_of(value: Any) -> PostalAddress | None:
    if isinstance(value, dict) and "address" in value:
        value = value["address"]
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, str):
        return address_from_text(value)
    if not isinstance(value, dict):
        return None
    fields = {
        key: _text_of(value.get(key)).strip() or None
        for key in ("addressLocality", "addressRegion", "addressCountry", "postalCode", "streetAddress")
    }
    return PostalAddress(**fields) if any(fields.values()) else None


def _draft_from_schema_org(node: dict) -> PostingDraft:
    organization = node.get("hiringOrganization")
    organization = organization if isinstance(organization, dict) else {"name": organization}
    locations = node.get("jobLocation")
    same_as = organization.get("sameAs") or organization.get("url")
    identifier = node.get("identifier")
    return PostingDraft(
        title=node.get("title") or node.get("name"),
        company=_text_of(organization),
        company_url=same_as[0] if isinstance(same_as, list) and same_as else same_as,
        company_description=organization.get("description"),
        places=[a for a in map(_address_of, locations if isinstance(locations, list) else [locations]) if a],
        location_type=_text_of(node.get("jobLocationType")),
        date_posted=node.get("datePosted"),
        valid_through=node.get("validThrough"),
        employment_type=node.get("employmentType"),
        salary=node.get("baseSalary") or node.get("estimatedSalary"),
        salary_currency=node.get("salaryCurrency"),
        description=_text_of(node.get("description")),
        skills=node.get("skills"),
        qualifications=node.get("qualifications"),
        responsibilities=node.get("responsibilities"),
        experience=_experience_text(node.get("experienceRequirements")),
        identifier=identifier.get("value") if isinstance(identifier, dict) else identifier,  # a PropertyValue
        url=node.get("url"),
        applicant_locations=node.get("applicantLocationRequirements"),
    )


def _experience_text(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("monthsOfExperience"), (int, float)):
        return f"{value['monthsOfExperience'] / 12:g} years of experience"
    return _text_of(value) or None


def _draft_from_json_resume(node: dict) -> PostingDraft:
    """JSON Resume's job schema (resume-schema job-schema.json)."""
    location = node.get("location")
    skills = node.get("skills") if isinstance(node.get("skills"), list) else []
    keywords = [
        keyword
        for skill in skills
        for keyword in ((skill.get("keywords") or [skill.get("name")]) if isinstance(skill, dict) else [skill])
    ]
    meta = node.get("meta") if isinstance(node.get("meta"), dict) else {}
    address = None
    if isinstance(location, dict):
        address = PostalAddress(
            streetAddress=_text_of(location.get("address")) or None,
            postalCode=_text_of(location.get("postalCode")) or None,
            addressLocality=_text_of(location.get("city")) or None,
            addressRegion=_text_of(location.get("region")) or None,
            addressCountry=_text_of(location.get("countryCode")) or None,
        )
    elif isinstance(location, str):
        address = address_from_text(location)
    return PostingDraft(
        title=node.get("title"),
        company=_text_of(node.get("company")),
        places=[address] if address and address.model_dump(exclude_none=True) else [],
        workplace_hint=node.get("remote"),
        date_posted=node.get("date"),
        valid_through=node.get("validThrough") or node.get("expires"),
        employment_type=node.get("type"),
        salary=node.get("salary"),
        description=_text_of(node.get("description")),
        skills=keywords,
        qualifications=node.get("qualifications"),
        responsibilities=node.get("responsibilities"),
        experience=_text_of(node.get("experience")) or None,
        seniority_hint=node.get("experience"),
        url=node.get("url") or meta.get("canonical"),
        location_text=location if isinstance(location, str) else None,
    )


# --------------------------------------------------------------------------- HTML


_HTML_HINT = re.compile(
    r"<\s*/?\s*(?:p|br|ul|ol|li|div|h[1-6]|strong|b|em|i|span|a|table|script|style|img)\b|&(?:[a-z]+|#\d+);", re.I
)
_BLOCK_TAGS = ("p", "div", "section", "article", "ul", "ol", "table", "tr", "dl", "dt", "dd", "blockquote", "header")
_DROPPED_TAGS = frozenset(
    {"script", "style", "noscript", "template", "nav", "footer", "form", "svg", "iframe", "head", "button"}
)
# Text written around an element's content so that structure survives as light Markdown.
_MARKS = {
    **{tag: ("\n\n", "\n\n") for tag in _BLOCK_TAGS},
    **{f"h{level}": ("\n\n" + "#" * level + " ", "\n\n") for level in range(1, 7)},
    "li": ("\n- ", ""),
    "br": ("\n", ""),
}


def _looks_like_html(text: str) -> bool:
    return bool(_HTML_HINT.search(text))


def _soup(markup: str) -> BeautifulSoup:
    return BeautifulSoup(markup, "lxml")


def _markdownish(root: Tag) -> str:
    """The text of parsed HTML with its structure kept as light Markdown (# headings, - list items).

    Scripts, styles, navigation and comments are left out. Iterative, so deep nesting cannot overflow the stack.
    """
    parts: list[str] = []
    pending: list[str | Tag] = [root]
    while pending:
        item = pending.pop()
        if not isinstance(item, Tag):
            parts.append(item)
            continue
        if item.name in _DROPPED_TAGS:
            continue
        before, after = _MARKS.get(item.name, ("", ""))
        parts.append(before)
        pending.append(after)
        # Only plain text nodes: comments, doctypes and CDATA are NavigableString subclasses.
        children = [c for c in item.contents if isinstance(c, Tag) or type(c) is NavigableString]
        pending.extend(c if isinstance(c, Tag) else str(c) for c in reversed(children))
    return _tidy("".join(parts))


def _tidy(text: str) -> str:
    text = normalize_text(text)
    text = re.sub(r"^(-|#{1,6})\s*\n+(?=\S)", r"\1 ", text, flags=re.M)
    text = re.sub(r"^(- .*)\n\n+(?=- )", r"\1\n", text, flags=re.M)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _markdown_of_html(markup: str) -> str:
    """The text of an HTML fragment as light Markdown; scripts and styles are dropped, tags are gone."""
    return _markdownish(_soup(markup))


def drafts_from_html(text: str, *, main_text: Callable[[str], str | None] | None = None) -> list[PostingDraft]:
    """The JSON-LD JobPostings of a page; without any, the page read as one posting.

    main_text, when given, extracts the page's main content (a web page's boilerplate is more than a file's);
    without it, or when it finds nothing, the page's <main>, <article> or <body> is read.
    """
    soup = _soup(text)
    page_url = _page_url(soup)
    drafts: list[PostingDraft] = []
    for script in soup.find_all("script", attrs={"type": re.compile(r"^\s*application/ld\+json\s*$", re.I)}):
        try:
            data = json.loads(script.string or script.get_text())
        except json.JSONDecodeError:
            continue  # one broken block must not hide a good one next to it
        drafts.extend(_draft_from_schema_org(node) for node in _job_postings_in(data))
    for draft in drafts:
        draft.url = draft.url or page_url
    if drafts:
        return drafts

    heading = soup.find("h1") or soup.title
    page_title = heading.get_text(" ", strip=True) if heading else ""
    site = soup.find("meta", attrs={"property": "og:site_name"})
    content = soup.find("main") or soup.find("article") or soup.body or soup
    draft = draft_from_text((main_text and main_text(text)) or _markdownish(content), title_hint=page_title)
    draft.company = draft.company or (site.get("content", "") if site else "")
    draft.url = draft.url or page_url
    return [draft]


def _page_url(soup: BeautifulSoup) -> str | None:
    link = soup.find("link", rel="canonical")
    meta = soup.find("meta", attrs={"property": "og:url"})
    return (link.get("href") if link else None) or (meta.get("content") if meta else None)


# --------------------------------------------------------------------------- Markdown and plain text


_HEADER_KEYS = {
    "title": "title",
    "jobtitle": "title",
    "position": "title",
    "role": "title",
    "titel": "title",
    "stelle": "title",
    "company": "company",
    "employer": "company",
    "organisation": "company",
    "organization": "company",
    "unternehmen": "company",
    "firma": "company",
    "arbeitgeber": "company",
    "location": "location",
    "city": "location",
    "ort": "location",
    "standort": "location",
    "arbeitsort": "location",
    "einsatzort": "location",
    "dienstort": "location",
    "worklocation": "location",
    "officelocation": "location",
    "remote": "remote",
    "workplace": "remote",
    "workmodel": "remote",
    "workingmodel": "remote",
    "arbeitsmodell": "remote",
    "salary": "salary",
    "salaryrange": "salary",
    "compensation": "salary",
    "pay": "salary",
    "gehalt": "salary",
    "posted": "posted",
    "dateposted": "posted",
    "published": "posted",
    "date": "posted",
    "veröffentlicht": "posted",
    "validthrough": "valid_through",
    "validuntil": "valid_through",
    "applyby": "valid_through",
    "closingdate": "valid_through",
    "deadline": "valid_through",
    "expires": "valid_through",
    "bewerbungsfrist": "valid_through",
    "employmenttype": "employment_type",
    "type": "employment_type",
    "contract": "employment_type",
    "anstellungsart": "employment_type",
    "languages": "languages",
    "language": "languages",
    "sprachen": "languages",
    "sprache": "languages",
    "seniority": "seniority",
    "level": "seniority",
    "experience": "seniority",
    "url": "url",
    "link": "url",
    "apply": "url",
    "skills": "skills",
    "techstack": "skills",
    "stack": "skills",
}
_HEADER_LINE = re.compile(r"^(?:[-*]\s+)?([^\W\d][\w .'/-]{0,30}?)\s*:\s*(\S.*)$")
_MD_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.S)
_YAML_SCALARS = (str, int, float, bool, date)


def _header_key(raw: str) -> str | None:
    return _HEADER_KEYS.get(re.sub(r"[\s_-]+", "", raw.casefold()))


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    """A YAML front matter block as known header fields, and the text after it."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError as error:
        raise UnusablePosting(f"invalid YAML front matter: {str(error).splitlines()[0]}") from error
    fields: dict[str, Any] = {}
    for key, value in data.items() if isinstance(data, dict) else []:
        name = _header_key(str(key))
        # Only plain values: an anchor-expanded structure must not be walked.
        plain = isinstance(value, _YAML_SCALARS) or (
            isinstance(value, list) and all(isinstance(v, _YAML_SCALARS) for v in value)
        )
        if name and plain:
            fields[name] = value
    return fields, text[match.end() :]


def _is_title_line(line: str, following: str) -> bool:
    header = _HEADER_LINE.match(following.strip().replace("**", ""))
    return (
        len(line) <= 100
        and not line.endswith((".", ":"))
        and not _HEADER_LINE.match(line)
        and bool(header and _header_key(header.group(1)))
    )


def _header_lines(lines: list[str]) -> tuple[dict[str, Any], str | None, list[str]]:
    """'Key: value' lines and a first heading at the top of a text posting, and the lines after them."""
    fields: dict[str, Any] = {}
    heading: str | None = None
    for i, raw in enumerate(lines):
        line = raw.strip().replace("**", "")
        if not line:
            continue
        heading_match = _MD_HEADING.match(line)
        if heading_match and heading is None and not fields:
            heading = heading_match.group(1)
            continue
        if heading is None and not fields and i + 1 < len(lines) and _is_title_line(line, lines[i + 1]):
            heading = line  # a plain-text posting: its title, then "Company: ..." lines
            continue
        header = _HEADER_LINE.match(line)
        name = _header_key(header.group(1)) if header else None
        if not header or not name or name in fields:
            return fields, heading, lines[i:]
        fields[name] = header.group(2).strip()
    return fields, heading, []


def draft_from_text(text: str, *, title_hint: str = "") -> PostingDraft:
    fields, text = _front_matter(normalize_text(text).replace("\t", " "))
    header_fields, heading, body = _header_lines(text.split("\n"))
    fields = {**header_fields, **fields}
    title = _text_of(fields.get("title")) or heading or title_hint
    if not title:
        first = next((i for i, line in enumerate(body) if line.strip()), None)
        if first is not None and len(body[first]) <= 100 and not body[first].rstrip().endswith("."):
            title, body = body[first].strip().lstrip("#").strip(), body[first + 1 :]
    places, workplace = places_from_location(_text_of(fields.get("location")))
    return PostingDraft(
        title=title,
        company=_text_of(fields.get("company")),
        places=places,
        workplace_hint=fields.get("remote", workplace),
        date_posted=fields.get("posted"),
        valid_through=fields.get("valid_through"),
        employment_type=fields.get("employment_type"),
        salary=fields.get("salary"),
        description="\n".join(body).strip(),
        skills=fields.get("skills"),
        seniority_hint=fields.get("seniority"),
        languages=fields.get("languages"),
        url=fields.get("url"),
        location_text=" ".join(_text_of(fields.get(key)) for key in ("location", "remote")).strip(),
    )


def _plain_markdown(markdown: str) -> str:
    text = re.sub(r"^#{1,6}\s+", "", markdown, flags=re.M)
    text = re.sub(r"^\s*[*+]\s+", "- ", text, flags=re.M)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = text.replace("**", "").replace("`", "")
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# --------------------------------------------------------------------------- interpreting fields


def _parse_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text_of(value).strip()
    if not text:
        return None
    if match := re.fullmatch(r"(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?", text):
        year, month, day = (int(g) if g else 1 for g in match.groups())
        try:
            return date(year, month, day)
        except ValueError:
            return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    try:
        return date_parser.parse(text, dayfirst=True).date()
    except (ValueError, OverflowError):
        return None


def _parse_deadline(value: Any) -> datetime | None:
    """validThrough as an aware datetime; a bare date means open until the end of that day (UTC)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = _text_of(value).strip()
    if "T" in text:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        except ValueError:
            pass
    day = _parse_date(value)
    return datetime.combine(day, time.max, tzinfo=UTC) if day else None


_EMPLOYMENT_TYPES = {
    "fulltime": "FULL_TIME",
    "vollzeit": "FULL_TIME",
    "parttime": "PART_TIME",
    "teilzeit": "PART_TIME",
    "contract": "CONTRACTOR",
    "contractor": "CONTRACTOR",
    "freelance": "CONTRACTOR",
    "freelancer": "CONTRACTOR",
    "temporary": "TEMPORARY",
    "fixedterm": "TEMPORARY",
    "befristet": "TEMPORARY",
    "intern": "INTERN",
    "internship": "INTERN",
    "praktikum": "INTERN",
    "volunteer": "VOLUNTEER",
    "perdiem": "PER_DIEM",
    "other": "OTHER",
}


def _employment_types(value: Any) -> list[str]:
    names = value if isinstance(value, list) else re.split(r"[,;/|]", _text_of(value))
    found: dict[str, None] = {}
    for name in names:
        text = _text_of(name).strip()
        if text:
            compact = re.sub(r"[^a-zäöü]", "", text.casefold())
            found.setdefault(_EMPLOYMENT_TYPES.get(compact, re.sub(r"\W+", "_", text).strip("_").upper()), None)
    return list(found)


def _http_url(value: Any) -> str | None:
    text = _text_of(value).strip()
    parsed = urlparse(text)
    return text if parsed.scheme in {"http", "https"} and parsed.netloc else None


def _one_line(value: Any) -> str:
    return " ".join(normalize_text(html.unescape(_text_of(value))).split())


def _description_markdown(value: Any) -> str:
    text = _text_of(value)
    return _markdown_of_html(text) if _looks_like_html(text) else _tidy(text)


def _skills(explicit: Any, text: str) -> list[str]:
    names = [canonical_skill(name) for name in _items_of(explicit) if len(name) <= 60]
    return list(dict.fromkeys(n for n in names if n)) or extract_skills(text)


# --------------------------------------------------------------------------- draft -> JobPosting


def posting_from_draft(draft: PostingDraft, source: str, now: datetime) -> JobPosting:
    title = _one_line(draft.title)
    if not title:
        raise UnusablePosting("posting has no title")
    company = _one_line(draft.company)
    markdown = _description_markdown(draft.description)
    description = _plain_markdown(markdown)
    listed_responsibilities, listed_qualifications = listed_duties_and_qualifications(markdown)
    responsibilities = _items_of(draft.responsibilities) or listed_responsibilities
    qualifications = _items_of(draft.qualifications) or listed_qualifications
    places = [Place(address=address) for address in draft.places]
    facts = read_posting(
        title=title,
        text=markdown,
        qualifications=_items_of(draft.qualifications),
        responsibilities=_items_of(draft.responsibilities),
        skills=[name for name in _items_of(draft.skills) if len(name) <= 60],
        languages=_items_of(draft.languages),
        addresses=draft.places,
        location_text=_text_of(draft.location_text),
        location_type=_text_of(draft.location_type) or None,
        workplace_hint=draft.workplace_hint,
        applicant_locations=_items_of(draft.applicant_locations),
        seniority_hint=_text_of(draft.seniority_hint),
        experience=_text_of(draft.experience),
    )
    workplace = facts.workplace
    salary_currency = _text_of(draft.salary_currency).upper() or None
    fields: dict[str, Any] = {
        "title": title,
        "hiringOrganization": Organization(
            name=company,
            sameAs=_http_url(draft.company_url),
            description=_plain_markdown(_description_markdown(draft.company_description)) or None,
        ),
        "jobLocation": places,
        "jobLocationType": _text_of(draft.location_type).upper() or None,
        "workplace": workplace,
        "datePosted": _parse_date(draft.date_posted),
        "validThrough": _parse_deadline(draft.valid_through),
        "employmentType": _employment_types(draft.employment_type),
        "baseSalary": parse_salary(draft.salary, salary_currency) or salary_in_description(description),
        "description": description,
        "skills": _skills(draft.skills, "\n".join([title, description, *qualifications, *responsibilities])),
        "qualifications": qualifications,
        "responsibilities": responsibilities,
        "experienceRequirements": _one_line(draft.experience) or None,
        "seniority": facts.seniority,
        "languages": [need.name for need in facts.languages if need.required],
        "identifier": _one_line(draft.identifier) or None,
        "url": _http_url(draft.url),
        "facts": facts,
    }
    digest = content_hash(json.dumps(to_jsonable_python(fields), sort_keys=True))
    location = places[0].label() if places else ("Remote" if workplace == "remote" else "")
    return JobPosting(
        id=stable_id("job", source, digest),
        source=source,
        fetched_at=now,
        content_hash=digest,
        canonical_key=canonical_key(title, company, location),
        **fields,
    )
