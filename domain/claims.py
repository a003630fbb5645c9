"""What a line of a CV or letter claims beyond facts and figures: roles, scope, contacts, instructions.

Rules, not a model: a role (CEO, founder, the board, head of ...) or a scope (all revenue, the entire
company, sole, personally responsible, led N people ...) that a line claims must be stated by what the
line rests on; an email address, phone number or link must be the person's own; and a document sent
in the person's name never tells its reader to do something (forward, send ... to, ignore, reply to).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from jobland.domain.models import Profile

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
URL = re.compile(r"(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)
# A link written without a scheme ("github.com/jane", "evil.example/upload"); lowercase top-level domains
# only, so that "ASP.NET" and "Node.js" are not links.
BARE_DOMAIN = re.compile(
    r"(?<![\w@.-])(?:[A-Za-z0-9-]+\.)+(?:com|org|net|io|dev|app|ai|co|me|info|biz|eu|de|uk|fr|nl|es|it|ch|at|"
    r"example|xyz|site|online|page|link|tech|cloud|ly|gl|gg|sh|to)(?![\w-])(?:/[^\s<>\"')\]]*)?"
)
PHONE = re.compile(r"(?<![\w+.,])(?:\+|\(\+?)?\d[\d ()./-]{5,}\d(?![\w.,]?\d)")
# Dates and figures that look like phone numbers: "2018-2021", "2019-03-01", "03/2019 - 10/2021", "1 000 000".
_DATES = re.compile(
    r"^(?:19|20)\d\d\s*[-/]\s*(?:19|20)?\d\d$|^\d{4}-\d{1,2}(?:-\d{1,2})?$|"
    r"^\d{1,2}[./]\d{4}\s*-\s*\d{1,2}[./]\d{4}$"
)
_THOUSANDS = re.compile(r"^\d{1,3}(?:[ .]\d{3})+$")

_COUNT = (
    r"(?:\d[\d,.]*\+?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
    r"forty|fifty|a hundred|hundreds of|dozens of|a dozen)"
)
_PEOPLE = (
    r"(?:people|persons|engineers|developers|employees|staff|reports|members|designers|analysts|scientists|"
    r"managers|consultants|specialists|nurses|salespeople|colleagues|mitarbeiter\w*|entwickler\w*)"
)
_LEADS = (
    r"(?:led|lead|leads|leading|managed|manage|manages|managing|ran|run|runs|running|headed|heads|heading|"
    r"supervised|supervises|supervising|oversaw|oversee|oversees|overseeing|directed|directs|directing|"
    r"built and led|hired|führte|leitete|leite)"
)

# (what is claimed, how it is written). A line's match must be matched by what the line rests on too.
ROLE_AND_SCOPE: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (label, re.compile(pattern, re.IGNORECASE))
    for label, pattern in (
        ("CEO", r"\bCEO\b|\bchief executive\b"),
        ("CTO", r"\bCTO\b|\bchief technology officer\b|\bchief technical officer\b"),
        ("CFO", r"\bCFO\b|\bchief financial officer\b"),
        ("COO", r"\bCOO\b|\bchief operating officer\b"),
        ("CIO", r"\bCIO\b|\bchief information officer\b"),
        ("CISO", r"\bCISO\b|\bchief information security officer\b"),
        ("CPO", r"\bCPO\b|\bchief product officer\b"),
        ("CMO", r"\bCMO\b|\bchief marketing officer\b"),
        ("a chief officer", r"\bchief (?:\w+ ){1,2}officer\b"),
        ("founder", r"\b(?:co-?)?found(?:er|ers|ed|ing)\b|\b(?:mit)?gründer(?:in)?\b|\bgegründet\b"),
        (
            "the board",
            r"(?<!across )\bthe board\b|\bboard (?:of|member|members|seat|meeting|meetings|level|director)\b|"
            r"\bboardroom\b|\bchair(?:man|woman|person)\b|\bvorstand\w*|\baufsichtsrat\w*",
        ),
        ("president", r"\b(?:vice[- ])?president\b|\b[SE]?VP\b"),
        ("director", r"\bdirector\b|\bdirektor(?:in)?\b|\bgeschäftsführ\w*"),
        ("head of", r"\bhead of\b|\bleiter(?:in)?\b"),
        (
            "executive team",
            r"\bexecutive (?:team|committee|board|leadership)\b|\bleadership team\b|\bC-(?:level|suite)\b",
        ),
        (
            "all revenue",
            r"\b(?:all|entire|total|whole|100% of)(?: of)?(?: the)? (?:company(?:'s|’s)? |group(?:'s|’s)? )?"
            r"(?:revenue|revenues|sales|turnover|profits?|income|budget)\b|\bcompany(?:'s|’s)? (?:revenue|turnover)\b|"
            r"\bP&L\b|\bgesamte[nr]? umsatz\b",
        ),
        (
            "the entire company",
            r"\b(?:entire|whole|all of the|the full) (?:company|organi[sz]ation|business|firm|group|enterprise|"
            r"department|engineering (?:org|organi[sz]ation|department))\b|\b(?:company|organi[sz]ation)[- ]wide\b|"
            r"\b(?:ganze|gesamte)[nr]? (?:unternehmen|firma)\b|\bunternehmensweit\w*",
        ),
        ("sole", r"\bsole(?:ly)?\b|\bsingle-?handed(?:ly)?\b|\balleinverantwortlich\b|\ballein verantwortlich\b"),
        (
            "personal responsibility",
            r"\bpersonally (?:responsible|accountable|owned|led|ran|managed)\b|"
            r"\b(?:responsible|accountable) for (?:all|every|the entire|the whole|the company)\b|"
            r"\bpersönlich verantwortlich\b|\bverantwortlich für (?:den|die|das) gesamte\w*",
        ),
        (
            "the size of a team led",
            rf"\b{_LEADS} (?:an? )?(?:(?:team|group|department|organi[sz]ation|org|staff) of )?{_COUNT} "
            rf"(?:\w+ )?{_PEOPLE}\b|\bteam of {_COUNT}\b|\b{_COUNT} direct reports\b",
        ),
    )
)

# How a document tells its reader to do something, and whether that is fine when it is about the writer
# ("contact me at", "reply to me"): forward; send/share ... to an address, or the person's data to anyone;
# ignore instructions; reply to; contact ... at an address; approve this application.
READER_INSTRUCTIONS: tuple[tuple[re.Pattern[str], bool], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), about_writer_is_fine)
    for pattern, about_writer_is_fine in (
        (r"\bforward(?:s|ed|ing)? (?:this|it|my|the|these|them|a copy|copies|our|his|her|their|all)\b", False),
        (
            r"\b(?:send|e-?mail|mail|pass(?: on)?|share|submit|upload|post|fax)\b[^.;!?\n]{0,60}?\b(?:to|with) "
            r"(?:[\w.+-]+@|https?://|www\.|\+?\d)|"
            r"\b(?:send|e-?mail|mail|pass(?: on)?|share|submit|upload)\b[^.;!?\n]{0,40}?\b(?:cv|résumé|resume|"
            r"phone number|contact details|address|documents?|data|password|credentials)\b[^.;!?\n]{0,40}?\b(?:to|with)\b",
            False,
        ),
        (
            r"\b(?:ignore|disregard|forget)\b (?:\w+ ){0,3}?(?:instructions?|prompts?|rules|guidelines|above|"
            r"previous|prior|earlier|messages?|everything)\b",
            False,
        ),
        (r"\breply(?: \w+){0,2}? (?:to|at)\b", True),
        (
            r"\b(?:contact|call|reach|text|ring|message|write to)\b (?:\w+ ){0,3}?(?:at|on|via|under) "
            r"(?:[\w.+-]+@|https?://|www\.|\+?\(?\d)",
            True,
        ),
        (
            r"\b(?:approve|accept|shortlist|hire|rate|score)\b (?:this|my|the) (?:application|candidate|cv|résumé|"
            r"resume|package|applicant)\b",
            False,
        ),
    )
)
_CONTACT_KINDS = {"email": "an email address", "link": "a link", "phone": "a phone number"}
_ABOUT_WRITER = re.compile(r"\b(?:me|myself)\b", re.IGNORECASE)
_CLAUSE_END = re.compile(r"[.;!?](?=\s|$)|\n")


def quoted(text: str) -> str:
    return f"“{text}”"


def _aspired(text: str, titles: Iterable[str]) -> str:
    """The text without the titles it names as wanted, not held ("the Head of Product role", "Stelle als CTO")."""
    for title in (t for t in titles if t.strip()):
        name = re.escape(title.strip())
        text = re.sub(
            rf"(?:\b(?:the|a|an|your|this|that|for|next|new|als)\s+){name}|{name}\s+"
            r"(?:role|position|job|opening|vacancy|post|team|stelle|position)\b",
            " ",
            text,
            flags=re.IGNORECASE,
        )
    return text


def unsupported_roles(text: str, support: str, *, wanted: Iterable[str] = (), names: Iterable[str] = ()) -> list[str]:
    """Each role or scope the text claims that the support does not state, with the words that claim it.

    `wanted` are titles the text may name as the job applied for (the posting's title): naming them so is
    not a claim to hold them. `names` (the company applied to) are names, never claims ("Founders Fund").
    """
    claimed = _aspired(text, wanted)
    for name in (n.strip() for n in names if n.strip()):
        claimed = re.sub(re.escape(name), " ", claimed, flags=re.IGNORECASE)
    return [
        f"{label} ({quoted(match.group(0))})"
        for label, pattern in ROLE_AND_SCOPE
        if (match := pattern.search(claimed)) and not pattern.search(support)
    ]


# --------------------------------------------------------------------------- contacts and instructions


def _url_key(url: str) -> str:
    key = re.sub(r"^(?:https?://)?(?:www\.)?", "", url.strip().casefold())
    return key.rstrip("/.,;:!?")


def _phone_key(phone: str) -> str:
    return re.sub(r"\D", "", phone).lstrip("0")


def _is_phone(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    if not 7 <= len(digits) <= 15 or _DATES.match(candidate) or _THOUSANDS.match(candidate):
        return False
    return candidate[0] in "+(0" or len(digits) >= 10


def contacts_in(text: str) -> list[tuple[str, str]]:
    """("email" | "link" | "phone", as written) for every address, link and phone number in the text."""
    found = [("email", e) for e in EMAIL.findall(text)]
    rest = EMAIL.sub(" ", text)
    for pattern in (URL, BARE_DOMAIN):
        found += [("link", u.rstrip(".,;:!?")) for u in pattern.findall(rest)]
        rest = pattern.sub(" ", rest)
    found += [("phone", p.strip()) for p in PHONE.findall(rest) if _is_phone(p.strip())]
    return found


class OwnContacts:
    """The person's own addresses, links and phone numbers: the Profile's basics and any the master CV writes."""

    def __init__(self, profile: Profile, written: Iterable[str] = ()):
        basics = profile.basics
        links = [u for u in (basics.url, *(p.url for p in basics.profiles), *(p.url for p in profile.projects)) if u]
        pieces = [c for text in (basics.email, basics.phone, *links, *written) if text for c in contacts_in(text)]
        self.emails = {c.casefold() for kind, c in pieces if kind == "email"}
        self.emails |= {basics.email.strip().casefold()} if basics.email else set()
        self.links = {_url_key(c) for kind, c in pieces if kind == "link"} | {_url_key(u) for u in links}
        self.phones = {_phone_key(c) for kind, c in pieces if kind == "phone"}
        self.phones |= {_phone_key(basics.phone)} if basics.phone else set()

    def owns(self, kind: str, contact: str) -> bool:
        if kind == "email":
            return contact.casefold() in self.emails
        if kind == "link":
            key = _url_key(contact)
            return any(key == own or key.startswith(own + "/") for own in self.links)
        key = _phone_key(contact)
        return any(key.endswith(own) or own.endswith(key) for own in self.phones if min(len(key), len(own)) >= 7)


def reader_instructions(text: str) -> list[str]:
    """The instructions to the reader a text gives, as written ("forward my CV", "ignore previous instructions")."""
    found: list[str] = []
    for pattern, about_writer_is_fine in READER_INSTRUCTIONS:
        for match in pattern.finditer(text):
            if about_writer_is_fine and _ABOUT_WRITER.search(match.group(0)):
                continue
            # Quoted to the end of its clause, so that review shows what the reader is told to do.
            end = _CLAUSE_END.search(text, match.end())
            found.append(text[match.start() : min(end.start() if end else len(text), match.end() + 60)].strip())
    return found


def outside_contacts(text: str, own: OwnContacts, *, names: Iterable[str] = ()) -> list[str]:
    """What a line addresses outside the person: others' addresses, links and phone numbers, and instructions.

    `names` (the company applied to, "Veiling.io") are names where they stand alone, not links.
    """
    for name in (n.strip() for n in names if n.strip()):
        text = re.sub(rf"(?<![/@.\w]){re.escape(name)}(?![/@\w])", " ", text, flags=re.IGNORECASE)
    problems = [
        f"{_CONTACT_KINDS[kind]} that is not the person's own: {contact}"
        for kind, contact in dict.fromkeys(contacts_in(text))
        if not own.owns(kind, contact)
    ]
    problems += [f"an instruction to the reader: {quoted(words)}" for words in dict.fromkeys(reader_instructions(text))]
    return problems
