"""A fake Gmail API (users.messages.send / list, users.getProfile) on 127.0.0.1, and its fixture."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from email.message import EmailMessage
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
        self.route("POST", f"{PREFIX}/messages/send", self._send)
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

    def _list(self, request: Request) -> Reply:
        if refused := self._unauthorised(request):
            return refused
        query = request.query.get("q", [""])[0]
        wanted = query.removeprefix("rfc822msgid:").strip("<>")
        with self._store_lock:
            found = [
                {"id": gmail_id, "threadId": gmail_id}
                for gmail_id, raw in self.sent
                if query.startswith("rfc822msgid:")
                and email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"].strip("<>") == wanted
            ]
        return Reply(200, {"messages": found, "resultSizeEstimate": len(found)} if found else {"resultSizeEstimate": 0})

    def _profile(self, request: Request) -> Reply:
        if refused := self._unauthorised(request):
            return refused
        return Reply(200, {"emailAddress": ADDRESS, "messagesTotal": len(self.sent), "historyId": "1"})


@pytest.fixture
def gmail_api() -> Iterator[FakeGmail]:
    service = FakeGmail().start()
    yield service
    service.stop()
