"""Cross-encoder reranker: a sentence-transformers `CrossEncoder` reads each (query, passage) pair."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from reranklab.documents import Passage
from reranklab.rerankers.base import Reranker

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

logger = logging.getLogger(__name__)


def quantize_int8(model: CrossEncoder) -> CrossEncoder:
    """Return a copy of `model` whose `torch.nn.Linear` layers use int8 dynamic quantization.

    Weights are stored as int8 and activations are quantized per batch at run time, on
    the CPU. The copy is quantized as a whole because sentence-transformers 6 builds a
    `CrossEncoder` from modules, so a quantized inner model cannot be assigned back.
    """
    import copy

    import torch

    quantized = copy.deepcopy(model)
    # NOTE: torch 2.13 warns that torch.ao.quantization is deprecated in favour of
    # torchao; quantize_dynamic still works in that version.
    torch.ao.quantization.quantize_dynamic(quantized, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    return quantized


class CrossEncoderReranker(Reranker):
    """Scores each candidate with a cross-encoder; the score is the model's output for the pair.

    Args:
        model: a loaded `CrossEncoder` with one output label.
        batch_size: pairs per forward pass. Defaults to 32.
        int8: score with a copy of the model whose Linear layers use int8 dynamic
            quantization (`quantize_int8`). `model` itself is not changed. Defaults to
            False. On SciFact (2-core AMD EPYC, 100 candidates) int8 took 0.54 times the
            fp32 time; benchmarks/rerankers.py measures it with the nDCG@10 change.
    """

    name = "cross-encoder"

    def __init__(self, model: CrossEncoder, batch_size: int = 32, int8: bool = False) -> None:
        self.model = quantize_int8(model) if int8 else model
        self.batch_size = batch_size
        self.int8 = int8
        # The first forward pass after loading is several times slower than the next
        # ones, so one is spent here rather than in the first query's latency.
        self.model.predict([("warm-up", "warm-up")], show_progress_bar=False)

    @property
    def max_seq_length(self) -> int:
        return int(self.model.max_seq_length)

    def score(self, query: str, candidates: Sequence[Passage]) -> np.ndarray:
        pairs = [(query, passage.full_text) for passage in candidates]
        scores = self.model.predict(
            pairs, batch_size=self.batch_size, show_progress_bar=False, convert_to_numpy=True
        )
        scores = np.asarray(scores, dtype=np.float64)
        if scores.ndim != 1:
            raise ValueError(
                f"cross-encoder returned scores of shape {scores.shape}; a reranking model "
                "needs one output label (num_labels=1)"
            )
        return scores

    def length_warnings(self, query: str, candidates: Sequence[Passage]) -> list[str]:
        if not candidates:
            return []
        tokenizer = self.model.tokenizer
        encoded = tokenizer(
            [query] * len(candidates),
            [passage.full_text for passage in candidates],
            truncation=False,
            verbose=False,
        )["input_ids"]
        over = sum(1 for ids in encoded if len(ids) > self.max_seq_length)
        if not over:
            return []
        query_tokens = len(tokenizer(query, truncation=False, verbose=False)["input_ids"])
        if query_tokens > self.max_seq_length // 2:
            # Truncation then cuts the query and the passage, so a shorter passage does not help.
            return [
                f"The query is {query_tokens} tokens long, so little of each passage fits in "
                f"this model's {self.max_seq_length}-token limit for a query-passage pair. "
                "Shorten the query to have the passages scored."
            ]
        return [
            f"{over} of {len(candidates)} query-passage pairs are longer than this model's "
            f"{self.max_seq_length}-token limit, so the model reads only their beginning. "
            "Lower the passage size in the sidebar to score whole passages."
        ]
