"""The CLI's consoles and output format: light, so that the command line parses without the graph stack."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import typer
from rich.console import Console


class Format(StrEnum):
    table = "table"
    json = "json"


out = Console(soft_wrap=True)  # long paths stay on one line, for copying
err = Console(stderr=True)


def fresh() -> None:
    """New consoles, sized to the terminal (or $COLUMNS) the command runs in now."""
    global out, err
    out, err = Console(soft_wrap=True), Console(stderr=True)


def emit_json(value: Any) -> None:
    out.print_json(json.dumps(value, default=str, ensure_ascii=False))


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)
