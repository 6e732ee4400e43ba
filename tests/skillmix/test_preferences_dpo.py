"""On-policy pairs end to end: a tiny model trained one SFT step by `skillmix train sft`
answers beside a served model, a judge rates them, the pairs are mixed, and `skillmix train
dpo` trains that checkpoint on the mix."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from curate.backends.mock_server import MockOpenAIServer, template_answer
from manifests import read_rows
from skillmix.cli import main
from trainers.tiny_model import build_tiny_model

TOPICS = ["rivers", "bread", "chess", "tides", "volcanoes", "gardens", "poems", "taxes"]


def ok(result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


def jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def mix(tmp_path: Path, name: str, kind: str, src: Path) -> Path:
    recipe = tmp_path / f"{name}.yaml"
    recipe.write_text(
        f"name: {name}\nseed: 1\nkind: {kind}\nsources:\n  - name: s\n"
        f"    path: {src}\n    take: {{fraction: 1.0}}\n",
        encoding="utf-8",
    )
    out = tmp_path / name
    ok(CliRunner().invoke(main, ["mix", str(recipe), "--out", str(out)]))
    return out


def test_on_policy_pairs_from_an_sft_checkpoint_then_dpo(tmp_path):
    prompts = [
        {
            "id": f"q{i}",
            "source": "s",
            "skill": "chat",
            "messages": [{"role": "user", "content": f"Tell me about {t}, part {i}."}],
            "metadata": "{}",
        }
        for i, t in enumerate(TOPICS)
    ]
    sft_rows = [
        {**p, "messages": [*p["messages"], {"role": "assistant", "content": f"Facts on {t}."}]}
        for p, t in zip(prompts, TOPICS, strict=True)
    ]
    texts = [m["content"] for r in sft_rows for m in r["messages"]]
    base = build_tiny_model(texts, tmp_path / "tiny", vocab_size=300)
    sft_mix = mix(tmp_path, "sft_mix", "sft", jsonl(tmp_path / "sft.jsonl", sft_rows))
    ok(
        CliRunner().invoke(
            main,
            [
                "train",
                "sft",
                "--data",
                str(sft_mix),
                "--model",
                str(base),
                "--output",
                str(tmp_path / "sft"),
                "--batch-size",
                "4",
                "--max-steps",
                "1",
                "--no-tensorboard",
            ],
        )
    )
    policy = tmp_path / "sft" / "final"
    assert (policy / "config.json").exists()

    prompt_file = jsonl(tmp_path / "prompts.jsonl", prompts)
    pairs = tmp_path / "pairs.jsonl"
    with MockOpenAIServer(template_answer) as server:
        out = ok(
            CliRunner().invoke(
                main,
                [
                    "synth",
                    str(pairs),
                    "--preferences",
                    str(prompt_file),
                    "--backend",
                    "transformers",
                    "--model",
                    str(policy),
                    "--model",
                    f"served@{server.url}",
                    "--judge-model",
                    "judge",
                    "--judge-base-url",
                    server.url,
                    "--samples",
                    "2",
                    "--max-tokens",
                    "6",
                    "--keep-truncated",
                    "--batch-size",
                    "4",
                ],
            )
        )
        assert len(server.log.answered) >= len(prompts) * 2  # served answers and judge calls
    rows = list(read_rows(pairs, "preference"))
    assert f"prompts in {len(prompts)}, pairs out {len(rows)}" in out
    metas = [json.loads(r["metadata"]) for r in rows]
    assert all(m["pool"] == sorted([str(policy), "served"]) for m in metas)
    on_policy = [m for m in metas if str(policy) in (m["chosen_model"], m["rejected_model"])]
    assert on_policy, "the local checkpoint took part in no pair"

    pref_mix = mix(tmp_path, "pref_mix", "preference", pairs)
    trained = ok(
        CliRunner().invoke(
            main,
            [
                "train",
                "dpo",
                "--data",
                str(pref_mix),
                "--model",
                str(policy),
                "--output",
                str(tmp_path / "dpo"),
                "--batch-size",
                "2",
                "--max-steps",
                "1",
                "--no-tensorboard",
            ],
        )
    )
    assert f"rows in {len(rows)}, out {len(rows)}" in trained
    assert (tmp_path / "dpo" / "final" / "config.json").exists()
