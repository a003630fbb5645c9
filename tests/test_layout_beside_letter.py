"""A package's CV words are asked for while its company is researched (neither reads the other), and the CV is
laid out (fitted to its pages, rendered, its LaTeX written) while its letter's model call is out, since the
letter needs only the highlights the CV's plan shows; check_package then holds the letter to what the laid-out
CV keeps. Steps running at once write the same package record, each its own field.

The model is the local OpenAI-compatible server on loopback; PDFs are real (the renderer processes); the
concurrent writes go to this machine's PostgreSQL.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import wait
from pathlib import Path

from langgraph.store.memory import InMemoryStore

from jobland.agents.cover_letter_writer import letter_held_to_cv, rendered_letter
from jobland.agents.cv_document import render_cv
from jobland.agents.cv_writer import plan_cv, selected_highlights
from jobland.agents.pdf_read_backs import READ_BACKS, parsed_texts, read_back_early
from jobland.agents.sentence_vectors import sentence_vector, warm_sentence_vectors
from jobland.domain.models import CoverLetter, EvidenceLine, PackageStatus
from jobland.domain.repository import Records
from jobland.graph.builder import NODE_TIMEOUTS, build_package_graph
from jobland.graph.context import Context
from jobland.tools.pdf import pdfium_text, render_pdf
from jobland.tools.postgres import postgres_persistence
from tests.local_world.openai import API_KEY, ChatRequest, FakeOpenAI
from tests.support.llm_answers import cv_answer, honest_letter, honest_research
from tests.support.packages import build_package_alone, make_package, make_posting, make_profile
from tests.support.packages import store_with_pending_package as pending_store


def test_the_cv_is_written_beside_the_research_laid_out_beside_the_letter_and_the_check_waits_for_all() -> None:
    graph = build_package_graph(NODE_TIMEOUTS).compile().get_graph()
    edges = {(e.source, e.target) for e in graph.edges}
    assert {("__start__", "research_company"), ("__start__", "write_cv"), ("write_cv", "lay_out_cv")} <= edges
    assert {("research_company", "write_cover_letter"), ("write_cv", "write_cover_letter")} <= edges
    assert {("lay_out_cv", "check_package"), ("write_cover_letter", "check_package")} <= edges
    assert ("research_company", "write_cv") not in edges and ("write_cv", "research_company") not in edges
    assert ("lay_out_cv", "write_cover_letter") not in edges and ("write_cover_letter", "lay_out_cv") not in edges


class AnsweredTogether:
    """The honest research and CV writers, each answering only once the other's request has come: had the
    CV's words waited for the research (or the other way round), neither would ever be answered."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self._both = threading.Barrier(2, timeout=60)

    def responder(self, schema: str, answer):
        def respond(request: ChatRequest) -> dict:
            self.arrived[schema] = time.time()
            self._both.wait()
            return answer(request)

        return respond


async def test_the_research_and_the_cvs_words_are_asked_at_once_and_the_status_only_moves_forward(
    tmp_path: Path,
) -> None:
    together = AnsweredTogether()
    model = FakeOpenAI().start()
    model.responders.update(
        DossierSummary=together.responder("DossierSummary", honest_research),
        CVRewrite=together.responder("CVRewrite", cv_answer),
        LetterBody=honest_letter,
    )
    try:
        store = await pending_store(make_profile(), make_posting())
        context = Context(home=str(tmp_path), cv_max_lines=6, llm_base_url=model.base_url, llm_api_key=API_KEY)
        await build_package_alone(store, context, "run-1")
    finally:
        model.stop()

    package = await Records(store).package("thread_1", "pkg_7f3a")
    assert package.status == PackageStatus.ready and package.dossier is not None and package.cv.rewrites
    assert set(together.arrived) == {"DossierSummary", "CVRewrite"}
    # Whichever of the two steps moved it first, the package went through each building status once, in order.
    assert [change.status for change in package.history] == [
        PackageStatus.pending,
        PackageStatus.researching,
        PackageStatus.generating,
        PackageStatus.checking,
        PackageStatus.ready,
    ]


async def test_a_building_status_is_reached_through_those_before_it_and_never_undone_or_forced() -> None:
    records = Records(InMemoryStore())
    package = make_package(make_profile(), make_posting()).model_copy(update={"status": PackageStatus.pending})
    await records.put_package("t", package)
    moved = await records.update_package("t", package.id, building=PackageStatus.generating)
    assert [c.status for c in moved.history[-2:]] == [PackageStatus.researching, PackageStatus.generating]
    again = await records.update_package("t", package.id, building=PackageStatus.researching)  # research came later
    assert again.status == PackageStatus.generating and again.history == moved.history
    failed = moved.with_status(PackageStatus.failed, "the research timed out")
    await records.put_package("t", failed)
    kept = await records.update_package("t", package.id, building=PackageStatus.generating, cv=None)
    assert kept.status == PackageStatus.failed and kept.error == "the research timed out"


class LetterAfterLayout:
    """The honest letter writer, answering only once the CV's PDF is on disk: a letter that waited for the
    layout would never be answered. It keeps when the request came and when the PDF appeared."""

    def __init__(self, cv_pdf: Path) -> None:
        self.cv_pdf = cv_pdf
        self.arrived: list[float] = []
        self.pdf_seen: list[float] = []

    def __call__(self, request: ChatRequest) -> dict:
        self.arrived.append(time.time())
        deadline = time.monotonic() + 60
        while not self.cv_pdf.exists():
            assert time.monotonic() < deadline, "the CV was never laid out while the letter was out"
            time.sleep(0.01)
        self.pdf_seen.append(time.time())
        return honest_letter(request)


async def test_the_letter_is_written_while_the_cv_is_laid_out(tmp_path: Path) -> None:
    model = FakeOpenAI().start()
    letter_writer = LetterAfterLayout(tmp_path / "packages" / "pkg_7f3a" / "cv.pdf")
    model.responders.update(DossierSummary=honest_research, CVRewrite=cv_answer, LetterBody=letter_writer)
    try:
        store = await pending_store(profile := make_profile(), make_posting())
        context = Context(home=str(tmp_path), cv_max_lines=6, llm_base_url=model.base_url, llm_api_key=API_KEY)
        await build_package_alone(store, context, "run-1")
    finally:
        model.stop()

    package = await Records(store).package("thread_1", "pkg_7f3a")
    assert package.status == PackageStatus.ready and package.flagged_claims == [], package.checks
    assert {c.name: c.passed for c in package.checks}["pdf"], package.checks
    (arrived,), (seen,) = letter_writer.arrived, letter_writer.pdf_seen
    assert arrived < letter_writer.cv_pdf.stat().st_mtime <= seen, "the PDF was written while the letter was out"
    # The letter cites only what the laid-out CV shows, and the CV planned with the writer's rewrites.
    in_cv = {i for line in package.cv.lines for i in line.highlight_ids}
    body = [line for line in package.cover_letter.lines if line.section == "body"]
    assert body and all(set(line.highlight_ids) <= in_cv for line in body)
    assert package.cv.rewrites and any(line.reworded for line in package.cv.lines)
    assert {h.id for _, h in profile.all_highlights()} >= set(package.cv.rewrites)


def _body(text: str, *highlight_ids: str) -> EvidenceLine:
    return EvidenceLine(section="body", text=text, highlight_ids=list(highlight_ids), reworded=True)


HEAD, TAIL = ("sender", "contact", "subject", "greeting"), ("closing", "signoff", "signature")


def _letter(lines: list[EvidenceLine], *body: EvidenceLine) -> CoverLetter:
    """A model's letter: the embedded letter's head and tail around these paragraphs."""
    return rendered_letter(
        [*(line for line in lines if line.section in HEAD), *body, *(line for line in lines if line.section in TAIL)],
        "en",
    )


async def test_a_paragraph_citing_a_line_the_fit_left_out_goes_and_the_letter_is_rendered_again(
    tmp_path: Path,
) -> None:
    profile, posting = make_profile(), make_posting()
    planned = plan_cv(profile, posting, max_lines=8)
    fitted = render_cv(plan_cv(profile, posting, max_lines=8, drop=1))  # what the fit gives when one line goes
    kept_ids = {i for line in fitted.lines for i in line.highlight_ids}
    planned_ids = [h.id for h in selected_highlights(planned)]
    (dropped,) = [i for i in planned_ids if i not in kept_ids]
    kept = next(i for i in planned_ids if i in kept_ids)
    package = make_package(profile, posting, fitted)
    embedded = package.cover_letter.lines
    letter = _letter(embedded, _body("Kept paragraph.", kept), _body("Dropped paragraph.", dropped))
    records = Records(InMemoryStore())
    context = Context(home=str(tmp_path))

    held = await letter_held_to_cv(context, records, package.model_copy(update={"cover_letter": letter}))
    assert [line.text for line in held.lines if line.section == "body"] == ["Kept paragraph."]
    assert "Dropped paragraph" not in held.markdown and "Dropped paragraph" not in held.html
    assert held.pdf_file == "packages/pkg_test/cover_letter.pdf"
    printed = pdfium_text((tmp_path / held.pdf_file).read_bytes())
    assert "Kept paragraph." in printed and "Dropped" not in printed

    unchanged = _letter(embedded, _body("Kept.", kept))
    same = package.model_copy(update={"cover_letter": unchanged})
    assert await letter_held_to_cv(context, records, same) is unchanged, "nothing the fit left out: kept as it is"


async def test_with_no_paragraph_left_the_embedded_letter_is_written(tmp_path: Path) -> None:
    profile, posting = make_profile(), make_posting()
    fitted = render_cv(plan_cv(profile, posting, max_lines=8, drop=1))
    kept_ids = {i for line in fitted.lines for i in line.highlight_ids}
    (dropped,) = [h.id for _, h in profile.all_highlights() if h.id not in kept_ids][:1]
    package = make_package(profile, posting, fitted)
    embedded = package.cover_letter
    only_dropped = _letter(embedded.lines, _body("Only a dropped line.", dropped))
    records = Records(await pending_store(profile, posting))

    held = await letter_held_to_cv(
        Context(home=str(tmp_path), render_pdf=False),
        records,
        package.model_copy(update={"cover_letter": only_dropped}),
    )
    assert held.lines == embedded.lines, "the embedded letter, as write_cover_letter falls back to"
    assert held.pdf_file is None


async def test_the_layout_and_the_letter_writing_the_package_at_once_both_keep_their_field(
    database_url: str,
) -> None:
    profile, posting = make_profile(), make_posting()
    package = make_package(profile, posting)
    async with postgres_persistence(database_url) as (_, store):
        records = Records(store)
        threads = [f"beside-{time.time_ns()}-{n}" for n in range(10)]
        for thread in threads:
            await records.put_package(thread, package.model_copy(update={"cv": None, "cover_letter": None}))
        await asyncio.gather(
            *(records.update_package(t, package.id, cv=package.cv) for t in threads),
            *(records.update_package(t, package.id, cover_letter=package.cover_letter) for t in threads),
        )
        stored = [await records.package(t, package.id) for t in threads]
    assert all(p.cv == package.cv and p.cover_letter == package.cover_letter for p in stored)


def test_what_the_check_will_embed_and_read_back_is_computed_in_the_background_and_kept() -> None:
    texts = [f"Ran {n} services on Kubernetes, warmed before the check ({time.time_ns()})" for n in range(3)]
    lines = [
        EvidenceLine(section="subject", text="Application"),
        _body(f"Read back before the check, {time.time_ns()}."),
    ]
    pdf = render_pdf(rendered_letter(lines, "en").html)
    misses, parsed = sentence_vector.cache_info().misses, READ_BACKS.parsed
    pending = [*warm_sentence_vectors([*texts, texts[0]]), read_back_early(pdf)]
    assert len(pending) == len(texts) + 1, "each text once"
    # The check asking while the early read-back may still run waits for it rather than parsing again.
    assert "Read back before the check" in parsed_texts(pdf)["pypdfium2"]
    wait(pending, timeout=120)
    assert sentence_vector.cache_info().misses == misses + len(texts)
    # The check's own calls find them kept: no more misses, no second parse.
    assert all(sentence_vector(t).shape == sentence_vector(texts[0]).shape for t in texts)
    assert parsed_texts(pdf) == pending[-1].result()
    assert (sentence_vector.cache_info().misses, READ_BACKS.parsed) == (misses + len(texts), parsed + 1)
