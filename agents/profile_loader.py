"""load_profile: the master CV becomes a Profile, parsed once per file content."""

from __future__ import annotations

import asyncio
from pathlib import Path

from langgraph.runtime import Runtime

from jobland.domain.models import profile_id_for
from jobland.domain.repository import Records
from jobland.domain.text import content_hash
from jobland.graph.context import Context
from jobland.graph.state import JobLandState
from jobland.tools.cv_import import CVImportError, import_profile


async def load_profile(state: JobLandState, runtime: Runtime[Context]) -> dict:
    request = state["request"]
    if not request.cv_path:
        raise CVImportError("no CV given: pass the path of your master CV (PDF, DOCX, Markdown, HTML or JSON Resume)")
    path = Path(request.cv_path).expanduser()
    if not path.is_file():
        raise CVImportError(f"{path} does not exist or is not a file: check the path of your CV")
    records = Records(runtime.store)
    data = await asyncio.to_thread(path.read_bytes)
    profile_id = profile_id_for(content_hash(data))
    if await records.get_profile(profile_id) is None:
        profile = await asyncio.to_thread(import_profile, path)
        await records.put_profile(profile)
    return {"profile_id": profile_id}
