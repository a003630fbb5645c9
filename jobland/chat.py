"""The chat side of the HTTP API: reading a review reply, and saying what happened in plain words.

A reply such as "approve 1 and 3, reject 2" becomes decisions. Numbers are the packages' handles:
their places in the thread's list of packages, which never change while the person decides (after
"approve 1 and 3" the rest are still 2, 4, 5...). Anything that could be read two ways is refused with
a question, never guessed, and every reply says what was just done.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from jobland.domain.models import Decision

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


def looks_like_a_decision(message: str) -> bool:
    """Whether a message reads as a review reply (approve/reject words), not as a new search."""
    return bool((_ACCEPT | _REJECT).intersection(_WORD.findall(message.lower())))


def read_review_reply(message: str, package_ids: list[str], waiting: Sequence[str] | None = None) -> ReplyReading:
    """Decisions for the packages named by their handles (1-based places in package_ids).

    `waiting` (default: all of them) are the ones still open; naming another is refused, saying why.
    "all" and "the rest" mean the waiting ones.
    """
    waiting = list(package_ids) if waiting is None else list(waiting)
    reading = _read(message, package_ids, waiting)
    if reading.problem:
        return reading
    if decided := [d.package_id for d in reading.decisions if d.package_id not in waiting]:
        numbers = ", ".join(str(package_ids.index(p) + 1) for p in decided)
        return ReplyReading(problem=f"package {numbers} was decided already")
    return reading


def _read(message: str, package_ids: list[str], waiting: list[str]) -> ReplyReading:
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
        targets = _targets(word, package_ids, waiting)
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
        chosen.update({p: rest_action for p in waiting if p not in chosen})
    if not chosen:
        return ReplyReading(problem="I could not find which packages you mean")
    return ReplyReading(decisions=[Decision(package_id=p, action=chosen[p]) for p in package_ids if p in chosen])


def _targets(word: str, package_ids: list[str], waiting: list[str]) -> list[str] | str | None:
    """The packages a word names; a str explains a word that names none; None for filler words."""
    if word in _ALL:
        return list(waiting)
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


def reply_example(numbers: Sequence[int]) -> str:
    """An example reply that names only packages that exist."""
    if len(numbers) >= 3:
        return f'"approve {numbers[0]} and {numbers[2]}, reject {numbers[1]}", "approve all" or "reject all"'
    if len(numbers) == 2:
        return f'"approve {numbers[0]}, reject {numbers[1]}", "approve all" or "reject all"'
    return f'"approve {numbers[0]}" or "reject {numbers[0]}"' if numbers else EXAMPLE_REPLY


def ask_again(problem: str, numbers: Sequence[int]) -> str:
    listed = ", ".join(map(str, numbers))
    return (
        f"Sorry, {problem}. Tell me what to do with the package(s) waiting ({listed}), "
        f"by their numbers, e.g. {reply_example(numbers)}."
    )


def decisions_said(decisions: Sequence[Decision], package_ids: list[str], named: dict[str, str]) -> str:
    """What was just done, by handle and company: "Approved 1 (Kiezkraft); rejected 2 (Nordlicht)."."""
    verbs = {"accept": "approved", "edit": "approved (edited)", "reject": "rejected", "retry": "building again"}
    parts: dict[str, list[str]] = {}
    for d in decisions:
        parts.setdefault(verbs[d.action], []).append(f"{package_ids.index(d.package_id) + 1} ({named[d.package_id]})")
    said = "; ".join(f"{verb} {', '.join(items)}" for verb, items in parts.items())
    return said[:1].upper() + said[1:] + "."


def review_summary(
    progress: dict, packages: list[dict], missing: Sequence[dict] = (), handles: Sequence[str] | None = None
) -> str:
    """What a run found, and the packages awaiting review, numbered by their handles (see the module doc)."""
    handles = list(handles) if handles is not None else [p["package_id"] for p in packages]
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
    for pkg in packages:
        number = handles.index(pkg["package_id"]) + 1
        flags = f", {len(pkg['flagged_claims'])} unsupported claim(s) flagged" if pkg["flagged_claims"] else ""
        lines.append(f"{number}. {pkg['title']} at {pkg['company']} (match {pkg['match_score']}/100{flags})")
    return (
        f"{found}; {len(packages)} package{'s are' if len(packages) != 1 else ' is'} ready for your review: "
        + " ".join(lines)
        + f". Reply e.g. {reply_example([handles.index(p['package_id']) + 1 for p in packages])}."
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
