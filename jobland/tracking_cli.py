"""`jobland applications sync` and `check-replies`: the tracker's Google Sheet and the employers' replies."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from jobland import terminal
from jobland.terminal import Format

FormatOption = Annotated[Format, typer.Option("--format", "-f", help="table for people, json for scripts")]


def register(applications_app: typer.Typer) -> None:
    """Add the commands to `jobland applications`."""
    applications_app.command("sync")(sync)
    applications_app.command("check-replies")(check_replies)


def sync(
    sheet: Annotated[
        str, typer.Option("--sheet", help="Spreadsheet id (from its URL: /d/ID/edit); default JOBLAND_SHEET_ID")
    ] = "",
    fmt: FormatOption = Format.table,
) -> None:
    """Write one row per application to a Google Sheet; status and notes you changed there come back."""
    from jobland import commands as c  # the graph stack: only once a command runs
    from jobland import tracking

    async def main() -> tracking.SheetSync:
        async with c.session() as s:
            spreadsheet_id = sheet or s.settings.context().sheet_id
            if not spreadsheet_id:
                raise c.UserError("name the sheet: --sheet SPREADSHEET_ID, or set JOBLAND_SHEET_ID")
            try:
                return await tracking.synced_sheet(s, spreadsheet_id)
            except (tracking.SheetLayoutError, tracking.TrackingBusy, ValueError) as exc:
                raise c.UserError(str(exc)) from exc

    report = c.run_async(main)
    if fmt is Format.json:
        terminal.emit_json(vars(report))
        return
    for line in report.edits:
        terminal.out.print(f"from the sheet: {line}", highlight=False)
    for line in report.warnings:
        terminal.err.print(f"[yellow]warning:[/] {line}", highlight=False)
    terminal.out.print(
        f"Synced {report.sheet}: {report.appended} row(s) added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.edits)} edit(s) taken from the sheet.",
        highlight=False,
    )


def check_replies(
    apply: Annotated[bool, typer.Option("--apply", help="Make the proposed status changes (each reply once)")] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Find employers' replies in your inbox (read only) and propose where each application stands now."""
    from jobland import commands as c  # the graph stack: only once a command runs
    from jobland import tracking

    async def main() -> tuple[list, list, str | None]:
        async with c.session() as s:
            proposals, applied = await tracking.check_replies(s, apply=apply)
            warning = await tracking.sync_after_change(s) if applied else None
            return proposals, applied, warning

    proposals, applied, warning = c.run_async(main)
    if fmt is Format.json:
        terminal.emit_json(
            {
                "replies": [p.model_dump(mode="json") for p in proposals],
                "applied": [p.model_dump(mode="json") for p in applied],
            }
        )
        return
    table = Table(title="Replies to your applications")
    for column in ("date", "from", "subject", "kind", "application", "status"):
        table.add_column(column)
    done = {p.gmail_id for p in applied}
    for p in proposals:
        if p.gmail_id in done or p.applied:
            change = f"{p.current_status} (applied)" if p.gmail_id in done else "applied earlier"
        elif p.proposed_status:
            change = f"{p.current_status} -> {p.proposed_status}"
        else:
            change = f"{p.current_status} (no change)"
        day = f"{p.date:%Y-%m-%d}" if p.date else ""
        table.add_row(day, p.sender, p.subject, p.kind, f"{p.package_id} {p.title} at {p.company}", change)
    terminal.out.print(table)
    pending = [p for p in proposals if p.proposed_status and p.gmail_id not in done]
    if not proposals:
        terminal.out.print("No reply to your applications in your inbox yet.")
    elif pending and not apply:
        terminal.out.print(f"{len(pending)} status change(s) proposed: run again with [bold]--apply[/] to make them.")
    elif apply:
        terminal.out.print(f"Applied {len(applied)} status change(s).")
    if warning:
        terminal.err.print(f"[yellow]warning:[/] {warning}", highlight=False)
