"""Gmail API mailer: `users.messages.send` through the official Google client, once per Message-ID.

Credentials come from an OAuth token file (created once with google-auth-oauthlib, see README).
Each package has a deterministic Message-ID; before sending, the mailer searches the mailbox for
it (`rfc822msgid:`) and returns the message found instead of sending again. That search is also
how an unknown outcome (a 5xx or a lost answer after the request went out) is resolved: the send
itself is never retried blindly, the next attempt (a resume) searches first.

HTTP goes through google-auth's requests session rather than httplib2, because httplib2 re-sends
a request whose answer was lost, which for a send would be a duplicate email.
"""

from __future__ import annotations

import asyncio
import base64
import warnings
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

import httplib2
import requests
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import AuthorizedSession
from google.oauth2.credentials import Credentials

with warnings.catch_warnings():
    # google.api_core warns about grpcio's age on import; this client never uses gRPC.
    warnings.filterwarnings("ignore", category=FutureWarning, module="google.api_core")
    from googleapiclient.discovery import build
    from googleapiclient.errors import HttpError
from urllib3.exceptions import NewConnectionError

from jobland.tools.ratelimit import OutcomeUnknown, RetryableError, ServiceError, ServiceLimiter, retry_after_seconds

# gmail.send to send; gmail.readonly to find an already sent message by its Message-ID.
GMAIL_SCOPES = ("https://www.googleapis.com/auth/gmail.send", "https://www.googleapis.com/auth/gmail.readonly")
# Reading the inbox for employers' replies needs no more than this: nothing is ever sent, deleted or labelled.
GMAIL_READ_SCOPES = ("https://www.googleapis.com/auth/gmail.readonly",)
SERVICE = "gmail"
T = TypeVar("T")


class RequestNotSent(Exception):
    """The connection failed before the request went out: safe to try again."""


class RequestMaybeSent(Exception):
    """The request went out but no answer came back: the service may have acted on it."""


class SessionHttp:
    """The httplib2.Http interface the Google client calls, over an authorised requests session.

    requests (urllib3 with retries off) never re-sends a request, and its errors tell a connection
    that never opened from an answer that was lost.
    """

    def __init__(self, session: AuthorizedSession, timeout: float):
        self.session = session
        self.timeout = timeout

    def request(self, uri: str, method: str = "GET", body: Any = None, headers: Any = None, **_: Any) -> tuple:
        try:
            answer = self.session.request(method, uri, data=body, headers=headers, timeout=self.timeout)
        except requests.ConnectTimeout as exc:
            raise RequestNotSent(f"could not connect: {exc}") from exc
        except requests.ConnectionError as exc:
            reason = getattr(exc.args[0], "reason", None) if exc.args else None
            if isinstance(reason, NewConnectionError):
                raise RequestNotSent(f"could not connect: {reason}") from exc
            raise RequestMaybeSent(f"the connection dropped before an answer: {exc}") from exc
        except requests.Timeout as exc:
            raise RequestMaybeSent(f"no answer within {self.timeout:g} s") from exc
        response = httplib2.Response({"status": answer.status_code, **answer.headers})
        return response, answer.content


def _http_error(exc: HttpError) -> tuple[int, float | None, str]:
    status = int(exc.resp.status)
    return status, retry_after_seconds(dict(exc.resp.items())), exc._get_reason() or f"HTTP {status}"


def google_service(
    api: str,
    version: str,
    token_file: Path,
    scopes: tuple[str, ...],
    *,
    api_endpoint: str | None,
    timeout: float,
    service: str = SERVICE,
) -> Any:
    """A Google API client as the OAuth token file's user, over a session that never re-sends a request."""
    if not token_file.is_file():
        variable = "JOBLAND_GMAIL_TOKEN_FILE" if service == SERVICE else f"JOBLAND_{service.upper()}_TOKEN_FILE"
        raise ServiceError(
            service, f"no OAuth token file at {token_file}; create one as the README shows and set {variable} to it"
        )
    try:
        credentials = Credentials.from_authorized_user_file(str(token_file), scopes=list(scopes))
    except (ValueError, OSError) as exc:
        raise ServiceError(service, f"cannot read the OAuth token file {token_file}: {exc}; create it again") from exc
    options = {"api_endpoint": api_endpoint.rstrip("/") + "/"} if api_endpoint else None
    return build(
        api,
        version,
        http=SessionHttp(AuthorizedSession(credentials), timeout),
        static_discovery=True,
        client_options=options,
        cache_discovery=False,
    )


def execute(request: Any, service: str, *, sending: bool) -> dict:
    """One HTTP exchange, its failure sorted into retry-safe, unknown outcome or final."""
    try:
        return request.execute(num_retries=0)  # the limiter's budget is the only retry budget
    except RequestNotSent as exc:
        raise RetryableError(str(exc)) from exc
    except RequestMaybeSent as exc:
        if sending:
            raise OutcomeUnknown(str(exc)) from exc
        raise RetryableError(str(exc)) from exc
    except RefreshError as exc:
        raise ServiceError(
            service, f"the OAuth token was refused ({exc}); create the token file again (see README)"
        ) from exc
    except HttpError as exc:
        status, retry_after, reason = _http_error(exc)
        if status == 429:  # refused before acceptance: safe to try again after the wait
            raise RetryableError(f"HTTP 429: {reason}", status=429, retry_after=retry_after) from exc
        if status >= 500:
            if sending:
                raise OutcomeUnknown(f"HTTP {status} after the message was sent: {reason}") from exc
            raise RetryableError(f"HTTP {status}: {reason}", status=status) from exc
        hint = "; check the token file's account and scope" if status in (401, 403) else ""
        raise ServiceError(service, f"HTTP {status}: {reason}{hint}", status=status) from exc


class GmailClient:
    """The token file's Gmail API service with the scopes a subclass needs, built on first use."""

    scopes: tuple[str, ...]

    def __init__(
        self, token_file: str | Path, *, api_endpoint: str | None = None, limiter: ServiceLimiter, timeout: float = 30.0
    ):
        self.token_file = Path(token_file).expanduser()
        self.api_endpoint = api_endpoint
        self.limiter = limiter
        self.timeout = timeout
        self._service: Any = None

    def _gmail(self) -> Any:
        """Built on first use (reads the token file and the bundled discovery document)."""
        if self._service is None:
            self._service = google_service(
                "gmail", "v1", self.token_file, self.scopes, api_endpoint=self.api_endpoint, timeout=self.timeout
            )
        return self._service


class GmailMailer(GmailClient):
    """Sends through the Gmail API as the token file's user; idempotent by Message-ID."""

    scopes = GMAIL_SCOPES
    absence_is_certain = False  # search can lag behind a message that was just accepted

    def _execute(self, request: Any, *, sending: bool) -> dict:
        return execute(request, SERVICE, sending=sending)

    def _limited(self, operation: Callable[[], T]) -> T:
        """Run one blocking operation under the limiter (this runs in a worker thread)."""

        async def attempt() -> T:
            return await asyncio.to_thread(operation)

        return asyncio.run(self.limiter.call(attempt))

    def _find(self, message_id: str) -> str | None:
        """The Gmail id of a message in the mailbox with this Message-ID, if any."""
        listing = self._gmail().users().messages().list(userId="me", q=f"rfc822msgid:{message_id.strip('<>')}")
        messages = self._execute(listing, sending=False).get("messages") or []
        return messages[0]["id"] if messages else None

    def find_sent(self, message: EmailMessage, *, key: str) -> str | None:
        """The sent message with this package's Message-ID, looked up in the mailbox."""
        found = self._limited(lambda: self._find(self._message_id(message, key)))
        return f"gmail:{found}" if found else None

    @staticmethod
    def _message_id(message: EmailMessage, key: str) -> str:
        message_id = message["Message-ID"]
        if not message_id:
            raise ValueError(f"message for {key} has no Message-ID: it could not be recognised later")
        return message_id

    def send(self, message: EmailMessage, *, key: str) -> str:
        message_id = self._message_id(message, key)

        def find_or_send() -> str:
            # Searching inside every attempt keeps a retry after a 429 from sending twice.
            existing = self._find(message_id)
            if existing:
                return existing
            raw = base64.urlsafe_b64encode(message.as_bytes()).decode("ascii")
            sent = self._execute(self._gmail().users().messages().send(userId="me", body={"raw": raw}), sending=True)
            return sent["id"]

        return f"gmail:{self._limited(find_or_send)}"

    def check(self) -> str:
        """Ask the API who the token belongs to (for `jobland doctor`)."""
        profile = self._limited(lambda: self._execute(self._gmail().users().getProfile(userId="me"), sending=False))
        return str(profile.get("emailAddress", "?"))


class GmailInbox(GmailClient):
    """Reads the token file's mailbox (messages.list / messages.get raw / threads.get): only GET requests."""

    scopes = GMAIL_READ_SCOPES

    async def _read(self, make_request: Callable[[Any], Any]) -> dict:
        """One read under the limiter; reads are safe to repeat, so every retryable failure is retried."""

        async def attempt() -> dict:
            return await asyncio.to_thread(lambda: execute(make_request(self._gmail()), SERVICE, sending=False))

        return await self.limiter.call(attempt)

    async def search(self, query: str, *, limit: int = 50) -> list[tuple[str, str]]:
        """(message id, thread id) of the messages Gmail finds for a search (its `q` syntax), newest first."""
        found: list[tuple[str, str]] = []
        page: str | None = None
        while len(found) < limit:
            wanted = min(100, limit - len(found))
            listing = await self._read(
                lambda g, page=page, wanted=wanted: (
                    g.users().messages().list(userId="me", q=query, maxResults=wanted, pageToken=page)
                )
            )
            found += [(m["id"], m.get("threadId", "")) for m in listing.get("messages") or []]
            page = listing.get("nextPageToken")
            if not page:
                break
        return found[:limit]

    async def thread_message_ids(self, thread_id: str) -> list[str]:
        thread = await self._read(lambda g: g.users().threads().get(userId="me", id=thread_id, format="minimal"))
        return [m["id"] for m in thread.get("messages") or []]

    async def message(self, gmail_id: str) -> tuple[bytes, str]:
        """The message's RFC 822 bytes and its thread id; of a message over MAX_RAW_BYTES, its headers only."""
        from jobland.domain.replies import MAX_RAW_BYTES, READ_HEADERS

        messages = self._gmail().users().messages()
        size = await self._read(lambda g: messages.get(userId="me", id=gmail_id, format="minimal"))
        if int(size.get("sizeEstimate") or 0) <= MAX_RAW_BYTES:
            got = await self._read(lambda g: messages.get(userId="me", id=gmail_id, format="raw"))
            return base64.urlsafe_b64decode(got.get("raw", "")), str(got.get("threadId", ""))
        got = await self._read(
            lambda g: messages.get(userId="me", id=gmail_id, format="metadata", metadataHeaders=list(READ_HEADERS))
        )
        headers = (got.get("payload") or {}).get("headers") or []
        head = "".join(f"{h['name']}: {h['value']}\r\n" for h in headers if h.get("name") in READ_HEADERS)
        return (head + "\r\n").encode("utf-8", "replace"), str(got.get("threadId", ""))
