"""SMTP mailer (stdlib smtplib, STARTTLS, optional login).

SMTP cannot look a message up afterwards, so the send is split into its steps: anything that fails
before DATA is safe to try again; a connection lost once DATA has started may have delivered the
message and is reported as an unknown outcome, never retried.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import getaddresses
from typing import TypeVar

from jobland.tools.ratelimit import OutcomeUnknown, RetryableError, ServiceError, ServiceLimiter

SERVICE = "smtp"
T = TypeVar("T")


def _refused(code: int, reply: bytes | str, step: str) -> Exception:
    """4xx: the server asks to come back later; 5xx: it refused for good."""
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    if 400 <= code < 500:
        return RetryableError(f"{step}: {code} {text}", status=code)
    hint = "; check JOBLAND_SMTP_USERNAME and JOBLAND_SMTP_PASSWORD" if step == "login" else ""
    return ServiceError(SERVICE, f"{step} refused: {code} {text}{hint}", status=code)


class SmtpMailer:
    """Sends to the message's To address only, through one SMTP server."""

    absence_is_certain = False  # SMTP has no way to ask what was delivered

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None,
        password: str | None,
        starttls: bool = True,
        limiter: ServiceLimiter,
        ca_file: str | None = None,
        timeout: float = 30.0,
    ):
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.starttls = starttls
        self.limiter = limiter
        self.ca_file = ca_file
        self.timeout = timeout

    def _limited(self, operation: Callable[[], T]) -> T:
        """Run one blocking operation under the limiter (this runs in a worker thread)."""

        async def attempt() -> T:
            return await asyncio.to_thread(operation)

        return asyncio.run(self.limiter.call(attempt))

    def _open(self) -> smtplib.SMTP:
        """Connected, upgraded to TLS and logged in; every failure here is before DATA."""
        try:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except (OSError, smtplib.SMTPException) as exc:
            raise RetryableError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        try:
            client.ehlo()
            if self.starttls:
                client.starttls(context=ssl.create_default_context(cafile=self.ca_file))
                client.ehlo()
            if self.username:
                client.login(self.username, self.password or "")
        except smtplib.SMTPNotSupportedError as exc:
            client.close()
            raise ServiceError(
                SERVICE, f"{self.host} does not offer {exc}; set JOBLAND_SMTP_STARTTLS=false only on a trusted network"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            client.close()
            raise _refused(exc.smtp_code, exc.smtp_error, "login" if self.username else "hello") from exc
        except ssl.SSLError as exc:
            client.close()
            raise ServiceError(
                SERVICE, f"TLS with {self.host} failed ({exc}); set JOBLAND_SMTP_CA_FILE if it uses a private CA"
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            client.close()
            raise RetryableError(f"{self.host}:{self.port} dropped the connection: {exc}") from exc
        return client

    def _send_once(self, message: EmailMessage) -> None:
        recipients = [address for _, address in getaddresses(message.get_all("To", []))]
        sender = getaddresses(message.get_all("From", []))[0][1]
        client = self._open()
        try:
            try:
                code, reply = client.mail(sender)
                if code != 250:
                    raise _refused(code, reply, "MAIL FROM")
                for recipient in recipients:
                    code, reply = client.rcpt(recipient)
                    if code not in (250, 251):
                        raise _refused(code, reply, f"RCPT TO {recipient}")
            except (OSError, smtplib.SMTPException) as exc:
                raise RetryableError(f"{self.host} dropped the connection before DATA: {exc}") from exc
            try:
                # smtplib sends bytes as they are, and SMTP lines end in CRLF.
                code, reply = client.data(message.as_bytes(policy=message.policy.clone(linesep="\r\n")))
            except smtplib.SMTPDataError as exc:
                raise _refused(exc.smtp_code, exc.smtp_error, "DATA") from exc
            except (OSError, smtplib.SMTPException) as exc:
                raise OutcomeUnknown(f"the connection to {self.host} dropped during DATA: {exc}") from exc
            if code != 250:
                raise _refused(code, reply, "DATA")
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()  # the message is already accepted (or the failure is already raised)

    def find_sent(self, message: EmailMessage, *, key: str) -> str | None:
        """SMTP cannot ask the server what it delivered: the person has to say."""
        return None

    def send(self, message: EmailMessage, *, key: str) -> str:
        message_id = message["Message-ID"]
        if not message_id:
            raise ValueError(f"message for {key} has no Message-ID: it could not be recognised later")
        self._limited(lambda: self._send_once(message))
        return f"smtp:{message_id}"

    def check(self) -> str:
        """Connect, upgrade, log in and NOOP (for `jobland doctor`)."""

        def probe() -> str:
            client = self._open()
            try:
                code, _ = client.noop()
                return f"{self.host}:{self.port} answers (NOOP {code}, {'STARTTLS' if self.starttls else 'plain'})"
            finally:
                client.quit()

        return self._limited(probe)
