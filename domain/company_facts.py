"""What a text says about a company: its sentences sorted into dossier topics, in English and German.

Pure functions over text, used by the researcher (a posting's prose, web pages from Exa) and the letter
writer (which industries a company and a person's work history share). A sentence about the candidate,
the application, benefits or legal boilerplate says nothing about the company and is left out; so is a
sentence no topic's cues speak to: an unknown topic stays empty, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from jobland.domain.text import normalize_text, strip_bullet

MIN_WORDS, MAX_WORDS = 4, 60

# Legal forms written after a company's name; the name without them is what people call the company.
_LEGAL_FORM = re.compile(
    r"[\s,]+(?:gmbh\s*&\s*co\.?\s*kg(?:aa)?|ggmbh|gmbh|ag|se|kg|kgaa|ohg|ug(?:\s*\(haftungsbeschränkt\))?|e\.\s?v\.|"
    r"inc\.?|ltd\.?|llc|plc|co\.?|corp\.?|corporation|limited|s\.?a\.?|s\.?l\.?|n\.?v\.?|b\.?v\.?|a/?s|as|ab|oy|uab"
    r"|sp\.\s?z\s?o\.?\s?o\.?|s\.?r\.?l\.?|s\.?p\.?a\.?|pty\.?|sarl|sas)$",
    re.IGNORECASE,
)


def short_name(company: str) -> str:
    """The company's name without its legal form: "Kontrast Mobility GmbH" -> "Kontrast Mobility"."""
    name = " ".join(company.split())
    while (stripped := _LEGAL_FORM.sub("", name).strip(" ,")) != name and stripped:
        name = stripped
    return name


# --------------------------------------------------------------------------- sentences


_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[\"'“„(\[A-ZÄÖÜ0-9])")


@dataclass(frozen=True)
class Sentence:
    text: str
    listed: bool  # a list item of the posting (duties, requirements, benefits), not prose


def sentences(text: str) -> list[Sentence]:
    """The sentences of a text in order, each once; a list item is one sentence, marked as listed."""
    found: dict[str, Sentence] = {}
    for line in normalize_text(text).split("\n"):
        item, listed = strip_bullet(line.strip())
        parts = [item] if listed else _SENTENCE_BREAK.split(item)
        for part in (p.strip() for p in parts):
            if part and part not in found:
                found[part] = Sentence(part, listed)
    return list(found.values())


# --------------------------------------------------------------------------- classification


def _words(*cues: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])(?:" + "|".join(cues) + r")(?![\w-])", re.IGNORECASE)


# Not about the company: contact details, legal text, benefits, the application itself.
_CONTACT = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|https?://|www\.", re.IGNORECASE)
_BOILERPLATE = _words(
    r"equal opportunit\w*",
    r"regardless of",
    r"cookies?",
    r"privacy",
    r"gdpr",
    r"dsgvo",
    r"datenschutz\w*",
    r"chancengleichheit",
    r"unabhängig von",
    r"m/w/d",
    r"w/m/d",
    r"m/f/d",
    r"all genders",
    r"eeo",
)
_BENEFITS = _words(
    r"holidays?",
    r"vacation",
    r"paid time off",
    r"urlaub\w*",
    r"salary",
    r"gehalt",
    r"brutto",
    r"pension",
    r"altersvorsorge",
    r"learning budget",
    r"jobrad",
    r"jobticket",
    r"bvg ticket",
    r"deutschlandticket",
    r"gym",
    r"fitness\w*",
    r"benefits?",
    r"perks?",
    r"we offer you",
    r"wir bieten (?:dir|ihnen)",
    r"[€$£]",
    r"eur",
)
_APPLICATION = _words(
    r"apply",
    r"application",
    r"send us",
    r"bewirb",
    r"bewerbung\w*",
    r"we are looking for",
    r"we're looking for",
    r"we are hiring",
    r"we're hiring",
    r"wir suchen",
    r"this role",
    r"the role",
    r"this position",
    r"the position",
    r"diese stelle",
    r"requirements?",
    r"must have",
    r"nice to have",
    r"candidates?",
    r"visas?",
    r"sponsor\w*",
    r"relocat\w*",
    r"employment pass",
    r"work permits?",
    r"right to work",
    r"we hire",
    r"authori[sz]ed to work",
)
_CANDIDATE = re.compile(
    r"(?<![\w-])(?i:you|your|you'll|you're|du|dich|dir|dein\w*|euch)(?![\w-])|(?<=\S )(?:Sie|Ihnen|Ihr|Ihre)\b"
)
_TOPIC_CUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "recent_news",
        _words(
            r"recently",
            r"announced",
            r"acquired",
            r"acquisition",
            r"just launched",
            r"we launched",
            r"newly launched",
            r"this (?:month|year|week)",
            r"kürzlich",
            r"angekündigt",
            r"übernommen",
        ),
    ),
    (
        "stage",
        _words(
            r"founded",
            r"gegründet",
            r"since \d{4}",
            r"seit \d{4}",
            r"series [a-e]",
            r"seed",
            r"funding",
            r"funded",
            r"raised",
            r"investors?",
            r"backed by",
            r"venture",
            r"profitable",
            r"bootstrapped",
            r"family[- ]owned",
            r"familiengeführt\w*",
            r"familienunternehmen",
            r"listed",
            r"börsennotiert\w*",
            r"start-?ups?",
            r"scale-?ups?",
            r"mittelständ\w*",
            r"subsidiary",
            r"tochter\w*",
            r"finanzierung\w*",
        ),
    ),
    (
        "mission",
        _words(
            r"our mission",
            r"we want",
            r"wir wollen",
            r"mission is",
            r"on a mission",
            r"we believe",
            r"our vision",
            r"we exist to",
            r"our purpose",
            r"unsere mission",
            r"unsere vision",
            r"wir glauben",
            r"unser ziel",
        ),
    ),
    (
        "size",
        _words(
            r"\d[\d.,]*\+?\s+(?:employees|people|colleagues|staff|members|nationalities|mitarbeitende\w*"
            r"|mitarbeiter\w*|menschen|kolleg\w*|beschäftigte\w*|nationen)",
            r"offices? in \d+",
            r"\d+ (?:offices|countries|standorte\w*|ländern)",
            r"(?:team|company) of \d+",
            r"\d+-(?:person|people|köpfige\w*)",
        ),
    ),
    (
        "culture",
        _words(
            r"we value",
            r"our values",
            r"culture",
            r"we care",
            r"inclusive",
            r"work-life",
            r"kultur",
            r"unsere werte",
            r"wir legen wert",
            r"flache hierarchien",
            r"flat hierarch\w*",
        ),
    ),
    (
        "customers",
        _words(
            r"customers?",
            r"clients?",
            r"users?",
            r"used by",
            r"trusted by",
            r"use our",
            r"nutzen unser\w*",
            r"kunden\w*",
            r"nutzer\w*",
            r"mandanten",
        ),
    ),
    (
        "team",
        _words(
            r"team",
            r"teams",
            r"squad",
            r"tribe",
            r"our (?:\w+ )?(?:engineers|developers|colleagues)",
            r"report(?:s|ing)? to",
            r"team\w*",
            r"\w+team",
            r"abteilung",
            r"unsere? (?:\w+ )?(?:entwickler\w*|kolleg\w*)",
        ),
    ),
    (
        "products",
        _words(
            r"our (?:\w+ )?(?:product|products|platform|app|apps|software|service|services|tool|tools)",
            r"unser\w* (?:\w+ )?(?:produkt\w*|plattform|app|apps|software|dienst\w*|lösung\w*)",
        ),
    ),
    (
        "locations",
        _words(
            r"office",
            r"offices",
            r"headquarter\w*",
            r"hq",
            r"based in",
            r"located in",
            r"lab",
            r"hub",
            r"campus",
            r"büro\w*",
            r"sitz",
            r"standort\w*",
            r"niederlassung\w*",
            r"hauptsitz",
        ),
    ),
)
# How the company works, when it says so of itself ("We work hybrid", "We pair often"): culture, not business.
_WAYS_OF_WORKING = _words(
    r"we (?:work|move|pair|like|love|keep|ship|write|meet|eat|celebrate|trust|have been|are (?:a \w+ team|pragmatic|proud|curious|kind))",
    r"remote-first",
    r"asynchronous\w*",
    r"hybrid\w*",
    r"wir (?:arbeiten|legen|lieben|treffen)",
)
# Topics a sentence addressed to the candidate may still speak to ("You join a team of four").
_CANDIDATE_TOPICS = frozenset({"team", "locations"})
# Subjects that make a sentence say what the company does.
_WE = r"we|wir|our company|the company|unser unternehmen|das unternehmen"


def addresses_reader(sentence: str) -> bool:
    """Whether a sentence speaks to the candidate ("You join a team of four", "Du entwickelst ...")."""
    return bool(_CANDIDATE.search(sentence))


def _subject(company: str) -> re.Pattern[str]:
    names = {short_name(company), company}
    if first := short_name(company).split()[:1]:
        names.add(first[0])
    names = {n for n in names if len(n) >= 3}
    alternatives = "|".join([*(re.escape(n) for n in sorted(names, key=len, reverse=True)), _WE])
    return re.compile(rf"^(?:at \S+(?: \S+)?, )?(?:{alternatives})(?:'s)?\b", re.IGNORECASE)


def topic_of(sentence: str, company: str = "", *, listed: bool = False) -> str | None:
    """The dossier topic a sentence is evidence for, or None when it says nothing about the company.

    A list item counts only as what the team works on ("Own our dbt project"), never as a company fact.
    """
    words = len(sentence.split())
    if not MIN_WORDS <= words <= MAX_WORDS or _CONTACT.search(sentence) or _BOILERPLATE.search(sentence):
        return None
    if _BENEFITS.search(sentence) or _APPLICATION.search(sentence):
        return None
    if listed:
        ours = re.search(r"(?<![\w-])(?:our|unser\w*)\s", sentence, re.IGNORECASE)
        return "team" if ours and not _CANDIDATE.search(sentence) else None
    about_candidate = bool(_CANDIDATE.search(sentence))
    cued = [topic for topic, pattern in _TOPIC_CUES if pattern.search(sentence)]
    if about_candidate:
        return next((t for t in cued if t in _CANDIDATE_TOPICS), None)
    company_subject = _subject(company).match(sentence)
    first = cued[0] if cued else None
    if first in ("recent_news", "stage", "mission", "size", "culture"):
        return first
    if first == "team" and not company_subject:
        return "team"
    if company_subject:
        return "culture" if _WAYS_OF_WORKING.search(sentence) else "business"
    return next((t for t in cued if t != "team"), first)


def company_facts(prose: str, company: str = "", duties: Iterable[str] = ()) -> Iterator[tuple[str, str]]:
    """(topic, sentence) for each prose sentence of a text, then each duty, that says something about the
    company, in order. List items of the prose (requirements, benefits) are never facts; duties (what the
    role does) may say what the team works on."""
    for sentence in sentences(prose):
        if not sentence.listed and (topic := topic_of(sentence.text, company)):
            yield topic, sentence.text
    for duty in dict.fromkeys(" ".join(d.split()) for d in duties):
        if topic := topic_of(duty, company, listed=True):
            yield topic, duty


# --------------------------------------------------------------------------- industries

# What a company works in and what a person has worked in, by the words either side uses (English and German).
INDUSTRY_CUES: dict[str, tuple[str, ...]] = {
    "payments": (
        r"payments?",
        r"invoic\w+",
        r"card[- ]transactions?",
        r"merchants?",
        r"ledger",
        r"checkout",
        r"fintech",
        r"banking",
        r"banks?",
        r"lending",
        r"loans?",
        r"zahlung\w*",
        r"rechnung\w*",
        r"\w*zahlungs\w*",
    ),
    "mobility": (
        r"mobility",
        r"riders?",
        r"rides?",
        r"car[- ]sharing",
        r"fleet",
        r"scooters?",
        r"public transport",
        r"mobilität",
    ),
    "logistics": (
        r"logistics",
        r"freight",
        r"shipments?",
        r"parcels?",
        r"carriers",
        r"supply chain",
        r"warehouses? robots?",
        r"logistik",
        r"fracht",
        r"pakete?",
        r"spedition",
        r"\w*freight",
    ),
    "energy": (
        r"energy",
        r"smart[- ]meters?",
        r"grid",
        r"solar",
        r"utilit(?:y|ies)",
        r"energie\w*",
        r"strom\w*",
        r"\w*energy",
    ),
    "retail": (
        r"retail",
        r"grocery",
        r"groceries",
        r"marketplace",
        r"e-?commerce",
        r"online shop",
        r"shops?",
        r"handel",
        r"einzelhandel",
        r"\w*commerce",
    ),
    "real estate": (
        r"property",
        r"properties",
        r"real estate",
        r"housing",
        r"apartments",
        r"wohnungen",
        r"immobilien\w*",
    ),
    "insurance": (r"insurance", r"insurtech", r"insurers?", r"versicherung\w*"),
    "travel and ticketing": (
        r"travel",
        r"concert tickets?",
        r"ticketing",
        r"bookings?",
        r"hotels?",
        r"flights?",
        r"reise\w*",
    ),
    "health": (
        r"health(?:care|tech)?",
        r"physiotherapy",
        r"patients?",
        r"clinics?",
        r"hospitals?",
        r"gesundheit\w*",
        r"klinik\w*",
    ),
    "food": (r"food", r"bread", r"restaurants?", r"cafés?", r"bakery", r"brot", r"lebensmittel"),
    "legal": (r"law firms?", r"legal", r"kanzlei\w*", r"lawyers?"),
    "robotics": (r"robot\w*",),
    "media": (r"media", r"publishing", r"newsrooms?", r"streaming video", r"verlag\w*"),
}
_INDUSTRY_PATTERNS = {industry: _words(*cues) for industry, cues in INDUSTRY_CUES.items()}


def industries_in(text: str) -> dict[str, str]:
    """Industry -> the first word of the text that names it ("payments" -> "card-transaction")."""
    return dict(_industry_words(text))


@lru_cache(maxsize=1024)  # the CV's entries are read again for every letter
def _industry_words(text: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        (industry, match.group(0))
        for industry, pattern in _INDUSTRY_PATTERNS.items()
        if (match := pattern.search(text))
    )


_NAMED_TEAM = re.compile(
    r"\b(?:our|the|join the|joins? the|in the|im|unser(?:em)?)\s+((?:[A-Z][\w&-]*\s){1,3})(?:team|Team)\b"
)


def named_team(texts: list[str]) -> str | None:
    """The team a posting names with capitals ("join the Data Platform team" -> "Data Platform"), if any."""
    for text in texts:
        if match := _NAMED_TEAM.search(text):
            return match.group(1).strip()
    return None
