"""The person's inbox, read for employers' replies: Gmail (read-only), or the embedded twin, a folder of .eml files.

Both answer the same three questions: which messages a Gmail search finds, which messages share a thread,
and a message's RFC 822 bytes. The twin understands the few search terms the tracker asks (`rfc822msgid:`,
`from:`, a quoted phrase, `after:`), so `jobland applications check-replies` works without Google too:
save the employers' emails into <home>/inbox/.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import shlex
from datetime import UTC, datetime
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import Path
from typing import Protocol

from jobland.domain.replies import MAX_RAW_BYTES
from jobland.tools.ratelimit import configured_limiter

# Gmail's published limit is 250 quota units per user per second; a messages.get costs 5, a list 5.
INBOX_LIMITS = {"max_concurrency": 4, "requests_per_second": 20.0}


class Inbox(Protocol):
    async def search(self, query: str, *, limit: int = 50) -> list[tuple[str, str]]: ...

    async def thread_message_ids(self, thread_id: str) -> list[str]: ...

    async def message(self, gmail_id: str) -> tuple[bytes, str]: ...


class InboxSettings(Protocol):
    """What choosing an inbox reads (graph.context.Context has these)."""

    gmail_token_file: str | None
    gmail_api_endpoint: str | None
    service_limits: dict[str, dict[str, float]]

    @property
    def home_path(self) -> Path: ...


def make_inbox(context: InboxSettings) -> Inbox:
    """Gmail when a token file is configured, else the folder <home>/inbox."""
    if context.gmail_token_file:
        from jobland.tools.gmail import GmailInbox  # the Google client takes 0.3 s to import: only when used

        limiter = configured_limiter("gmail", INBOX_LIMITS, context.service_limits.get("gmail"))
        return GmailInbox(context.gmail_token_file, api_endpoint=context.gmail_api_endpoint, limiter=limiter)
    return FolderInbox(context.home_path / "inbox")


def _header_ids(value: object) -> list[str]:
    return re.findall(r"<[^<>\s]+>", str(value or ""))


class FolderInbox:
    """The embedded twin: every .eml file in a folder is a message; a thread is the messages that refer to each other."""

    def __init__(self, folder: Path):
        self.folder = folder

    def _messages(self) -> dict[str, email.message.EmailMessage]:
        found = {}
        for path in sorted(self.folder.glob("*.eml")) if self.folder.is_dir() else []:
            with path.open("rb") as handle:
                head = handle.read(MAX_RAW_BYTES)
            found[path.stem] = email.message_from_bytes(head, policy=email.policy.default)
        return found

    def _threads(self, messages: dict[str, email.message.EmailMessage]) -> dict[str, str]:
        """Message file -> thread: the first message of a chain of References names the thread."""
        by_id = {str(m.get("Message-ID", "")).strip(): key for key, m in messages.items()}
        thread: dict[str, str] = {}
        for key, message in messages.items():
            refs = _header_ids(message.get("References")) + _header_ids(message.get("In-Reply-To"))
            roots = [by_id[r] for r in refs if r in by_id]
            thread[key] = roots[0] if roots else key
        # Follow chains to their first message (a reply to a reply).
        for key in thread:
            seen = {key}
            while thread[thread[key]] != thread[key] and thread[key] not in seen:
                seen.add(thread[key])
                thread[key] = thread[thread[key]]
        return thread

    def _search(self, query: str, limit: int) -> list[tuple[str, str]]:
        messages = self._messages()
        threads = self._threads(messages)
        hits = [key for key, message in messages.items() if _matches(message, shlex.split(query))]
        return [(key, threads[key]) for key in hits[:limit]]

    async def search(self, query: str, *, limit: int = 50) -> list[tuple[str, str]]:
        return await asyncio.to_thread(self._search, query, limit)

    async def thread_message_ids(self, thread_id: str) -> list[str]:
        def members() -> list[str]:
            return [key for key, thread in self._threads(self._messages()).items() if thread == thread_id]

        return await asyncio.to_thread(members)

    async def message(self, gmail_id: str) -> tuple[bytes, str]:
        def read() -> tuple[bytes, str]:
            path = self.folder / f"{Path(gmail_id).name}.eml"
            with path.open("rb") as handle:
                raw = handle.read(MAX_RAW_BYTES + 1)
            return raw, self._threads(self._messages()).get(path.stem, path.stem)

        return await asyncio.to_thread(read)


def _matches(message: email.message.EmailMessage, terms: list[str]) -> bool:
    """Every term holds (Gmail's default AND); the terms the tracker uses, case-insensitively."""
    for term in terms:
        lowered = term.lower()
        if lowered.startswith("rfc822msgid:"):
            if str(message.get("Message-ID", "")).strip("<> ").lower() != lowered.split(":", 1)[1].strip("<>"):
                return False
        elif lowered.startswith("from:"):
            if lowered.split(":", 1)[1].lstrip("@") not in parseaddr(str(message.get("From", "")))[1].lower():
                return False
        elif lowered.startswith("after:"):
            try:
                sent = parsedate_to_datetime(str(message["Date"]))
                after = datetime.strptime(lowered.split(":", 1)[1], "%Y/%m/%d").replace(tzinfo=UTC)
            except (TypeError, ValueError):
                return False
            if sent < after:
                return False
        else:
            if lowered not in _searchable_text(message):
                return False
    return True


def _searchable_text(message: email.message.EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    try:
        content = body.get_content() if body is not None else ""
    except (LookupError, ValueError):  # an unknown charset: searched by its headers
        content = ""
    return f"{message.get('Subject', '')} {message.get('From', '')} {content}".lower()
