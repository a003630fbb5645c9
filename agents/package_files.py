"""Where a package's rendered files live, and writing them."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from jobland.agents.pdf_read_backs import read_back_early
from jobland.graph.context import Context
from jobland.tools.pdf import render_pdf, write_pdf_atomically

_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


class UnsafePackageId(ValueError):
    """A package id that cannot safely name a folder."""


def package_file(context: Context, package_id: str, name: str) -> Path:
    """Where a package's rendered file lives; built from the package id only, never from posting text."""
    if not _SAFE_ID.fullmatch(package_id):
        raise UnsafePackageId(f"package id {package_id!r} cannot name a folder; use letters, digits, '-' and '_' only")
    return context.packages_dir / package_id / name


async def write_rendered(context: Context, package_id: str, name: str, data: bytes) -> str:
    """Write one rendered file of a package; returns its path relative to the data folder."""
    path = package_file(context, package_id, name)
    await asyncio.to_thread(write_pdf_atomically, path, data)
    return path.relative_to(context.home_path).as_posix()


async def render_pdf_file(context: Context, package_id: str, name: str, html: str) -> str:
    pdf = await asyncio.to_thread(render_pdf, html)
    read_back_early(pdf)  # for check_package's round trip, while the file is written and the package stored
    return await write_rendered(context, package_id, name, pdf)
