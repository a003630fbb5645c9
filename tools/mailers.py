"""The configured mailer: Gmail, SMTP or the outbox folder, built from the run's settings."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from jobland.tools.outbox import Mailer, OutboxMailer
from jobland.tools.ratelimit import ServiceLimiter, configured_limiter
from jobland.tools.smtp import SmtpMailer


class MailerSettings(Protocol):
    """What choosing a mailer reads (graph.context.Context has these)."""

    mailer: str
    gmail_token_file: str | None
    gmail_api_endpoint: str | None
    smtp_host: str | None
    smtp_port: int
    smtp_username: str | None
    smtp_password: str | None
    smtp_starttls: bool
    smtp_ca_file: str | None
    service_limits: dict[str, dict[str, float]]

    @property
    def outbox_dir(self) -> Path: ...


# Published limits: Gmail allows 250 quota units per user per second and a send costs 100.
MAILER_LIMITS = {"gmail": {"max_concurrency": 2, "requests_per_second": 2.0}, "smtp": {"max_concurrency": 2}}


def _limiter(context: MailerSettings, service: str) -> ServiceLimiter:
    return configured_limiter(service, MAILER_LIMITS[service], context.service_limits.get(service))


def make_mailer(context: MailerSettings) -> Mailer:
    """The configured mailer; a missing setting is named, with the variable that sets it."""
    if context.mailer == "gmail":
        if not context.gmail_token_file:
            raise ValueError(
                "mailer is gmail but JOBLAND_GMAIL_TOKEN_FILE is not set: point it at your OAuth token file"
            )
        from jobland.tools.gmail import GmailMailer  # the Google client takes 0.3 s to import: only when used

        return GmailMailer(
            context.gmail_token_file, api_endpoint=context.gmail_api_endpoint, limiter=_limiter(context, "gmail")
        )
    if context.mailer == "smtp":
        if not context.smtp_host:
            raise ValueError("mailer is smtp but JOBLAND_SMTP_HOST is not set: name your SMTP server")
        return SmtpMailer(
            context.smtp_host,
            context.smtp_port,
            username=context.smtp_username,
            password=context.smtp_password,
            starttls=context.smtp_starttls,
            ca_file=context.smtp_ca_file,
            limiter=_limiter(context, "smtp"),
        )
    if context.mailer != "outbox":
        raise ValueError(f"unknown mailer {context.mailer!r}: set JOBLAND_MAILER to outbox, gmail or smtp")
    return OutboxMailer(context.outbox_dir)
