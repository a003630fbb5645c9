"""`jobland`: run a search, review packages, resume, inspect threads. `--format json` for scripts."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import os
import secrets
import signal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from jobland import terminal, tracking_cli
from jobland.cli_watch import watch_app
from jobland.examples import EXAMPLE_CV, EXAMPLE_JOBS
from jobland.terminal import Format

if TYPE_CHECKING:
    from jobland.settings import Settings

app = typer.Typer(help=__doc__, no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)


@app.callback()
def consoles() -> None:
    """Fresh consoles for each command, sized to the terminal (or $COLUMNS) it runs in now."""
    terminal.fresh()


FormatOption = Annotated[Format, typer.Option("--format", "-f", help="table for people, json for scripts")]


JobsOption = Annotated[
    str,
    typer.Option(
        help="Postings: a folder of them, one posting file, a posting's URL, or - to read one posting's text from "
        "stdin (company boards in JOBLAND_BOARDS are scanned too)"
    ),
]


WebhookOption = Annotated[
    str,
    typer.Option("--webhook", help="URL to POST (signed) when packages await review, the run completes or fails"),
]


@app.command()
def run(
    cv: Annotated[Path, typer.Option(help="Your master CV")],
    jobs: JobsOption,
    query: Annotated[str, typer.Option(help="What you are looking for, in words")] = "",
    location: Annotated[list[str], typer.Option(help="Acceptable location (repeatable)")] = [],  # noqa: B006
    max_packages: Annotated[int, typer.Option(min=1, max=100, help="At most this many packages")] = 10,
    thread_id: Annotated[str, typer.Option(help="Choose the thread id (default: a new random one)")] = "",
    webhook: WebhookOption = "",
    fmt: FormatOption = Format.table,
) -> None:
    """Discover, screen and build packages, then pause for your review."""
    from jobland import commands as c  # the graph stack: only once a command runs

    postings = c.checked_inputs(cv, jobs)
    request = c.SearchRequest(
        query=query, locations=location, cv_path=str(cv.resolve()), max_packages=max_packages, **postings
    )
    c.run_async(lambda: c.run_search(request, query, thread_id or c.new_thread_id(), fmt, webhook))


@app.command()
def review(
    thread_id: Annotated[str, typer.Argument(help="Thread id printed by `jobland run`")],
    approve: Annotated[list[str], typer.Option(help="Package id to approve (repeatable)")] = [],  # noqa: B006
    reject: Annotated[list[str], typer.Option(help="Package id to reject (repeatable)")] = [],  # noqa: B006
    retry: Annotated[
        list[str], typer.Option(help="Id of a failed or timed-out package to build again (repeatable)")
    ] = [],  # noqa: B006
    edit: Annotated[
        str, typer.Option(help="Package id to edit: opens $EDITOR on its CV, then its letter (or give the files)")
    ] = "",
    cv_file: Annotated[Path | None, typer.Option(help="With --edit: a file with the edited CV Markdown")] = None,
    letter_file: Annotated[
        Path | None, typer.Option(help="With --edit: a file with the edited letter Markdown")
    ] = None,
    confirm_unsupported: Annotated[
        list[str],
        typer.Option(help="Send anyway the edited line with this id the master CV does not support (repeatable)"),
    ] = [],  # noqa: B006
    done: Annotated[
        bool, typer.Option("--done", help="Finish the review: packages left undecided stay as they are")
    ] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Approve, edit or reject packages; approved ones are delivered at once, undecided ones keep waiting.

    `jobland export THREAD ID` writes a package's files (cv.md, letter.md, ...) to edit them where you like.
    """
    from jobland import commands as c  # the graph stack: only once a command runs

    if (cv_file or letter_file) and not edit:
        terminal.fail("--cv-file and --letter-file belong to an edit: add --edit ID")
    edits = c.ReviewEdit(edit, cv_file, letter_file) if edit else None
    c.run_async(lambda: c.review_thread(thread_id, approve, reject, retry, edits, confirm_unsupported, done, fmt))


@app.command()
def screen(
    cv: Annotated[Path, typer.Option(help="Your master CV")],
    jobs: JobsOption,
    query: Annotated[str, typer.Option(help="What you are looking for, in words")] = "",
    location: Annotated[list[str], typer.Option(help="Acceptable location (repeatable)")] = [],  # noqa: B006
    fmt: FormatOption = Format.table,
) -> None:
    """Screen postings against a CV (and your search, as `run` reads it) and print the verdicts; builds nothing."""
    from jobland import commands as c  # the graph stack: only once a command runs

    postings = c.checked_inputs(cv, jobs)
    # Only given places are explicit: without --location, the places the query names apply.
    places = {"locations": location} if location else {}
    request = c.SearchRequest(query=query, cv_path=str(cv.resolve()), mode="screen", **places, **postings)
    c.run_async(lambda: c.screen_postings(request, query, fmt))


class ProfileFormat(StrEnum):
    table = "table"
    json = "json"
    json_resume = "json-resume"


@app.command()
def profile(
    path: Annotated[Path, typer.Argument(help="A CV file")],
    fmt: Annotated[
        ProfileFormat,
        typer.Option("--format", "-f", help="table for people, json for scripts, json-resume for JSON Resume tools"),
    ] = ProfileFormat.table,
) -> None:
    """Show what JobLand understood from a CV; `--format json-resume` writes it as a JSON Resume (jsonresume.org)."""
    from jobland import commands as c  # the graph stack: only once a command runs
    from jobland.domain.json_resume import profile_to_json_resume
    from jobland.service import CVImportError, import_profile

    try:
        parsed = import_profile(path)
    except (CVImportError, FileNotFoundError) as exc:
        terminal.fail(str(exc))
    if fmt is ProfileFormat.json:
        terminal.emit_json(parsed.model_dump(mode="json"))
        return
    if fmt is ProfileFormat.json_resume:
        terminal.emit_json(profile_to_json_resume(parsed))
        return
    basics = parsed.basics
    terminal.out.print(
        c.Panel(
            f"[bold]{basics.name}[/]  {basics.label or ''}\n{basics.email or ''}  {basics.phone or ''}",
            title=parsed.source,
        )
    )
    terminal.out.print(f"Sections: {', '.join(parsed.sections)}")
    for job in parsed.work:
        terminal.out.print(
            f"\n[bold]{job.position or ''}[/] at [bold]{job.name}[/] ({job.startDate or '?'} - {job.endDate or '?'})"
        )
        for h in job.highlights:
            terminal.out.print(f"  - {h.text} [dim]{h.id}[/]")
    listed = ", ".join(parsed.skill_names()) or "none listed (the skills your bullets name count as their evidence)"
    terminal.out.print(f"\nSkills: {listed}")
    for edu in parsed.education:
        terminal.out.print(f"Education: {edu.studyType or ''} {edu.area or ''}, {edu.institution}")
    prefs = parsed.preferences.model_dump(exclude_defaults=True)
    terminal.out.print(f"Preferences: {prefs or 'none given'}")


@app.command()
def threads(fmt: FormatOption = Format.table) -> None:
    """List your searches, newest first."""
    import dataclasses

    from rich.table import Table

    from jobland.thread_list import ThreadListError, list_threads  # no graph stack: the list answers at once

    try:
        rows = [dataclasses.asdict(t) for t in list_threads()]
    except ThreadListError as exc:
        terminal.fail(str(exc))
    if fmt is Format.json:
        terminal.emit_json(rows)
        return
    table = Table(title="Threads")
    for column in ("thread", "created", "stage", "jobs"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["thread_id"], row["created_at"][:16].replace("T", " "), row["stage"], str(row["jobs"]))
    terminal.out.print(table)


@app.command()
def status(thread_id: str, fmt: FormatOption = Format.table) -> None:
    """Where a thread stands: stage, counts, packages."""
    from jobland import commands as c  # the graph stack: only once a command runs

    c.run_async(lambda: c.print_status(thread_id, fmt))


VersionOption = Annotated[
    int | None, typer.Option("--version", min=1, help="A version of the documents (1: as built; default: the current)")
]


@app.command()
def show(thread_id: str, package_id: str, version: VersionOption = None, fmt: FormatOption = Format.table) -> None:
    """Show one package: verdict, CV, letter, dossier, checks; --version N shows an edit and its diff."""
    from jobland import commands as c  # the graph stack: only once a command runs

    c.run_async(lambda: c.show_package(thread_id, package_id, version, fmt))


@app.command()
def export(
    thread_id: str,
    package_id: str,
    folder: Annotated[Path | None, typer.Option("--dir", help="Where to write (default: ./PACKAGE_ID)")] = None,
    version: VersionOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Write every file of a package (cv.md, cv.pdf, cv.tex, cv.json, letter.md, letter.pdf, dossier.md) to a folder.

    Edit cv.md or letter.md there and hand them back with `jobland review THREAD --edit ID --cv-file cv.md`.
    """
    from jobland import commands as c  # the graph stack: only once a command runs

    c.run_async(lambda: c.export_package(thread_id, package_id, folder, version, fmt))


@app.command()
def demo(
    approve_all: Annotated[
        bool, typer.Option("--approve-all", help="Approve every package whose truth check passed, then deliver")
    ] = False,
    webhook: WebhookOption = "",
    fmt: FormatOption = Format.table,
) -> None:
    """Run the bundled example (a sample CV and 30+ postings) end to end on the embedded default."""
    from jobland import commands as c  # the graph stack: only once a command runs

    postings = c.checked_inputs(EXAMPLE_CV, str(EXAMPLE_JOBS))
    request = c.SearchRequest(cv_path=str(EXAMPLE_CV), max_packages=5, **postings)
    c.run_async(lambda: c.run_demo(request, approve_all, fmt, webhook))


@app.command()
def resume(thread_id: str, fmt: FormatOption = Format.table) -> None:
    """Continue a thread that was interrupted (crash, kill, power cut) from its last checkpoint."""
    from jobland import commands as c  # the graph stack: only once a command runs

    c.run_async(lambda: c.resume_thread(thread_id, fmt))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1: this machine only)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
) -> None:
    """Serve the HTTP API, its docs (/docs), the home page (/) and the review page (/review/THREAD)."""
    from jobland import commands as c  # the graph stack: only once a command runs

    try:
        settings = c.Settings()
    except c.ValidationError as exc:
        terminal.fail("; ".join(e["msg"] for e in exc.errors()))
    if not settings.api_users():
        # One local user; the token lives only as long as this server, and server.create_app reads it.
        os.environ["JOBLAND_API_TOKEN"] = secrets.token_urlsafe(24)
        terminal.err.print(f"API token (Authorization: Bearer ...): [bold]{os.environ['JOBLAND_API_TOKEN']}[/]")
        # The fragment never reaches a request or a log; the page's sign-in form reads it.
        terminal.err.print(f"Open in a browser: http://{host}:{port}/#token={os.environ['JOBLAND_API_TOKEN']}")
    else:
        terminal.err.print(f"Open in a browser: http://{host}:{port}/ (sign in with your API token)")
    terminal.err.print(f"API docs: http://{host}:{port}/docs")
    # A request still running 5 s after SIGTERM is cancelled (a CV being read: its child process is killed).
    import uvicorn

    uvicorn.run("jobland.server:create_app", factory=True, host=host, port=port, timeout_graceful_shutdown=5)


def _broker_settings() -> Settings:
    from pydantic import ValidationError

    from jobland.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        terminal.fail("; ".join(e["msg"] for e in exc.errors()))
    if not settings.broker_url:
        terminal.fail("no broker configured: set JOBLAND_BROKER_URL to your Redis, e.g. redis://127.0.0.1:6379/0")
    return settings


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Segments run at once, one process each")] = 1,
) -> None:
    """Run the graph segments queued on JOBLAND_BROKER_URL until SIGTERM, which stops them at a checkpoint."""
    from jobland.workers import run_worker

    run_worker(_broker_settings(), concurrency)


@app.command()
def beat() -> None:
    """Ask the workers every few minutes to run the saved searches that are due (run exactly one of these)."""
    from jobland.workers import run_beat

    run_beat(_broker_settings())


applications_app = typer.Typer(help="Your applications: every delivered package and where it stands.")


app.add_typer(applications_app, name="applications")
tracking_cli.register(applications_app)  # sync (Google Sheets), check-replies (Gmail)


ShowAllOption = Annotated[
    bool, typer.Option("--all", help="Also packages rejected at review, failed or left undecided")
]


@applications_app.callback(invoke_without_command=True)
def applications(ctx: typer.Context, show_all: ShowAllOption = False, fmt: FormatOption = Format.table) -> None:
    """List your applications, newest first; `set` updates one, `export` writes CSV."""
    from jobland import commands as c  # the graph stack: only once a command runs

    if ctx.invoked_subcommand is None:
        c.run_async(lambda: c.list_applications(show_all, fmt))


@applications_app.command("set")
def set_application_status(
    package_id: Annotated[str, typer.Argument(help="Package id (or a unique prefix) from `jobland applications`")],
    status: Annotated[str, typer.Argument(help="Where it stands now: applied, interviewing, offer, ... (checked)")],
    note: Annotated[str, typer.Option(help="A note kept with this change")] = "",
    fmt: FormatOption = Format.table,
) -> None:
    """Record where an application stands now."""
    from jobland import commands as c  # the graph stack: only once a command runs

    if status not in c.SETTABLE_STATUSES:
        terminal.fail(f"unknown status {status!r}: use one of {', '.join(c.SETTABLE_STATUSES)}")
    c.run_async(lambda: c.set_application_status(package_id, status, note, fmt))


@applications_app.command("export")
def export_applications(
    path: Annotated[Path, typer.Argument(help="CSV file to write")], show_all: ShowAllOption = False
) -> None:
    """Write your applications to a CSV file that is safe to open in a spreadsheet."""
    from jobland import commands as c  # the graph stack: only once a command runs

    if not path.parent.is_dir():
        terminal.fail(f"folder not found: {path.parent}; create it or choose another path")
    entries = c.run_async(lambda: c.export_entries(show_all))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=c.CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(c.application_csv_row(e) for e in entries)
    terminal.out.print(f"Wrote {len(entries)} application(s) to {path}")


deliveries_app = typer.Typer(help="Deliveries that did not go through: list them, send again, or mark as sent.")


app.add_typer(deliveries_app, name="deliveries")
app.add_typer(watch_app, name="watch")


@deliveries_app.callback(invoke_without_command=True)
def deliveries(ctx: typer.Context, show_all: ShowAllOption = False, fmt: FormatOption = Format.table) -> None:
    """List deliveries whose attempts ran out or whose outcome is unknown (--all: resolved ones too)."""
    from jobland import commands as c  # the graph stack: only once a command runs

    if ctx.invoked_subcommand is None:
        c.run_async(lambda: c.list_deliveries(show_all, fmt))


@deliveries_app.command("retry")
def retry_dead_letter(
    package_id: Annotated[str, typer.Argument(help="Package id (or a unique prefix) from `jobland deliveries`")],
    fmt: FormatOption = Format.table,
) -> None:
    """Send an undelivered package again (Gmail first looks for an earlier copy of it)."""
    from jobland import commands as c  # the graph stack: only once a command runs

    c.run_async(lambda: c.resolve_dead_letter(package_id, "retry", fmt))


@deliveries_app.command("mark-sent")
def mark_dead_letter_sent(
    package_id: Annotated[str, typer.Argument(help="Package id (or a unique prefix) from `jobland deliveries`")],
    fmt: FormatOption = Format.table,
) -> None:
    """Say that an undelivered package did arrive (check your inbox first): it is never sent again."""
    from jobland import commands as c  # the graph stack: only once a command runs

    c.run_async(lambda: c.resolve_dead_letter(package_id, "mark-sent", fmt))


@app.command()
def doctor(fmt: FormatOption = Format.table) -> None:
    """Which provider each role uses, and whether every configured service answers."""
    from jobland import commands as c  # the graph stack: only once a command runs
    from jobland.doctor import run_checks

    try:
        settings = c.Settings()
    except c.ValidationError as exc:
        terminal.fail("; ".join(e["msg"] for e in exc.errors()))
    checks = asyncio.run(run_checks(settings))
    if fmt is Format.json:
        terminal.emit_json([dataclasses.asdict(check) for check in checks])
    else:
        table = c.Table(title="JobLand doctor")
        for column in ("role", "provider", "status", "detail"):
            table.add_column(column)
        marks = {True: "[green]ok[/]", False: "[red]FAILED[/]", None: "[dim]-[/]"}
        for check in checks:
            table.add_row(check.role, check.provider, marks[check.ok], check.detail)
        terminal.out.print(table)
    if any(check.ok is False for check in checks):
        raise typer.Exit(1)


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    # Python's default for SIGTERM ends the process without atexit, which is where the embedded
    # PostgreSQL is stopped; exiting by exception runs it (SIGINT does so already).
    raise SystemExit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # uvicorn (`serve`) restores and re-raises it at shutdown
    app()
