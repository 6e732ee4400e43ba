import json
import random

import pytest
from click.testing import CliRunner
from if_verifiable.ifeval.instructions_registry import INSTRUCTION_CONFLICTS

from curate.ifaug import (
    INSTRUCTION_IDS,
    AugmentConfig,
    augment_file,
    augment_row,
    sample_constraints,
)
from curate.verifiers import instruction_results, verify
from manifests import validate_row
from skillmix.cli import main


def sft_row(i: int, prompt: str = "Tell me about the history of tea.") -> dict:
    return {
        "id": f"r{i}",
        "source": "alpaca",
        "skill": "chat",
        "messages": [
            {"role": "user", "content": f"{prompt} ({i})"},
            {"role": "assistant", "content": "Tea is old."},
        ],
        "metadata": json.dumps({"file": "alpaca.jsonl", "row": i}),
    }


def conflicting(a: str, b: str) -> bool:
    return b in INSTRUCTION_CONFLICTS.get(a, set()) or a in INSTRUCTION_CONFLICTS.get(b, set())


def test_at_least_25_ifeval_types_each_with_a_checker():
    assert len(INSTRUCTION_IDS) >= 25
    for instruction_id in INSTRUCTION_IDS:
        c = sample_constraints(random.Random(0), "A prompt.", 1, (instruction_id,))[0]
        truth = json.dumps({"instruction_id_list": [instruction_id], "kwargs": [c.kwargs]})
        assert c.description  # the wording IFEval's checker builds from these kwargs
        assert instruction_results("Some answer.", truth) in ([True], [False])


def test_sampled_constraints_never_conflict():
    rng = random.Random(1)
    seen_ids = set()
    for _ in range(400):
        chosen = [c.instruction_id for c in sample_constraints(rng, "Prompt.", 3)]
        seen_ids.update(chosen)
        assert len(set(chosen)) == len(chosen)
        for i, a in enumerate(chosen):
            for b in chosen[i + 1 :]:
                assert not conflicting(a, b), (a, b)
    assert len(seen_ids) == len(INSTRUCTION_IDS)  # every type gets drawn


def test_rows_carry_ifeval_ground_truth_and_lineage():
    config = AugmentConfig(seed=3)
    row = augment_row(sft_row(1), config)
    validate_row(row, "rlvr")
    truth = json.loads(row["ground_truth"])
    assert set(truth) == {"instruction_id_list", "kwargs"}
    assert 1 <= len(truth["instruction_id_list"]) <= 3
    assert len(truth["kwargs"]) == len(truth["instruction_id_list"])
    assert row["verifier"] == "ifeval" and row["skill"] == "precise_if"
    assert [m["role"] for m in row["messages"]] == ["user"]  # the answer is not kept
    assert row["messages"][0]["content"].startswith("Tell me about the history of tea. (1)")
    meta = json.loads(row["metadata"])
    assert meta["augmented_from"] == "r1" and meta["file"] == "alpaca.jsonl"
    assert meta["constraint_ids"] == truth["instruction_id_list"]


def test_augmentation_is_seeded_per_row_not_by_order():
    config = AugmentConfig(seed=9)
    rows = [sft_row(i) for i in range(10)]
    forward = [augment_row(r, config) for r in rows]
    backward = [augment_row(r, config) for r in reversed(rows)][::-1]
    assert forward == backward
    other = [augment_row(r, AugmentConfig(seed=10)) for r in rows]
    assert [r["ground_truth"] for r in other] != [r["ground_truth"] for r in forward]


def test_a_response_that_follows_the_constraints_scores_one():
    config = AugmentConfig(
        seed=0,
        min_constraints=2,
        max_constraints=2,
        instruction_ids=("punctuation:no_comma", "change_case:english_lowercase"),
    )
    row = augment_row(sft_row(2), config)
    assert verify("ifeval", "tea came from china long ago", row["ground_truth"]) == 1.0
    assert verify("ifeval", "Tea, from China.", row["ground_truth"]) == 0.0
    assert verify("ifeval", "tea, from china.", row["ground_truth"]) == 0.5


def test_repeat_prompt_repeats_the_original_request():
    config = AugmentConfig(
        seed=0, min_constraints=1, max_constraints=1, instruction_ids=("combination:repeat_prompt",)
    )
    row = augment_row(sft_row(3), config)
    original = "Tell me about the history of tea. (3)"
    assert json.loads(row["ground_truth"])["kwargs"] == [{"prompt_to_repeat": original}]
    assert verify("ifeval", original + "\nTea is old.", row["ground_truth"]) == 1.0


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="unknown instruction"):
        AugmentConfig(instruction_ids=("made:up",))
    with pytest.raises(ValueError):
        AugmentConfig(min_constraints=3, max_constraints=2)


def write_input(path, rows, bad_line: str | None = None):
    lines = [json.dumps(r) for r in rows]
    if bad_line is not None:
        lines.insert(2, bad_line)
    path.write_text("\n".join(lines) + "\n")


def test_augment_file_accounts_for_every_row(tmp_path):
    src = tmp_path / "in.jsonl"
    rows = [sft_row(i) for i in range(5)]
    rows.append(
        {
            "id": "sys-only",
            "source": "alpaca",
            "skill": "chat",
            "metadata": "{}",
            "messages": [
                {"role": "system", "content": "be nice"},
                {"role": "assistant", "content": "ok"},
            ],
        }
    )
    write_input(src, rows, bad_line='{"messages": 5}')
    out = tmp_path / "out.jsonl"
    acc = augment_file(src, out, AugmentConfig(seed=1), on_bad_row="skip")
    # A row without a user turn has no prompt: a named reject, like the malformed line.
    assert (acc.rows_in, acc.rows_out, acc.removed, acc.rejected) == (7, 5, {}, 2)
    rejects = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert rejects[0]["row"] == 3 and "messages" in rejects[0]["reason"]
    assert rejects[1]["row"] == 7 and "no user turn" in rejects[1]["reason"]
    assert len(out.read_text().splitlines()) == 5


def test_cli_augment_if(tmp_path):
    src = tmp_path / "in.jsonl"
    write_input(src, [sft_row(i) for i in range(4)], bad_line="{not json")
    out = tmp_path / "out.parquet"
    runner = CliRunner()
    failed = runner.invoke(main, ["augment-if", str(src), str(out)])
    assert failed.exit_code != 0 and "in.jsonl" in failed.output and "3" in failed.output
    ok = runner.invoke(
        main,
        [
            "augment-if",
            str(src),
            str(out),
            "--on-bad-row",
            "skip",
            "--max-constraints",
            "2",
            "--seed",
            "4",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert "rows in 5, out 4" in ok.output and "rejected 1" in ok.output
    import pyarrow.parquet as pq

    table = pq.read_table(out)
    assert table.num_rows == 4 and table.column_names[-3:-1] == ["ground_truth", "verifier"]
