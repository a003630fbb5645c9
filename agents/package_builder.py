"""build_package: one shortlisted posting's package, built by the step subgraph within the batch's budget.

A step that fails after its retries, or runs past its own time limit (the node `timeout=`), leaves the
package failed or timeout with the reason; when the batch's budget ends (the deadline the shortlist set),
whatever is still building times out. Either way the other packages go on, and review opens with the
ready ones and says what is missing and why.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable

from langgraph.errors import GraphBubbleUp, NodeTimeoutError
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from jobland.agents.shortlist import pending_package
from jobland.domain.models import BUILDING_STATUSES, ApplicationPackage, PackageStatus
from jobland.domain.repository import Records
from jobland.graph.context import Context
from jobland.graph.state import BuildPackageInput, PackageRef
from jobland.tools.pdf import warm_up_in_background
from jobland.tools.postgres import connection_lost

BuildPackage = Callable[[BuildPackageInput, Runtime[Context]], Awaitable[dict]]

_STEP_OF_STATUS = {
    PackageStatus.pending: "waiting to start",
    PackageStatus.researching: "researching the company",
    PackageStatus.generating: "writing the CV and letter",
    PackageStatus.checking: "checking the documents",
}
_STEP_OF_NODE = {
    "research_company": "researching the company",
    "write_cv": "writing the CV",
    "lay_out_cv": "laying out the CV",
    "write_cover_letter": "writing the letter",
    "check_package": "checking the documents",
}
_FAILED_TASK = re.compile(r"During task with name '([^']+)'")  # LangGraph's note on a step's error


def _step_of(error: Exception, package: ApplicationPackage) -> str:
    """What the build was doing when it failed: the step that raised (LangGraph notes it on the error), or for
    a budget that ran out, the package's status; the CV is written beside the research, so a package being
    written with no dossier yet is still being researched."""
    for note in getattr(error, "__notes__", ()):
        if (task := _FAILED_TASK.match(note)) and task[1] in _STEP_OF_NODE:
            return _STEP_OF_NODE[task[1]]
    if package.status == PackageStatus.generating and package.dossier is None:
        return _STEP_OF_NODE["research_company"]
    return _STEP_OF_STATUS.get(package.status, package.status.value)


def package_ref(package: ApplicationPackage) -> PackageRef:
    return PackageRef(package_id=package.id, posting_id=package.posting_id, status=package.status)


def failure_of(error: Exception, package: ApplicationPackage, budget_s: float) -> tuple[PackageStatus, str]:
    """The status a package ends in after `error`, and the reason a person reads."""
    step = _step_of(error, package)
    if isinstance(error, TimeoutError):
        return PackageStatus.timeout, f"the batch's time budget ({budget_s:g} s) ran out while {step}"
    if isinstance(error, NodeTimeoutError):
        return PackageStatus.timeout, f"{error.node} took longer than its {error.timeout:g} s limit"
    return PackageStatus.failed, f"failed while {step}: {error}"


def package_builder(steps: CompiledStateGraph) -> BuildPackage:
    """The build_package node around the compiled step subgraph."""

    async def build_package(state: BuildPackageInput, runtime: Runtime[Context]) -> dict:
        records = Records(runtime.store)
        thread_id = state["thread_id"]
        package = await pending_package(records, thread_id, state["profile_id"], state["posting_id"])
        if package.status not in BUILDING_STATUSES:  # built before a crash, or failed and not retried
            return {"packages": [package_ref(package)]}
        if runtime.context.render_pdf:
            warm_up_in_background()  # while this package's first LLM calls are out
        try:
            async with asyncio.timeout(max(0.0, state["deadline"] - time.time())):
                await steps.ainvoke(state)
        except GraphBubbleUp:
            raise
        except Exception as error:  # one package's failure, whatever it is, must not sink the batch
            if connection_lost(error):
                raise  # the database's fault, not the package's: the step is retried (or resumed) whole
            package = await records.package(thread_id, state["package_id"])
            if package.status not in BUILDING_STATUSES:  # built and stored: what failed came after its last step
                return {"packages": [package_ref(package)]}
            status, reason = failure_of(error, package, runtime.context.batch_budget_s)
            package = await records.move_package(thread_id, package, status, reason)
            return {"packages": [package_ref(package)]}
        return {"packages": [package_ref(await records.package(thread_id, state["package_id"]))]}

    return build_package
