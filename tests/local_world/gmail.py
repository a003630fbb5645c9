"""A fake Gmail API on 127.0.0.1, and its fixture.

users.messages.send / list / get, users.threads.get, users.getProfile. The mailbox holds what was sent
(labelled SENT and INBOX: packages go to the person's own address) and what `receive` puts in the inbox;
a received message joins the thread of a message it refers to (In-Reply-To / References), as Gmail threads
replies. `q` understands the search terms JobLand uses: rfc822msgid:, from:, after:YYYY/MM/DD, and words
or "quoted phrases" (in the subject, the sender or the body).
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import re
import shlex
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import Path

import pytest

from jobland.tools.gmail import GMAIL_SCOPES
from tests.local_world.base import LocalService, Reply, Request

ACCESS_TOKEN = "local-gmail-token"
ADDRESS = "alex.morgan@example.com"
PREFIX = "/gmail/v1/users/me"


class FakeGmail(LocalService):
    """Stores every sent message; `lose_next_answers` accepts a send and then answers with an error."""

    def __init__(self) -> None:
        super().__init__("gmail")
        self.sent: list[tuple[str, bytes]] = []  # (gmail id, RFC 822 bytes)
        self.lose_next_answers: deque[Reply] = deque()
        self._store_lock = threading.Lock()
        self.received: list[tuple[str, str, bytes]] = []  # (gmail id, thread id, RFC 822 bytes) in the inbox
        self.route("POST", f"{PREFIX}/messages/send", self._send)
        self.route("GET", f"{PREFIX}/messages/", self._get_message)  # before the list route: routes match by prefix
        self.route("GET", f"{PREFIX}/threads/", self._get_thread)
        self.route("GET", f"{PREFIX}/messages", self._list)
        self.route("GET", f"{PREFIX}/profile", self._profile)

    @property
    def messages(self) -> list[EmailMessage]:
        return [email.message_from_bytes(raw, policy=email.policy.default) for _, raw in self.sent]

    def write_token_file(self, path: Path) -> Path:
        """An authorized-user token file, as google-auth-oauthlib's InstalledAppFlow writes it.

        Its access token is valid for years: google-auth always refreshes at Google's own token
        endpoint, whatever the file says, and tests never leave 127.0.0.1.
        """
        path.write_text(
            json.dumps(
                {
                    "token": ACCESS_TOKEN,
                    "refresh_token": "local-refresh-token",
                    "token_uri": "https://oauth2.googleapis.com/token",
                    "client_id": "local-client.apps.googleusercontent.com",
                    "client_secret": "local-secret",
                    "scopes": list(GMAIL_SCOPES),
                    "expiry": "2099-01-01T00:00:00Z",
                }
            )
        )
        return path

    @staticmethod
    def _unauthorised(request: Request) -> Reply | None:
        if request.headers.get("authorization") != f"Bearer {ACCESS_TOKEN}":
            return Reply(401, {"error": {"code": 401, "message": "Invalid Credentials", "status": "UNAUTHENTICATED"}})
        return None

    def _send(self, request: Request) -> Reply:
        if refused := self._unauthorised(request):
            return refused
        raw = base64.urlsafe_b64decode(request.json()["raw"])
        gmail_id = uuid.uuid4().hex[:16]
        with self._store_lock:
            self.sent.append((gmail_id, raw))
            lost = self.lose_next_answers.popleft() if self.lose_next_answers else None
        return lost or Reply(200, {"id": gmail_id, "threadId": gmail_id, "labelIds": ["SENT"]})

    def receive(self, message: EmailMessage) -> str:
        """Put a message in the inbox (as if someone sent it); its Gmail id is returned."""
        raw = message.as_bytes()
        refs = re.findall(r"<[^<>\s]+>", f"{message.get('In-Reply-To', '')} {message.get('References', '')}")
        with self._store_lock:
            by_message_id = {
                str(email.message_from_bytes(r, policy=email.policy.default)["Message-ID"]).strip(): t
                for _, t, r in self._mailbox()
            }
            thread_id = next((by_message_id[r] for r in refs if r in by_message_id), None)
            gmail_id = uuid.uuid4().hex[:16]
            self.received.append((gmail_id, thread_id or gmail_id, raw))
        return gmail_id

    def _mailbox(self) -> list[tuple[str, str, bytes]]:
        """(gmail id, thread id, raw) of every message, oldest first; a sent message is its own thread's start."""
        return [(gmail_id, gmail_id, raw) for gmail_id, raw in self.sent] + self.received

    def _list(self, request: Request) -> Reply:
        if refused := self._unauthorised(request):
            return refused
        query = request.query.get("q", [""])[0]
        limit = int(request.query.get("maxResults", ["100"])[0])
        with self._store_lock:
            found = [
                {"id": gmail_id, "threadId": thread_id}
                for gmail_id, thread_id, raw in reversed(self._mailbox())  # newest first, as Gmail lists
                if _matches(email.message_from_bytes(raw, policy=email.policy.default), query)
            ][:limit]
        return Reply(200, {"messages": found, "resultSizeEstimate": len(found)} if found else {"resultSizeEstimate": 0})

    def _resource(self, gmail_id: str, thread_id: str, raw: bytes, fmt: str, headers: tuple[str, ...] = ()) -> dict:
        labels = ["SENT", "INBOX"] if any(gmail_id == g for g, _ in self.sent) else ["INBOX", "UNREAD"]
        message = email.message_from_bytes(raw, policy=email.policy.default)
        resource = {
            "id": gmail_id,
            "threadId": thread_id,
            "labelIds": labels,
            "snippet": str(message.get("Subject", ""))[:100],
            "sizeEstimate": len(raw),
            "historyId": "1",
            "internalDate": str(int(parsedate_to_datetime(str(message["Date"])).timestamp() * 1000)),
        }
        if fmt == "raw":
            resource["raw"] = base64.urlsafe_b64encode(raw).decode("ascii")
        if fmt == "metadata":
            wanted = {h.lower() for h in headers}
            found = [{"name": k, "value": str(v)} for k, v in message.items() if k.lower() in wanted]
            resource["payload"] = {"partId": "", "mimeType": message.get_content_type(), "headers": found}
        return resource

    def _get_message(self, request: Request) -> Reply:
        if refused := self._unauthorised(request):
            return refused
        wanted = request.path.removeprefix(f"{PREFIX}/messages/")
        fmt = request.query.get("format", ["full"])[0]
        headers = tuple(request.query.get("metadataHeaders", []))
        with self._store_lock:
            found = [self._resource(g, t, raw, fmt, headers) for g, t, raw in self._mailbox() if g == wanted]
        if not found:
            return Reply(
                404, {"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}}
            )
        return Reply(200, found[0])

    def _get_thread(self, request: Request) -> Reply:
        if refused := self._unauthorised(request):
            return refused
        wanted = request.path.removeprefix(f"{PREFIX}/threads/")
        fmt = request.query.get("format", ["full"])[0]
        with self._store_lock:
            members = [self._resource(g, t, raw, fmt) for g, t, raw in self._mailbox() if t == wanted]
        if not members:
            return Reply(
                404, {"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}}
            )
        return Reply(200, {"id": wanted, "historyId": "1", "messages": members})

    def _profile(self, request: Request) -> Reply:
        if refused := self._unauthorised(request):
            return refused
        return Reply(200, {"emailAddress": ADDRESS, "messagesTotal": len(self.sent), "historyId": "1"})


def _matches(message: EmailMessage, query: str) -> bool:
    """Gmail's search for the terms JobLand uses; every term must hold."""
    body = message.get_body(preferencelist=("plain", "html"))
    text = f"{message.get('Subject', '')} {message.get('From', '')} {body.get_content() if body else ''}".lower()
    for term in shlex.split(query):
        key, _, value = term.lower().partition(":") if re.match(r"^\w+:", term) else ("", "", term.lower())
        if key == "rfc822msgid":
            if str(message.get("Message-ID", "")).strip("<> ").lower() != value.strip("<>"):
                return False
        elif key == "from":
            name, address = parseaddr(str(message.get("From", "")))
            if value.lstrip("@") not in f"{name} {address}".lower():
                return False
        elif key == "after":
            if parsedate_to_datetime(str(message["Date"])) < datetime.strptime(value, "%Y/%m/%d").replace(tzinfo=UTC):
                return False
        elif term.lower() not in text:
            return False
    return True


@pytest.fixture
def gmail_api() -> Iterator[FakeGmail]:
    service = FakeGmail().start()
    yield service
    service.stop()
