"""How many messages the local SMTP server takes in at once: the measure of a shared SMTP budget."""

from __future__ import annotations

import asyncio
import dataclasses
import email
import time

from tests.local_world.smtp import LocalSmtp


@dataclasses.dataclass
class Gauge:
    """How many messages the SMTP sink is taking in at once, at most."""

    now: int = 0
    peak: int = 0
    windows: dict[str, tuple[float, float]] = dataclasses.field(default_factory=dict)  # package id -> DATA from, to


def slow_and_gauged(smtp: LocalSmtp, seconds: float) -> Gauge:
    gauge, take_in = Gauge(), smtp.handler.handle_DATA

    async def handle_data(server, session, envelope) -> str:
        gauge.now += 1
        gauge.peak = max(gauge.peak, gauge.now)
        began = time.monotonic()
        try:
            await asyncio.sleep(seconds)
            return await take_in(server, session, envelope)
        finally:
            gauge.now -= 1
            package_id = email.message_from_bytes(envelope.content)["X-JobLand-Package"]
            gauge.windows[package_id] = (began, time.monotonic())

    smtp.handler.handle_DATA = handle_data  # aiosmtpd looks the hook up on every message
    return gauge
