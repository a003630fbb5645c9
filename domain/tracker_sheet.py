"""The application tracker as spreadsheet rows: one row per application, keyed by its package id.

Pure: which row holds which application, what a row says, and which of its cells the person changed.
The sheet wins for status and notes: a cell that differs from what JobLand last wrote there is the
person's edit and comes back into the tracker; every other cell is JobLand's and is written over.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jobland.domain.models import APPLIED_STATUSES, SETTABLE_STATUSES, ApplicationLogEntry, ApplicationStatusChange

SHEET_COLUMNS = (
    "package id",
    "company",
    "role",
    "posting URL",
    "delivered on",
    "applied on",
    "updated on",
    "status",
    "match score",
    "notes",
)
KEY, STATUS, NOTES = SHEET_COLUMNS.index("package id"), SHEET_COLUMNS.index("status"), SHEET_COLUMNS.index("notes")
LAST_COLUMN = chr(ord("A") + len(SHEET_COLUMNS) - 1)
NOTES_SEPARATOR = " | "


class SheetLayoutError(ValueError):
    """The sheet's first row is not the tracker's header."""


def sheet_row(entry: ApplicationLogEntry, match_score: int | None) -> list[str]:
    """An application as the cells of its row, in SHEET_COLUMNS order."""
    applied_on = next((h.at for h in entry.history if h.status in APPLIED_STATUSES), None)
    updated_on = entry.history[-1].at if entry.history else entry.at
    return [
        entry.package_id,
        entry.company,
        entry.title,
        entry.posting_url or "",
        f"{entry.at:%Y-%m-%d}",
        f"{applied_on:%Y-%m-%d}" if applied_on else "",
        f"{updated_on:%Y-%m-%d}",
        entry.status,
        "" if match_score is None else str(match_score),
        NOTES_SEPARATOR.join(entry.notes),
    ]


def _cells(values: list[str]) -> list[str]:
    """A row as the API returns it (trailing empty cells left out), padded to every column."""
    return [str(v) for v in values[: len(SHEET_COLUMNS)]] + [""] * (len(SHEET_COLUMNS) - len(values))


@dataclass(frozen=True)
class SheetRow:
    number: int  # 1-based, as A1 notation counts
    cells: list[str]

    @property
    def package_id(self) -> str:
        return self.cells[KEY].strip()

    @property
    def status(self) -> str:
        return self.cells[STATUS].strip().lower()

    @property
    def notes(self) -> str:
        return self.cells[NOTES].strip()


@dataclass
class SheetContents:
    has_header: bool
    rows: dict[str, SheetRow] = field(default_factory=dict)
    duplicates: list[SheetRow] = field(default_factory=list)
    next_row: int = 2


def read_sheet(values: list[list[str]]) -> SheetContents:
    """The tracker's rows by package id; a second row with the same id (a copy the person made) is left alone."""
    if not values or not any(str(v).strip() for v in values[0]):
        if len(values) > 1:
            raise SheetLayoutError("the sheet has rows but no header: use an empty sheet, or put the header back")
        return SheetContents(has_header=False)
    header = [str(v).strip().lower() for v in _cells(values[0])]
    if header != [c.lower() for c in SHEET_COLUMNS]:
        raise SheetLayoutError(
            f"the sheet's first row is {values[0]!r}, not the tracker's header {list(SHEET_COLUMNS)!r}: "
            "sync into an empty sheet (or one JobLand wrote), and keep its columns in place"
        )
    contents = SheetContents(has_header=True, next_row=len(values) + 1)
    for number, row in enumerate(values[1:], start=2):
        parsed = SheetRow(number, _cells(row))
        if not parsed.package_id:
            continue
        if parsed.package_id in contents.rows:
            contents.duplicates.append(parsed)
        else:
            contents.rows[parsed.package_id] = parsed
    return contents


@dataclass(frozen=True)
class SheetEdit:
    """What the person changed in an application's row, and the entry with it taken in."""

    entry: ApplicationLogEntry
    changes: list[str]
    refused: list[str]


def take_edits(entry: ApplicationLogEntry, row: SheetRow, last_written: dict | None, spreadsheet_id: str) -> SheetEdit:
    """The row's status and notes where they differ from what JobLand last wrote (or, never written, from the entry)."""
    written_status = (last_written or {}).get("status", entry.status)
    written_notes = (last_written or {}).get("notes", NOTES_SEPARATOR.join(entry.notes))
    changes: list[str] = []
    refused: list[str] = []
    if row.status and row.status != written_status and row.status != entry.status:
        if row.status in SETTABLE_STATUSES:
            change = ApplicationStatusChange(status=row.status, note=f"set in Google Sheet {spreadsheet_id}")
            changes.append(f"status {entry.status} -> {row.status}")
            entry = entry.model_copy(update={"status": row.status, "history": [*entry.history, change]})
        else:
            refused.append(
                f"row {row.number}: status {row.cells[STATUS]!r} is not one of {', '.join(SETTABLE_STATUSES)}; "
                f"kept {entry.status}"
            )
    if row.notes != written_notes and row.notes != NOTES_SEPARATOR.join(entry.notes):
        notes = [n.strip() for n in row.notes.split(NOTES_SEPARATOR.strip()) if n.strip()]
        changes.append("notes")
        entry = entry.model_copy(update={"notes": notes})
    return SheetEdit(entry, changes, refused)


def row_range(number: int) -> str:
    return f"A{number}:{LAST_COLUMN}{number}"


def written_state(row: list[str]) -> dict:
    """What JobLand remembers of a row it wrote: the cells the person may change."""
    return {"status": row[STATUS], "notes": row[NOTES]}
