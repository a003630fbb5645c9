"""A spreadsheet for the application tracker: Google Sheets (API v4), or the embedded twin, a CSV file.

Google Sheets goes through the official client with the same OAuth token-file flow as Gmail (scope
`spreadsheets`) and the same requests session, which never re-sends a request. Reads and cell updates
(`spreadsheets.values.get` / `batchUpdate`) are safe to repeat and are retried within the limiter's budget;
an append (`values.append`) whose answer was lost may have added its rows, so it is never retried: the
next sync reads the sheet first and finds them. Values are written RAW: a cell is never run as a formula.

The twin keeps the same rows in <home>/sheets/<SPREADSHEET_ID>.csv, which the person can edit in any
spreadsheet program; the sync reads their edits back the same way.
"""

from __future__ import annotations

import asyncio
import csv
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from jobland.tools.ratelimit import ServiceLimiter, configured_limiter

SHEETS_SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)
SERVICE = "sheets"
# Published: 300 read and 300 write requests per minute per project, 60 per minute per user.
SHEETS_LIMITS = {"max_concurrency": 1, "requests_per_second": 1.0}
READ_RANGE = "A1:Z"  # the first sheet of the spreadsheet, every column the tracker may use


class Sheet(Protocol):
    """The first sheet of one spreadsheet, as rows of cells."""

    description: str

    async def read_rows(self) -> list[list[str]]: ...

    async def update_rows(self, rows: dict[str, list[str]]) -> None:
        """Write each row of cells at its A1 range ("A5:J5")."""
        ...

    async def append_rows(self, rows: list[list[str]]) -> None: ...


class SheetSettings(Protocol):
    """What choosing a sheet reads (graph.context.Context has these)."""

    sheets_token_file: str | None
    gmail_token_file: str | None
    sheets_api_endpoint: str | None
    service_limits: dict[str, dict[str, float]]

    @property
    def home_path(self) -> Path: ...


def make_sheet(context: SheetSettings, spreadsheet_id: str) -> Sheet:
    """Google Sheets as the OAuth token file's user when one is configured, else the CSV twin."""
    if not spreadsheet_id or "/" in spreadsheet_id or spreadsheet_id.startswith("."):
        raise ValueError(
            f"{spreadsheet_id!r} is no spreadsheet id: give the part of the sheet's URL between /d/ and /edit"
        )
    token_file = context.sheets_token_file or context.gmail_token_file
    if token_file:
        limiter = configured_limiter(SERVICE, SHEETS_LIMITS, context.service_limits.get(SERVICE))
        return GoogleSheet(spreadsheet_id, token_file, api_endpoint=context.sheets_api_endpoint, limiter=limiter)
    return CsvSheet(context.home_path / "sheets" / f"{spreadsheet_id}.csv")


class GoogleSheet:
    """Sheets API v4 `spreadsheets.values` on one spreadsheet."""

    def __init__(
        self,
        spreadsheet_id: str,
        token_file: str | Path,
        *,
        api_endpoint: str | None = None,
        limiter: ServiceLimiter,
        timeout: float = 30.0,
    ):
        self.spreadsheet_id = spreadsheet_id
        self.token_file = Path(token_file).expanduser()
        self.api_endpoint = api_endpoint
        self.limiter = limiter
        self.timeout = timeout
        self.description = f"Google Sheet {spreadsheet_id}"
        self._service: Any = None

    def _values(self) -> Any:
        if self._service is None:
            from jobland.tools.gmail import google_service  # the Google client: only when used

            self._service = google_service(
                "sheets",
                "v4",
                self.token_file,
                SHEETS_SCOPES,
                api_endpoint=self.api_endpoint,
                timeout=self.timeout,
                service=SERVICE,
            )
        return self._service.spreadsheets().values()

    async def _call(self, make_request: Callable[[Any], Any], *, repeatable: bool) -> dict:
        from jobland.tools.gmail import execute

        async def attempt() -> dict:
            return await asyncio.to_thread(
                lambda: execute(make_request(self._values()), SERVICE, sending=not repeatable)
            )

        return await self.limiter.call(attempt, idempotent=repeatable)

    async def read_rows(self) -> list[list[str]]:
        answer = await self._call(
            lambda v: v.get(spreadsheetId=self.spreadsheet_id, range=READ_RANGE, majorDimension="ROWS"),
            repeatable=True,
        )
        return [[str(cell) for cell in row] for row in answer.get("values") or []]

    async def update_rows(self, rows: dict[str, list[str]]) -> None:
        if not rows:
            return
        body = {
            "valueInputOption": "RAW",
            "data": [{"range": r, "majorDimension": "ROWS", "values": [v]} for r, v in rows.items()],
        }
        await self._call(lambda v: v.batchUpdate(spreadsheetId=self.spreadsheet_id, body=body), repeatable=True)

    async def append_rows(self, rows: list[list[str]]) -> None:
        if not rows:
            return
        await self._call(
            lambda v: v.append(
                spreadsheetId=self.spreadsheet_id,
                range="A1",
                valueInputOption="RAW",
                insertDataOption="INSERT_ROWS",
                body={"majorDimension": "ROWS", "values": rows},
            ),
            repeatable=False,
        )


def _row_number(a1_range: str) -> int:
    """The row of "A5:J5"."""
    return int("".join(ch for ch in a1_range.split(":")[0] if ch.isdigit()))


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _as_text(cell: str) -> str:
    """A cell a spreadsheet program shows as text, never runs as a formula (CSV injection)."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def _from_text(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_FORMULA_START) else cell


class CsvSheet:
    """The embedded twin: the rows in a CSV file, replaced atomically on every write."""

    def __init__(self, path: Path):
        self.path = path
        self.description = f"the CSV file {path}"

    def _read(self) -> list[list[str]]:
        if not self.path.is_file():
            return []
        with self.path.open(newline="", encoding="utf-8") as handle:
            rows = [[_from_text(cell) for cell in row] for row in csv.reader(handle)]
        while rows and not any(rows[-1]):
            rows.pop()
        return rows

    def _write(self, rows: list[list[str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".csv")
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as out:
            csv.writer(out).writerows([_as_text(cell) for cell in row] for row in rows)
        os.replace(temporary, self.path)

    async def read_rows(self) -> list[list[str]]:
        return await asyncio.to_thread(self._read)

    async def update_rows(self, rows: dict[str, list[str]]) -> None:
        def update() -> None:
            current = self._read()
            for a1_range, cells in rows.items():
                number = _row_number(a1_range)
                current += [[] for _ in range(number - len(current))]
                current[number - 1] = cells
            self._write(current)

        await asyncio.to_thread(update)

    async def append_rows(self, rows: list[list[str]]) -> None:
        await asyncio.to_thread(lambda: self._write(self._read() + rows))
