"""Workplace words, written once: what says remote, hybrid, on-site or "no remote", in a posting's text,
in a source's location field ("Berlin, Germany or Remote (EU)", "Anywhere") and in the person's search.

The posting reader, the search reader and every source adapter ask this module; a second copy of these
words is how a search saying "on-site only" and a posting saying it came to be read differently.
"""

from __future__ import annotations

import re

from jobland.domain.models import PostalAddress

HYBRID_CUES = re.compile(
    r"\bhybrid\b(?![- ]cloud)|\bhybrides? arbeiten|\bmobiles arbeiten"
    # "two days a week in the office", "2-3 office days per week"; five days is simply on-site
    r"|\b(?:[1-4]|one|two|three|four)(?:\s*(?:-|–|to|or)\s*(?:[1-4]|two|three|four))?"
    r"\s+(?:office\s+)?days? (?:a|per|each) week\b|\b[1-4] tage büro\b",
    re.I,
)
REMOTE_CUES = re.compile(
    r"\b(?:fully|100\s?%|completely|entirely)[ -]remote\b|\bremote[- ](?:first|only)\b|\bremote\s*\("
    r"|\bremote (?:within|across|from anywhere|for)\b|\bwork from anywhere\b|\bvollständig remote\b"
    r"|\bthis (?:role|position) is remote\b|\bremote[,.]? (?:anywhere|open to)\b"
    r"|\b(?:a|fully|100%) remote (?:position|role|job|opportunity)\b|\b100\s?% (?:home ?office|remote)\b"
    r"|\bkomplett remote\b|\bremote[- ]friendly\b|\bfully distributed\b|\bwork from home\b",
    re.I,
)
ONSITE_CUES = re.compile(r"\bon[- ]?site\b|\bin[- ]office\b|\bin[- ]person\b|\boffice[- ]based\b|\bvor ort\b", re.I)
# Remote ruled out, in a posting ("On-site in Osaka, no remote") or in a search ("Munich, on-site only").
NO_REMOTE = re.compile(
    r"\bno remote\b|\bremote (?:work )?(?:\w+ )?(?:is )?not (?:possible|available|an option)\b|\bnot remote\b"
    r"|\bkein(?:e)? (?:home ?office|remote)\b|\bon[- ]?site only\b|\bfully on[- ]?site\b|\bnur vor ort\b"
    r"|\bfive days a week in (?:our|the) \w* ?office\b",
    re.I,
)
# A location field that names no place, only that the job is remote: "Anywhere", "Work from home".
_ANYWHERE = re.compile(r"anywhere|work from home", re.I)
_LOCATION_MODE = re.compile(r"\b(remote|hybrid)\b", re.I)


def address_from_text(text: str) -> PostalAddress | None:
    """'Munich, Bavaria, Germany' -> locality Munich, region Bavaria, country Germany."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        return None
    return PostalAddress(
        addressLocality=parts[0],
        addressRegion=", ".join(parts[1:-1]) or None,
        addressCountry=parts[-1] if len(parts) > 1 else None,
    )


def places_from_location(text: str) -> tuple[list[PostalAddress], str | None]:
    """A source's location field -> its addresses and the workplace hint it gives:
    'Berlin, Germany or Remote (EU)' -> the Berlin address and 'remote'; 'Anywhere' -> no address, 'remote'."""
    places: list[PostalAddress] = []
    workplace: str | None = None
    for part in re.split(r"\s*(?:;|\||/|\bor\b|\boder\b)\s*", text):
        if _ANYWHERE.fullmatch(part.strip(" -–,()")):
            workplace = "remote"
            continue
        if mentioned := _LOCATION_MODE.search(part):
            workplace = mentioned.group(1).lower()
            # "Remote (EU)" names no place; "Hybrid - Munich" and "Berlin (hybrid)" name Munich and Berlin.
            part = re.sub(r"\b(?:remote|hybrid)\b|\(.*?\)", "", part, flags=re.I)
        if address := address_from_text(part.strip(" -–,()")):
            places.append(address)
    return places, workplace
