"""The chat side of the HTTP API: reading a review reply, and saying what happened in plain words.

A reply such as "approve 1 and 3, reject 2" becomes decisions; numbers are positions in the
approval request. Anything that could be read two ways is refused with a question, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from domain.models import Decision

_ACCEPT = {"approve", "approved", "accept", "accepted", "send", "yes", "ok", "okay"}
_REJECT = {"reject", "rejected", "decline", "declined", "skip", "drop", "no", "discard"}
_ALL = {"all", "every", "everything", "both"}
_REST = {"rest", "others", "other", "remaining"}
# Words that turn a plain list into something a rule cannot read safely ("approve all except 2").
_AMBIGUOUS = {"not", "don", "dont", "except", "but", "unless", "maybe", "edit", "change", "instead", "without"}
_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9}
_WORD = re.compile(r"[a-z0-9_-]+")
EXAMPLE_REPLY = '"approve 1 and 3, reject 2", "approve all" or "reject all"'


@dataclass
class ReplyReading:
    """Decisions read from a reply, or the reason it could not be read."""

    decisions: list[Decision] = field(default_factory=list)
    problem: str = ""


def read_review_reply(message: str, package_ids: list[str]) -> ReplyReading:
    """Decisions for the packages of an approval request, in the order the request listed them."""
    words = _WORD.findall(message.lower())
    if unclear := sorted(_AMBIGUOUS.intersection(words)):
        return ReplyReading(
            problem=f"I only read plain lists, and {', '.join(repr(w) for w in unclear)} could change what you mean"
        )
    chosen: dict[str, str] = {}
    rest_action = ""
    action = ""
    for word in words:
        if word in _ACCEPT or word in _REJECT:
            action = "accept" if word in _ACCEPT else "reject"
            continue
        targets = _targets(word, package_ids)
        if targets is None:
            continue
        if isinstance(targets, str):
            return ReplyReading(problem=targets)
        if not action:
            return ReplyReading(problem=f"I do not know whether to approve or reject {word!r}")
        if word in _REST:
            rest_action = action
            continue
        for package_id in targets:
            if chosen.get(package_id, action) != action:
                return ReplyReading(
                    problem=f"package {package_ids.index(package_id) + 1} is both approved and rejected"
                )
            chosen[package_id] = action
    if rest_action:
        chosen.update({p: rest_action for p in package_ids if p not in chosen})
    if not chosen:
        return ReplyReading(problem="I could not find which packages you mean")
    return ReplyReading(decisions=[Decision(package_id=p, action=chosen[p]) for p in package_ids if p in chosen])


def _targets(word: str, package_ids: list[str]) -> list[str] | str | None:
    """The packages a word names; a str explains a word that names none; None for filler words."""
    if word in _ALL:
        return list(package_ids)
    if word in _REST:
        return []
    number = _NUMBERS.get(word) or (int(word) if word.isdigit() else None)
    if number is not None:
        if not 1 <= number <= len(package_ids):
            return f"there is no package {number}: the request lists {len(package_ids)}"
        return [package_ids[number - 1]]
    if len(word) >= 6:
        matches = [p for p in package_ids if p.lower().startswith(word)]
        if len(matches) == 1:
            return matches
    return None


def ask_again(problem: str, count: int) -> str:
    return (
        f"Sorry, {problem}. Tell me what to do with the {count} package(s) waiting, "
        f"by their numbers, e.g. {EXAMPLE_REPLY}."
    )


def review_summary(progress: dict, packages: list[dict], missing: Sequence[dict] = ()) -> str:
    """What a run found, and the packages awaiting review, numbered as a reply refers to them."""
    found = (
        f"Screened {progress['screened']} postings, {progress['high']} "
        f"{'is a strong match' if progress['high'] == 1 else 'are strong matches'}"
    )
    if missing:
        why = "; ".join(f"{pkg['title']} at {pkg['company']}: {pkg['error']}" for pkg in missing)
        found += f" ({len(missing)} could not be built: {why}; the review page can build them again)"
    if not packages:
        return f"{found}; nothing is waiting for your review."
    lines = []
    for number, pkg in enumerate(packages, start=1):
        flags = f", {len(pkg['flagged_claims'])} unsupported claim(s) flagged" if pkg["flagged_claims"] else ""
        lines.append(f"{number}. {pkg['title']} at {pkg['company']} (match {pkg['match_score']}/100{flags})")
    return (
        f"{found}; {len(packages)} package{'s are' if len(packages) != 1 else ' is'} ready for your review: "
        + " ".join(lines)
        + f". Reply e.g. {EXAMPLE_REPLY}."
    )


def outcome_summary(progress: dict, packages: list[dict], recipient: str) -> str:
    """What a finished run did: sent, rejected, or found nothing worth a package."""
    if not packages:
        return f"Screened {progress['screened']} postings; none is a strong match, so there is nothing to review."
    sent = [p for p in packages if p["status"] == "sent"]
    rejected = sum(p["status"] == "rejected" for p in packages)
    said = [f"Sent {len(sent)} package(s) to {recipient}" + "".join(f"; {p['title']} at {p['company']}" for p in sent)]
    if rejected:
        said.append(f"rejected {rejected}")
    return ", ".join(said) + "."
