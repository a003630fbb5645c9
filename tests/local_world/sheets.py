"""A fake Google Sheets API v4 (spreadsheets.values get / batchUpdate / append) on 127.0.0.1, and its fixture.

The official client reaches it through `client_options={"api_endpoint": url}` and the bundled discovery
document, as it reaches sheets.googleapis.com. Each spreadsheet has one sheet, "Sheet1", of string cells;
answers have the documented shapes (ValueRange, BatchUpdateValuesResponse, AppendValuesResponse), with
trailing empty cells and rows left out as the real API leaves them out. `edit` changes a cell as a person
typing in the sheet would.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from urllib.parse import unquote

import pytest

from tests.local_world.base import LocalService, Reply, Request
from tests.local_world.gmail import ACCESS_TOKEN

PREFIX = "/v4/spreadsheets/"
SHEET = "Sheet1"
_CELL = re.compile(r"^([A-Z]+)(\d+)?$")


def _column(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - ord("A") + 1
    return number - 1


def _letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _bounds(a1: str) -> tuple[int, int, int, int | None]:
    """(first row, first column, last column, last row or None for open-ended), 0-based, of "A1:J" or "A5:J5"."""
    cells = a1.rpartition("!")[2].split(":")
    parsed = [_CELL.match(c) for c in cells]
    if len(cells) > 2 or not all(parsed):
        raise ValueError(a1)
    (first_col, first_row), (last_col, last_row) = (
        (_column(m.group(1)), int(m.group(2)) - 1 if m.group(2) else None) for m in (parsed[0], parsed[-1])
    )
    return first_row or 0, first_col, last_col, last_row


def _error(status: int, message: str, code: str) -> Reply:
    return Reply(status, {"error": {"code": status, "message": message, "status": code}})


class FakeSheets(LocalService):
    def __init__(self) -> None:
        super().__init__("sheets")
        self.sheets: dict[str, list[list[str]]] = {}
        self._store_lock = threading.Lock()
        self.route("GET", PREFIX, self._get)
        self.route("POST", PREFIX, self._post)

    def create(self, spreadsheet_id: str) -> str:
        self.sheets[spreadsheet_id] = []
        return spreadsheet_id

    def rows(self, spreadsheet_id: str) -> list[list[str]]:
        """The sheet as the API returns it: trailing empty cells and rows left out."""
        with self._store_lock:
            rows = [list(row) for row in self.sheets[spreadsheet_id]]
        trimmed = []
        for row in rows:
            while row and row[-1] == "":
                row.pop()
            trimmed.append(row)
        while trimmed and not trimmed[-1]:
            trimmed.pop()
        return trimmed

    def edit(self, spreadsheet_id: str, row: int, column: int, value: str) -> None:
        """A person typing in a cell (1-based row, 0-based column)."""
        with self._store_lock:
            self._write(self.sheets[spreadsheet_id], row - 1, column, [[value]])

    @staticmethod
    def _write(grid: list[list[str]], first_row: int, first_col: int, values: list[list[str]]) -> None:
        for r, row in enumerate(values):
            while len(grid) <= first_row + r:
                grid.append([])
            target = grid[first_row + r]
            while len(target) < first_col + len(row):
                target.append("")
            for c, value in enumerate(row):
                target[first_col + c] = str(value)

    def _parse(self, request: Request) -> tuple[str, str, str] | Reply:
        """(spreadsheet id, A1 range, method) of values/{range}, values/{range}:append or values:batchUpdate."""
        if request.headers.get("authorization") != f"Bearer {ACCESS_TOKEN}":
            return _error(401, "Request had invalid authentication credentials.", "UNAUTHENTICATED")
        spreadsheet_id, _, tail = unquote(request.path.removeprefix(PREFIX)).partition("/values")
        if spreadsheet_id not in self.sheets:
            return _error(404, "Requested entity was not found.", "NOT_FOUND")
        if tail.startswith(":"):
            return spreadsheet_id, "", tail.removeprefix(":")
        a1 = tail.removeprefix("/")
        if a1.endswith(":append"):
            return spreadsheet_id, a1.removesuffix(":append"), "append"
        return spreadsheet_id, a1, "get"

    def _get(self, request: Request) -> Reply:
        parsed = self._parse(request)
        if isinstance(parsed, Reply):
            return parsed
        spreadsheet_id, a1, _ = parsed
        try:
            first_row, first_col, last_col, last_row = _bounds(a1)
        except ValueError:
            return _error(400, f"Unable to parse range: {a1}", "INVALID_ARGUMENT")
        rows = self.rows(spreadsheet_id)[first_row : None if last_row is None else last_row + 1]
        values = [row[first_col : last_col + 1] for row in rows]
        while values and not values[-1]:
            values.pop()
        answer = {"range": f"{SHEET}!{a1}", "majorDimension": "ROWS"}
        if values:
            answer["values"] = values
        return Reply(200, answer)

    def _post(self, request: Request) -> Reply:
        parsed = self._parse(request)
        if isinstance(parsed, Reply):
            return parsed
        spreadsheet_id, a1, action = parsed
        body = request.json() or {}
        if action == "batchUpdate":
            if body.get("valueInputOption") not in {"RAW", "USER_ENTERED"}:
                return _error(400, "Invalid valueInputOption", "INVALID_ARGUMENT")
            responses = []
            with self._store_lock:
                for data in body.get("data", []):
                    first_row, first_col, *_ = _bounds(data["range"])
                    self._write(self.sheets[spreadsheet_id], first_row, first_col, data.get("values", []))
                    responses.append(self._updated(spreadsheet_id, first_row, first_col, data.get("values", [])))
            return Reply(
                200,
                {
                    "spreadsheetId": spreadsheet_id,
                    "totalUpdatedRows": sum(r["updatedRows"] for r in responses),
                    "totalUpdatedColumns": max((r["updatedColumns"] for r in responses), default=0),
                    "totalUpdatedCells": sum(r["updatedCells"] for r in responses),
                    "totalUpdatedSheets": 1 if responses else 0,
                    "responses": responses,
                },
            )
        if action == "append":
            if request.query.get("valueInputOption", [""])[0] not in {"RAW", "USER_ENTERED"}:
                return _error(400, "'valueInputOption' is required but not specified", "INVALID_ARGUMENT")
            values = body.get("values", [])
            with self._store_lock:
                grid = self.sheets[spreadsheet_id]
                while grid and not any(grid[-1]):
                    grid.pop()
                first_row = len(grid)  # after the table the range starts
                self._write(grid, first_row, 0, values)
                updates = self._updated(spreadsheet_id, first_row, 0, values)
            table = f"{SHEET}!A1:{_letters(max((len(r) for r in grid), default=1) - 1)}{first_row}"
            return Reply(200, {"spreadsheetId": spreadsheet_id, "tableRange": table, "updates": updates})
        return _error(404, f"no such method: {action}", "NOT_FOUND")

    @staticmethod
    def _updated(spreadsheet_id: str, first_row: int, first_col: int, values: list[list[str]]) -> dict:
        width = max((len(r) for r in values), default=0)
        last = f"{_letters(first_col + max(width, 1) - 1)}{first_row + len(values)}"
        return {
            "spreadsheetId": spreadsheet_id,
            "updatedRange": f"{SHEET}!{_letters(first_col)}{first_row + 1}:{last}",
            "updatedRows": len(values),
            "updatedColumns": width,
            "updatedCells": sum(len(r) for r in values),
        }


@pytest.fixture
def sheets_api() -> Iterator[FakeSheets]:
    service = FakeSheets().start()
    yield service
    service.stop()
