"""Month names, written once: the CV importer, the person reader, the JSON Resume writer, the CV writer
and the package checker read and write "Mar 2021", "März 2021", "Sept. 2019" with this one table."""

from __future__ import annotations

import re

# English and German names and abbreviations (Austrian "Jänner" too), by month.
MONTH_NAMES = (
    ("jan", "january", "januar", "jän", "jänner"),
    ("feb", "february", "februar"),
    ("mar", "march", "mär", "märz", "maerz"),
    ("apr", "april"),
    ("may", "mai"),
    ("jun", "june", "juni"),
    ("jul", "july", "juli"),
    ("aug", "august"),
    ("sep", "sept", "september"),
    ("oct", "october", "okt", "oktober"),
    ("nov", "november"),
    ("dec", "december", "dez", "dezember"),
)
# How the writers print a month: "Mar 2021".
MONTH_ABBREVIATIONS = tuple(names[0].title() for names in MONTH_NAMES)
_NUMBERS = {name: number for number, names in enumerate(MONTH_NAMES, start=1) for name in names}
# Any month name inside a larger pattern (case-insensitive there), longest first, with an optional dot.
MONTH_PATTERN = "(?:" + "|".join(sorted(_NUMBERS, key=len, reverse=True)) + r")\.?"
_WORD = re.compile(r"[^\W\d_]+")


def month_number(name: str) -> int | None:
    """ "Mar", "march", "März", "Sept." -> 3, 3, 3, 9; None for a word that names no month."""
    return _NUMBERS.get(name.strip(" .,").casefold())


def month_in(text: str) -> int | None:
    """The first month a date text names ("since March 2021" -> 3), None when it names none."""
    return next((n for word in _WORD.findall(text) if (n := month_number(word))), None)
