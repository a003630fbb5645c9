"""prepare_screening: the screening stage in bulk, before any screen_job task.

Screening postings one task at a time embedded them in batches of a few texts, read the Store several
times per posting and wrote a checkpoint per posting; here the profile is read once, the postings and
their stored verdicts in batches while the model embeds, every text to embed goes to the model in a
few large calls (agents.screener.prepare_screenings), and the verdicts enter the state in one update. Only a posting
the LLM stage must still see goes on to a screen_job task (agents.shortlist.route_to_screening).
"""

from __future__ import annotations

from langgraph.runtime import Runtime

from jobland.agents.screener import prepare_screenings, screening_verdict
from jobland.domain.repository import Records
from jobland.graph.context import Context
from jobland.graph.state import JobLandState


async def prepare_screening(state: JobLandState, runtime: Runtime[Context]) -> dict:
    posting_ids = state.get("posting_ids", [])
    if not posting_ids:
        return {}
    records = Records(runtime.store)
    profile = await records.profile(state["profile_id"])
    final = await prepare_screenings(records, profile, posting_ids, state["request"], runtime.context)
    return {"screenings": [screening_verdict(posting_id, screening) for posting_id, screening in final.items()]}
