"""prepare_screening: the screening stage in bulk, before any screen_job task.

Screening postings one task at a time embedded them in batches of a few texts, read the Store several
times per posting and wrote a checkpoint per posting; here the profile is read once, the postings and
their stored verdicts in batches while the model embeds, every text to embed goes to the model in a
few large calls (agents.screener.prepare_screenings), and the verdicts enter the state in one update. Only a posting
the LLM stage must still see goes on to a screen_job task (agents.shortlist.route_to_screening).

The batch's time budget starts here. When every High the LLM stage may still give is certain to make
the shortlist, those tasks build their packages as their verdicts come (state["screening_builds"]), so
the first packages are under way while the last postings are still being screened.
"""

from __future__ import annotations

import time

from langgraph.runtime import Runtime

from jobland.agents.screener import prepare_screenings, screening_verdict
from jobland.agents.shortlist import certain_to_be_shortlisted
from jobland.domain.repository import Records
from jobland.graph.context import Context
from jobland.graph.state import JobLandState


async def prepare_screening(state: JobLandState, runtime: Runtime[Context]) -> dict:
    posting_ids = state.get("posting_ids", [])
    deadline = time.time() + runtime.context.batch_budget_s
    if not posting_ids:
        return {"build_deadline": deadline, "screening_builds": False}
    records, request = Records(runtime.store), state["request"]
    profile = await records.profile(state["profile_id"])
    final = await prepare_screenings(records, profile, posting_ids, request, runtime.context)
    known_high = sum(s.probability == "High" for s in final.values())
    builds = (
        runtime.context.build_while_screening
        and certain_to_be_shortlisted(request, known_high, len(set(posting_ids) - set(final)))
        # The state starts empty for each search; an earlier search's packages (some decided, which the
        # shortlist leaves out) are in the Store.
        and not await records.packages(state["thread_id"])
    )
    return {
        "screenings": [screening_verdict(posting_id, screening) for posting_id, screening in final.items()],
        "build_deadline": deadline,
        "screening_builds": builds,
    }
