"""A package is built as soon as its posting's LLM screening says High, when every High is sure to be
shortlisted: the first packages are under way while the last postings are still being screened, and the
batch ends with the same packages as a build that waits for the shortlist.

The model is the local OpenAI-compatible server on loopback, answering each call after a fixed latency; the
graph runs on this machine's PostgreSQL, and the kill test in `jobland` processes of their own.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.types import Command

from jobland.agents.shortlist import (
    certain_to_be_shortlisted,
    package_id_for,
    route_after_screening,
    route_to_packages,
    route_to_screening,
)
from jobland.domain.models import PackageStatus, SearchRequest
from jobland.domain.repository import Records
from jobland.domain.review import requested_package_id
from jobland.graph.builder import open_graph
from jobland.graph.context import Context
from jobland.graph.state import PackageRef, ScreeningVerdict
from jobland.service import step_updates
from tests.conftest import EXAMPLE_CV, EXAMPLE_JOBS, new_database, run_json, start_run
from tests.local_world.openai import API_KEY, ChatRequest, FakeOpenAI, screening_answer
from tests.support.llm_answers import cv_answer, honest_letter, honest_research

LATENCY = 0.1  # seconds the model takes per call
STAGGER = 0.05  # each screening answer this much slower than the one before
MAX_PACKAGES = 20  # more than the demo postings the LLM screener sees: every High is sure to be shortlisted


def verdict(posting_id: str, probability: str) -> ScreeningVerdict:
    return ScreeningVerdict(posting_id=posting_id, match_score=80, probability=probability)


def test_only_an_apply_search_with_no_more_open_postings_than_packages_builds_while_screening() -> None:
    apply = SearchRequest(max_packages=3)
    assert certain_to_be_shortlisted(apply, known_high=0, still_open=3)
    assert certain_to_be_shortlisted(apply, known_high=1, still_open=2)
    assert not certain_to_be_shortlisted(apply, known_high=1, still_open=3), "4 Highs, 3 places"
    assert not certain_to_be_shortlisted(apply, known_high=0, still_open=0), "nothing to screen"
    assert not certain_to_be_shortlisted(SearchRequest(mode="screen"), known_high=0, still_open=1)


# A batch's state as the routers read it (thread t1, profile p1), before screening or packages.
BATCH = {"thread_id": "t1", "profile_id": "p1", "request": SearchRequest(), "build_deadline": 1234.5}


def test_each_screening_task_carries_its_package_only_when_the_batch_builds_while_screening() -> None:
    state = {
        **BATCH,
        "posting_ids": ["a", "b", "c"],
        "screenings": [verdict("a", "Low")],
        "screening_builds": True,
    }
    sends = route_to_screening(state)
    assert [(s.node, s.arg["posting_id"]) for s in sends] == [("screen_job", "b"), ("screen_job", "c")]
    assert [s.arg["package_id"] for s in sends] == [package_id_for("t1", "b"), package_id_for("t1", "c")]
    assert {s.arg["deadline"] for s in sends} == {1234.5}
    waiting = route_to_screening({**state, "screening_builds": False})
    assert all("package_id" not in s.arg for s in waiting), "the build waits for the shortlist"

    task = dict(sends[0].arg)
    assert route_after_screening({**task, "screenings": [verdict("b", "High")]}) == "build_package"
    assert route_after_screening({**task, "screenings": [verdict("b", "Medium")]}) == "__end__"
    untold = {k: v for k, v in task.items() if k != "package_id"}
    assert route_after_screening({**untold, "screenings": [verdict("b", "High")]}) == "__end__"


def test_the_shortlist_sends_on_to_build_only_the_packages_no_screening_task_built() -> None:
    state = {
        **BATCH,
        "shortlist": ["a", "b", "c"],
        "packages": [
            PackageRef(package_id=package_id_for("t1", "a"), posting_id="a", status=PackageStatus.ready),
            PackageRef(package_id=package_id_for("t1", "b"), posting_id="b", status=PackageStatus.failed),
            PackageRef(package_id=package_id_for("t1", "c"), posting_id="c", status=PackageStatus.generating),
        ],
    }
    assert [s.arg["posting_id"] for s in route_to_packages(state)] == ["c"], "a ref still building is built"
    assert route_to_packages({**state, "shortlist": ["a", "b"]}) == "review", "every package built: on to review"
    assert [s.arg["posting_id"] for s in route_to_packages({**state, "packages": []})] == ["a", "b", "c"]
    assert route_to_packages({**state, "shortlist": []}) == "record"


def _model(latency: float) -> FakeOpenAI:
    model = FakeOpenAI().start()
    model.latency = latency
    model.responders.update(DossierSummary=honest_research, CVRewrite=cv_answer, LetterBody=honest_letter)
    return model


class StaggeredScreener:
    """The fake's screener, each next answer STAGGER s slower than the one before; it keeps when each was given."""

    def __init__(self) -> None:
        self.answered: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, request: ChatRequest) -> dict:
        with self._lock:
            turn = len(self.answered)
            self.answered.append(float("inf"))
        time.sleep(STAGGER * turn)
        answer = screening_answer(request)
        with self._lock:
            self.answered[turn] = time.monotonic()
        return answer


@pytest.fixture
def second_database(database_url: str) -> Iterator[str]:
    with new_database(database_url) as url:
        yield url


def chat_arrivals(model: FakeOpenAI, schema: str) -> list[float]:
    """When each chat request in `schema` reached the model, in order."""
    return sorted(
        r.at for r in model.requests if r.path == "/v1/chat/completions" and ChatRequest(r.json()).schema_name == schema
    )


REQUEST = SearchRequest(cv_path=str(EXAMPLE_CV), jobs_dir=str(EXAMPLE_JOBS), max_packages=MAX_PACKAGES)


def model_context(home: Path, model: FakeOpenAI, **settings: object) -> Context:
    context = Context(
        user_email="alex.morgan@example.com",
        home=str(home),
        render_pdf=False,
        llm_base_url=model.base_url,
        llm_api_key=API_KEY,
        service_limits={"openai": {"max_concurrency": MAX_PACKAGES}},
    )
    return dataclasses.replace(context, **settings)


async def _search(
    database_url: str, home: Path, model: FakeOpenAI, **settings: object
) -> tuple[dict, list, list[tuple[str, Any]]]:
    """One search of the demo postings to its review, every High sure to be shortlisted, with the steps the
    faces are told of (jobland.service.step_updates) in the order they ended."""
    context = model_context(home, model, **settings)
    config = {"configurable": {"thread_id": uuid.uuid4().hex}}
    async with open_graph(database_url, home) as graph:
        steps = [step async for step in step_updates(graph, {"request": REQUEST}, config, context)]
        snapshot = await graph.aget_state(config)
        assert snapshot.next == ("review",), snapshot.next
        packages = await Records(graph.store).packages(snapshot.values["thread_id"])
    return snapshot.values, packages, steps


@pytest.mark.slow
async def test_the_first_package_is_researched_while_postings_are_still_screened_and_the_batch_is_the_same(
    fresh_database: str, second_database: str, tmp_path: Path
) -> None:
    model = _model(LATENCY)
    runs = []
    try:
        for database, builds in ((fresh_database, True), (second_database, False)):  # nothing stored in either
            model.requests.clear()
            model.responders["JobScreeningOutput"] = screener = StaggeredScreener()
            values, packages, steps = await _search(
                database, tmp_path / str(builds), model, build_while_screening=builds
            )
            researched = chat_arrivals(model, "DossierSummary")
            calls = {schema: len(chat_arrivals(model, schema)) for schema in ("CVRewrite", "LetterBody")}
            runs.append((values, packages, researched[0], max(screener.answered), len(screener.answered), calls, steps))
    finally:
        model.stop()
    (values, packages, first_research, last_verdict, screened, calls, steps), waited_run = runs
    waited_values, waited, waited_first_research, waited_last_verdict, _, waited_calls, _ = waited_run

    assert screened >= 3 and values["screening_builds"] is True and waited_values["screening_builds"] is False
    # Building while screening: the first research goes out before the slowest posting's verdict is in.
    assert first_research < last_verdict - STAGGER
    assert waited_first_research > waited_last_verdict, "waiting for the shortlist: no research before it"

    def outcome(found: list) -> list[tuple[str, PackageStatus]]:
        return sorted((p.posting_id, p.status) for p in found)

    assert outcome(packages) == outcome(waited) and len(packages) >= 2
    assert {p.status for p in packages} == {PackageStatus.ready}
    assert values["shortlist"] == waited_values["shortlist"]
    assert {tuple(s.status for s in p.history) for p in packages + waited} == {
        tuple(s.status for s in packages[0].history)
    }
    # The faces hear of each verdict and each package as it ends, once: packages before the shortlist.
    names = [name for name, _ in steps]
    assert names.count("screen_job") == screened
    assert names.index("build_package") < names.index("shortlist")
    built = [ref.package_id for name, update in steps if name == "build_package" for ref in update["packages"]]
    assert sorted(set(built)) == sorted(p.id for p in packages)
    # Each package written and lettered once, either way.
    assert calls == waited_calls == {"CVRewrite": len(packages), "LetterBody": len(packages)}


@pytest.mark.slow
async def test_a_later_search_in_a_thread_with_decided_packages_waits_for_the_shortlist(
    fresh_database: str, tmp_path: Path
) -> None:
    """The shortlist leaves out what was decided in an earlier search: nothing is built before it chooses."""
    model = _model(LATENCY)
    context = model_context(tmp_path, model)
    config = {"configurable": {"thread_id": uuid.uuid4().hex}}
    try:
        async with open_graph(fresh_database, tmp_path) as graph:
            await graph.ainvoke({"request": REQUEST}, config, context=context, durability="sync")
            first = await graph.aget_state(config)
            assert first.values["screening_builds"] is True
            review = first.interrupts[0]
            rejected = [{"package_id": requested_package_id(r), "action": "reject"} for r in review.value]
            await graph.ainvoke(Command(resume={review.id: rejected}), config, context=context, durability="sync")
            model.requests.clear()

            # Another query: the postings go to the LLM screener again (a verdict is kept per search).
            later = REQUEST.model_copy(update={"query": "Python backend engineer"})
            await graph.ainvoke({"request": later}, config, context=context, durability="sync")
            again = await graph.aget_state(config)
            packages = await Records(graph.store).packages(again.values["thread_id"])
    finally:
        model.stop()
    screened, researched = chat_arrivals(model, "JobScreeningOutput"), chat_arrivals(model, "DossierSummary")
    assert screened and again.values["screening_builds"] is False
    assert all(at > screened[-1] for at in researched), "no research before the last posting is screened"
    shortlisted = {package_id_for(again.values["thread_id"], p) for p in again.values["shortlist"]}
    assert len(researched) == len(shortlisted), "only what the shortlist chose is built"
    rejected_ids = {d["package_id"] for d in rejected}
    assert not rejected_ids & shortlisted, "a rejected posting is not offered again"
    assert {p.status for p in packages if p.id in rejected_ids} == {PackageStatus.rejected}


@pytest.mark.slow
def test_killed_while_packages_build_during_screening_the_resumed_run_builds_only_what_was_unfinished(
    home: Path, database_url: str
) -> None:
    model = _model(0.1)
    env = {
        "JOBLAND_LLM_BASE_URL": model.base_url,
        "JOBLAND_LLM_API_KEY": API_KEY,
        "JOBLAND_RENDER_PDF": "false",
        "JOBLAND_SERVICE_LIMITS": json.dumps({"openai": {"max_concurrency": 2}}),
    }
    try:
        crashed = start_run(
            home,
            database_url,
            EXAMPLE_JOBS,
            max_packages=MAX_PACKAGES,
            JOBLAND_FAILPOINTS="check_package.after_store=2",
            **env,
        )
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr
        thread = run_json(home, database_url, "threads", **env)[0]["thread_id"]
        status = run_json(home, database_url, "status", thread, **env)
        ready = {p["package_id"] for p in status["packages"] if p["status"] == "ready"}
        assert set(status["next_steps"]) == {"screen_job"}, "killed in the screening step, which builds too"
        assert len(ready) >= 1, status["packages"]
        letters_before = len(model.chat_requests("LetterBody"))

        resumed = run_json(home, database_url, "resume", thread, **env)
    finally:
        model.stop()
    waiting = {w["package_id"] for w in resumed["awaiting_review"]}
    assert ready <= waiting, "the packages finished before the kill are kept and offered"
    letters_after = len(model.chat_requests("LetterBody")) - letters_before
    assert letters_after <= len(waiting) - len(ready), "a package finished before the kill is not written again"
    final = run_json(home, database_url, "status", thread, **env)
    assert {p["status"] for p in final["packages"]} == {"ready"}
    assert {p["package_id"] for p in final["packages"]} == waiting, "one package per shortlisted posting"
