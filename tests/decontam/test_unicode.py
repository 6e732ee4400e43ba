"""The normalization rule on text as users have it: Unicode noise, CJK, mass copies."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from decontam import find_contamination, load_eval, tokens
from decontam.evalsets import EvalSet

_ascii = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
_other = st.text(alphabet=st.characters(min_codepoint=128, max_codepoint=0x2FFFF), max_size=12)


@given(_ascii, _other, _ascii)
def test_ascii_part_tokenizes_the_same_whatever_else_the_text_holds(left, noise, right):
    mixed = tokens(f"{left} {noise} {right}")
    head, tail = tokens(left), tokens(right)
    assert mixed[: len(head)] == head
    assert mixed[len(mixed) - len(tail) :] == tail


def test_rule_on_unicode_forms():
    plain = tokens("def has_close(a) -> b")
    assert tokens("def has_close(a) -> b é") == [*plain, "é"]
    assert tokens("def\u00a0has_close(a)\u200b -> b 😀") == plain  # NBSP, zero-width, emoji
    assert tokens("ｄｅｆ　ｈａｓ＿ｃｌｏｓｅ（ａ） －＞ ｂ") == plain  # full-width forms
    assert tokens("“Don’t” STRASSE Straße") == ["don", "t", "strasse", "strasse"]
    assert tokens("日本語のテスト") == ["日", "本", "語", "の", "テ", "ス", "ト"]
    assert tokens("e\u0301t\u00e9") == tokens("été")  # decomposed accents compose


def _rows(texts: list[str], source: str = "chat") -> list[dict]:
    return [
        {
            "id": f"{source}-{i}",
            "source": source,
            "messages": [{"role": "user", "content": t}, {"role": "assistant", "content": "ok"}],
        }
        for i, t in enumerate(texts)
    ]


def _disturb(prompt: str, how: str) -> str:
    if how == "emoji":
        return f"{prompt}\nPlease finish this 🙂"
    if how == "nbsp_quotes":
        return prompt.replace(" ", "\u00a0", 3).replace('"', "\u201c", 1) + " \u2018thanks\u2019"
    if how == "zero_width":
        return "\u200b".join(prompt[i : i + 7] for i in range(0, len(prompt), 7))
    # full-width ASCII letters and digits (NFKC maps them back)
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in prompt)


def test_every_humaneval_prompt_found_through_unicode_noise(pool_texts):
    prompts = load_eval("humaneval").texts
    for how in ("emoji", "nbsp_quotes", "zero_width", "full_width"):
        rows = _rows(pool_texts[:50], "pool") + _rows([_disturb(p, how) for p in prompts])
        result = find_contamination(rows, ["humaneval"], method="ngram")
        assert len(result.flagged["chat"]) == len(prompts), how
        assert result.flagged["pool"] == set()


_ZH = (
    "小明有三个苹果，他又买了五个苹果，然后把其中两个送给了他的妹妹。"
    "请问小明现在一共还有多少个苹果？请写出详细的计算过程。"
)
_JA = (
    "太郎さんは毎朝七時に起きて、駅まで二十分歩きます。"
    "電車に三十五分乗ったあと、会社まで十分歩きます。太郎さんの通勤時間は全部で何分ですか。"
)
_ZH_OTHER = (
    "今天天气很好，我们一起去公园散步吧。公园里有很多花，红的、黄的、紫的，"
    "非常漂亮。晚上我们再去吃火锅。"
)


def test_partial_chinese_and_glued_japanese_copies_flagged():
    evals = [EvalSet("cjk", ["zh", "ja", "zh2"], [_ZH, _JA, _ZH_OTHER])]
    rows = _rows(
        [
            _ZH[: int(len(_ZH) * 0.9)],  # a 90% copy
            "以下の問題を解いてください：" + _JA,  # glued to preceding text, no space
            "مرحبا، كيف حالك اليوم؟ " + _ZH_OTHER[:40],  # mixed script, a partial copy
            "我喜欢读书和写字，也喜欢听音乐。周末的时候常常和朋友一起去爬山。",  # unrelated
        ]
    )
    for method in ("ngram", "ngram-any", "minhash"):
        result = find_contamination(rows, evals, method=method, minhash_threshold=0.5)
        flagged = result.flagged["chat"]
        assert {"chat-0", "chat-1"} <= flagged, method
        assert "chat-3" not in flagged, method
    kinds = {
        m["train_id"]: m["kind"] for m in find_contamination(rows, evals, method="ngram").top_pairs
    }
    assert kinds["chat-1"] == "exact" and kinds["chat-0"] == "near-verbatim"


_LICENCE = (
    "# Copyright 2024 The Example Authors. Licensed under the Apache License, Version 2.0 "
    '(the "License"); you may not use this file except in compliance with the License. '
    "You may obtain a copy of the License at http://www.apache.org/licenses/LICENSE-2.0"
)


def test_mass_copies_flagged_every_time_boilerplate_never(tmp_path):
    prompts = load_eval("humaneval").texts
    evals = [
        EvalSet(
            "code",
            ["licensed", *[f"h{i}" for i in range(3)]],
            [f"{_LICENCE}\n{prompts[10]}", *prompts[:3]],
        )
    ]
    copies = [f"Question {i}:\n{prompts[0]}" for i in range(1100)]
    headers = [
        f"{_LICENCE}\nimport os\n\ndef helper_{i}(x):\n    return x * {i}\n" for i in range(1500)
    ]
    rows = (
        _rows(copies, "copies")
        + _rows(headers, "headers")
        + _rows([f"And once: {prompts[1]}"], "single")
    )
    result = find_contamination(rows, evals, method="ngram-any", out_dir=tmp_path / "out")
    assert len(result.flagged["copies"]) == 1100
    assert result.flagged["single"] == {"single-0"}
    assert result.flagged["headers"] == set()
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    top = report["instances"][0]
    assert (top["eval_id"], top["rows"], top["mass_copied"]) == ("h0", 1100, True)
    assert top["by_kind"]["exact"] == 1100
    assert report["evals"]["code"]["mass_copied"] == 1
    lines = (tmp_path / "out" / "instances.tsv").read_text().splitlines()
    assert lines[1].split("\t")[:4] == ["code", "h0", "1100", "1100"]


def test_html_separates_kinds_and_lists_instances(tmp_path):
    prompts = load_eval("humaneval").texts
    words = prompts[1].split(" ")
    words[len(words) // 2] = "zzqx"  # one word changed: near-verbatim, not exact
    # HumanEval/3 pasted 30 times must not crowd the other instances out of the examples
    texts = [f"Q: {prompts[0]}", " ".join(words), prompts[2][: len(prompts[2]) * 6 // 10]]
    rows = _rows(texts + [prompts[3]] * 30)
    find_contamination(rows, ["humaneval"], method="ngram", out_dir=tmp_path / "o")
    page = (tmp_path / "o" / "report.html").read_text()
    assert "Contaminated instances" in page and "HumanEval/0" in page
    assert '<div class="n">33</div><div class="d">of 33 training rows flagged' in page
    for tag in ("31 exact", "1 near-verbatim", "1 partial"):
        assert f">{tag}</span>" in page
    sections = [
        page.index(f'<h3><span class="tag k-{k}">') for k in ("exact", "near-verbatim", "partial")
    ]
    assert sections == sorted(sections)
    exact = page[sections[0] : sections[1]]
    assert "31 rows; 2 examples, one per instance" in exact
    assert exact.count("HumanEval/3 &larr;") == 1 and "HumanEval/0 &larr;" in exact
    assert "tag k-paraphrase" not in page  # only shown when the semantic method ran
