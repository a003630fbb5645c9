"""`jobland watch`: saved searches that screen only what is new and send you one digest per run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from jobland import terminal
from jobland.terminal import Format

watch_app = typer.Typer(
    help="Saved searches: run again every period (cron, a systemd timer or Celery beat), screening only new "
    "postings; the new packages await your review and you get one digest email per run.",
    no_args_is_help=True,
)

FormatOption = Annotated[Format, typer.Option("--format", "-f", help="table for people, json for scripts")]
NameArgument = Annotated[str, typer.Argument(help="The watch's name, e.g. python-berlin")]


async def _guarded(work: Any) -> Any:
    """The watch errors a person can fix, as one clear line (exit 2)."""
    from jobland import commands as c  # the graph stack: only once a command runs
    from jobland.watches import DigestFailed, WatchBusy, WatchInputError, WatchNotFound

    try:
        return await work
    except (WatchInputError, WatchNotFound, WatchBusy, DigestFailed) as exc:
        raise c.UserError(str(exc)) from None


@watch_app.command("add")
def add(
    name: NameArgument,
    every: Annotated[str, typer.Option(help="How often: 30m, 12h, 1d, 1w (once per period, UTC)")],
    query: Annotated[str, typer.Option(help="What you are looking for, in words")] = "",
    location: Annotated[list[str], typer.Option(help="Acceptable location (repeatable)")] = [],  # noqa: B006
    jobs: Annotated[
        Path | None, typer.Option(help="Folder of job postings (default: JOBLAND_JOBS_DIR); boards join by config")
    ] = None,
    cv: Annotated[Path | None, typer.Option(help="Your master CV (default: JOBLAND_CV)")] = None,
    max_packages: Annotated[int, typer.Option(min=1, max=100, help="At most this many packages per run")] = 10,
    fmt: FormatOption = Format.table,
) -> None:
    """Save a search; `jobland watch run` runs it once per period."""
    from jobland import commands as c  # the graph stack: only once a command runs

    cv = cv or c.load_settings().cv
    if cv is None:
        terminal.fail("no CV: give --cv PATH (or set JOBLAND_CV)")
    if not cv.is_file():
        terminal.fail(f"CV not found: {cv}. Give the path of your master CV (PDF, DOCX, Markdown or JSON Resume).")
    if jobs is not None and not jobs.is_dir():
        terminal.fail(f"job folder not found: {jobs}. Give a folder of postings (JSON, HTML, Markdown).")

    async def main() -> Any:
        from jobland.watches import add_watch, watch_view

        async with c.session() as s:
            watch = await add_watch(
                s,
                s.settings.context().user_id,
                name=name,
                every=every,
                query=query,
                locations=location,
                cv_path=str(cv.resolve()),
                jobs_dir=str(jobs.resolve()) if jobs else None,
                max_packages=max_packages,
            )
            return await watch_view(s, watch)

    view = c.run_async(lambda: _guarded(main()))
    if fmt is Format.json:
        terminal.emit_json(view.model_dump(mode="json"))
    else:
        terminal.out.print(
            f"Watch [bold]{view.name}[/] saved: every {view.every}; first run due now. "
            f"Run it with [bold]jobland watch run {view.name}[/], or from cron / a timer: [bold]jobland watch run[/]."
        )


@watch_app.command("list")
def list_watches(fmt: FormatOption = Format.table) -> None:
    """Your watches, their last runs and when each is due next."""
    from jobland import commands as c  # the graph stack: only once a command runs

    async def main() -> Any:
        from jobland.watches import watch_views

        async with c.session() as s:
            return await watch_views(s, s.settings.context().user_id)

    views = c.run_async(main)
    if fmt is Format.json:
        terminal.emit_json([v.model_dump(mode="json") for v in views])
        return
    table = c.Table(title="Watches")
    for column in ("name", "query", "every", "last run", "new", "packages", "digest", "next due (UTC)"):
        table.add_column(column)
    for v in views:
        last = v.runs[0] if v.runs else None
        when = f"#{last.number} {last.started_at:%Y-%m-%d %H:%M}" + ("" if last.status == "done" else " (unfinished)")
        table.add_row(
            v.name,
            v.query,
            v.every,
            when if last else "never",
            str(last.screened) if last else "",
            str(len(last.packages)) if last else "",
            (last.digest or "none") if last else "",
            f"{v.next_due:%Y-%m-%d %H:%M}",
        )
    terminal.out.print(table)
    if not views:
        terminal.out.print("No watch yet: jobland watch add NAME --query ... --every 1d")


@watch_app.command("remove")
def remove(name: NameArgument, fmt: FormatOption = Format.table) -> None:
    """Forget a watch, its runs and what it has seen (its threads and packages stay)."""
    from jobland import commands as c  # the graph stack: only once a command runs

    async def main() -> None:
        from jobland.watches import remove_watch

        async with c.session() as s:
            await remove_watch(s, s.settings.context().user_id, name)

    c.run_async(lambda: _guarded(main()))
    if fmt is Format.json:
        terminal.emit_json({"removed": name})
    else:
        terminal.out.print(f"Watch {name} removed.")


@watch_app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="Run this watch now, due or not (default: every due watch)")] = "",
    fmt: FormatOption = Format.table,
) -> None:
    """Run the due watches (for cron or a systemd timer), or NAME now; one digest per run with something to review."""
    from jobland import commands as c  # the graph stack: only once a command runs

    async def main() -> list[Any]:
        from jobland.watches import context_for, find_watch, run_due_watches, run_watch

        async with c.session() as s:
            if not name:
                return await run_due_watches(s)
            watch = await find_watch(s, s.settings.context().user_id, name)
            return [await run_watch(s, context_for(s.settings, watch.owner), watch, force=True)]

    outcomes = c.run_async(lambda: _guarded(main()))
    if fmt is Format.json:
        terminal.emit_json([o.as_json() for o in outcomes])
    else:
        for outcome in outcomes:
            terminal.out.print(_outcome_line(outcome), highlight=False)
        if not outcomes:
            terminal.out.print("No watch to run: jobland watch add NAME --query ... --every 1d")
    if any(o.error for o in outcomes):
        raise typer.Exit(1)


def _outcome_line(outcome: Any) -> str:
    name, run = outcome.watch.name, outcome.run
    if outcome.error:
        return f"{name}: failed: {outcome.error}"
    if not outcome.ran:
        return f"{name}: {outcome.note}"
    line = f"{name}: run {run.number} screened {run.screened} new posting(s)"
    if run.packages:
        line += f"; {len(run.packages)} package(s) await review (jobland review {run.thread_id})"
        line += "; digest sent" if run.digest == "sent" else "; digest outcome unknown: check your inbox"
    else:
        line += "; nothing to review, no digest"
    return line + (f" ({outcome.note})" if outcome.note else "")
