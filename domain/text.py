"""Text normalisation and content hashing shared by every importer."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")

_LIGATURES = {
    "\ufb00": "ff",
    "\ufb01": "fi",
    "\ufb02": "fl",
    "\ufb03": "ffi",
    "\ufb04": "ffl",
    "\ufb05": "st",
    "\ufb06": "st",
}
_BULLETS = "•●○◦▪▫■□‣⁃∙·–—*-"
_BULLET_PREFIX = re.compile(rf"^\s*[{re.escape(_BULLETS)}]\s+")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")


def normalize_text(text: str) -> str:
    """NFKC-fold, drop soft hyphens inside words, turn soft hyphens between tokens into dashes,
    expand ligatures and collapse runs of spaces (newlines are kept)."""
    for ligature, plain in _LIGATURES.items():
        text = text.replace(ligature, plain)
    if "\u00ad" in text:
        # A soft hyphen between two spaces separates a range ("Sep. 2023 \u00ad Mar. 2024");
        # inside a word it is only a hyphenation hint ("high\u00adimpact").
        text = re.sub(r"\s\u00ad\s", " - ", text)
        text = re.sub(r"(?<=\w)\u00ad(?=\w)", "-", text)
        text = text.replace("\u00ad", "")
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # _SPACES never spans a newline: one pass over the whole text, then each line trimmed.
    return "\n".join(line.strip() for line in _SPACES.sub(" ", text).split("\n"))


def ascii_fold(text: str) -> str:
    """Lower case in plain ASCII, accents dropped, spaces collapsed ("Köln" -> "koln", "Zürich" -> "zurich"):
    the key the gazetteer and the vocabularies compare by."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"\s+", " ", text).strip().lower()


_COMBINING_MARKS = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def accent_fold(text: str) -> str:
    """Case- and accent-insensitive, other scripts kept ("München GmbH" -> "munchen gmbh", "株式会社" stays):
    names compared across spellings must not all fold to the empty string."""
    folded = text.casefold()
    return folded if folded.isascii() else _COMBINING_MARKS.sub("", unicodedata.normalize("NFKD", folded))


def strip_bullet(line: str) -> tuple[str, bool]:
    """Return the line without a leading bullet marker and whether it had one."""
    match = _BULLET_PREFIX.match(line)
    if match:
        return line[match.end() :].strip(), True
    return line.strip(), False


def content_hash(data: bytes | str) -> str:
    """A short, stable hash of content (used for cache keys and record ids)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()[:16]


def stable_id(prefix: str, *parts: str) -> str:
    """A readable id that depends only on the given parts."""
    return f"{prefix}_{content_hash(chr(31).join(parts))[:12]}"


def slug(text: str, max_len: int = 40) -> str:
    """A filesystem- and URL-safe slug; never contains a path separator."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-").lower()
    return text[:max_len].strip("-") or "item"


def id_matches(given: str, items: Iterable[T], key: Callable[[T], str]) -> list[T]:
    """The items whose id is `given`, else those whose id starts with it: ids may be shortened to a prefix."""
    candidates = list(items)
    return [i for i in candidates if key(i) == given] or [i for i in candidates if key(i).startswith(given)]
