"""Email delivery. The embedded default writes RFC 822 .eml files into an outbox folder.

A mailer sends a finished message and must be idempotent by key: sending the same key twice
leaves one message. Production mailers (Gmail, SMTP) implement the same Protocol.
"""

from __future__ import annotations

import os
import tempfile
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from jobland.domain.text import slug


class Mailer(Protocol):
    # Whether find_sent() finding nothing proves the message was not sent (so sending it cannot double it).
    absence_is_certain: bool

    def send(self, message: EmailMessage, *, key: str) -> str:
        """Send once per key; return where the message went."""
        ...

    def find_sent(self, message: EmailMessage, *, key: str) -> str | None:
        """Where the message went, if it was sent and the mailer can tell; None otherwise."""
        ...


class OutboxMailer:
    """Writes `<key>.eml` into a folder, atomically and at most once per key."""

    absence_is_certain = True  # the folder is ours: no file, no message

    def __init__(self, folder: Path):
        self.folder = folder

    def find_sent(self, message: EmailMessage, *, key: str) -> str | None:
        path = self.path_for(key)
        return str(path) if path.exists() else None

    def path_for(self, key: str) -> Path:
        # The key is a package id; slug() keeps it a plain file name whatever it contains.
        return self.folder / f"{slug(key, max_len=80)}.eml"

    def send(self, message: EmailMessage, *, key: str) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        if (sent := self.find_sent(message, key=key)) is not None:
            return sent
        final = self.path_for(key)
        # Not named *.eml, so nothing that reads the outbox ever sees a half-written message.
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".sending-", suffix=".partial")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(message.as_bytes())
                handle.flush()
                os.fsync(handle.fileno())
            # link() fails if the name exists, so two concurrent senders still leave one message.
            try:
                os.link(tmp, final)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
        return str(final)
