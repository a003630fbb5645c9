"""Employers' replies: read a received message, tell which application it answers, and what it says.

Pure rules, English and German. A message answers an application when it is in the delivered package's
thread (the package's Message-ID in its References / In-Reply-To, or the same Gmail thread), comes from the
employer's domain, or names the company. What it says is one of four kinds, and only an interview invitation
or a rejection proposes a new status; nothing in a message ever chooses an application or a status itself.
"""

from __future__ import annotations

import email
import email.policy
import html
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field

from jobland.domain.models import ApplicationStatus, Record
from jobland.domain.text import normalize_text

ReplyKind = Literal["interview", "rejection", "information", "other"]
MatchedBy = Literal["thread", "domain", "company"]

MAX_RAW_BYTES = 2 * 1024 * 1024  # larger messages (attachments) are read by their headers only
MAX_BODY_CHARS = 20_000  # what the rules and the model read of a body
# The headers the tracker reads (all it asks Gmail for of a message too large to read whole).
READ_HEADERS = ("From", "Subject", "Date", "Message-ID", "In-Reply-To", "References", "List-Unsubscribe", "Precedence")

# A reply proposes moving the application only from these statuses: an offer or a withdrawal stays.
_MOVABLE: dict[ApplicationStatus, frozenset[ApplicationStatus]] = {
    "interviewing": frozenset({"sent", "applied"}),
    "rejected": frozenset({"sent", "applied", "interviewing"}),
}
PROPOSED_STATUS: dict[ReplyKind, ApplicationStatus] = {"interview": "interviewing", "rejection": "rejected"}

# Hosts that carry many employers' postings: a posting URL there says nothing about who will answer.
JOB_BOARD_HOSTS = (
    "linkedin.com",
    "indeed.com",
    "stepstone.de",
    "xing.com",
    "glassdoor.com",
    "greenhouse.io",
    "lever.co",
    "workable.com",
    "personio.de",
    "personio.com",
    "smartrecruiters.com",
    "join.com",
    "arbeitsagentur.de",
    "google.com",
    "monster.com",
    "ashbyhq.com",
    "recruitee.com",
    "workday.com",
    "myworkdayjobs.com",
)

_REJECTION = re.compile(
    r"regret to inform|unfortunately,? (?:we|you|your|the position|this position|after careful)"
    r"|not (?:to )?(?:be )?(?:moving|move|proceeding|proceed) (?:forward|further)|decided to (?:move|go) forward with"
    r"|other candidates|another candidate|position has (?:now )?been filled|not been successful|not selected"
    r"|will not be (?:inviting|progressing|offering)|won't be (?:moving|progressing|inviting)|(?:not|won't) invit"
    r"|leider (?:müssen|können|mussten|konnten|haben) wir|leider (?:nicht|keine)|absage"
    r"|nicht (?:weiter )?berücksichtigen|nicht (?:in die engere|in die nächste) (?:wahl|auswahl|runde)"
    r"|für (?:eine[nr]? )?(?:andere[nr]?|anderweitig)\w* (?:kandidat|bewerber)|anderweitig besetzt"
    r"|keine positive (?:nachricht|rückmeldung)|nicht für sie entschieden|nicht .{0,40}einladen",
    re.IGNORECASE,
)
_INTERVIEW = re.compile(
    r"\binterview|invite you (?:to|for)|would (?:like|love) to (?:meet|speak|talk|chat|schedule)"
    r"|schedule (?:a|an) (?:call|meeting|chat|conversation)|phone screen|your availability|available for a (?:call|chat)"
    r"|next (?:step|round) (?:is|would be|of our process)|book a (?:slot|time)|calendly\.com"
    r"|vorstellungsgespräch|bewerbungsgespräch|kennenlerngespräch|kennenlernen|(?:laden|lade) (?:sie|dich) .{0,40}ein"
    r"|einladung (?:zu|zum)|terminvorschl|telefoninterview|videocall|persönliches gespräch",
    re.IGNORECASE,
)
_INFORMATION = re.compile(
    r"could you (?:please )?(?:send|share|provide|let us know)|please (?:send|share|provide|let us know|confirm)"
    r"|(?:additional|more|further) (?:information|details|documents)|salary expectations?|notice period"
    r"|earliest (?:start|possible start) date|references|work permit|right to work"
    r"|(?:senden|schicken|reichen) sie (?:uns )?.{0,40}(?:zu|nach|ein)|zusenden|nachreichen|gehaltsvorstellung"
    r"|kündigungsfrist|frühestmögliche[nr]? (?:eintritts|start)|(?:weitere|fehlende|zusätzliche) (?:unterlagen|informationen)"
    r"|zeugnisse|teilen sie uns .{0,40} mit",
    re.IGNORECASE,
)
# Where a reply starts quoting the message it answers: what follows is not the employer's answer.
_QUOTE_START = re.compile(
    r"^(?:on .{0,200} wrote:|am .{0,200} schrieb .{0,100}:|-{2,} ?original message ?-{2,}|-{2,} ?ursprüngliche nachricht"
    r"|from: .+|von: .+)$",
    re.IGNORECASE | re.MULTILINE,
)
_TAGS = re.compile(r"<(?:script|style)\b.*?</(?:script|style)>|<[^>]{0,2000}>", re.IGNORECASE | re.DOTALL)


class ReceivedMessage(Record):
    """One message in the person's inbox, as far as the tracker reads it."""

    gmail_id: str
    thread_id: str = ""
    sender: str = Field(description="The From address, lower case.")
    sender_name: str = ""
    subject: str = ""
    date: datetime | None = None
    message_id: str = ""
    references: list[str] = Field(default_factory=list, description="In-Reply-To and References, in order.")
    body: str = Field(default="", description="The new text of the message (quoted replies cut), bounded.")
    bulk: bool = Field(default=False, description="Sent to a list (List-Unsubscribe, Precedence: bulk).")

    @property
    def sender_domain(self) -> str:
        return self.sender.rpartition("@")[2]


def _body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        text = part.get_content()
    except (LookupError, ValueError):  # an unknown charset or a broken transfer encoding
        text = part.get_payload(decode=True).decode("utf-8", "replace") if part.get_payload(decode=True) else ""
    text = text[: MAX_BODY_CHARS * 4]
    if part.get_content_subtype() == "html":
        text = html.unescape(_TAGS.sub(" ", text))
    return text


def new_text(body: str) -> str:
    """The body without the quoted message it answers (lines starting with ">", and all after "On ... wrote:")."""
    cut = _QUOTE_START.search(body)
    if cut:
        body = body[: cut.start()]
    kept = [line for line in body.splitlines() if not line.lstrip().startswith(">")]
    return normalize_text("\n".join(kept)).strip()[:MAX_BODY_CHARS]


def _ids(value: str | None) -> list[str]:
    return re.findall(r"<[^<>\s]+>", value or "")


def read_message(raw: bytes, *, gmail_id: str, thread_id: str = "") -> ReceivedMessage:
    """A received RFC 822 message; one larger than MAX_RAW_BYTES is read by its headers only."""
    if len(raw) > MAX_RAW_BYTES:
        message = BytesHeaderParser(policy=email.policy.default).parsebytes(raw[:MAX_RAW_BYTES])
        body = ""
    else:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        body = new_text(_body_text(message))  # type: ignore[arg-type]
    name, address = parseaddr(str(message.get("From", "")))
    try:
        date = parsedate_to_datetime(str(message["Date"])) if message["Date"] else None
    except (TypeError, ValueError):
        date = None
    if date is not None and date.tzinfo is None:  # "-0000": the zone is unknown; read as UTC
        date = date.replace(tzinfo=UTC)
    precedence = str(message.get("Precedence", "")).lower()
    return ReceivedMessage(
        gmail_id=gmail_id,
        thread_id=thread_id,
        sender=address.lower(),
        sender_name=name,
        subject=normalize_text(str(message.get("Subject", "")))[:300],
        date=date,
        message_id=str(message.get("Message-ID", "")).strip(),
        references=_ids(str(message.get("In-Reply-To", ""))) + _ids(str(message.get("References", ""))),
        body=body,
        bulk=bool(message.get("List-Unsubscribe")) or precedence in {"bulk", "list"},
    )


def classify(message: ReceivedMessage) -> ReplyKind:
    """What a reply says, by rules: a rejection before an invitation ("we will not invite you to an interview")."""
    if message.bulk:  # a newsletter or a job alert: nobody answered this application
        return "other"
    text = f"{message.subject}\n{message.body}"
    if _REJECTION.search(text):
        return "rejection"
    if _INTERVIEW.search(text):
        return "interview"
    if _INFORMATION.search(text):
        return "information"
    return "other"


def bounded_kind(message: ReceivedMessage, model_kind: ReplyKind) -> ReplyKind:
    """A model's reading of a reply, within what the rules know for sure: bulk mail answers nobody."""
    return "other" if message.bulk else model_kind


def proposed_status(kind: ReplyKind, current: ApplicationStatus) -> ApplicationStatus | None:
    """The status a reply of this kind moves an application to, if it moves it at all."""
    target = PROPOSED_STATUS.get(kind)
    if target is None or current not in _MOVABLE[target]:
        return None
    return target


def host_domain(url: str | None) -> str | None:
    """The registrable-looking part of a URL's host ("jobs.billing.example" -> "billing.example")."""
    host = (urlsplit(url).hostname or "") if url else ""
    labels = [label for label in host.lower().split(".") if label]
    if len(labels) < 2:
        return None
    # Two labels, or three for a two-letter second level under a country code (co.uk, com.au).
    keep = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in {"co", "com", "org", "ac", "gv"} else 2
    return ".".join(labels[-keep:])


def employer_domains(company_site: str | None, posting_url: str | None) -> frozenset[str]:
    """Where an employer's mail comes from: its own site, and the posting's host unless that is a job board."""
    found = {host_domain(company_site)}
    posting = host_domain(posting_url)
    if posting and not any(posting == board or posting.endswith("." + board) for board in JOB_BOARD_HOSTS):
        found.add(posting)
    return frozenset(d for d in found if d)


def _company_words(company: str) -> str:
    """The company's name without its legal form, for finding it in a message."""
    name = re.sub(r"\b(?:gmbh|ag|se|kg|ug|inc|ltd|llc|plc|co|corp|b\.?v|s\.?a)\b\.?", " ", company, flags=re.I)
    return " ".join(re.findall(r"\w+", name)).lower()


def names_company(message: ReceivedMessage, company: str) -> bool:
    words = _company_words(company)
    if len(words) < 3:  # too short to tell a company from an ordinary word
        return False
    text = " ".join(re.findall(r"\w+", f"{message.sender_name} {message.subject} {message.body}")).lower()
    return re.search(rf"\b{re.escape(words)}\b", text) is not None


def matched_by(
    message: ReceivedMessage,
    *,
    package_message_id: str,
    package_thread_ids: frozenset[str],
    domains: frozenset[str],
    company: str,
) -> MatchedBy | None:
    """How a message answers an application, if it does: its thread, its sender's domain, or the company's name."""
    if package_message_id in message.references or (message.thread_id and message.thread_id in package_thread_ids):
        return "thread"
    domain = message.sender_domain
    if any(domain == d or domain.endswith("." + d) for d in domains):
        return "domain"
    if names_company(message, company):
        return "company"
    return None


def sent_by_person(message: ReceivedMessage, own_addresses: frozenset[str]) -> bool:
    """The person's own messages (the package itself, their forward to the employer) are no replies."""
    return message.sender in own_addresses


def own_addresses(*addresses: str) -> frozenset[str]:
    return frozenset(a.lower() for _, a in getaddresses(list(addresses)) if a)


class ReplyProposal(Record):
    """A reply found for an application, what it says, and the status change it proposes (if any)."""

    package_id: str
    company: str
    title: str
    gmail_id: str
    subject: str
    sender: str
    date: datetime | None = None
    kind: ReplyKind
    matched_by: MatchedBy
    current_status: ApplicationStatus
    proposed_status: ApplicationStatus | None = None
    applied: bool = Field(default=False, description="This reply changed the application already.")

    @property
    def note(self) -> str:
        day = f"{self.date:%Y-%m-%d}" if self.date else "undated"
        return f"{self.kind} reply of {day}: {self.subject} (gmail {self.gmail_id})"
