"""Which postings are the same job, and which are no longer open.

Source-agnostic: the folder source, SerpAPI and Exa all hand their postings through here, so the
same opening found twice (two files, two sites, two formats) reaches the screener once.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime

from jobland.domain.models import DiscardedPosting, JobPosting
from jobland.domain.text import accent_fold

NEAR_DUPLICATE_JACCARD = 0.9
# Short descriptions share most of their words by chance; only longer ones are compared.
_MIN_DESCRIPTION_TOKENS = 30

_GENDER_TAGS = re.compile(
    r"\(\s*(?:all(?:\s+genders?)?|gn|divers|[mwfdxhi](?:\s*[/|,*]\s*(?:[mwfdxhi]|div(?:ers)?))+)\s*\)"
    r"|\b[mwf]\s*/\s*[mwf]\s*/\s*[dxi]\b"
    r"|(?<=\w)[*:_/]innen\b|(?<=\w)[*:_/]in\b",
    re.IGNORECASE,
)
_TITLE_SYNONYMS = {
    "sr": "senior",
    "snr": "senior",
    "jr": "junior",
    "jnr": "junior",
    "mid level": "mid",
    "intermediate": "mid",
}
_TITLE_SYNONYM_PATTERN = re.compile(r"\b(" + "|".join(map(re.escape, _TITLE_SYNONYMS)) + r")\b")
# Workplace words say where, not what: "Python Engineer (Remote)" is the same job as "Python Engineer".
_TITLE_NOISE = {"remote", "hybrid", "onsite"}
_COMPANY_SUFFIXES = {
    "gmbh",
    "mbh",
    "ag",
    "se",
    "kg",
    "kgaa",
    "ug",
    "haftungsbeschrankt",
    "ev",
    "co",
    "and",
    "inc",
    "incorporated",
    "ltd",
    "limited",
    "llc",
    "llp",
    "plc",
    "corp",
    "corporation",
    "company",
    "bv",
    "nv",
    "sa",
    "sas",
    "sarl",
    "srl",
    "spa",
    "oy",
    "ab",
    "as",
    "aps",
    "group",
    "holding",
}
_CITY_ALIASES = {
    "munchen": "munich",
    "muenchen": "munich",
    "koln": "cologne",
    "koeln": "cologne",
    "wien": "vienna",
    "lisboa": "lisbon",
    "nurnberg": "nuremberg",
    "frankfurt am main": "frankfurt",
    "den haag": "the hague",
}


def _tokens(text: str) -> list[str]:
    # '+' and '#' stay so that C++ and C# remain distinct from C.
    return re.findall(r"[\w+#]+", accent_fold(text).replace("_", " "))


def _title_key(title: str) -> str:
    words = " ".join(w for w in _tokens(_GENDER_TAGS.sub(" ", title)) if w not in _TITLE_NOISE)
    return _TITLE_SYNONYM_PATTERN.sub(lambda m: _TITLE_SYNONYMS[m.group(1)], words)


def company_key(company: str) -> str:
    """A company name without case, punctuation or legal form: 'ACME GmbH & Co. KG' -> 'acme'."""
    words = _tokens(company.replace("&", " and "))
    while len(words) > 1 and words[-1] in _COMPANY_SUFFIXES:
        words.pop()
    if len(words) > 1 and words[0] == "the":
        words.pop(0)
    return " ".join(words)


def _location_key(location: str) -> str:
    # The first part of 'Berlin, BE, Germany' or 'Remote (EU)' names the place; the rest varies by source.
    first = re.split(r"[,;/|(]", accent_fold(location), maxsplit=1)[0]
    city = " ".join(_tokens(first))
    if "remote" in city.split():
        return "remote"
    return _CITY_ALIASES.get(city, city)


def canonical_key(title: str, company: str, location: str) -> str:
    """The same opening seen through two sources gets the same key.

    'Sr. Python Engineer (m/w/d)' at 'Acme GmbH' in 'Berlin, DE' and 'Senior Python Engineer' at
    'ACME' in 'Berlin' both give 'senior python engineer|acme|berlin'.
    """
    return f"{_title_key(title)}|{company_key(company)}|{_location_key(location)}"


def description_tokens(text: str) -> frozenset[str]:
    return frozenset(t for t in _tokens(text) if len(t) > 1)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


def _richness(posting: JobPosting) -> tuple[int, date, int]:
    """Ordering for which record of a duplicate group to keep: more known fields, then fresher, then longer."""
    known = [
        posting.url,
        posting.baseSalary,
        posting.datePosted,
        posting.validThrough,
        posting.jobLocation,
        posting.employmentType,
        posting.workplace,
        posting.seniority,
        posting.skills,
        posting.qualifications,
        posting.responsibilities,
        posting.identifier,
        posting.hiringOrganization.sameAs,
    ]
    return sum(1 for value in known if value), posting.datePosted or date.min, len(posting.description)


def _similar_pairs(sets: list[frozenset[str]], threshold: float) -> Iterator[tuple[int, int]]:
    """Index pairs of sets with Jaccard >= threshold, without comparing every pair.

    Prefix filtering: two such sets share at least one of their rarest len - ceil(threshold * len) + 1
    tokens, so only sets meeting in those prefixes are compared.
    """
    frequency = Counter(token for tokens in sets for token in tokens)
    by_prefix_token: dict[str, list[int]] = defaultdict(list)
    for i, tokens in enumerate(sets):
        rarest_first = sorted(tokens, key=lambda token: (frequency[token], token))
        prefix = rarest_first[: len(tokens) - math.ceil(threshold * len(tokens) - 1e-9) + 1]
        candidates = {j for token in prefix for j in by_prefix_token[token]}
        for j in sorted(candidates):
            # A set less than threshold times the size of the other cannot reach the threshold.
            if threshold * max(len(tokens), len(sets[j])) <= min(len(tokens), len(sets[j])):
                if jaccard(sets[j], tokens) >= threshold:
                    yield j, i
        for token in prefix:
            by_prefix_token[token].append(i)


class _Groups:
    """Union-find over posting indexes."""

    def __init__(self, size: int):
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[max(root_a, root_b)] = min(root_a, root_b)


def dedupe_postings(postings: list[JobPosting]) -> tuple[list[JobPosting], list[DiscardedPosting]]:
    """Collapse postings of the same job: same canonical key, or same company and near-identical description.

    Of each group the richest (then freshest) record is kept, in the order of its group's first
    member; every other member is reported with the source of the record that was kept.
    """
    groups = _Groups(len(postings))
    first_with_key: dict[str, int] = {}
    tokens = [description_tokens(p.description) for p in postings]
    by_company: dict[str, list[int]] = defaultdict(list)
    for i, posting in enumerate(postings):
        company = company_key(posting.company)
        if not company:
            continue  # "Software Engineer" in Berlin at an unknown company says too little to merge on
        groups.join(first_with_key.setdefault(posting.canonical_key, i), i)
        if len(tokens[i]) >= _MIN_DESCRIPTION_TOKENS:
            by_company[company].append(i)
    for members in by_company.values():
        for a, b in _similar_pairs([tokens[i] for i in members], NEAR_DUPLICATE_JACCARD):
            groups.join(members[a], members[b])

    members_of: dict[int, list[int]] = defaultdict(list)
    for i in range(len(postings)):
        members_of[groups.find(i)].append(i)

    kept: list[JobPosting] = []
    discarded: list[DiscardedPosting] = []
    for members in members_of.values():
        winner = max(members, key=lambda i: _richness(postings[i]))
        keep = postings[winner]
        kept.append(keep)
        for i in members:
            if i == winner:
                continue
            dropped = postings[i]
            if dropped.canonical_key == keep.canonical_key:
                why = "same title, company and location"
            else:
                why = f"same company, {jaccard(tokens[i], tokens[winner]):.0%} of description words shared"
            discarded.append(
                DiscardedPosting(
                    source=dropped.source,
                    title=dropped.title,
                    reason=f"duplicate of '{keep.title}' at {keep.company or 'unknown company'} "
                    f"kept from {keep.source} ({why})",
                )
            )
    return kept, discarded


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def freshness(postings: list[JobPosting], now: datetime) -> tuple[list[JobPosting], list[DiscardedPosting]]:
    """Split off postings whose validThrough has passed; a posting without one counts as open."""
    now = _as_utc(now)
    fresh: list[JobPosting] = []
    expired: list[DiscardedPosting] = []
    for posting in postings:
        deadline = posting.validThrough
        if deadline is not None and _as_utc(deadline) < now:
            expired.append(
                DiscardedPosting(
                    source=posting.source,
                    title=posting.title,
                    reason=f"expired on {deadline.date().isoformat()} (validThrough)",
                )
            )
        else:
            fresh.append(posting)
    return fresh, expired
