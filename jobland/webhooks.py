"""A run's webhook: when a run segment ends, tell the thread's URL (if any) what the person can do next.

Events: "review_ready" (packages await a decision), "completed" (the run finished) and "failed".
Each delivery has an id derived from the thread, the event and the checkpoint it is about, so that
announcing the same state twice posts once; every attempt is logged as a WebhookCall. A webhook that
fails is logged and never fails the run.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

from langgraph.types import StateSnapshot

from jobland.api_runs import Progress
from jobland.domain.models import WebhookCall, WebhookEvent
from jobland.domain.review import is_retry_request
from jobland.domain.text import stable_id
from jobland.service import Session, review_requests, stage_of
from jobland.settings import Settings
from jobland.tools.ratelimit import ServiceError, configured_limiter
from jobland.tools.webhooks import (
    DEFAULT_LIMITS,
    SERVICE,
    WebhookAttempt,
    WebhookSender,
    WebhookURLError,
    check_webhook_url,
)


class WebhookNotConfigured(WebhookURLError):
    """A webhook URL given while there is no secret to sign its calls with."""


async def check_run_webhook(settings: Settings, url: str) -> None:
    """Refuse, before a run starts, a webhook URL that could not be called or signed."""
    if not settings.webhook_secret:
        raise WebhookNotConfigured(
            "a webhook needs a secret to sign its calls: set JOBLAND_WEBHOOK_SECRET (e.g. `openssl rand -hex 32`)"
        )
    await check_webhook_url(url, allow_loopback=settings.allow_loopback)


def event_for(snapshot: StateSnapshot, error: str | None) -> WebhookEvent | None:
    """Which event a segment that ended at snapshot (with error, if it raised) means; None for no event."""
    if error:
        return "failed"
    # Stopped midway (killed, cancelled): a resume goes on, nothing to announce.
    return {"awaiting_review": "review_ready", "finished": "completed"}.get(stage_of(snapshot))


def delivery_id(thread_id: str, event: str, checkpoint_id: str) -> str:
    return stable_id("whd", thread_id, event, checkpoint_id)


async def event_payload(
    s: Session, thread_id: str, event: WebhookEvent, snapshot: StateSnapshot, error: str | None
) -> dict[str, Any]:
    """The event's body, without the envelope."""
    payload: dict[str, Any] = {"thread_id": thread_id}
    if event == "review_ready":
        _, requests = review_requests(snapshot)
        keys = ("package_id", "title", "company", "match_score")
        args = [(r["action_request"]["args"], is_retry_request(r)) for r in requests]
        payload["packages"] = [{k: a[k] for k in keys} for a, missing in args if not missing]
        payload["missing"] = [{k: a[k] for k in (*keys, "status", "error")} for a, missing in args if missing]
        payload["review_path"] = f"/review/{thread_id}"
    elif event == "completed":
        payload["counts"] = Progress.from_values(snapshot.values).counts()
        sent = [p for p in await s.records.packages(thread_id) if p.status == "sent"]
        payload["sent"] = [{"package_id": p.id, "title": p.title, "company": p.company} for p in sent]
    else:
        payload["error"] = error
    record = await s.records.thread(thread_id)
    payload["source_failures"] = [f.model_dump() for f in record.source_failures] if record is not None else []
    return payload


async def announce_segment(s: Session, thread_id: str, error: str | None = None) -> WebhookCall | None:
    """After a run segment: announce what its end means to the thread's webhook; the last attempt logged."""
    record = await s.records.thread(thread_id)
    if record is None or not record.webhook_url:  # most threads have none: their state need not be read
        return None
    snapshot = await s.graph.aget_state(s.config(thread_id))
    event = event_for(snapshot, error)
    if event is None:
        return None
    payload = await event_payload(s, thread_id, event, snapshot, error)
    checkpoint_id = snapshot.config["configurable"].get("checkpoint_id") or "start"
    return await announce(s, thread_id, event, payload, checkpoint_id=checkpoint_id)


async def announce(
    s: Session, thread_id: str, event: WebhookEvent, payload: dict[str, Any], *, checkpoint_id: str
) -> WebhookCall | None:
    """Sign and POST the event to the thread's webhook, logging every attempt; None when there is nothing to do."""
    record = await s.records.thread(thread_id)
    if record is None or not record.webhook_url:
        return None
    url = record.webhook_url
    delivery = delivery_id(thread_id, event, checkpoint_id)
    if any(call.outcome == "ok" for call in await s.records.webhook_calls(thread_id, delivery)):
        return None  # this state was announced already
    logged: list[WebhookCall] = []

    async def log(attempt: WebhookAttempt) -> None:
        call = WebhookCall(thread_id=thread_id, event=event, delivery_id=delivery, **dataclasses.asdict(attempt))
        await s.records.add_webhook_call(call)
        logged.append(call)

    settings = s.settings
    if not settings.webhook_secret:
        await log(WebhookAttempt(url, 1, None, "JOBLAND_WEBHOOK_SECRET is not set; nothing was sent", "failed"))
        return logged[-1]
    sender = WebhookSender(
        settings.webhook_secret,
        allow_loopback=settings.allow_loopback,
        limiter=configured_limiter(SERVICE, DEFAULT_LIMITS, settings.service_limits.get(SERVICE)),
        on_attempt=log,
    )
    # A failure is in the log with every attempt; the run goes on.
    with contextlib.suppress(ServiceError):
        await sender.send(url, event, delivery, {"event": event, "delivery_id": delivery, **payload})
    return logged[-1] if logged else None
