"""The vectorized matchers against slow, obviously correct Python references."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from decontam.evalsets import EvalSet
from decontam.index import EvalCorpus
from decontam.minhash import MinHashMatcher
from decontam.ngram_methods import AnyMatcher, CoverageMatcher
from decontam.tokenize import TokenBatch, tokens

WORDS = ["a", "b", "c", "d", "7", "+", "x_1", "é"]
texts = st.lists(st.sampled_from(WORDS), min_size=0, max_size=30).map(" ".join)


def ref_coverage(inst: list[str], row: list[str], n: int) -> float:
    if not inst:
        return 0.0
    if len(inst) < n:  # matched whole
        k = len(inst)
        return 1.0 if any(row[i : i + k] == inst for i in range(len(row) - k + 1)) else 0.0
    row_grams = {tuple(row[i : i + n]) for i in range(len(row) - n + 1)}
    covered = set()
    for i in range(len(inst) - n + 1):
        if tuple(inst[i : i + n]) in row_grams:
            covered.update(range(i, i + n))
    return len(covered) / len(inst)


def ref_shingles(words: list[str], k: int) -> set[tuple[str, ...]]:
    if 0 < len(words) < k:
        return {tuple(words)}
    return {tuple(words[i : i + k]) for i in range(len(words) - k + 1)}


def _corpus(eval_texts: list[str]) -> EvalCorpus:
    ids = [str(i) for i in range(len(eval_texts))]
    return EvalCorpus.from_sets([EvalSet("e", ids, eval_texts)])


@settings(max_examples=60, deadline=None)
@given(
    eval_texts=st.lists(texts, min_size=1, max_size=5),
    rows=st.lists(texts, min_size=1, max_size=5),
    n=st.integers(1, 5),
)
def test_coverage_matches_reference(eval_texts, rows, n):
    matcher = CoverageMatcher(_corpus(eval_texts), n=n, threshold=0.0)
    pairs = matcher.match(TokenBatch.from_texts(rows))
    got = {(int(d), int(i)): s for d, i, s in zip(pairs.doc, pairs.inst, pairs.score, strict=True)}
    want = {}
    for d, row in enumerate(rows):
        for i, inst in enumerate(eval_texts):
            score = ref_coverage(tokens(inst), tokens(row), n)
            if score > 0:
                want[(d, i)] = score
    assert got.keys() == want.keys()
    for key, score in want.items():
        assert abs(got[key] - score) < 1e-9


@settings(max_examples=60, deadline=None)
@given(
    eval_texts=st.lists(texts, min_size=1, max_size=5),
    rows=st.lists(texts, min_size=1, max_size=5),
    n=st.integers(1, 6),
)
def test_any_matches_reference(eval_texts, rows, n):
    matcher = AnyMatcher(_corpus(eval_texts), n=n, max_rows=None)
    doc, key = matcher.row_keys(TokenBatch.from_texts(rows))
    for d, row in enumerate(rows):
        insts, _ = matcher.pairs_for(key[doc == d])
        want = {
            i for i, inst in enumerate(eval_texts) if ref_coverage(tokens(inst), tokens(row), n) > 0
        }
        assert set(insts.tolist()) == want


@settings(max_examples=40, deadline=None)
@given(
    eval_texts=st.lists(texts, min_size=1, max_size=5),
    rows=st.lists(texts, min_size=1, max_size=5),
    threshold=st.sampled_from([0.3, 0.5, 0.7]),
)
def test_minhash_reports_only_true_jaccard(eval_texts, rows, threshold):
    matcher = MinHashMatcher(_corpus(eval_texts), threshold=threshold, shingle_size=3)
    pairs = matcher.match(TokenBatch.from_texts(rows))
    for d, i, s in zip(pairs.doc, pairs.inst, pairs.score, strict=True):
        a, b = ref_shingles(tokens(rows[d]), 3), ref_shingles(tokens(eval_texts[i]), 3)
        true = len(a & b) / len(a | b)
        assert abs(true - s) < 1e-9
        assert true >= threshold
    # identical texts are always found (Jaccard 1 collides in every band)
    found = set(zip(pairs.doc.tolist(), pairs.inst.tolist(), strict=True))
    for d, row in enumerate(rows):
        for i, inst in enumerate(eval_texts):
            if tokens(row) and tokens(row) == tokens(inst):
                assert (d, i) in found


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=40), min_size=1, max_size=6))
def test_token_hashes_agree_with_regex_tokens(batch_texts):
    batch = TokenBatch.from_texts(batch_texts)
    seen: dict[str, int] = {}
    for d, text in enumerate(batch_texts):
        words = tokens(text)
        hashes = batch.hashes[batch.offsets[d] : batch.offsets[d + 1]]
        assert len(hashes) == len(words)
        for word, h in zip(words, hashes.tolist(), strict=True):
            assert seen.setdefault(word, h) == h
    assert len(set(seen.values())) == len(seen)  # no two tokens share a hash here


def test_empty_inputs():
    batch = TokenBatch.from_texts([])
    assert len(batch.hashes) == 0
    assert np.array_equal(batch.offsets, [0])
