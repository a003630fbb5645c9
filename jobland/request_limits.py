"""The request-body limit, enforced while the body streams in: nothing over it is read, let alone spooled to disk."""

from __future__ import annotations

import json

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """Raised from inside the app's receive: FastAPI passes an HTTPException through the body parsing as it is."""

    def __init__(self, limit_bytes: int):
        super().__init__(
            413,
            f"the request body is over the {limit_bytes // (1024 * 1024)} MB limit; "
            "upload a smaller file (remove images, or give a .docx/.md)",
        )


class BodySizeLimit:
    """ASGI middleware: refuse a body over max_bytes with 413, by its Content-Length before a byte of it is read,
    else as soon as the bytes counted while it streams pass the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int, shown_limit_bytes: int | None = None):
        self.app = app
        self.max_bytes = max_bytes
        self.shown_limit_bytes = shown_limit_bytes or max_bytes  # what the person is told the limit is

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = BodyTooLarge(self.shown_limit_bytes)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(too_large, send)
            return
        received = 0
        responded = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise too_large
            return message

        async def watched(message: Message) -> None:
            nonlocal responded
            responded = responded or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:  # raised where nothing turned it into a response
            if not responded:
                await self._refuse(too_large, send)

    @staticmethod
    async def _refuse(error: BodyTooLarge, send: Send) -> None:
        body = json.dumps({"detail": error.detail}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        # The connection closes: the rest of the body is never read.
        await send({"type": "http.response.start", "status": 413, "headers": [*headers, (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
