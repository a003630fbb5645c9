"""The screening stage in bulk: prepare_screening embeds every open posting in one model call, reads
and writes the Store in batches, and hands the state the same verdicts the per-posting path gives
(no screen_job task runs without an LLM)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.store.memory import InMemoryStore

from jobland.agents.prepare_screening import prepare_screening
from jobland.agents.screener import prepare_screenings, screen_batch, screen_job, screening_verdict
from jobland.agents.shortlist import route_to_screening
from jobland.domain.models import Organization, SearchRequest
from jobland.domain.repository import Records
from jobland.graph.context import Context
from jobland.graph.state import ScreenJobInput
from jobland.tools.embeddings import EMBEDDINGS_NS, AsyncEmbedder, get_async_embedder, get_embedder
from tests.support.screening import FanOutState, backend_profile, nursing_posting, posting, send_postings

# A token budget of its own, so this module's vectors are not in the process-wide cache already.
CONTEXT = Context(embedding_max_tokens=120)


def postings(count: int) -> list:
    """`count` backend postings that differ in company and city, and every third one a nursing job."""
    made = []
    for i in range(count):
        if i % 3 == 2:
            base = nursing_posting()
        else:
            base = posting(description=posting().description + f" Team {i} works on route planning.")
        made.append(
            base.model_copy(
                update={
                    "id": f"post_{i}",
                    "hiringOrganization": Organization(name=f"Company {i}"),
                    "content_hash": f"hash-{i}",
                    "canonical_key": f"key-{i}",
                }
            )
        )
    return made


def fan_out_graph(*, bulk: bool, store: InMemoryStore):
    builder = StateGraph(FanOutState, context_schema=Context)
    builder.add_node("screen_job", screen_job, input_schema=ScreenJobInput)
    if bulk:
        builder.add_node("prepare_screening", prepare_screening)
        builder.add_edge(START, "prepare_screening")
        builder.add_conditional_edges(
            "prepare_screening", route_to_screening, {"screen_job": "screen_job", "shortlist": END}
        )
    else:
        builder.add_conditional_edges(START, send_postings, ["screen_job"])
    builder.add_edge("screen_job", END)
    return builder.compile(checkpointer=InMemorySaver(), store=store)


async def screened(bulk: bool, thread: str, store: InMemoryStore | None = None) -> dict:
    """Verdicts by posting id; each posting has exactly one."""
    store = store or InMemoryStore()
    records = Records(store)
    profile, jobs = backend_profile(), postings(24)
    await records.put_profile(profile)
    await records.put_postings(jobs)
    state = FanOutState(profile_id=profile.id, posting_ids=[p.id for p in jobs], request=SearchRequest())
    result = await fan_out_graph(bulk=bulk, store=store).ainvoke(
        state, {"configurable": {"thread_id": thread}}, context=CONTEXT
    )
    verdicts = {v.posting_id: v for v in result["screenings"]}
    assert len(verdicts) == len(result["screenings"]) == len(jobs)
    return verdicts


async def test_one_model_call_embeds_every_open_posting_and_the_verdicts_match_the_per_posting_path() -> None:
    embedder = get_async_embedder(CONTEXT.embedding_max_tokens)
    per_posting = await screened(bulk=False, thread="one-by-one")
    assert sum(v.probability == "High" for v in per_posting.values()) == 16

    embedder._cache.clear()  # the bulk run must embed for itself
    batches, texts = embedder.batches_run, embedder.texts_embedded
    store = InMemoryStore()
    bulk = await screened(bulk=True, thread="bulk", store=store)
    assert bulk == per_posting
    # 16 open postings and the profile in one call; the 8 nursing jobs are ruled out without embedding.
    assert embedder.batches_run == batches + 1
    assert embedder.texts_embedded == texts + 17

    # The vectors are kept in the Store by content hash, for another process or run.
    assert len(await store.asearch((EMBEDDINGS_NS, embedder.model_key), limit=100)) == 17
    # The stored screenings are reused by a second run: no model call at all.
    batches = embedder.batches_run
    assert await screened(bulk=True, thread="again", store=store) == per_posting
    assert embedder.batches_run == batches


async def test_embed_bulk_reads_the_store_and_calls_the_model_once_for_what_is_missing() -> None:
    store = InMemoryStore()
    model = get_embedder(CONTEXT.embedding_max_tokens)
    first = AsyncEmbedder(model, model_key="bulk-test")
    texts = [f"Data engineer number {i} who builds pipelines" for i in range(40)]
    vectors = await first.embed_bulk(texts[:30], store)
    assert first.batches_run == 1 and first.texts_embedded == 30
    np.testing.assert_allclose(vectors, model.embed(texts[:30]), atol=1e-5)

    second = AsyncEmbedder(model, model_key="bulk-test")
    again = await second.embed_bulk(texts, store)
    assert second.batches_run == 1 and second.texts_embedded == 10, "only the ten new texts reach the model"
    np.testing.assert_allclose(again[:30], vectors, atol=1e-6)
    assert (await second.embed_bulk([])).shape == (0, 384)


async def test_chunks_overlap_the_rules_and_embed_each_text_once() -> None:
    store = InMemoryStore()
    records = Records(store)
    profile, jobs = backend_profile(), postings(24)
    # Two backend postings in different chunks whose digests are the same text (the company is not in it).
    jobs[7] = jobs[7].model_copy(update={"description": jobs[4].description})
    await records.put_profile(profile)
    await records.put_postings(jobs)
    embedder = get_async_embedder(CONTEXT.embedding_max_tokens)
    embedder._cache.clear()
    batches, texts = embedder.batches_run, embedder.texts_embedded
    ready = await prepare_screenings(records, profile, [p.id for p in jobs], SearchRequest(), CONTEXT, bulk=5)
    assert list(ready) == [p.id for p in jobs]
    assert embedder.batches_run == batches + 5, "one model call per five postings"
    assert embedder.texts_embedded == texts + 16, "the profile and 15 distinct open postings, each once"
    stored = await records.screenings(profile.id, [p.id for p in jobs])
    expected = await screen_batch(profile, jobs, CONTEXT, datetime.now(UTC))
    assert [stored[p.id].match_score for p in jobs] == [v.match_score for v in expected]


async def test_with_an_llm_only_low_verdicts_are_final_and_the_rest_get_a_screen_job_task() -> None:
    store = InMemoryStore()
    records = Records(store)
    profile, jobs = backend_profile(), postings(6)
    await records.put_profile(profile)
    await records.put_postings(jobs)
    with_llm = Context(embedding_max_tokens=120, llm_base_url="http://127.0.0.1:9/v1")  # never called here
    final = await prepare_screenings(records, profile, [p.id for p in jobs], SearchRequest(), with_llm)
    embedded = await screen_batch(profile, jobs, CONTEXT, datetime.now(UTC))
    assert list(final) == [p.id for p, v in zip(jobs, embedded, strict=True) if v.probability == "Low"]
    assert {v.probability for v in final.values()} == {"Low"}

    state = {
        "profile_id": profile.id,
        "request": SearchRequest(),
        "posting_ids": [p.id for p in jobs],
        "screenings": [screening_verdict(i, v) for i, v in final.items()],
    }
    sends = route_to_screening(state)
    assert [s.arg["posting_id"] for s in sends] == [p.id for p in jobs if p.id not in final]
    everything = {**state, "screenings": [screening_verdict(p.id, v) for p, v in zip(jobs, embedded, strict=True)]}
    assert route_to_screening(everything) == "shortlist"
