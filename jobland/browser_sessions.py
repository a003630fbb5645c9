"""Review-page sign-ins: opaque, expiring session cookies kept in the Store (PostgreSQL), each with a CSRF token.

The cookie is a random id, never the API token. The Store keys a session by the id's SHA-256 and binds it to
the token it was opened with by a hash of both, so a reader of the database learns neither a live cookie nor
a token, and a session ends when its token is changed or removed. Every server process on the database sees
the same sessions.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from langgraph.store.base import BaseStore
from pydantic import BaseModel

from jobland.settings import ApiUser

SESSION_COOKIE = "jobland_session"
CSRF_HEADER = "X-CSRF-Token"
BROWSER_SESSIONS = ("browser_sessions",)


class BrowserSession(BaseModel):
    user_id: str
    token_binding: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class SignedIn:
    user: ApiUser
    csrf_token: str


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class BrowserSessions:
    def __init__(self, store: BaseStore, users: dict[str, ApiUser], lifetime_s: float):
        self.store = store
        self.users = users
        self.lifetime = timedelta(seconds=lifetime_s)

    async def open(self, token: str) -> str:
        """A new session for the holder of `token` (a known API token); returns the cookie's value."""
        user = self.users[token]
        cookie = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        session = BrowserSession(
            user_id=user.user_id,
            token_binding=_digest(cookie, token),
            csrf_token=secrets.token_urlsafe(32),
            expires_at=now + self.lifetime,
        )
        await self.store.aput(BROWSER_SESSIONS, _digest(cookie), session.model_dump(mode="json"), index=False)
        await self._forget_expired(user.user_id, now)
        return cookie

    async def find(self, cookie: str | None) -> SignedIn | None:
        """Who a cookie signs in, while its session lasts and its token is still known."""
        if not cookie:
            return None
        item = await self.store.aget(BROWSER_SESSIONS, _digest(cookie))
        if item is None:
            return None
        session = BrowserSession.model_validate(item.value)
        if session.expires_at <= datetime.now(UTC):
            await self.store.adelete(BROWSER_SESSIONS, _digest(cookie))
            return None
        for token, user in self.users.items():
            if secrets.compare_digest(_digest(cookie, token), session.token_binding):
                return SignedIn(user, session.csrf_token)
        return None

    async def close(self, cookie: str | None) -> None:
        if cookie:
            await self.store.adelete(BROWSER_SESSIONS, _digest(cookie))

    async def _forget_expired(self, user_id: str, now: datetime) -> None:
        """Sessions nobody signed out of would pile up: each sign-in drops its user's expired ones."""
        offset = 0
        while items := await self.store.asearch(
            BROWSER_SESSIONS, filter={"user_id": user_id}, limit=500, offset=offset
        ):
            expired = [i.key for i in items if BrowserSession.model_validate(i.value).expires_at <= now]
            for key in expired:
                await self.store.adelete(BROWSER_SESSIONS, key)
            offset += len(items) - len(expired)
