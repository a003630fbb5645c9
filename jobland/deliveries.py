"""Dead letters: deliveries that did not go through, and the person's two ways out of one.

Retry sends the package again through the graph's own deliver node (Command goto a Send), so the
ledger, the mailer's lookup and the checkpoint all apply as on the first try. Mark-as-sent stores the
receipt that stops any later send, then lets the record node log the package as sent.
"""

from __future__ import annotations

from langgraph.types import Command, Send

from jobland.domain.models import DeadLetter, DeliveryReceipt, PackageStatus
from jobland.domain.repository import RecordNotFound, Records
from jobland.domain.text import id_matches
from jobland.graph.state import DeliverPackageInput
from jobland.service import Session
from jobland.tools.leases import Guards, PackageBusy


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


async def mark_sent(records: Records, guards: Guards, thread_id: str, package_id: str, who: str) -> DeliveryReceipt:
    """The person says a dead letter's message did go out (or they sent it themselves): never send it again."""
    async with guards.package_lock(package_id, wait_s=5) as held:
        if not held:
            raise PackageBusy(f"package {package_id} is being sent right now; look again in a minute")
        letter = await records.dead_letter(package_id)
        if letter is None or letter.thread_id != thread_id:
            raise RecordNotFound(f"no dead letter for package {package_id}; `jobland deliveries` lists them")
        pkg = await records.package(thread_id, package_id)
        receipt = await records.delivery(package_id)  # a retry that got through meanwhile keeps its own receipt
        if receipt is None:
            receipt = DeliveryReceipt(
                package_id=package_id,
                message_id=letter.message_id,
                recipient=who,
                location="marked as sent by the person",
            )
            await guards.claim_send(package_id, thread_id, retry=False)  # a send record to close, if none was made
            await guards.finish_send(package_id, "sent", receipt.location)  # first: from now on nothing sends it
            await records.put_delivery(receipt)
        if pkg.status != PackageStatus.sent:
            await records.move_package(thread_id, pkg, PackageStatus.sent, receipt.location)
        await records.put_dead_letter(letter.resolved("marked_sent"))
        return receipt


def retry_delivery(letter: DeadLetter) -> Command:
    """The graph input that sends the package again (the mailer looks for an earlier copy first)."""
    return Command(
        goto=Send("deliver", DeliverPackageInput(thread_id=letter.thread_id, package_id=letter.package_id, retry=True))
    )


async def mark_delivered(s: Session, letter: DeadLetter, recipient: str) -> Command:
    """Record the package as sent by the person's word; the returned input logs it in the application log."""
    await mark_sent(s.records, s.guards, letter.thread_id, letter.package_id, recipient)
    return Command(goto="record")
