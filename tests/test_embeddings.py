"""The MiniLM embedder and its async micro-batching front, on the real int8 model."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from jobland.tools.embeddings import AsyncEmbedder, EmbeddingModelMissing, MiniLMEmbedder, get_embedder


def test_similar_sentences_score_higher_than_unrelated_ones() -> None:
    vectors = get_embedder().embed(
        ["Python backend engineer building APIs", "Senior Django developer", "registered nurse in a hospital ward"]
    )
    backend, django, nurse = vectors
    assert backend @ django > backend @ nurse + 0.2
    assert backend @ django > django @ nurse + 0.2


def test_rows_are_unit_length_float32_of_dimension_384() -> None:
    vectors = get_embedder().embed(["one", "two words", "a much longer sentence about Kubernetes clusters"])
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert get_embedder().embed([]).shape == (0, 384)


def test_same_text_same_vector_alone_or_padded_in_a_batch() -> None:
    embedder = get_embedder()
    text = "Senior Python developer with FastAPI and PostgreSQL"
    alone = embedder.embed([text])[0]
    # In a batch of 20 the text is padded to the longest one; the attention mask must hide the padding.
    batch = [text, "x " * 100, *[f"filler sentence number {i}" for i in range(18)]]
    np.testing.assert_allclose(embedder.embed(batch)[0], alone, atol=1e-5)
    np.testing.assert_array_equal(embedder.embed([text])[0], alone)


def test_text_beyond_max_tokens_is_ignored() -> None:
    embedder = get_embedder(max_tokens=32)
    start = "Backend engineer who builds payment APIs in Python and runs them on Kubernetes in AWS. " * 2
    one, two = embedder.embed([start + "Loves hiking.", start + "Plays the violin in an orchestra on weekends."])
    np.testing.assert_allclose(one, two, atol=1e-6)


def test_missing_tokenizer_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingModelMissing, match="tokenizer"):
        MiniLMEmbedder(tokenizer_path=tmp_path / "tokenizer.json")


async def test_concurrent_calls_run_as_few_batches_with_the_same_vectors() -> None:
    embedder = AsyncEmbedder(get_embedder())
    texts = [f"Engineer number {i} who writes Python services" for i in range(24)]
    vectors = await asyncio.gather(*(embedder.embed_one(t) for t in texts))
    assert embedder.batches_run == 1
    np.testing.assert_allclose(np.stack(vectors), get_embedder().embed(texts), atol=1e-5)


async def test_event_loop_keeps_running_while_a_batch_is_embedded() -> None:
    embedder = AsyncEmbedder(get_embedder())
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    task = asyncio.create_task(ticker())
    loop = asyncio.get_running_loop()
    started = loop.time()
    await embedder.embed_many([f"A long posting text about distributed systems, part {i}. " * 8 for i in range(32)])
    elapsed = loop.time() - started
    task.cancel()
    # The batch takes a few hundred ms; a blocked loop would have ticked once or twice.
    assert elapsed > 0.1
    assert ticks >= elapsed / 0.005 * 0.3


async def test_cached_text_is_not_embedded_again_and_cache_is_bounded() -> None:
    embedder = AsyncEmbedder(get_embedder(), cache_size=2)
    first = await embedder.embed_one("Kubernetes operator")
    assert await embedder.embed_one("Kubernetes operator") is first
    assert embedder.batches_run == 1
    await embedder.embed_many(["Terraform modules", "Helm charts"])
    await embedder.embed_one("Kubernetes operator")  # evicted by the two newer texts
    assert embedder.batches_run == 3
    # The same text asked for twice at once is embedded once.
    a, b = await asyncio.gather(embedder.embed_one("ArgoCD"), embedder.embed_one("ArgoCD"))
    assert a is b and embedder.batches_run == 4


async def test_a_caller_that_gives_up_does_not_disturb_the_others() -> None:
    embedder = AsyncEmbedder(get_embedder())
    impatient = asyncio.create_task(embedder.embed_one("Rust systems programmer"))
    patient = asyncio.create_task(embedder.embed_one("Go backend developer"))
    await asyncio.sleep(0)
    impatient.cancel()
    vector = await patient
    assert impatient.cancelled()
    np.testing.assert_allclose(vector, get_embedder().embed(["Go backend developer"])[0], atol=1e-5)


class _BrokenEmbedder:
    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("model crashed")
        return get_embedder().embed(texts)


async def test_a_failed_batch_reaches_every_waiting_caller_and_the_next_batch_works() -> None:
    embedder = AsyncEmbedder(_BrokenEmbedder())
    results = await asyncio.gather(*(embedder.embed_one(t) for t in ("a", "b", "c")), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) and "model crashed" in str(r) for r in results)
    vector = await embedder.embed_one("a")
    assert vector.shape == (384,)
