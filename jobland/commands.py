"""What each `jobland` command does and prints; jobland/cli.py parses the command line and calls in here.

Imported only once a command runs, so that `jobland --help` and `jobland threads` start without the graph stack.
"""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import functools
import json
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from langgraph.types import Command, StateSnapshot
from pydantic import ValidationError
from rich.markdown import Markdown
from rich.markup import escape
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.prompt import Prompt
from rich.table import Table
from rich.text import Text

from jobland import terminal
from jobland.deliveries import DeadLetterResolved, mark_delivered, open_dead_letter, retry_delivery
from jobland.domain.json_resume import tailored_json_resume
from jobland.domain.models import (
    SETTABLE_STATUSES,
    UNFINISHED_STATUSES,
    ApplicationLogEntry,
    ApplicationPackage,
    DeadLetter,
    Decision,
    PackageStatus,
    PackageVersion,
    Profile,
    SearchRequest,
    ThreadRecord,
    UnsupportedLine,
)
from jobland.domain.repository import RecordNotFound
from jobland.domain.review import is_retry_request, requested_package_id, requested_package_ids, unconfirmed_lines
from jobland.domain.text import id_matches
from jobland.examples import EXAMPLE_JOBS
from jobland.service import (
    DATABASE_OUTAGES,
    CVImportError,
    DatabaseError,
    DecisionRefused,
    JobSourceError,
    PackageBusy,
    ServiceError,
    Session,
    ThreadBusy,
    UnsafeURLError,
    WebhookURLError,
    check_decisions,
    check_posting_url,
    new_thread_id,
    open_session,
    outage_message,
    pending_review,
    resume_input,
    review_command,
    review_requests,
    search_terms,
    stage_of,
    step_updates,
)
from jobland.settings import Settings
from jobland.templates import render
from jobland.terminal import Format, emit_json, fail
from jobland.tracking import sync_after_change
from jobland.webhooks import announce_segment, check_run_webhook
from jobland.workers import Queued, WorkerQueue, broker_configured


class UserError(Exception):
    """An error the person can fix; printed without a traceback."""


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise UserError("; ".join(e["msg"] for e in exc.errors())) from exc


@asynccontextmanager
async def session() -> AsyncIterator[Session]:
    async with open_session(load_settings()) as opened:
        yield opened


def run_async(main: Callable[[], Any]) -> Any:
    """Run a coroutine; turn the errors a person can fix into one clear line and exit code 2."""
    try:
        return asyncio.run(main())
    except Queued as queued:  # the lease was given up on the way out: a worker takes the thread from here
        terminal.out.print(str(queued), highlight=False)
        return None
    except (
        UserError,
        CVImportError,
        JobSourceError,
        DatabaseError,
        RecordNotFound,
        ServiceError,
        WebhookURLError,
        DeadLetterResolved,
        ThreadBusy,
        PackageBusy,
        DecisionRefused,
    ) as exc:
        fail(str(exc))
    except DATABASE_OUTAGES as exc:  # the retries are spent: say what to do, not a traceback
        fail(outage_message(exc))


async def stream_run(s: Session, payload: Any, thread_id: str, *, show_progress: bool) -> None:
    """Drive the graph until it pauses, ends or fails; then tell the thread's webhook, if it has one.

    With a broker configured the segment goes to the workers instead, and the command ends at once (Queued).
    """
    if broker_configured(s.settings):
        await WorkerQueue(s).enqueue(thread_id, payload, s.settings.context())
        raise Queued(thread_id)
    try:
        await _stream_updates(s, payload, thread_id, show_progress=show_progress)
    except Exception as exc:
        await _announce(s, thread_id, f"{type(exc).__name__}: {exc}")
        raise
    await _announce(s, thread_id, None)
    if not isinstance(payload, dict):  # decisions or a resume: packages may have been delivered
        await warn_unsynced(s)


async def warn_unsynced(s: Session) -> None:
    """Sync the tracker's sheet (JOBLAND_SHEET_ID) after a change; one that fails is a warning, not a failure."""
    if warning := await sync_after_change(s):
        terminal.err.print(f"[yellow]warning:[/] {warning}", highlight=False)


async def _announce(s: Session, thread_id: str, error: str | None) -> None:
    call = await announce_segment(s, thread_id, error)
    if call is not None and call.outcome == "failed":
        terminal.err.print(
            f"[yellow]webhook not delivered:[/] {call.error} (the run itself is not affected)", highlight=False
        )


async def _stream_updates(s: Session, payload: Any, thread_id: str, *, show_progress: bool) -> None:
    """Drive the graph until it pauses or ends, showing a bar per long stage."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=terminal.err,
        disable=not show_progress,
        transient=False,
    )
    bars: dict[str, Any] = {}
    built: set[str] = set()
    stage_names = {"screen_job": "Screening postings", "build_package": "Building packages", "deliver": "Delivering"}

    def advance(node: str) -> None:
        if node in bars:
            progress.advance(bars[node])

    fresh = isinstance(payload, dict)
    if fresh:
        first_step = "Reading CV and postings"
    elif isinstance(payload, Command):
        first_step = "Applying your decisions"
    else:
        first_step = "Resuming from the last checkpoint"
    with progress:
        step = progress.add_task(first_step, total=None)
        async for node, value in step_updates(s.graph, payload, s.config(thread_id), s.settings.context()):
            if node == "load_profile":
                progress.update(step, description="Discovering postings")
            elif node == "discover":
                progress.update(step, total=1, completed=1, description="CV read, postings discovered")
                found = len(value.get("posting_ids", []))
                bars["screen_job"] = progress.add_task(stage_names["screen_job"], total=found)
            elif node == "prepare_screening" and value and "screen_job" in bars:
                # The verdicts made in bulk; only postings the LLM stage must see get a screen_job task.
                progress.advance(bars["screen_job"], len(value.get("screenings", [])))
                if value.get("screening_builds"):  # packages start as their verdicts come: how many is not known yet
                    bars["build_package"] = progress.add_task(stage_names["build_package"], total=None)
            elif node == "shortlist" and "build_package" in bars:
                progress.update(bars["build_package"], total=len(value["shortlist"]))
            elif node == "shortlist":
                bars["build_package"] = progress.add_task(stage_names["build_package"], total=len(value["shortlist"]))
            elif node == "review" and value.get("retrying"):
                bars["build_package"] = progress.add_task("Building again", total=len(value["retrying"]))
                built.clear()
            elif node == "review":
                approved = [d for d in value.get("decisions", []) if d.action in ("accept", "edit")]
                bars["deliver"] = progress.add_task(stage_names["deliver"], total=len(approved))
            if node == "build_package":
                # Built where its screening ended, then found built by the shortlist's step: counted once.
                built.update(ref.package_id for ref in value.get("packages", []))
                if "build_package" in bars:
                    progress.update(bars["build_package"], completed=len(built))
            else:
                advance(node)
        if not fresh:
            progress.update(step, total=1, completed=1)


async def require_thread(s: Session, thread_id: str) -> ThreadRecord:
    record = await s.records.thread(thread_id)
    if record is None:
        raise UserError(f"no thread {thread_id!r}; `jobland threads` lists them")
    return record


async def screened_rows(s: Session, thread_id: str) -> list[dict]:
    values = (await s.graph.aget_state(s.config(thread_id))).values
    profile_id = values["profile_id"]
    rows = []
    for verdict in values.get("screenings", []):
        posting = await s.records.posting(verdict.posting_id)
        screening = await s.records.screening(profile_id, verdict.posting_id)
        rows.append(
            {
                "posting_id": posting.id,
                "source": posting.source.removeprefix("folder:"),
                "title": posting.title,
                "company": posting.company,
                **screening.model_dump(),
            }
        )
    return sorted(rows, key=lambda r: (-r["match_score"], r["title"]))


def print_screenings(rows: list[dict], limit: int | None = None) -> None:
    table = Table(title="Screened postings", show_lines=False)
    for column in ("score", "probability", "title", "company", "top reason"):
        table.add_column(column)
    colours = {"High": "green", "Medium": "yellow", "Low": "red"}
    for row in rows[:limit]:
        reason = (row["deal_breakers"] or row["reasons"] or [""])[0]
        prob = row["probability"]
        table.add_row(str(row["match_score"]), f"[{colours[prob]}]{prob}[/]", row["title"], row["company"], reason)
    terminal.out.print(table)
    if limit and len(rows) > limit:
        terminal.out.print(f"... and {len(rows) - limit} more (use --format json for all)")


def package_row(request: dict) -> dict:
    args = request["action_request"]["args"]
    row = {k: args[k] for k in ("package_id", "company", "title", "match_score", "probability")}
    if is_retry_request(request):
        return {**row, "status": args["status"], "error": args["error"]}
    return {**row, "flagged_claims": args["flagged_claims"], "unsupported_lines": args.get("unsupported_lines", [])}


def print_waiting(thread_id: str, requests: list[dict]) -> None:
    ready = [package_row(r) for r in requests if not is_retry_request(r)]
    missing = [package_row(r) for r in requests if is_retry_request(r)]
    if ready:
        table = Table(title=f"Packages awaiting your review (thread {thread_id})")
        for column in ("package id", "score", "title", "company", "flags"):
            table.add_column(column)
        for row in ready:
            flags = f"[red]{len(row['flagged_claims'])} unsupported[/]" if row["flagged_claims"] else "[green]none[/]"
            table.add_row(row["package_id"], str(row["match_score"]), row["title"], row["company"], flags)
        terminal.out.print(table)
    if missing:
        table = Table(title="Missing: these packages could not be built")
        for column in ("package id", "status", "title", "company", "why"):
            table.add_column(column)
        for row in missing:
            table.add_row(row["package_id"], f"[red]{row['status']}[/]", row["title"], row["company"], row["error"])
        terminal.out.print(table)
    terminal.out.print(
        f"Review with [bold]jobland review {thread_id}[/] "
        "(or --approve ID / --reject ID" + (", --retry ID to build a missing one again" if missing else "") + "); "
        f"inspect with [bold]jobland show {thread_id} ID[/]."
    )


def print_dead_letters(letters: list[DeadLetter]) -> None:
    if not letters:
        return
    table = Table(title="Deliveries that did not go through (nothing resends them by itself)")
    for column in ("package id", "thread", "title", "company", "kind", "why", "since"):
        table.add_column(column)
    for d in letters:
        kind = "outcome unknown" if d.kind == "unknown_outcome" else "attempts ran out"
        state = d.resolution.replace("_", " ") if d.resolution else f"{d.at:%Y-%m-%d %H:%M}"
        table.add_row(d.package_id, d.thread_id, d.title, d.company, kind, d.reason, state)
    terminal.out.print(table)
    terminal.out.print(
        "Send again with [bold]jobland deliveries retry ID[/], or if it did arrive (check your inbox first), "
        "[bold]jobland deliveries mark-sent ID[/]."
    )


def checked_inputs(cv: Path, jobs: str) -> dict[str, str]:
    """The request fields naming the postings: a folder or file (jobs_dir), a link (posting_url), or stdin's text."""
    if not cv.is_file():
        fail(f"CV not found: {cv}. Give the path of your master CV (PDF, DOCX, Markdown, HTML or JSON Resume).")
    if jobs == "-":
        text = sys.stdin.read()
        if not text.strip():
            fail("--jobs - reads one posting's text from stdin, and stdin was empty: pipe or paste the posting.")
        return {"posting_text": text}
    if jobs.startswith(("http://", "https://")):
        return {"posting_url": jobs}
    path = Path(jobs).expanduser()
    if not path.exists():
        fail(
            f"jobs not found: {jobs}. Give a folder of postings (JSON, HTML, Markdown), one posting file, "
            f"a posting's URL, or - to read its text from stdin; e.g. {EXAMPLE_JOBS}."
        )
    return {"jobs_dir": str(path.resolve())}


async def print_understood(s: Session, thread_id: str) -> None:
    """The search as intake read it: the terms every posting, from every source, was screened against."""
    request = (await s.graph.aget_state(s.config(thread_id))).values.get("request")
    if request is not None:
        terms = search_terms(SearchRequest.model_validate(request) if isinstance(request, dict) else request)
        terminal.out.print(Text.assemble(("Understood: ", "bold"), terms.summary()))


async def run_search(request: SearchRequest, message: str, thread_id: str, fmt: Format, webhook: str) -> None:
    async with session() as s, s.advancing(thread_id):
        await start_and_report(s, request, message, thread_id, fmt, webhook_url=webhook)


async def start_and_report(
    s: Session,
    request: SearchRequest,
    message: str,
    thread_id: str,
    fmt: Format,
    *,
    report: bool = True,
    webhook_url: str = "",
) -> tuple[str | None, list[dict]]:
    """Run a new thread to the review pause; print the verdicts and what awaits review."""
    if await s.records.thread(thread_id) is not None and (await s.graph.aget_state(s.config(thread_id))).values:
        raise UserError(f"thread {thread_id} exists already: continue it with `jobland resume {thread_id}`")
    if webhook_url:
        await check_run_webhook(s.settings, webhook_url)
    if request.posting_url:  # refused before the thread exists, so a bad link leaves nothing behind
        try:
            await check_posting_url(s.settings, request.posting_url)
        except UnsafeURLError as exc:
            raise UserError(str(exc)) from exc
    await s.record_thread(thread_id, s.settings.context().user_id, request, webhook_url)
    payload: dict[str, Any] = {"request": request}
    if message:
        payload["message"] = message
    await stream_run(s, payload, thread_id, show_progress=fmt is Format.table)
    interrupt_id, requests = await pending_review(s, thread_id)
    rows = await screened_rows(s, thread_id)
    if report and fmt is Format.json:
        emit_json(
            {
                "thread_id": thread_id,
                "screened": len(rows),
                "high": sum(r["probability"] == "High" for r in rows),
                "awaiting_review": [package_row(r) for r in requests],
            }
        )
    elif report:
        await print_understood(s, thread_id)
        print_screenings(rows, limit=40)
        if requests:
            print_waiting(thread_id, requests)
        else:
            terminal.out.print(f"No posting was a High match, so there is nothing to review (thread {thread_id}).")
    return interrupt_id, requests


def _resolve_ids(given: list[str], known: list[str], kind: str = "waiting for review") -> list[str]:
    """Full package ids, or unique prefixes of them, among the known ones (ready, missing or any asked about)."""
    resolved = []
    for item in given:
        matches = id_matches(item, known, key=str)
        if len(matches) != 1:
            raise UserError(f"{item!r} matches {len(matches)} {kind} packages: use an id from `jobland status`")
        resolved.append(matches[0])
    return resolved


def _ask(requests: list[dict]) -> list[Decision]:
    decisions = []
    for request in requests:
        args = request["action_request"]["args"]
        terminal.out.print(Panel(Markdown(request["description"]), title=f"{args['package_id']}"))
        if is_retry_request(request):
            choice = Prompt.ask(
                "build it again, leave it out, or skip", choices=["b", "l", "s"], default="s", console=terminal.out
            )
            if choice != "s":
                decisions.append(Decision(package_id=args["package_id"], action="retry" if choice == "b" else "reject"))
            continue
        choice = Prompt.ask(
            "approve, reject, edit or skip", choices=["a", "r", "e", "s"], default="s", console=terminal.out
        )
        if choice == "a":
            decisions.append(Decision(package_id=args["package_id"], action="accept"))
        elif choice == "r":
            decisions.append(Decision(package_id=args["package_id"], action="reject"))
        elif choice == "e" and (edited := _edit_decision(request, None, None, [])) is not None:
            decisions.append(edited)
    return decisions


def _read_edit(path: Path, what: str) -> str:
    if not path.is_file():
        raise UserError(f"edited {what} file not found: {path}")
    text = path.read_text(encoding="utf-8").strip()
    if not text:
        raise UserError(f"{path} is empty; an edit must contain the whole edited {what} in Markdown")
    return text


def _run_editor(current: str, what: str) -> str:
    """The text after $VISUAL or $EDITOR edited it; UserError if there is none or it exits non-zero."""
    command = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not command:
        raise UserError(
            f"no editor to edit the {what} in: set $EDITOR (e.g. EDITOR=nano), or give --cv-file/--letter-file"
        )
    with tempfile.TemporaryDirectory(prefix="jobland-edit-") as folder:
        path = Path(folder) / ("cv.md" if what == "CV" else "letter.md")
        path.write_text(current, encoding="utf-8")
        try:
            finished = subprocess.run([*shlex.split(command), str(path)], check=False)
        except OSError as exc:
            raise UserError(f"the editor {command!r} could not be started ({exc})") from exc
        if finished.returncode != 0:
            raise UserError(f"the editor {command!r} exited {finished.returncode}: the {what} edit was not taken")
        return _read_edit(path, what)


def _edited_text(current: str, what: str, path: Path | None) -> str | None:
    """The edited text of one document, from the file given or else from the editor; None when left as it was.

    A missing file or a failing editor asks again in a terminal (another path, the editor again, or leave it);
    elsewhere it is a UserError, raised before any decision is submitted.
    """
    while True:
        try:
            text = _read_edit(path, what) if path is not None else _run_editor(current, what)
        except UserError as problem:
            if not sys.stdin.isatty():
                raise
            terminal.err.print(f"[red]{problem}[/]", highlight=False)
            answer = Prompt.ask(
                f"file with your edited {what} (Enter: the editor again; s: leave the {what} as it is)",
                default="",
                show_default=False,
                console=terminal.out,
            ).strip()
            if answer == "s":
                return None
            path = Path(answer).expanduser() if answer else None
            continue
        return None if text.strip() == current.strip() else text


def _edit_decision(
    request: dict, cv_file: Path | None, letter_file: Path | None, confirm: list[str]
) -> Decision | None:
    """An edit of one package: the files given, or $EDITOR on the current CV and then the letter."""
    args = request["action_request"]["args"]
    in_editor = cv_file is None and letter_file is None
    texts = {}
    for field, what, path in (("cv_markdown", "CV", cv_file), ("cover_letter_markdown", "cover letter", letter_file)):
        if args[field] and (path is not None or in_editor):
            texts[field] = _edited_text(args[field], what, path)
    if not any(texts.values()):
        terminal.err.print(f"{args['package_id']}: nothing was changed, so it is left undecided", highlight=False)
        return None
    return Decision(package_id=args["package_id"], action="edit", confirm_unsupported=confirm, **texts)


@dataclasses.dataclass(frozen=True)
class ReviewEdit:
    package_id: str
    cv_file: Path | None
    letter_file: Path | None


async def review_thread(
    thread_id: str,
    approve: list[str],
    reject: list[str],
    retry: list[str],
    edit: ReviewEdit | None,
    confirm: list[str],
    done: bool,
    fmt: Format,
) -> None:
    async with session() as s, s.advancing(thread_id):
        await require_thread(s, thread_id)
        interrupt_id, requests = await pending_review(s, thread_id)
        if interrupt_id is None:
            packages = await s.records.packages(thread_id)
            states = {p.id: p.status.value for p in packages}
            raise UserError(f"thread {thread_id} is not waiting for review (packages: {states or 'none'})")
        known = [requested_package_id(r) for r in requests]
        ready = requested_package_ids(requests)
        missing = requested_package_ids(requests, missing=True)
        if approve or reject or edit or retry:
            decisions = [
                Decision(package_id=p, action="accept", confirm_unsupported=confirm)
                for p in _resolve_ids(approve, ready, "ready")
            ]
            decisions += [Decision(package_id=p, action="reject") for p in _resolve_ids(reject, known)]
            decisions += [Decision(package_id=p, action="retry") for p in _resolve_ids(retry, missing, "missing")]
            if edit is not None:
                (full,) = _resolve_ids([edit.package_id], ready, "ready")
                request = next(r for r in requests if requested_package_id(r) == full)
                if (edited := _edit_decision(request, edit.cv_file, edit.letter_file, confirm)) is not None:
                    decisions.append(edited)
        elif done:
            decisions = []
        elif sys.stdin.isatty():
            decisions = _ask(requests)
        else:
            raise UserError("no decisions given: pass --approve ID / --reject ID, or run in a terminal to be asked")
        await check_decisions(s, thread_id, requests, decisions)
        await submit_decisions(s, thread_id, interrupt_id, decisions, fmt, done=done, confirm=sys.stdin.isatty())


async def held_edits(s: Session, thread_id: str, decisions: list[Decision]) -> dict[str, list[UnsupportedLine]]:
    """Packages the decisions would send whose edit has lines they did not confirm: stored, still waiting."""
    packages = {p.id: p for p in await s.records.packages(thread_id)}
    held = {d.package_id: unconfirmed_lines(packages[d.package_id], d) for d in decisions}
    return {pid: lines for pid, lines in held.items() if lines and packages[pid].status == PackageStatus.ready}


def _confirmations(held: dict[str, list[UnsupportedLine]]) -> list[Decision]:
    """The second confirmation, asked in a terminal: each held package is sent only if the person says so."""
    decisions = []
    for package_id, lines in held.items():
        terminal.out.print(
            f"[bold]{package_id}[/]: your edit has lines your master CV does not support:", highlight=False
        )
        for line in lines:
            terminal.out.print(f"  [red]{line.id}[/] “{line.text}” ({'; '.join(line.problems)})", highlight=False)
        if Prompt.ask("send it with these lines anyway?", choices=["y", "n"], default="n", console=terminal.out) == "y":
            ids = [line.id for line in lines]
            decisions.append(Decision(package_id=package_id, action="accept", confirm_unsupported=ids))
    return decisions


async def submit_decisions(
    s: Session,
    thread_id: str,
    interrupt_id: str,
    decisions: list[Decision],
    fmt: Format,
    *,
    done: bool = False,
    confirm: bool = False,
) -> None:
    """Resume the review interrupt with the decisions, deliver the approved ones at once, and report.

    An edit with unsupported lines is stored and waits; `confirm` asks, in a terminal, whether to send it anyway.
    """
    resume = review_command(interrupt_id, decisions, done=done)
    await stream_run(s, resume, thread_id, show_progress=fmt is Format.table)
    held = await held_edits(s, thread_id, decisions)
    if confirm and held and (confirmed := _confirmations(held)):
        interrupt_id, requests = await pending_review(s, thread_id)
        if interrupt_id is not None:
            await check_decisions(s, thread_id, requests, confirmed)
            await stream_run(s, review_command(interrupt_id, confirmed), thread_id, show_progress=fmt is Format.table)
            held = {pid: lines for pid, lines in held.items() if pid not in {d.package_id for d in confirmed}}
    await _print_outcome(s, thread_id, fmt, held)


async def _print_outcome(
    s: Session, thread_id: str, fmt: Format, held: dict[str, list[UnsupportedLine]] | None = None
) -> None:
    packages = await s.records.packages(thread_id)
    _, still_waiting = await pending_review(s, thread_id)
    receipts = {p.id: await s.records.delivery(p.id) for p in packages}
    held = held or {}
    if fmt is Format.json:
        emit_json(
            {
                "thread_id": thread_id,
                "packages": [
                    {
                        "package_id": p.id,
                        "status": p.status,
                        "version": len(p.versions) + 1,
                        "delivered_to": receipts[p.id].location if receipts[p.id] else None,
                        "needs_confirmation": [line.model_dump(mode="json") for line in held.get(p.id, [])],
                    }
                    for p in packages
                ],
                "awaiting_review": [package_row(r) for r in still_waiting],
            }
        )
        return
    for p in packages:
        receipt = receipts[p.id]
        where = f" -> {receipt.location}" if receipt else ""
        terminal.out.print(f"{p.id}  {p.status.value:<9} {p.title} at {p.company}{where}")
    for package_id, lines in held.items():
        ids = " ".join(f"--confirm-unsupported {line.id}" for line in lines)
        terminal.out.print(
            f"[bold]{package_id}[/]: your edit is stored, but not sent: {len(lines)} line(s) your master CV does "
            f"not support. Look at them with [bold]jobland show {thread_id} {package_id}[/]; to send it anyway: "
            f"[bold]jobland review {thread_id} --approve {package_id} {ids}[/]",
            highlight=False,
        )
    if still_waiting:
        terminal.out.print(f"{len(still_waiting)} package(s) still await your decision: jobland review {thread_id}")


async def screen_postings(request: SearchRequest, message: str, fmt: Format) -> None:
    thread_id = new_thread_id()
    payload: dict[str, Any] = {"request": request, **({"message": message} if message else {})}
    async with session() as s:
        await stream_run(s, payload, thread_id, show_progress=fmt is Format.table)
        rows = await screened_rows(s, thread_id)
        if fmt is Format.json:
            keys = (
                "source",
                "title",
                "company",
                "match_score",
                "probability",
                "reasons",
                "missing_skills",
                "deal_breakers",
            )
            emit_json([{k: r[k] for k in keys} for r in rows])
        else:
            await print_understood(s, thread_id)
            print_screenings(rows)


def stage_text(snapshot: StateSnapshot, thread_id: str, holder: str | None = None) -> str:
    """The thread's stage for a person, with what to do next (holder: the process advancing it right now)."""
    stage = stage_of(snapshot)
    if stage == "interrupted" and holder:
        return f"running: being advanced by {holder} (a worker, a server or another command)"
    if stage == "awaiting_review":
        return f"awaiting review: jobland review {thread_id}"
    if stage == "interrupted" and snapshot.next:
        steps = ", ".join(dict.fromkeys(snapshot.next))
        return f"interrupted in {steps} ({len(snapshot.next)} tasks left): jobland resume {thread_id}"
    if stage == "interrupted":
        return f"stopped before its first step: jobland resume {thread_id}"
    return "finished"


def stage_fields(snapshot: StateSnapshot, thread_id: str, holder: str | None = None) -> dict[str, Any]:
    """The stage as scripts read it (the same values as the HTTP API), with the person's text beside it."""
    stage = stage_of(snapshot)
    return {
        "stage": "running" if stage == "interrupted" and holder else stage,
        "stage_text": stage_text(snapshot, thread_id, holder),
        "next_steps": list(snapshot.next),
    }


def status_history(pkg: ApplicationPackage) -> str:
    return " -> ".join(f"{c.status.value} {c.at:%H:%M:%S}" for c in pkg.history)


async def print_status(thread_id: str, fmt: Format) -> None:
    async with session() as s:
        record = await require_thread(s, thread_id)
        snapshot = await s.graph.aget_state(s.config(thread_id))
        values = snapshot.values
        packages = await s.records.packages(thread_id)
        letters = await s.records.dead_letters(thread_id=thread_id)
        calls = await s.records.webhook_calls(thread_id)
        holder = await s.guards.held_by(thread_id) if stage_of(snapshot) == "interrupted" else None
        summary = {
            "thread_id": thread_id,
            **stage_fields(snapshot, thread_id, holder),
            "postings": len(values.get("posting_ids", [])),
            "discarded": [d.model_dump() for d in values.get("discarded", [])],
            "source_failures": [f.model_dump() for f in record.source_failures],
            "screened": len(values.get("screenings", [])),
            "high": sum(v.probability == "High" for v in values.get("screenings", [])),
            "packages": [
                {
                    "package_id": p.id,
                    "title": p.title,
                    "company": p.company,
                    "status": p.status,
                    "error": p.error,
                    "flagged_claims": len(p.flagged_claims),
                    "history": [c.model_dump(mode="json") for c in p.history],
                }
                for p in packages
            ],
            "dead_letters": [d.model_dump(mode="json") for d in letters],
            "webhook_calls": [c.model_dump(mode="json") for c in calls],
            "delivered": len(values.get("deliveries", [])),
        }
        if fmt is Format.json:
            emit_json(summary)
            return
        terminal.out.print(
            f"Thread {thread_id}: {summary['stage_text']}\n{summary['postings']} postings ({len(summary['discarded'])} discarded), "
            f"{summary['screened']} screened, {summary['high']} High, {summary['delivered']} delivered"
        )
        for f in record.source_failures:
            terminal.out.print(
                f"  [yellow]source {f.source} gave up[/] (its postings are missing): {f.error}", highlight=False
            )
        for d in summary["discarded"]:
            terminal.out.print(f"  discarded {d['source']}: {d['reason']}")
        for p in packages:
            terminal.out.print(f"  {p.id}  {p.status.value:<11} {p.title} at {p.company}", highlight=False)
            terminal.out.print(f"      [dim]{status_history(p)}[/]", highlight=False)
            if p.error:
                terminal.out.print(f"      [red]{p.error}[/]", highlight=False)
        missing = [p for p in packages if p.status in UNFINISHED_STATUSES and not p.was_approved]
        if missing and snapshot.interrupts:
            ids = " ".join(f"--retry {p.id}" for p in missing)
            terminal.out.print(
                f"{len(missing)} package(s) missing from review; build again with: jobland review {thread_id} {ids}"
            )
        print_dead_letters(letters)
        for call in calls:
            answer = f"HTTP {call.status_code}" if call.status_code else call.error
            terminal.out.print(
                f"  webhook {call.event} attempt {call.attempt} at {call.at:%H:%M:%S}: {call.outcome} ({answer})",
                highlight=False,
            )


async def thread_package(s: Session, thread_id: str, package_id: str) -> ApplicationPackage:
    """A package of the thread, by its full id or a unique start of it."""
    await require_thread(s, thread_id)
    packages = await s.records.packages(thread_id)
    (full,) = _resolve_ids([package_id], [p.id for p in packages])
    return next(p for p in packages if p.id == full)


def chosen_version(pkg: ApplicationPackage, number: int | None) -> PackageVersion:
    try:
        return pkg.version(number)
    except IndexError as exc:
        raise UserError(str(exc)) from None


def version_diff(pkg: ApplicationPackage, number: int) -> str:
    """The unified diff of version `number`'s CV and letter against the version before it."""
    if number == 1:
        return ""
    before, after = pkg.version(number - 1), pkg.version(number)
    lines: list[str] = []
    for name, old, new in (
        ("cv.md", before.cv, after.cv),
        ("letter.md", before.cover_letter, after.cover_letter),
    ):
        lines += difflib.unified_diff(
            old.markdown.splitlines() if old else [],
            new.markdown.splitlines() if new else [],
            f"version {number - 1}/{name}",
            f"version {number}/{name}",
            lineterm="",
        )
    return "\n".join(lines)


async def show_package(thread_id: str, package_id: str, version: int | None, fmt: Format) -> None:
    async with session() as s:
        pkg = await thread_package(s, thread_id, package_id)
        if version is not None:
            shown = chosen_version(pkg, version)
            if fmt is Format.json:
                emit_json({**shown.model_dump(mode="json"), "diff": version_diff(pkg, version)})
            else:
                print_version(pkg, shown)
            return
        if fmt is Format.json:
            emit_json(pkg.model_dump(mode="json"))
            return
        print_package(pkg, s.settings.home, thread_id)


def export_files(pkg: ApplicationPackage, version: PackageVersion, home: Path, profile: Profile) -> dict[str, bytes]:
    """File name -> contents of every document of one version of a package (cv.json: the CV as JSON Resume)."""
    files: dict[str, bytes] = {}
    for prefix, document in (("cv", version.cv), ("letter", version.cover_letter)):
        if document is None:
            continue
        files[f"{prefix}.md"] = document.markdown.encode()
        if document.pdf_file:
            files[f"{prefix}.pdf"] = (home / document.pdf_file).read_bytes()
    if version.cv and version.cv.latex_file:
        files["cv.tex"] = (home / version.cv.latex_file).read_bytes()
    if version.cv:
        files["cv.json"] = json.dumps(tailored_json_resume(profile, version.cv), indent=2, ensure_ascii=False).encode()
    if pkg.dossier:
        files["dossier.md"] = render("dossier.md.j2", dossier=pkg.dossier).encode()
    return files


async def export_package(thread_id: str, package_id: str, folder: Path | None, number: int | None, fmt: Format) -> None:
    async with session() as s:
        pkg = await thread_package(s, thread_id, package_id)
        profile = await s.records.profile(pkg.profile_id)
        files = export_files(pkg, chosen_version(pkg, number), s.settings.home, profile)
    target = folder or Path(pkg.id)
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (target / name).write_bytes(data)
    except OSError as exc:
        raise UserError(f"cannot write the package's files to {target}: {exc}") from None
    written = [str(target / name) for name in files]
    if fmt is Format.json:
        emit_json({"package_id": pkg.id, "dir": str(target), "files": written})
        return
    terminal.out.print(f"Wrote {len(written)} files of {pkg.id} to {target}:")
    for path in written:
        terminal.out.print(f"  {path}")
    terminal.out.print(
        f"Edit cv.md or letter.md, then: jobland review {thread_id} --edit {pkg.id} --cv-file {target / 'cv.md'}"
    )


def version_line(version: PackageVersion) -> str:
    who = f"edited by {version.edited_by}" if version.edited_by else "as JobLand built it"
    when = f" at {version.made_at:%Y-%m-%d %H:%M} UTC" if version.made_at else ""
    return f"version {version.number}: {who}{when}"


def print_version(pkg: ApplicationPackage, version: PackageVersion) -> None:
    """One version's documents and, for an edit, what it changed (a unified diff against the version before)."""
    show = functools.partial(terminal.out.print, soft_wrap=False)
    show(f"[bold]{pkg.title}[/] at [bold]{pkg.company}[/]: {version_line(version)}", highlight=False)
    if version.cv:
        show(Panel(Markdown(version.cv.markdown), title=f"CV, version {version.number}"))
    if version.cover_letter:
        show(Panel(Markdown(version.cover_letter.markdown), title=f"Cover letter, version {version.number}"))
    for claim in version.flagged_claims:
        show(f"[red]unsupported:[/] {claim}", highlight=False)
    if diff := version_diff(pkg, version.number):
        colours = {"+": "green", "-": "red", "@": "cyan"}
        for line in diff.splitlines():
            terminal.out.print(
                Text(line, style=colours.get(line[:1], "")), soft_wrap=True
            )  # a diff line is never re-wrapped
    elif version.number > 1:
        terminal.out.print("No change against the version before.")


def print_package(pkg: ApplicationPackage, home: Path, thread_id: str) -> None:
    """The package as a person reads it: documents wrap at the terminal's width, words are never cut."""
    show = functools.partial(terminal.out.print, soft_wrap=False)
    verdict = pkg.screening
    show(
        Panel(
            f"[bold]{pkg.title}[/] at [bold]{pkg.company}[/]: {verdict.match_score}/100 {verdict.probability} ({pkg.status.value})\n"
            + "\n".join(f"- {r}" for r in verdict.reasons)
            + ("\nMissing: " + ", ".join(verdict.missing_skills) if verdict.missing_skills else ""),
            title=pkg.id,
        )
    )
    show(f"[dim]{status_history(pkg)}[/]", highlight=False)
    if pkg.error:
        show(f"[red]{pkg.error}[/]", highlight=False)
    if pkg.cv:
        show(Panel(Markdown(pkg.cv.markdown), title="Tailored CV"))
    if pkg.cover_letter:
        show(Panel(Markdown(pkg.cover_letter.markdown), title="Cover letter"))
    if pkg.dossier:
        facts = [f"- {f.text} [dim]({f.source})[/]" for f in pkg.dossier.facts()]
        unknown = ", ".join(pkg.dossier.unknown_topics())
        # The note says why the dossier is thin (e.g. the posting says nothing about the company, no web search).
        note = f"\n[yellow]{escape(pkg.dossier.note)}[/]" if pkg.dossier.note else ""
        show(Panel("\n".join(facts) + (f"\nUnknown: {unknown}" if unknown else "") + note, title="Dossier"))
    for check in pkg.checks:
        mark = "[green]pass[/]" if check.passed else "[red]FAIL[/]"
        show(f"{mark} {check.name}: " + "; ".join(check.details))
    for claim in pkg.flagged_claims:
        show(f"[red]unsupported:[/] {claim}")
    waiting = "not sent without your confirmation" if pkg.status == PackageStatus.ready else "confirmed by you"
    for line in pkg.unsupported_lines:
        show(f"[red]{waiting}:[/] {line.id} “{line.text}”", highlight=False)
    if pkg.versions:
        for version in [*pkg.versions, pkg.version()]:
            show(f"[dim]{version_line(version)}[/]", highlight=False)
        show(f"What an edit changed: [bold]jobland show {thread_id} {pkg.id} --version N[/]", highlight=False)
    for document in (pkg.cv, pkg.cover_letter):
        if document and document.pdf_file:
            terminal.out.print(f"PDF: {home / document.pdf_file}")  # a path stays on one line, for copying
    if pkg.cv and pkg.cv.latex_file:
        terminal.out.print(f"LaTeX source: {home / pkg.cv.latex_file}")
    if pkg.interview_prep:
        show(Panel(Markdown(render("interview_prep.md.j2", prep=pkg.interview_prep)), title="Interview prep"))


async def run_demo(request: SearchRequest, approve_all: bool, fmt: Format, webhook: str) -> None:
    thread_id = new_thread_id()
    async with session() as s, s.advancing(thread_id):
        # With --approve-all, scripts get one JSON document: the outcome.
        report = not (approve_all and fmt is Format.json)
        interrupt_id, requests = await start_and_report(
            s, request, "", thread_id, fmt, report=report, webhook_url=webhook
        )
        if not (approve_all and interrupt_id):
            return
        decisions = [  # missing packages are left out: a demo does not build again
            Decision(
                package_id=requested_package_id(r),
                action="reject" if package_row(r)["flagged_claims"] else "accept",
            )
            for r in requests
            if not is_retry_request(r)
        ]
        await submit_decisions(s, thread_id, interrupt_id, decisions, fmt)
        if fmt is Format.table:
            terminal.out.print(f"Emails are in {s.settings.context().outbox_dir}")


async def resume_thread(thread_id: str, fmt: Format) -> None:
    async with session() as s, s.advancing(thread_id):
        await require_thread(s, thread_id)
        snapshot = await s.graph.aget_state(s.config(thread_id))
        stage = stage_of(snapshot)
        if stage == "awaiting_review":
            raise UserError(f"thread {thread_id} is waiting for your review: jobland review {thread_id}")
        if stage == "finished":
            raise UserError(f"thread {thread_id} has finished; nothing to resume")
        record = await s.records.thread(thread_id)
        await stream_run(s, resume_input(snapshot, record), thread_id, show_progress=fmt is Format.table)
        after = await s.graph.aget_state(s.config(thread_id))
        _, requests = review_requests(after)
        if fmt is Format.json:
            emit_json(
                {
                    "thread_id": thread_id,
                    **stage_fields(after, thread_id),
                    "awaiting_review": [package_row(r) for r in requests],
                }
            )
        elif requests:
            print_waiting(thread_id, requests)
        else:
            await _print_outcome(s, thread_id, fmt)


CSV_COLUMNS = (
    "package_id",
    "date",
    "status",
    "company",
    "title",
    "posting_url",
    "canonical_key",
    "files",
    "notes",
    "history",
    "thread_id",
)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula (CSV injection)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def application_csv_row(entry: ApplicationLogEntry) -> dict[str, str]:
    history = "; ".join(f"{h.at:%Y-%m-%d %H:%M} {h.status}" + (f" ({h.note})" if h.note else "") for h in entry.history)
    values = {
        "package_id": entry.package_id,
        "date": f"{entry.at:%Y-%m-%d}",
        "status": entry.status,
        "company": entry.company,
        "title": entry.title,
        "posting_url": entry.posting_url or "",
        "canonical_key": entry.canonical_key,
        "files": "; ".join(entry.files),
        "notes": " | ".join(entry.notes),
        "history": history,
        "thread_id": entry.thread_id,
    }
    return {k: csv_cell(v) for k, v in values.items()}


async def tracked_applications(s: Session, show_all: bool) -> list[ApplicationLogEntry]:
    """Delivered packages (all logged ones with show_all), newest first."""
    entries = [e for e in await s.records.applications(limit=10_000) if show_all or e.outcome == "sent"]
    return sorted(entries, key=lambda e: e.at, reverse=True)


async def list_applications(show_all: bool, fmt: Format) -> None:
    async with session() as s:
        entries = await tracked_applications(s, show_all)
    if fmt is Format.json:
        emit_json([e.model_dump(mode="json") for e in entries])
        return
    table = Table(title="Applications")
    for column in ("package id", "date", "status", "title", "company", "posting"):
        table.add_column(column)
    for e in entries:
        table.add_row(e.package_id, f"{e.at:%Y-%m-%d}", e.status, e.title, e.company, e.posting_url or "")
    terminal.out.print(table)
    if not entries:
        terminal.out.print("No application yet: approve a package at review and it is listed here once delivered.")
    else:
        terminal.out.print(
            f"Update one with [bold]jobland applications set ID STATUS[/] ({', '.join(SETTABLE_STATUSES)})."
        )


def _resolve_application(given: str, entries: list[ApplicationLogEntry]) -> ApplicationLogEntry:
    matches = id_matches(given, entries, key=lambda e: e.package_id)
    delivered = [e for e in matches if e.outcome == "sent"]
    if len(delivered) == 1:
        return delivered[0]
    if len(delivered) > 1:
        raise UserError(f"{given!r} matches {len(delivered)} applications: give more of the package id")
    if matches:
        raise UserError(
            f"package {matches[0].package_id} was never delivered ({matches[0].outcome}), so there is no application "
            "to update; `jobland applications` lists the delivered ones"
        )
    raise UserError(f"no application {given!r}; `jobland applications` lists them")


async def set_application_status(package_id: str, status: str, note: str, fmt: Format) -> None:
    async with session() as s:
        entry = _resolve_application(package_id, await s.records.applications(limit=10_000))
        updated = entry.with_status(status, note or None)
        await s.records.put_application(updated)
        await warn_unsynced(s)
    if fmt is Format.json:
        emit_json(updated.model_dump(mode="json"))
    else:
        terminal.out.print(
            f"{updated.package_id}  {entry.status} -> {updated.status}  {updated.title} at {updated.company}"
        )


async def export_entries(show_all: bool) -> list[ApplicationLogEntry]:
    async with session() as s:
        return await tracked_applications(s, show_all)


async def list_deliveries(show_all: bool, fmt: Format) -> None:
    async with session() as s:
        letters = await s.records.dead_letters(s.settings.context().user_id, open_only=not show_all)
        if fmt is Format.json:
            emit_json([d.model_dump(mode="json") for d in letters])
        elif letters:
            print_dead_letters(letters)
        else:
            terminal.out.print("Every approved package was delivered; nothing waits for a decision.")


async def resolve_dead_letter(package_id: str, choice: str, fmt: Format) -> None:
    async with session() as s:
        context = s.settings.context()
        letter = await open_dead_letter(s, context.user_id, package_id)
        async with s.advancing(letter.thread_id):
            letter = await open_dead_letter(s, context.user_id, package_id)  # again under the lease: a second try fails
            if choice == "retry":
                payload = retry_delivery(letter)
            else:
                payload = await mark_delivered(s, letter, context.user_email)
            await stream_run(s, payload, letter.thread_id, show_progress=fmt is Format.table)
            await _print_outcome(s, letter.thread_id, fmt)
