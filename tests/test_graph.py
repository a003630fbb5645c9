"""The whole graph on PostgreSQL: discover, screen, shortlist, build, review interrupt, deliver, record."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
from langgraph.types import Command

from jobland.domain.models import Decision, PackageStatus, SearchRequest
from jobland.domain.repository import Records
from jobland.graph.builder import open_graph
from jobland.tools.postgres import checkpoint_stats
from tests.conftest import EXAMPLE_CV, EXAMPLE_JOBS
from tests.support.graph_runs import context_for, outbox_messages, run_to_review

pytestmark = pytest.mark.slow  # starts processes, servers or whole pipeline runs


async def test_pipeline_pauses_at_one_review_and_sends_only_the_approved(database_url: str, home: Path) -> None:
    thread_id = uuid.uuid4().hex
    async with open_graph(database_url, home) as graph:
        config = await run_to_review(graph, home, EXAMPLE_JOBS, thread_id)
        snapshot = await graph.aget_state(config)
        assert snapshot.next == ("review",)
        assert len(snapshot.interrupts) == 1, "one interrupt carries every package"
        requests = snapshot.interrupts[0].value
        assert 2 <= len(requests) <= 4
        for request in requests:  # Agent Inbox HumanInterrupt shape
            assert set(request) == {"action_request", "config", "description"}
            assert request["config"]["allow_accept"] and request["config"]["allow_edit"]

        values = snapshot.values
        high = {v.posting_id for v in values["screenings"] if v.probability == "High"}
        assert set(values["shortlist"]) <= high, "only High verdicts advance"
        assert len(values["screenings"]) == len(values["posting_ids"]) >= 30
        assert any("expired" in d.reason for d in values["discarded"])
        assert outbox_messages(home) == [], "nothing is emailed before approval"

        records = Records(graph.store)
        packages = await records.packages(values["thread_id"])
        assert {p.status for p in packages} == {PackageStatus.ready}
        for pkg in packages:
            assert pkg.cv and pkg.cv.pdf_file and (home / pkg.cv.pdf_file).is_file()
            assert pkg.cover_letter and pkg.dossier
            assert "\\begin{document}" in (home / pkg.cv.latex_file).read_text()

        ids = [r["action_request"]["args"]["package_id"] for r in requests]
        approve, rejected = ids[0], ids[1:]

        async def answer(decisions: list[Decision]) -> None:
            pending = (await graph.aget_state(config)).interrupts[0]
            payload = {pending.id: [d.model_dump() for d in decisions]}
            await graph.ainvoke(Command(resume=payload), config, context=context_for(home), durability="sync")

        # A partial answer takes effect at once: the approved package goes out, the undecided ones are asked again.
        await answer([Decision(package_id=approve, action="accept")])
        again = await graph.aget_state(config)
        assert [r["action_request"]["args"]["package_id"] for r in again.interrupts[0].value] == rejected
        assert [m["X-JobLand-Package"] for m in outbox_messages(home)] == [approve]

        await answer([Decision(package_id=p, action="reject") for p in rejected])
        assert (await graph.aget_state(config)).next == ()
        messages = outbox_messages(home)
        assert len(messages) == 1
        message = messages[0]
        assert message["To"].addresses[0].addr_spec == "alex.morgan@example.com"
        assert message["X-JobLand-Package"] == approve
        attachments = {part.get_filename() for part in message.iter_attachments()}
        assert any(name.startswith("cv-") and name.endswith(".pdf") for name in attachments)
        assert any(name.startswith("cover-letter-") for name in attachments)
        assert any(name.startswith("dossier-") for name in attachments)

        statuses = {p.id: p.status for p in await records.packages(thread_id)}
        assert statuses[approve] == PackageStatus.sent
        assert all(statuses[p] == PackageStatus.rejected for p in rejected)
        log = {e.package_id: e.outcome for e in await records.applications() if e.thread_id == thread_id}
        assert log[approve] == "sent" and all(log[p] == "rejected" for p in rejected)


async def test_screen_only_mode_builds_nothing(database_url: str, home: Path) -> None:
    async with open_graph(database_url, home) as graph:
        config = {"configurable": {"thread_id": uuid.uuid4().hex}}
        request = SearchRequest(cv_path=str(EXAMPLE_CV), jobs_dir=str(EXAMPLE_JOBS), mode="screen")
        result = await graph.ainvoke({"request": request}, config, context=context_for(home))
        assert len(result["screenings"]) >= 30
        assert "packages" not in result or result["packages"] == []
        assert not (home / "packages").exists()


async def test_a_second_search_in_the_same_thread_starts_from_empty_results(database_url: str, home: Path) -> None:
    async with open_graph(database_url, home) as graph:
        config = {"configurable": {"thread_id": uuid.uuid4().hex}}
        request = SearchRequest(cv_path=str(EXAMPLE_CV), jobs_dir=str(EXAMPLE_JOBS), mode="screen")
        first = await graph.ainvoke({"request": request}, config, context=context_for(home))
        second = await graph.ainvoke(
            {"request": request, "message": "backend roles in Berlin, at least 90k"}, config, context=context_for(home)
        )
        assert len(second["screenings"]) == len(first["screenings"]) == len(second["posting_ids"])
        assert second["request"].min_salary == 90000 and second["message"] == ""
        assert sum(v.probability == "High" for v in second["screenings"]) < sum(
            v.probability == "High" for v in first["screenings"]
        ), "the new search's salary floor applies"


async def test_checkpoint_size_does_not_grow_with_posting_text(database_url: str, home: Path, tmp_path: Path) -> None:
    """State carries ids and verdicts: ten times longer postings give the same checkpoint size."""
    long_jobs = tmp_path / "long-jobs"
    shutil.copytree(EXAMPLE_JOBS, long_jobs)
    for path in long_jobs.glob("*.json"):
        data = json.loads(path.read_text())
        if isinstance(data, dict) and "description" in data:
            data["description"] = (data["description"] + "\n") * 10
            path.write_text(json.dumps(data))
    sizes = []
    async with open_graph(database_url, home) as graph:
        for jobs in (EXAMPLE_JOBS, long_jobs):
            thread_id = uuid.uuid4().hex
            config = {"configurable": {"thread_id": thread_id}}
            request = SearchRequest(cv_path=str(EXAMPLE_CV), jobs_dir=str(jobs), mode="screen")
            await graph.ainvoke({"request": request}, config, context=context_for(home), durability="sync")
            stats = checkpoint_stats(database_url, thread_id)
            sizes.append(stats["blob_bytes"] + stats["write_bytes"])
    short, long = sizes
    assert long < short * 1.25, f"checkpoint grew with posting text: {short} -> {long} bytes"


@pytest.mark.parametrize("bad_cv", ["empty.md", "corrupt.pdf"])
async def test_bad_cv_fails_clearly_and_keeps_nothing_half_done(
    database_url: str, home: Path, tmp_path: Path, bad_cv: str
) -> None:
    from jobland.tools.cv_import import CVImportError

    path = tmp_path / bad_cv
    path.write_bytes(b"" if bad_cv.endswith(".md") else b"%PDF-1.7 this is not really a pdf \x00\xff")
    async with open_graph(database_url, home) as graph:
        config = {"configurable": {"thread_id": uuid.uuid4().hex}}
        with pytest.raises(CVImportError) as info:
            await graph.ainvoke(
                {"request": SearchRequest(cv_path=str(path), jobs_dir=str(EXAMPLE_JOBS))},
                config,
                context=context_for(home),
            )
        assert bad_cv in str(info.value)
        assert (await graph.aget_state(config)).next == ("load_profile",), "the run can be retried from load_profile"
