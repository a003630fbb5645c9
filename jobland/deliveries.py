"""Dead letters: deliveries that did not go through, and the person's two ways out of one.

Retry sends the package again through the graph's own deliver node (Command goto a Send), so the
ledger, the mailer's lookup and the checkpoint all apply as on the first try. Mark-as-sent stores the
receipt that stops any later send, then lets the record node log the package as sent.
"""

from __future__ import annotations

from langgraph.types import Command, Send

from agents.deliver import mark_sent
from domain.models import DeadLetter
from domain.repository import RecordNotFound
from domain.text import id_matches
from graph.state import DeliverPackageInput
from jobland.session import Session


class DeadLetterResolved(ValueError):
    """The dead letter was retried or marked sent already."""


async def open_dead_letter(s: Session, owner: str, package_id: str) -> DeadLetter:
    """The owner's unresolved dead letter for a package id (or a unique prefix of one)."""
    letters = await s.records.dead_letters(owner, open_only=False)
    matches = id_matches(package_id, letters, key=lambda d: d.package_id)
    if len(matches) != 1:
        raise RecordNotFound(
            f"{package_id!r} matches {len(matches)} undelivered packages; `jobland deliveries` lists them"
        )
    letter = matches[0]
    if letter.resolution:
        raise DeadLetterResolved(f"package {letter.package_id} was {letter.resolution.replace('_', ' ')} already")
    return letter


def retry_delivery(letter: DeadLetter) -> Command:
    """The graph input that sends the package again (the mailer looks for an earlier copy first)."""
    return Command(
        goto=Send("deliver", DeliverPackageInput(thread_id=letter.thread_id, package_id=letter.package_id, retry=True))
    )


async def mark_delivered(s: Session, letter: DeadLetter, recipient: str) -> Command:
    """Record the package as sent by the person's word; the returned input logs it in the application log."""
    await mark_sent(s.records, letter.thread_id, letter.package_id, recipient)
    return Command(goto="record")
