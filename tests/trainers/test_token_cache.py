"""The tokenized mix is cached on disk: hits keep accounting, rejects and shard checks."""

import pytest

from manifests.shards import write_shards
from tests.trainers.run_configs import run_config
from trainers import SFTConfig, read_log, run_sft

config = run_config(
    SFTConfig,
    learning_rate=3e-3,
    max_steps=2,
)


def test_second_run_hits_and_trains_the_same(model_dir, sft_mix, tmp_path):
    cache = tmp_path / "cache"
    first = run_sft(config(model_dir, sft_mix, tmp_path / "a", token_cache_dir=str(cache)))
    second = run_sft(config(model_dir, sft_mix, tmp_path / "b", token_cache_dir=str(cache)))
    assert (first["tokenized"], second["tokenized"]) == ("computed", "cache_hit")
    assert first["accounting"] == second["accounting"]
    assert [r["loss"] for r in read_log(tmp_path / "a")] == [
        r["loss"] for r in read_log(tmp_path / "b")
    ]
    other = run_sft(
        config(model_dir, sft_mix, tmp_path / "c", token_cache_dir=str(cache), max_length=64)
    )
    assert other["tokenized"] == "computed"  # another max length is another key
    off = run_sft(config(model_dir, sft_mix, tmp_path / "d", token_cache=False))
    assert off["tokenized"] == "off" and not (tmp_path / "d" / "token_cache").exists()


def test_hit_keeps_rejects_and_still_checks_shards(model_dir, tmp_path, rows_factory, monkeypatch):
    import trainers.data.mix as data

    write_shards(rows_factory(9), tmp_path / "mix", "sft")
    real = data.validate_row

    def flaky(row, kind):
        if row["id"] == "r2":
            raise ValueError("field 'messages': a made-up problem")
        real(row, kind)

    monkeypatch.setattr(data, "validate_row", flaky)
    cache = str(tmp_path / "cache")
    first = run_sft(
        config(
            model_dir, tmp_path / "mix", tmp_path / "a", on_bad_row="skip", token_cache_dir=cache
        )
    )
    monkeypatch.setattr(data, "validate_row", real)
    second = run_sft(
        config(
            model_dir, tmp_path / "mix", tmp_path / "b", on_bad_row="skip", token_cache_dir=cache
        )
    )
    assert second["tokenized"] == "cache_hit"
    assert second["accounting"] == first["accounting"]
    assert second["accounting"]["rejected"] == 1
    assert (tmp_path / "b" / "rejects.jsonl").read_text() == (
        tmp_path / "a" / "rejects.jsonl"
    ).read_text()
    shard = next((tmp_path / "mix").glob("shard-*.arrow"))
    shard.write_bytes(shard.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(ValueError, match="sha256"):
        run_sft(config(model_dir, tmp_path / "mix", tmp_path / "c", token_cache_dir=cache))
