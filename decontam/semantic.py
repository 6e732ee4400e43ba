"""The `semantic` method: paraphrase candidates by embedding similarity (the LMSYS
LLM-decontaminator design). Eval and training texts are embedded with any local Hugging
Face encoder (mean-pooled over the attention mask, L2-normalized, batched, CPU or GPU);
each training row keeps its top-k nearest eval instances at cosine similarity >= a floor.

Matching only: whether a candidate is a rephrasing is for a judge, composed where the
synthesis backends live (`skillmix.semantic_judge`); this module knows nothing of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from decontam.index import EvalCorpus


@dataclass(frozen=True)
class SemanticConfig:
    top_k: int = 1
    floor: float = 0.7  # cosine similarity, at least
    batch_size: int = 64
    max_length: int = 256  # encoder tokens per text
    device: str = "cpu"


@dataclass
class Candidate:
    doc: int  # index of the training text in the input
    inst: int  # instance in the corpus
    similarity: float


class Encoder:
    """Mean-pooled sentence embeddings from a transformers encoder (path or objects)."""

    def __init__(self, model: Any, tokenizer: Any = None, config: SemanticConfig | None = None):
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.config = config or SemanticConfig()
        if isinstance(model, str):
            path = model
            try:
                tokenizer = tokenizer or AutoTokenizer.from_pretrained(path)
                model = AutoModel.from_pretrained(path)
            except Exception as exc:  # transformers raises OSError, ValueError, KeyError...
                raise ValueError(
                    f"encoder {path!r}: could not load a Hugging Face model and "
                    f"tokenizer from it ({type(exc).__name__}: {exc})"
                ) from None
        if tokenizer is None:
            raise ValueError("a tokenizer is needed when the encoder is given as an object")
        self.model = model.to(self.config.device).eval()
        self.tokenizer = tokenizer
        self._torch = torch

    def encode(self, texts: list[str]) -> np.ndarray:
        torch = self._torch
        out = []
        for start in range(0, len(texts), self.config.batch_size):
            chunk = texts[start : start + self.config.batch_size]
            enc = self.tokenizer(
                chunk,
                padding=True,
                truncation=True,
                max_length=self.config.max_length,
                return_tensors="pt",
            )
            enc = {k: v.to(self.config.device) for k, v in enc.items()}
            with torch.inference_mode():
                hidden = self.model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
            out.append(pooled.float().cpu().numpy())
        dim = out[0].shape[1] if out else 0
        return np.concatenate(out) if out else np.zeros((0, dim), np.float32)


class SemanticMatcher:
    method = "semantic"

    def __init__(self, corpus: EvalCorpus, encoder: Encoder) -> None:
        self.corpus = corpus
        self.encoder = encoder
        self.eval_vectors = encoder.encode(corpus.texts)

    def candidates(self, texts: Iterable[str], offset: int = 0) -> list[Candidate]:
        """Top-k instances per text at similarity >= floor; `doc` counts from `offset`."""
        config = self.encoder.config
        texts = list(texts)
        if not texts or not len(self.eval_vectors):
            return []
        sims = self.encoder.encode(texts) @ self.eval_vectors.T
        k = min(config.top_k, sims.shape[1])
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        out = []
        for doc, insts in enumerate(top):
            for inst in sorted(insts, key=lambda i: -sims[doc, i]):
                if sims[doc, inst] >= config.floor:
                    out.append(Candidate(offset + doc, int(inst), float(sims[doc, inst])))
        return out


# (judgment, error): True a rephrasing, False not, None unjudged with the reason
Verdict = tuple[bool | None, str | None]
# A judge takes (training text, eval text) pairs and returns one verdict per pair; it is
# composed outside `decontam/` (skillmix.semantic_judge asks an LLM).
Judge = Callable[[list[tuple[str, str]]], list[Verdict]]


@dataclass
class SemanticStep:
    """The `semantic` method inside an audit: candidates from `matcher`; with a `judge`
    only pairs it calls rephrasings are matches, without one every candidate is (the
    similarity floor decides). `usage` is read from the judge at the end, if it has one."""

    matcher: SemanticMatcher
    judge: Judge | None = None
    encoder_name: str = ""
    judge_name: str = ""
    candidates: list[dict] = field(default_factory=list)

    def judge_pairs(self, pairs: list[tuple[str, str]]) -> list[Verdict]:
        if self.judge is None:
            return [(None, None)] * len(pairs)
        verdicts = list(self.judge(pairs))
        if len(verdicts) != len(pairs):
            raise RuntimeError(
                f"the semantic judge returned {len(verdicts)} verdicts for {len(pairs)} pairs"
            )
        return verdicts

    def summary(self) -> dict:
        judged = [c for c in self.candidates if c["judgment"] is not None]
        usage = getattr(self.judge, "usage", None)
        return {
            "encoder": self.encoder_name,
            "judge": self.judge_name or None,
            "top_k": self.matcher.encoder.config.top_k,
            "floor": self.matcher.encoder.config.floor,
            "candidates": len(self.candidates),
            "judged": len(judged),
            "rephrased": sum(c["judgment"] is True for c in self.candidates),
            "unjudged": len(self.candidates) - len(judged) if self.judge is not None else 0,
            "usage": dict(usage()) if callable(usage) else {},
            "pairs": self.candidates,
        }
