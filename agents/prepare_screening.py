"""prepare_screening: the screening stage's bulk half, before the screen_job fan-out.

Screening postings one task at a time embedded them in batches of a few texts and read the Store
several times per posting; here the profile is read once, the postings and their stored verdicts in
batches, and every text to embed goes to the model in one call (agents.screener.prepare_screenings).
The screen_job tasks that follow hand on the verdicts made here.
"""

from __future__ import annotations

from langgraph.config import get_config
from langgraph.runtime import Runtime

from jobland.agents.screener import prepare_screenings
from jobland.domain.repository import Records
from jobland.graph.context import Context
from jobland.graph.state import JobLandState


async def prepare_screening(state: JobLandState, runtime: Runtime[Context]) -> dict:
    posting_ids = state.get("posting_ids", [])
    if not posting_ids:
        return {}
    records = Records(runtime.store)
    profile = await records.profile(state["profile_id"])
    postings = await records.postings(posting_ids)
    thread_id = str(get_config().get("configurable", {}).get("thread_id", ""))
    await prepare_screenings(records, profile, postings, state["request"], runtime.context, thread_id)
    return {}
