"""The sentence vectors the truth check holds reworded lines to, kept per text and warmed in the background."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache, lru_cache

import numpy as np

from jobland.tools.embeddings import get_embedder

ENTAILMENT_TOKENS = 256  # a letter paragraph runs past MiniLM's default 128 tokens


@lru_cache(maxsize=8192)
def sentence_vector(text: str) -> np.ndarray:
    """A text's MiniLM vector, each text embedded on its own so that it never depends on what else is checked;
    kept, since the same highlights are checked in every package."""
    # One onnxruntime thread: these texts are embedded while renderers and the event loop want both cores,
    # where a second thread costs more CPU than it saves (40 texts: 2.2 s of CPU on one, 2.8 s on two).
    (vector,) = get_embedder(ENTAILMENT_TOKENS, intra_op_threads=1).embed([text])
    vector.setflags(write=False)
    return vector


@cache
def _vector_warmer() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="jobland-vectors")


def warm_sentence_vectors(texts: Iterable[str]) -> list[Future]:
    """Embed, in the background, texts the truth check will hold lines to: their vectors are kept, so the check
    at the end of each build finds them instead of computing them all then, after the last model call."""
    warmer = _vector_warmer()
    return [warmer.submit(sentence_vector, text) for text in dict.fromkeys(texts)]
