"""JobPostings as the company career boards show them: HTML descriptions and location lines.

The board fakes (greenhouse, lever, ashby, workday) render the same JobPosting records the folder
source reads, so a test can put one opening on a board and in a folder and see them merge.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from jobland.domain.models import JobPosting


def location_line(posting: JobPosting) -> str:
    """'Berlin, Germany', 'Remote' or 'Berlin, Germany (Remote)' as a board's location field says it."""
    place = posting.jobLocation[0].label() if posting.jobLocation else ""
    if posting.workplace == "remote":
        return f"{place} (Remote)" if place else "Remote"
    return place


def _blocks(posting: JobPosting) -> list[tuple[str, list[str]]]:
    """The description's blocks: ("p", [text]), ("h", [heading]) and ("ul", items), as its Markdown has them."""
    blocks: list[tuple[str, list[str]]] = []
    for block in (b.strip() for b in re.split(r"\n\s*\n", posting.description)):
        lines = [line.strip() for line in block.split("\n") if line.strip()]
        if not lines:
            continue
        items = [line[2:] for line in lines if line.startswith("- ")]
        if items and len(items) == len(lines):
            blocks.append(("ul", items))
        elif items and not lines[0].startswith("- "):  # "What you bring\n- ...": a heading over its list
            blocks += [("h", [lines[0]]), ("ul", items)]
        elif len(lines) == 1 and len(lines[0]) < 60 and not lines[0].endswith("."):
            blocks.append(("h", lines))
        else:
            blocks.append(("p", [" ".join(lines)]))
    return blocks


def _html(blocks: list[tuple[str, list[str]]]) -> str:
    tags = {"p": "<p>{}</p>", "h": "<h3>{}</h3>"}
    return "".join(
        f"<ul>{list_items(lines)}</ul>" if kind == "ul" else tags[kind].format(html.escape(lines[0]))
        for kind, lines in blocks
    )


def description_html(posting: JobPosting) -> str:
    """The whole description as a board's HTML: paragraphs, headings and lists."""
    return _html(_blocks(posting))


def opening_and_lists(posting: JobPosting) -> tuple[str, list[tuple[str, list[str]]]]:
    """The description split the way Lever keeps it: the prose as HTML, and each heading with its list."""
    blocks = _blocks(posting)
    prose, lists = [], []
    for i, (kind, lines) in enumerate(blocks):
        if kind == "ul":
            heading = blocks[i - 1][1][0] if i and blocks[i - 1][0] == "h" else "Details"
            lists.append((heading, lines))
        elif not (kind == "h" and i + 1 < len(blocks) and blocks[i + 1][0] == "ul"):
            prose.append((kind, lines))
    return _html(prose), lists


def list_items(items: list[str]) -> str:
    return "".join(f"<li>{html.escape(item)}</li>" for item in items)


def iso_moment(posting: JobPosting) -> str:
    posted = posting.datePosted or datetime(2026, 11, 20, tzinfo=UTC).date()
    return datetime(posted.year, posted.month, posted.day, 9, 0, tzinfo=UTC).isoformat()
