"""Every verifier wired into GRPO's rewards: correct, wrong and malformed completions."""

import copy
import json

import pytest
import torch

from manifests import Accounting, BadRowError, RejectsWriter, RowGate
from trainers.data.chat import ensure_chat_template
from trainers.data.prompts import Prompt, hold_out, tokenize_prompts
from trainers.rl.generation import Completion, cut_at_eos
from trainers.rl.rewards import RewardSpec, score_completion
from trainers.rl.rollout import rollout_stats, score_groups, stats_to_metrics

SPEC = RewardSpec(correct_reward=10.0)
IFEVAL_GT = json.dumps(
    {
        "instruction_id_list": ["change_case:english_lowercase", "punctuation:no_comma"],
        "kwargs": [{}, {}],
    }
)
CODE_GT = json.dumps(["assert add(2, 3) == 5", "assert add(-1, 1) == 0"])

CASES = [
    # verifier, ground truth, correct, wrong, malformed
    ("gsm8k", "42", "She pays 6 * 7 = 42 dollars.\n#### 42", "#### 41", "no number at all"),
    ("GSM8K", "#### 1,000", "the total is $1,000.", "the total is 999", ""),
    ("math", r"\frac{1}{2}", r"so the answer is $\boxed{0.5}$", r"$\boxed{3}$", r"\boxed{"),
    ("ifeval", IFEVAL_GT, "all lower case and no commas here", "Has Upper, and a comma", ""),
    (
        "code",
        CODE_GT,
        "```python\ndef add(a, b):\n    return a + b\n```",
        "```python\ndef add(a, b):\n    return a - b\n```",
        "def add(a, b) return",
    ),
]


@pytest.mark.parametrize(("verifier", "truth", "correct", "wrong", "malformed"), CASES)
def test_each_verifier_rewards_correct_wrong_and_malformed(
    verifier, truth, correct, wrong, malformed
):
    good = score_completion(verifier, correct, truth, True, SPEC)
    assert (good.reward, good.correct, good.error) == (10.0, True, False)
    for text in (wrong, malformed):
        bad = score_completion(verifier, text, truth, True, SPEC)
        assert bad.reward == 0.0 and not bad.correct and not bad.error, text


def test_reward_value_is_configurable_and_no_stop_penalty_applies_only_when_truncated():
    spec = RewardSpec(correct_reward=1.0, no_stop_penalty=0.5)
    assert score_completion("gsm8k", "#### 3", "3", True, spec).reward == 1.0
    assert score_completion("gsm8k", "#### 3", "3", False, spec).reward == 0.5
    assert score_completion("gsm8k", "#### 4", "3", False, spec).reward == -0.5


def test_partial_credit_gives_the_share_of_ifeval_constraints_met():
    half = "all lower case, with a comma"
    assert score_completion("ifeval", half, IFEVAL_GT, True, SPEC).reward == 0.0
    partial = score_completion("ifeval", half, IFEVAL_GT, True, RewardSpec(partial_credit=True))
    assert partial.reward == pytest.approx(5.0) and not partial.correct


def test_a_verifier_that_cannot_read_its_ground_truth_scores_zero_and_is_counted():
    scored = score_completion("gsm8k", "#### 5", "no number in this reference", True, SPEC)
    assert scored.error and scored.reward == 0.0
    prompts = [Prompt("a", [1], "gsm8k", "no number"), Prompt("b", [1], "math", "2")]
    groups = [
        [Completion([5], "#### 5", True)] * 2,
        [Completion([5], r"\boxed{2}", True), Completion([5], "x", False)],
    ]
    scores = score_groups(prompts, groups, SPEC)
    stats = rollout_stats(prompts, groups, scores, torch.tensor([False, True]))
    metrics = stats_to_metrics(stats)
    assert metrics["verifier_errors"] == 2
    assert metrics["reward/gsm8k"] == 0.0 and metrics["reward/math"] == 5.0
    assert metrics["correct_share"] == 0.25 and metrics["stopped_share"] == 0.75
    assert metrics["zero_signal_groups"] == 1 and "reward/ifeval" not in metrics


def test_cut_at_eos_keeps_the_stop_token_and_reports_truncation():
    assert cut_at_eos([5, 6, 1, 2, 2], {1}) == ([5, 6, 1], True)
    assert cut_at_eos([5, 6, 7], {1}) == ([5, 6, 7], False)


def _row(i, verifier="gsm8k", content="what is three plus four", last="user"):
    messages = [{"role": "user", "content": content}]
    if last == "assistant":
        messages.append({"role": "assistant", "content": "seven"})
    return {
        "id": f"r{i}",
        "source": "t",
        "skill": "math",
        "messages": messages,
        "ground_truth": "7",
        "verifier": verifier,
        "metadata": "{}",
    }


def _counted(rows, accounting):
    for row in rows:
        accounting.add_in()
        yield row


@pytest.fixture
def chat_tokenizer(tokenizer):
    tok = copy.deepcopy(tokenizer)  # the session fixture is shared: leave it as it is
    ensure_chat_template(tok)
    return tok


def test_prompts_are_tokenized_checked_and_accounted(chat_tokenizer, tmp_path):
    tokenizer = chat_tokenizer
    rows = [
        _row(0),
        _row(1, verifier="Math"),
        _row(2, content="sea " * 200),
        _row(3, last="assistant"),
        _row(4, verifier="astrology"),
    ]
    acc = Accounting()
    with RejectsWriter(tmp_path / "rejects.jsonl") as rejects:
        prompts = tokenize_prompts(
            _counted(rows, acc),
            tokenizer,
            40,
            acc,
            source="mix",
            gate=RowGate("skip", rejects, acc),
        )
    acc.check()
    assert [p.id for p in prompts] == ["r0", "r1"] and prompts[1].verifier == "math"
    assert acc.removed == {"prompt_too_long": 1, "last_turn_not_user": 1} and acc.rejected == 1
    rejected = json.loads((tmp_path / "rejects.jsonl").read_text())
    assert rejected["row"] == 4 and "astrology" in rejected["reason"]
    # The prompt ends with the generation prompt the model continues from.
    assert tokenizer.decode(prompts[0].input_ids).endswith("<|assistant|>\n")
    acc = Accounting()
    with pytest.raises(BadRowError, match=r"mix, row 1: field 'verifier'"):
        tokenize_prompts(
            _counted([_row(0), _row(1, verifier="nope")], acc),
            tokenizer,
            40,
            acc,
            source="mix",
            gate=RowGate(accounting=acc),
        )


def test_hold_out_is_seeded_and_disjoint():
    prompts = [Prompt(str(i), [i], "gsm8k", "1") for i in range(10)]
    train, held = hold_out(prompts, 3, seed=1)
    assert len(held) == 3 and len(train) == 7
    assert {p.id for p in train}.isdisjoint({p.id for p in held})
    assert hold_out(prompts, 3, seed=1)[1] == held
    with pytest.raises(ValueError, match="leaves no training prompts"):
        hold_out(prompts, 10, seed=1)


def test_a_mix_whose_every_prompt_is_rejected_is_a_named_error(chat_tokenizer, tmp_path):
    from types import SimpleNamespace

    from manifests import NoValidRowsError
    from manifests.shards import write_shards
    from trainers.rlvr import load_prompts

    config = SimpleNamespace(on_bad_row="skip", max_length=64, max_new_tokens=16)
    run = SimpleNamespace(config=config, tokenizer=chat_tokenizer)
    mix = tmp_path / "mix"
    write_shards([_row(0), _row(1, verifier="Math")], mix, "rlvr")
    with RejectsWriter(tmp_path / "ok.jsonl") as rejects:
        assert len(load_prompts(run, str(mix), Accounting(), rejects)) == 2
    write_shards([_row(0, verifier="astrologie"), _row(1, verifier="tarot")], mix, "rlvr")
    acc = Accounting()
    every_row = r"no valid rows: all 2 row\(s\) were rejected"
    with (
        RejectsWriter(tmp_path / "rejects.jsonl") as rejects,
        pytest.raises(NoValidRowsError, match=every_row),
    ):
        load_prompts(run, str(mix), acc, rejects)
    assert acc.rejected == 2
    reasons = [
        json.loads(x)["reason"] for x in (tmp_path / "rejects.jsonl").read_text().splitlines()
    ]
    assert len(reasons) == 2 and "astrologie" in reasons[0]
