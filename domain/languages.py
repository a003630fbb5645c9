"""Spoken languages: any ISO 639-1 language by its English or German name, CEFR levels from the words
people use for them, what a posting requires and what a person speaks (from any CV shape).

The one table of spoken languages: the posting reader, the screener and the letter writer ask here.
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Iterable, Iterator
from functools import cache

from jobland.domain.posting_facts import CEFR_LEVELS, CefrLevel, LanguageNeed
from jobland.domain.text import ascii_fold

# Level words, most specific first; each maps to the CEFR level a recruiter would read into it.
_LEVEL_WORDS: tuple[tuple[str, CefrLevel], ...] = (
    (r"native|mother tongue|muttersprach\w*|first language|bilingual", "native"),
    (r"jlpt n1|hsk 6", "C1"),
    (r"jlpt n2|hsk 5", "B2"),
    (
        r"full professional|business[- ]fluent|verhandlungssicher\w*|fluent(?:ly)?|fluency|flie(?:ss|ß)end\w*"
        r"|excellent|exzellente?\w*|ausgezeichnete?\w*|proficient|proficiency|sehr gute?\w*|very good|advanced",
        "C1",
    ),
    (r"business[- ]level|professional working|working proficiency|gute?[nrs]?|good|solid|conversational", "B2"),
    (r"intermediate", "B1"),
    (r"basic|elementary|grundkenntnisse|beginner", "A2"),
)
_CEFR = re.compile(r"\b([ABC][12])\b")
_LEVEL = re.compile(r"\b(?:" + "|".join(f"(?:{p})" for p, _ in _LEVEL_WORDS) + r")\b", re.I)
_REQUIRED_WORDS = re.compile(
    r"\b(?:required|requirement|must|essential|mandatory|zwingend\w*|voraussetzung|setzen wir voraus|erforderlich)\b",
    re.I,
)
_OPTIONAL_WORDS = re.compile(
    r"\b(?:plus|bonus|nice[- ]to[- ]have|advantage\w*|helpful|preferred|preferably|ideally|desirable|optional"
    r"|welcome|beneficial|not required|not|no|von vorteil|wünschenswert|idealerweise|gerne|kein\w*)\b",
    re.I,
)
# Names that are ordinary words before a place ("Latin America") are no language there.
_NOT_LANGUAGE_AFTER = re.compile(r"^\s+(?:America|Quarter)\b")


@cache
def _names() -> dict[str, tuple[str, str]]:
    """Language names (English and German, with German compounds) -> (ISO 639-1 code, English name)."""
    import pycountry

    german = gettext.translation("iso639-3", pycountry.LOCALES_DIR, languages=["de"], fallback=True)
    found: dict[str, tuple[str, str]] = {}
    for language in pycountry.languages:
        code = getattr(language, "alpha_2", None)
        if not code:
            continue
        english = language.name.split(" (")[0].split(";")[0]
        for name in {english, german.gettext(language.name).split(" (")[0]}:
            if len(name) >= 4:
                found[name] = (code, english)
                if not name.endswith(("e", "i")):  # Deutschkenntnisse, Englischkenntnisse, Polnischkenntnisse
                    found[name + "kenntnisse"] = (code, english)
                    found[name + "sprachkenntnisse"] = (code, english)
    found.update({"Mandarin": ("zh", "Chinese"), "Cantonese": ("zh", "Chinese"), "Farsi": ("fa", "Persian")})
    found["Spanish"] = ("es", "Spanish")  # pycountry: "Spanish; Castilian"
    return found


# Capitalised as both languages write a language's name: "polish your skills" is no language.
_CAPITALISED = re.compile(r"\b[A-ZÄÖÜ][a-zäöüß]+\b")


@cache
def _by_folded_name() -> dict[str, tuple[str, str]]:
    """_names() by folded name."""
    return {ascii_fold(k): v for k, v in _names().items()}


@cache
def _by_code() -> dict[str, tuple[str, str]]:
    """Each ISO 639-1 code (the names are longer than two letters, so no code is also a name)."""
    return {code: (code, english) for code, english in _names().values()}


def _first_word(text: str) -> str:
    match = re.match(r"[A-Za-zÄÖÜäöüß]+", text.strip())
    return ascii_fold(match.group(0)) if match else ""


def language_code(name: str) -> tuple[str, str] | None:
    """(ISO 639-1 code, English name) of a language named in any case or by its code ("de", "German")."""
    word = _first_word(name)
    return _by_folded_name().get(word) or _by_code().get(word)


def named_language(text: str) -> tuple[str, str] | None:
    """(ISO 639-1 code, English name) of the language a CV's list item names ("English (C2)", "deutsch",
    "Swiss German"); a bare code is no name there ("ML", "TS" in a list of programming languages)."""
    return _by_folded_name().get(_first_word(text)) or next(((c, e) for _, _, c, e in _mentions(text)), None)


def level_of(text: str) -> CefrLevel | None:
    """The CEFR level a phrase states: "C1", "fluent" (C1), "native", "good" (B2), "basic" (A2)."""
    if match := _CEFR.search(text):
        return match.group(1)  # type: ignore[return-value]
    if match := _LEVEL.search(text):
        word = match.group(0).lower()
        return next(level for pattern, level in _LEVEL_WORDS if re.fullmatch(pattern, word, re.I))
    return None


def at_least(level: CefrLevel | None, needed: CefrLevel | None) -> bool:
    """Whether a person at `level` meets `needed`; an unstated level meets any but native or C2."""
    if needed is None:
        return True
    have = level or "B2"
    return CEFR_LEVELS.index(have) >= CEFR_LEVELS.index(needed)


def _mentions(text: str) -> Iterator[tuple[int, int, str, str]]:
    names = _names()
    for match in _CAPITALISED.finditer(text):
        if match.group(0) in names and not _NOT_LANGUAGE_AFTER.match(text[match.end() :]):
            code, english = names[match.group(0)]
            yield match.start(), match.end(), code, english


def _clauses(sentence: str) -> Iterator[str]:
    yield from (c for c in re.split(r"[,;]|\bbut\b|\baber\b|\bda\b|\bbecause\b", sentence) if c.strip())


def language_needs(text: str, *, explicit: Iterable[str] = (), optional_context: bool = False) -> list[LanguageNeed]:
    """Languages a text asks for, with the level and whether they are required.

    A language counts when a level or a "required" word stands with it in its clause ("German C1 (zwingend)",
    "fluent English and German", "Deutschkenntnisse ab B1"); a clause that calls it a plus makes it optional,
    and so does `optional_context` (a nice-to-have section). Lines of an explicit "Languages:" field count
    without a level word.
    """
    found: dict[str, LanguageNeed] = {}

    def add(need: LanguageNeed) -> None:
        old = found.get(need.code)
        if old is None or (need.required and not old.required):
            found[need.code] = need
        elif old.required == need.required and need.level and not at_least(old.level, need.level):
            found[need.code] = old.model_copy(update={"level": need.level})

    for sentence in [*explicit, *re.split(r"(?<=[.!?])\s+|\n", text)]:
        is_field = sentence in explicit
        if next(_mentions(sentence), None) is None:
            continue
        for clause in _clauses(sentence):
            mentions = list(_mentions(clause))
            optional = optional_context or bool(_OPTIONAL_WORDS.search(clause))
            for i, (start, end, code, english) in enumerate(mentions):
                after = clause[end : mentions[i + 1][0] if i + 1 < len(mentions) else len(clause)]
                before = clause[mentions[i - 1][1] if i else 0 : start]
                # "fluent English and German": a level word before the first name counts for the names after it.
                shared_before = clause[: mentions[0][0]] if len(re.findall(r"\w+", before)) <= 1 else before
                level = level_of(after[:40]) or level_of(" ".join(shared_before.split()[-4:]))
                asked = level or _REQUIRED_WORDS.search(clause) or is_field
                if asked:
                    add(LanguageNeed(code=code, name=english, level=level, required=not optional, text=clause.strip()))
    return list(found.values())


def spoken(entries: Iterable[tuple[str, str | None]]) -> dict[str, CefrLevel | None]:
    """ISO code -> level from (language, fluency) pairs: "German", "B1"; "English (C2)", None; "de", "Native"."""
    levels: dict[str, CefrLevel | None] = {}
    for name, fluency in entries:
        for part in re.split(r"[,;/·|]", name) if fluency is None else [name]:
            known = language_code(part) or next(((c, e) for _, _, c, e in _mentions(part)), None)
            if known is None:
                continue
            level = level_of(fluency or part[len(part.split()[0]) :] if part.split() else "")
            code = known[0]
            if code not in levels or not at_least(levels[code], level):
                levels[code] = level
    return levels


# Frequent short words of each language a letter can be written in: counting them tells a text's language.
STOP_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset("the and of to in for with we you our is are a an on as at be will this that your".split()),
    "de": frozenset("und der die das mit für wir du ist von zu den auf ein eine unsere uns bei im sind dich".split()),
}


def text_language(text: str) -> str:
    """ "de" or "en": the language whose stop words the text uses most (English on a tie)."""
    words = re.findall(r"[^\W\d_]+", text.casefold())
    counts = {language: sum(w in stop for w in words) for language, stop in STOP_WORDS.items()}
    return max(counts, key=lambda language: (counts[language], language == "en"))


def language_name(code: str, in_language: str = "en") -> str:
    """A language's name in English or German ("de" -> "German" / "Deutsch"); the code when unknown."""
    if in_language == "de":
        return _german_names().get(code, code)
    return next((english for c, english in _names().values() if c == code), code)


@cache
def _german_names() -> dict[str, str]:
    import pycountry

    german = gettext.translation("iso639-3", pycountry.LOCALES_DIR, languages=["de"], fallback=True)
    return {
        language.alpha_2: german.gettext(language.name).split(" (")[0].split(";")[0]
        for language in pycountry.languages
        if getattr(language, "alpha_2", None)
    }


def language_names(in_language: str = "en") -> list[str]:
    """Every language's name in English or German: words a letter adds of its own, not claims."""
    if in_language == "de":
        return list(_german_names().values())
    return list(dict.fromkeys(english for _, english in _names().values()))


# A level as a letter writes it, by the letter's language; CEFR levels ("B2") are written alike in both.
_LEVEL_NAMES = {"en": {"native": "native"}, "de": {"native": "Muttersprache"}}


def level_name(level: str, in_language: str = "en") -> str:
    """ "native" -> "Muttersprache" in German; "C1" stays "C1"."""
    return _LEVEL_NAMES.get(in_language, {}).get(level, level)


def level_names(in_language: str = "en") -> list[str]:
    """The level words a letter in `in_language` writes ("Muttersprache")."""
    return list(_LEVEL_NAMES.get(in_language, {}).values())
