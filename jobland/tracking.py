"""Application tracking that keeps itself: the tracker synced to a Google Sheet, and employers' replies from Gmail.

- `sync_sheet` writes one row per delivered application, keyed by package id (a second sync updates rows,
  never adds them again) and takes back what the person changed in the sheet (status and notes): the sheet
  wins, with a log line. One sync per spreadsheet at a time, across processes (the ledger's sheet lock).
- `find_replies` reads the inbox (never writes to it) for messages that answer an application (its package's
  thread, the employer's domain, the company's name), and proposes a status for the interview invitations and
  rejections among them. `apply_replies` applies proposals the person confirmed, each reply at most once
  (claimed by its Gmail message id in PostgreSQL before the application changes).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from jobland.domain.models import ApplicationLogEntry, JobPosting
from jobland.domain.replies import (
    MatchedBy,
    ReceivedMessage,
    ReplyKind,
    ReplyProposal,
    bounded_kind,
    classify,
    employer_domains,
    matched_by,
    own_addresses,
    proposed_status,
    read_message,
    sent_by_person,
)
from jobland.domain.repository import RecordNotFound, Records
from jobland.domain.tracker_sheet import (
    SHEET_COLUMNS,
    SheetLayoutError,
    read_sheet,
    row_range,
    sheet_row,
    take_edits,
    written_state,
)
from jobland.graph.context import Context
from jobland.prompts import load_prompt, quoted_data
from jobland.service import Session
from jobland.tools.inbox import Inbox, make_inbox
from jobland.tools.llm import llm_limiter, load_chat_model, structured_call
from jobland.tools.ratelimit import ServiceError
from jobland.tools.sheets import Sheet, make_sheet
from jobland.tools.tracking_ledger import TrackingLedger, ledger_for

log = logging.getLogger(__name__)

SHEET_LOCK_WAIT_S = 60.0
MAX_CANDIDATES = 50  # messages looked at per application and search
_MATCH_STRENGTH: dict[MatchedBy, int] = {"thread": 3, "domain": 2, "company": 1}
_UNDATED = datetime.min.replace(tzinfo=UTC)  # a message without a date sorts last

__all__ = [
    "SheetLayoutError",
    "ReplyProposal",
    "SheetSync",
    "TrackingBusy",
    "apply_replies",
    "apply_reply",
    "check_replies",
    "find_replies",
    "find_replies_for",
    "sync_after_change",
    "sync_sheet",
    "synced_sheet",
]


class TrackingBusy(RuntimeError):
    """Another process is syncing the same sheet right now."""


def delivered(entries: list[ApplicationLogEntry], owner: str) -> list[ApplicationLogEntry]:
    """The owner's applications (delivered packages), oldest first: the sheet's row order."""
    return sorted((e for e in entries if e.owner == owner and e.outcome == "sent"), key=lambda e: e.at)


async def _owned(records: Records, owner: str) -> list[ApplicationLogEntry]:
    return delivered(await records.applications(limit=10_000), owner)


# --------------------------------------------------------------------------- the sheet


@dataclass
class SheetSync:
    """What one sync did."""

    sheet: str
    appended: int = 0
    updated: int = 0
    unchanged: int = 0
    edits: list[str] = field(default_factory=list)  # changes taken from the sheet into the tracker
    warnings: list[str] = field(default_factory=list)


def _written_ns(spreadsheet_id: str) -> tuple[str, ...]:
    """What JobLand last wrote in each row of this spreadsheet: how a person's edit is told from its own."""
    return ("sheet_rows", spreadsheet_id)


async def _match_scores(records: Records, entries: list[ApplicationLogEntry]) -> dict[str, int | None]:
    async def score(entry: ApplicationLogEntry) -> int | None:
        try:
            return (await records.package(entry.thread_id, entry.package_id)).screening.match_score
        except RecordNotFound:
            return None

    scores = await asyncio.gather(*(score(e) for e in entries))
    return {e.package_id: s for e, s in zip(entries, scores, strict=True)}


async def sync_sheet(
    records: Records, ledger: TrackingLedger, context: Context, spreadsheet_id: str, sheet: Sheet | None = None
) -> SheetSync:
    """Write the owner's applications to the sheet and take back the person's edits (the sheet wins for those)."""
    sheet = sheet or make_sheet(context, spreadsheet_id)
    async with ledger.sheet_lock(spreadsheet_id, wait_s=SHEET_LOCK_WAIT_S) as held:
        if not held:
            raise TrackingBusy(f"another process is syncing sheet {spreadsheet_id}; try again in a minute")
        contents = read_sheet(await sheet.read_rows())
        entries = await _owned(records, context.user_id)
        last_written = await records.get_values(_written_ns(spreadsheet_id), [e.package_id for e in entries])
        scores = await _match_scores(records, entries)
        report = SheetSync(sheet=sheet.description)
        report.warnings += [
            f"row {row.number} repeats package {row.package_id} (row {contents.rows[row.package_id].number} is "
            "the one kept in sync); delete the copy"
            for row in contents.duplicates
        ]
        updates: dict[str, list[str]] = {}
        appends: list[list[str]] = [] if contents.has_header else [list(SHEET_COLUMNS)]
        written: dict[str, dict] = {}
        for entry in entries:
            row = contents.rows.get(entry.package_id)
            if row is not None:
                edit = take_edits(entry, row, last_written.get(entry.package_id), spreadsheet_id)
                report.warnings += edit.refused
                if edit.changes:
                    entry = edit.entry
                    await records.put_application(entry)
                    line = f"{entry.package_id} ({entry.title} at {entry.company}): {', '.join(edit.changes)} from {sheet.description}"
                    log.info("sheet edit taken: %s", line)
                    report.edits.append(line)
            cells = sheet_row(entry, scores[entry.package_id])
            written[entry.package_id] = written_state(cells)
            if row is None:
                appends.append(cells)
                report.appended += 1
            elif row.cells != cells:
                updates[row_range(row.number)] = cells
                report.updated += 1
            else:
                report.unchanged += 1
        await sheet.update_rows(updates)  # repeatable first; the append (never retried blindly) last
        await sheet.append_rows(appends)
        await records.put_values(_written_ns(spreadsheet_id), written)
        return report


async def synced_sheet(s: Session, spreadsheet_id: str) -> SheetSync:
    return await sync_sheet(s.records, ledger_for(s.graph.store), s.settings.context(), spreadsheet_id)


async def sync_after_change(s: Session, context: Context | None = None) -> str | None:
    """Sync the configured sheet (JOBLAND_SHEET_ID), if any, after a delivery or a status change.

    The change itself is made already: a sheet that cannot be reached is named in the returned warning,
    never an error of the command that made the change.
    """
    context = context or s.settings.context()
    if not context.sheet_id:
        return None
    try:
        report = await sync_sheet(s.records, ledger_for(s.graph.store), context, context.sheet_id)
    except (ServiceError, SheetLayoutError, TrackingBusy, ValueError, OSError) as exc:
        log.warning("the tracker could not sync sheet %s: %s", context.sheet_id, exc)
        return f"sheet {context.sheet_id} not synced ({exc}); `jobland applications sync` tries again"
    for line in report.edits:
        log.info("sheet edit taken: %s", line)
    return None


# --------------------------------------------------------------------------- replies


class ReplyReading(BaseModel):
    """What the model may say about a reply: its kind, nothing else (no application, no status, no action)."""

    kind: ReplyKind = Field(description="interview, rejection, information or other.")


async def reply_kind(message: ReceivedMessage, context: Context) -> ReplyKind:
    """The rules' reading, or the model's when one is configured (bounded by the rules: bulk mail is other)."""
    model = load_chat_model(context, "intake")  # the role that reads what people write
    if model is None:
        return classify(message)
    from langchain_core.messages import HumanMessage, SystemMessage

    day = f"{message.date:%Y-%m-%d}" if message.date else "undated"
    email_text = (
        f"From: {message.sender_name} <{message.sender}>\nDate: {day}\nSubject: {message.subject}\n\n{message.body}"
    )
    messages = [SystemMessage(load_prompt("reply_classifier")), HumanMessage(quoted_data("email", email_text))]
    reading = await structured_call(model, ReplyReading, messages, limiter=llm_limiter(context))
    return bounded_kind(message, reading.kind)


@dataclass(frozen=True)
class _Known:
    """What identifies an application's replies."""

    entry: ApplicationLogEntry
    message_id: str
    thread_ids: frozenset[str]
    domains: frozenset[str]


def _quoted_phrase(company: str) -> str:
    return '"' + company.replace('"', " ").replace("\\", " ").strip() + '"'


async def _posting(records: Records, posting_id: str) -> JobPosting | None:
    try:
        return await records.posting(posting_id)
    except RecordNotFound:
        return None


async def _known(records: Records, inbox: Inbox, entry: ApplicationLogEntry) -> tuple[_Known, set[str]]:
    """An application's identifying marks, and the ids of the messages its searches find."""
    receipt = await records.delivery(entry.package_id)
    message_id = receipt.message_id if receipt else ""
    posting = await _posting(records, entry.posting_id)
    domains = employer_domains(posting.hiringOrganization.sameAs if posting else None, entry.posting_url)
    since = f"after:{entry.at:%Y/%m/%d}"
    found: set[str] = set()
    thread_ids: set[str] = set()
    if message_id:
        for gmail_id, thread_id in await inbox.search(f"rfc822msgid:{message_id.strip('<>')}", limit=5):
            thread_ids.add(thread_id)
            found.update(await inbox.thread_message_ids(thread_id))
            found.discard(gmail_id)  # the package itself
    for domain in sorted(domains):
        found.update(g for g, _ in await inbox.search(f"from:{domain} {since}", limit=MAX_CANDIDATES))
    if len(entry.company.strip()) >= 3:
        found.update(g for g, _ in await inbox.search(f"{_quoted_phrase(entry.company)} {since}", limit=MAX_CANDIDATES))
    return _Known(entry, message_id, frozenset(thread_ids), domains), found


async def find_replies(
    records: Records,
    ledger: TrackingLedger,
    context: Context,
    inbox: Inbox,
    *,
    entries: list[ApplicationLogEntry] | None = None,
) -> list[ReplyProposal]:
    """Replies to the owner's applications, each with its kind and proposed status (newest first); reads only."""
    entries = await _owned(records, context.user_id) if entries is None else entries
    own = own_addresses(context.user_email)
    knowns = [await _known(records, inbox, entry) for entry in entries]
    candidate_ids = sorted(set().union(*(ids for _, ids in knowns))) if knowns else []
    messages: dict[str, ReceivedMessage] = {}
    for gmail_id in candidate_ids:
        raw, thread_id = await inbox.message(gmail_id)
        messages[gmail_id] = read_message(raw, gmail_id=gmail_id, thread_id=thread_id)
    # Each message answers one application: the one it matches best (thread, then domain, then name), the newest.
    best: dict[str, tuple[int, datetime, _Known, MatchedBy]] = {}
    for known, ids in knowns:
        for gmail_id in ids:
            message = messages[gmail_id]
            if sent_by_person(message, own) or (message.date and message.date < known.entry.at):
                continue
            how = matched_by(
                message,
                package_message_id=known.message_id,
                package_thread_ids=known.thread_ids,
                domains=known.domains,
                company=known.entry.company,
            )
            if how is None:
                continue
            rank = (_MATCH_STRENGTH[how], known.entry.at)
            if gmail_id not in best or rank > best[gmail_id][:2]:
                best[gmail_id] = (*rank, known, how)
    applied = await ledger.applied_replies(sorted(best))
    proposals = []
    for gmail_id, (_, _, known, how) in best.items():
        message, entry = messages[gmail_id], known.entry
        kind = await reply_kind(message, context)
        proposals.append(
            ReplyProposal(
                package_id=entry.package_id,
                company=entry.company,
                title=entry.title,
                gmail_id=gmail_id,
                subject=message.subject,
                sender=message.sender,
                date=message.date,
                kind=kind,
                matched_by=how,
                current_status=entry.status,
                proposed_status=None if gmail_id in applied else proposed_status(kind, entry.status),
                applied=gmail_id in applied,
            )
        )
    return sorted(proposals, key=lambda p: p.date or _UNDATED, reverse=True)


async def apply_replies(
    records: Records, ledger: TrackingLedger, proposals: list[ReplyProposal]
) -> list[ReplyProposal]:
    """Apply the confirmed proposals' status changes, each reply at most once; the ones applied now are returned."""
    done = []
    for proposal in proposals:
        if proposal.proposed_status is None or proposal.applied:
            continue
        if not await ledger.claim_reply(proposal.gmail_id, proposal.package_id, proposal.proposed_status):
            continue  # another process (or an earlier run) applied this reply
        entry = await records.application(proposal.package_id)
        status = proposed_status(proposal.kind, entry.status) if entry else None
        if entry is None or status is None:  # moved on meanwhile (e.g. set by hand): the reply is handled
            continue
        await records.put_application(entry.with_status(status, proposal.note))
        done.append(proposal.model_copy(update={"applied": True, "current_status": status}))
    return done


async def check_replies(s: Session, *, apply: bool) -> tuple[list[ReplyProposal], list[ReplyProposal]]:
    """The replies found (and, with apply, the status changes made from them), for the CLI."""
    context, ledger = s.settings.context(), ledger_for(s.graph.store)
    proposals = await find_replies(s.records, ledger, context, make_inbox(context))
    applied = await apply_replies(s.records, ledger, proposals) if apply else []
    return proposals, applied


async def find_replies_for(s: Session, context: Context) -> list[ReplyProposal]:
    """The replies to this person's applications (the review page's tracker)."""
    return await find_replies(s.records, ledger_for(s.graph.store), context, make_inbox(context))


async def apply_reply(s: Session, context: Context, package_id: str, gmail_id: str) -> ReplyProposal:
    """Apply one reply the person confirmed on the review page: read again from the inbox, never taken from the page."""
    entry = await s.records.application(package_id)
    if entry is None or entry.owner != context.user_id or entry.outcome != "sent":
        raise RecordNotFound(f"no application {package_id!r}; GET /api/applications lists yours")
    ledger = ledger_for(s.graph.store)
    found = await find_replies(s.records, ledger, context, make_inbox(context), entries=[entry])
    proposal = next((p for p in found if p.gmail_id == gmail_id), None)
    if proposal is None:
        raise RecordNotFound(f"no reply {gmail_id!r} to application {package_id}; GET .../replies lists them")
    if proposal.proposed_status is None:
        return proposal
    applied = await apply_replies(s.records, ledger, [proposal])
    return applied[0] if applied else proposal.model_copy(update={"applied": True, "proposed_status": None})
