"""Every malformed input, through every command that reads rows, in both bad-row modes.

Each run ends in a named error (the file, and the row where there is one) or a counted
reject, never a traceback, a bare "Aborted!" or a silent acceptance; a full disk ends in
an error that names the file, with no partial output under its final name.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from click.testing import CliRunner

from curate.backends.mock_server import MockOpenAIServer, template_answer
from skillmix.cli import main

ROWS = 6
BAD_AT = 3  # the 1-based line of the bad row in the row-level cases

# Inputs with one bad row among good ones: error mode names file and row, skip counts it.
ROW_CASES = [
    "malformed_json",
    "deep_nesting",
    "bad_utf8",
    "nan_in_metadata",
    "infinity_in_metadata_text",
    "lone_surrogate",
    "messages_not_a_list",
    "null_content",
    "unknown_role",
    "not_an_object",
]
# Damaged or unusable files: both modes stop with an error that names the file.
FILE_CASES = [
    "truncated_gz",
    "not_gzip",
    "truncated_zst",
    "garbage_parquet",
    "truncated_parquet",
    "empty_parquet",
    "empty",
    "only_blank_lines",
    "directory",
    "missing",
]
# Every row bad: error mode names the file and row, skip mode names the file as having no
# valid row.
ALL_BAD_CASES = ["binary_noise", "parquet_wrong_types"]
# Fine inputs that look odd: every row is read.
OK_CASES = ["utf8_bom", "crlf_and_blank_lines"]
COMMANDS = ["inspect", "convert", "decontam", "mix", "augment-if", "tag", "synth"]
PROMPT_COMMANDS = {"augment-if", "synth"}  # these read prompt rows


def _row(i: int, prompt_only: bool) -> dict:
    messages = [{"role": "user", "content": f"What is {i} plus {i}? Show the steps, case {i}."}]
    if not prompt_only:
        messages.append({"role": "assistant", "content": f"It is {2 * i}."})
    return {"id": f"r{i}", "source": "s", "skill": "gsm", "metadata": "{}", "messages": messages}


def _inputs(folder: Path, prompt_only: bool) -> dict[str, Path]:
    folder.mkdir()
    good = [json.dumps(_row(i, prompt_only)) for i in range(ROWS)]
    body = ("\n".join(good) + "\n").encode()

    def write(name: str, data: bytes) -> Path:
        (folder / name).write_bytes(data)
        return folder / name

    def one_bad(name: str, line: str | bytes) -> Path:
        lines = [x.encode() for x in good]
        lines[BAD_AT - 1] = line if isinstance(line, bytes) else line.encode()
        return write(name, b"\n".join(lines) + b"\n")

    row = _row(BAD_AT - 1, prompt_only)
    files = {
        "malformed_json": one_bad("malformed.jsonl", '{"id": "x", "messages": ['),
        "deep_nesting": one_bad("deep.jsonl", "[" * 100_000 + "]" * 100_000),
        "bad_utf8": one_bad("bad_utf8.jsonl", b'{"id": "caf\xe9 \xff"}'),
        "nan_in_metadata": one_bad("nan.jsonl", json.dumps({**row, "metadata": {"x": math_nan()}})),
        "infinity_in_metadata_text": one_bad(
            "inf.jsonl", json.dumps({**row, "metadata": '{"x": Infinity}'})
        ),
        "lone_surrogate": one_bad(
            "surrogate.jsonl", json.dumps(row).replace("What", "\\ud800What")
        ),
        "messages_not_a_list": one_bad("msgs.jsonl", json.dumps({**row, "messages": "hello"})),
        "null_content": one_bad(
            "null.jsonl", json.dumps({**row, "messages": [{"role": "user", "content": None}]})
        ),
        "unknown_role": one_bad(
            "role.jsonl",
            json.dumps({**row, "messages": [{"role": "narrator", "content": "Once upon a time"}]}),
        ),
        "not_an_object": one_bad("array.jsonl", "[1, 2, 3]"),
        "empty": write("empty.jsonl", b""),
        "only_blank_lines": write("blank.jsonl", b"\n   \n\n"),
        "not_gzip": write("plain.jsonl.gz", body),
        "garbage_parquet": write("garbage.parquet", random.Random(1).randbytes(3000)),
        "empty_parquet": write("empty.parquet", b""),
        "binary_noise": write("noise.jsonl", random.Random(2).randbytes(4000)),
        "utf8_bom": write("bom.jsonl", b"\xef\xbb\xbf" + body),
        "crlf_and_blank_lines": write("crlf.jsonl", body.replace(b"\n", b"\r\n\r\n")),
    }
    packed = gzip.compress(body * 300)
    files["truncated_gz"] = write("cut.jsonl.gz", packed[: len(packed) // 2])
    packed = zstandard.ZstdCompressor().compress(body * 300)
    files["truncated_zst"] = write("cut.jsonl.zst", packed[: len(packed) // 2])
    pq.write_table(pa.Table.from_pylist([json.loads(x) for x in good]), folder / "whole.parquet")
    whole = (folder / "whole.parquet").read_bytes()
    files["truncated_parquet"] = write("cut.parquet", whole[: len(whole) * 2 // 3])
    pq.write_table(pa.table({"id": [1, 2], "messages": [3, 4]}), folder / "types.parquet")
    files["parquet_wrong_types"] = folder / "types.parquet"
    (folder / "folder.jsonl").mkdir()
    files["directory"] = folder / "folder.jsonl"
    files["missing"] = folder / "absent.jsonl"
    return files


def math_nan() -> float:
    return float("nan")


class Bench:
    """The inputs, an eval file, a small fastText model and a mock server."""

    def __init__(self, root: Path, url: str) -> None:
        self.root = root
        self.url = url
        self.rows = _inputs(root / "rows", prompt_only=False)
        self.prompts = _inputs(root / "prompts", prompt_only=True)
        self.evals = root / "evals.jsonl"
        self.evals.write_text(json.dumps({"question": "Name the capital of Peru and why."}) + "\n")
        labeled = root / "labeled.jsonl"
        labeled.write_text(
            "".join(
                json.dumps({**_row(i, False), "skill": ["gsm", "code"][i % 2]}) + "\n"
                for i in range(40)
            )
        )
        self.model = root / "tagger.bin"
        result = CliRunner().invoke(
            main,
            [
                "tag",
                "train",
                str(labeled),
                str(self.model),
                "--dim",
                "8",
                "--bucket",
                "1000",
                "--epoch",
                "2",
            ],
        )
        assert result.exit_code == 0, result.output

    def args(self, command: str, path: Path, out: Path) -> list[str]:
        if command == "inspect":
            return ["inspect", str(path), "--rejects", str(out / "rejects.jsonl")]
        if command == "convert":
            return ["convert", str(path), str(out / "out.jsonl")]
        if command == "decontam":
            return [
                "decontam",
                "--train",
                str(path),
                "--eval",
                f"e={self.evals}:question",
                "--out",
                str(out / "audit"),
            ]
        if command == "mix":
            recipe = out / "recipe.yaml"
            recipe.write_text(
                json.dumps(
                    {
                        "name": "t",
                        "kind": "sft",
                        "sources": [{"name": "a", "path": str(path), "take": {"fraction": 1.0}}],
                    }
                )
            )
            return ["mix", str(recipe), "--out", str(out / "mix")]
        if command == "augment-if":
            return ["augment-if", str(path), str(out / "out.jsonl")]
        if command == "tag":
            return ["tag", "apply", str(self.model), str(path), str(out / "out.jsonl")]
        assert command == "synth"
        return [
            "synth",
            str(out / "out.jsonl"),
            "--responses",
            str(path),
            "--model",
            "m",
            "--base-url",
            self.url,
        ]


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Iterator[Bench]:
    with MockOpenAIServer(template_answer) as server:
        yield Bench(tmp_path_factory.mktemp("bad-inputs"), server.url)


def _invoke(
    bench: Bench, command: str, case: str, mode: str, out: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, Path]:
    path = (bench.prompts if command in PROMPT_COMMANDS else bench.rows)[case]
    out.mkdir()
    monkeypatch.chdir(out)  # a default rejects.jsonl lands here, not in the repo
    args = bench.args(command, path, out) + (["--on-bad-row", "skip"] if mode == "skip" else [])
    result = CliRunner().invoke(main, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        trace = "".join(traceback.format_exception(result.exception))
        pytest.fail(f"{command} on {case} ({mode}) raised instead of a named error:\n{trace}")
    assert "Traceback" not in result.output and "Aborted!" not in result.output, result.output
    return result.exit_code, result.output, path


@pytest.mark.parametrize("mode", ["error", "skip"])
@pytest.mark.parametrize("case", ROW_CASES)
@pytest.mark.parametrize("command", COMMANDS)
def test_a_bad_row_is_named_or_counted(bench, command, case, mode, tmp_path, monkeypatch):
    code, output, path = _invoke(bench, command, case, mode, tmp_path / "o", monkeypatch)
    if mode == "error":
        assert code == 1, output
        assert f"{path}, row {BAD_AT}:" in output, output
    else:
        assert code == 0, output
        assert re.search(r"\brejected 1\b", output), output


@pytest.mark.parametrize("mode", ["error", "skip"])
@pytest.mark.parametrize("case", FILE_CASES)
@pytest.mark.parametrize("command", COMMANDS)
def test_a_damaged_file_is_a_named_error(bench, command, case, mode, tmp_path, monkeypatch):
    code, output, path = _invoke(bench, command, case, mode, tmp_path / "o", monkeypatch)
    # synth's --responses is a click path: click itself refuses a missing file or a folder (2)
    refused_by_click = command == "synth" and case in ("missing", "directory")
    assert code == (2 if refused_by_click else 1), output
    assert str(path) in output.replace("\n", ""), output
    for name in ("out.jsonl", "mix/manifest.json", "audit/report.json"):
        assert not (tmp_path / "o" / name).exists(), f"{name} written from a damaged input"


@pytest.mark.parametrize("mode", ["error", "skip"])
@pytest.mark.parametrize("case", ALL_BAD_CASES)
@pytest.mark.parametrize("command", COMMANDS)
def test_a_file_of_bad_rows_is_named_or_counted(bench, command, case, mode, tmp_path, monkeypatch):
    code, output, path = _invoke(bench, command, case, mode, tmp_path / "o", monkeypatch)
    if mode == "error":
        assert code == 1 and f"{path}, row " in output, output
        return
    # Skip mode rejects every row: one named error (the file, the count, where the
    # rejects are), exit 1, and no output, in every command alike.
    found = re.search(
        rf"{re.escape(str(path))}: no valid rows: all (\d+) row\(s\) were rejected "
        r"\(reasons in (.+?)\)\n",
        output,
    )
    assert code == 1 and found, output
    rejected, rejects = int(found[1]), Path(found[2])
    assert rejected >= 2
    assert len(rejects.read_text(encoding="utf-8").splitlines()) == rejected
    for name in ("out.jsonl", "mix/manifest.json", "audit/report.json"):
        assert not (tmp_path / "o" / name).exists(), f"{name} written with no valid row"


@pytest.mark.parametrize("mode", ["error", "skip"])
@pytest.mark.parametrize("case", OK_CASES)
@pytest.mark.parametrize("command", COMMANDS)
def test_odd_but_valid_files_are_read_whole(bench, command, case, mode, tmp_path, monkeypatch):
    code, output, _ = _invoke(bench, command, case, mode, tmp_path / "o", monkeypatch)
    assert code == 0, output
    assert not re.search(r"\brejected [1-9]", output), output
    if command in ("inspect", "convert", "decontam", "augment-if", "tag"):
        assert f"rows in {ROWS}, out {ROWS}" in output, output


# A full disk: a 64 KiB tmpfs where the machine lets root mount one, else a file-size limit
# (RLIMIT_FSIZE) on the command, which fails writes the same way (EFBIG instead of ENOSPC).


@contextlib.contextmanager
def _small_disk(folder: Path) -> Iterator[tuple[Path, Callable[[], None] | None, str]]:
    folder.mkdir()
    mounted = (
        os.geteuid() == 0
        and shutil.which("mount") is not None
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True
        ).returncode
        == 0
    )
    if mounted:
        try:
            yield folder, None, "No space left on device"
        finally:
            subprocess.run(["umount", "-l", str(folder)], check=False)
        return

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, 64 << 10))

    yield folder, limit, "File too large"


def _big_input(path: Path, prompt_only: bool, bad_rows: bool, rows: int = 400) -> Path:
    padding = "lorem ipsum dolor sit amet " * 12
    with open(path, "w") as fh:
        for i in range(rows):
            row = _row(i, prompt_only)
            row["messages"][0]["content"] += f" ({i}) {padding}"
            if bad_rows and i % 5 == 2:  # rejects for inspect to write, its only output
                fh.write("{not json " + padding * 8 + "\n")
            fh.write(json.dumps(row) + "\n")
    return path


def test_damaged_columnar_files_read_the_same_in_every_command(bench, tmp_path, monkeypatch):
    outputs = {}
    for command in COMMANDS:
        _, output, _ = _invoke(
            bench, command, "garbage_parquet", "error", tmp_path / command, monkeypatch
        )
        outputs[command] = "not a readable Parquet file" in output
    assert all(outputs.values()), outputs


@pytest.mark.parametrize("command", COMMANDS)
def test_a_full_disk_is_a_named_error_with_no_partial_output(bench, command, tmp_path):
    prompt_only = command in PROMPT_COMMANDS
    source = _big_input(tmp_path / "big.jsonl", prompt_only, bad_rows=command == "inspect")
    with _small_disk(tmp_path / "small") as (disk, limit, problem):
        args = bench.args(command, source, disk)
        if command == "inspect":
            args += ["--on-bad-row", "skip"]
        if command == "mix":  # the recipe lives beside the input, the shards on the small disk
            recipe = tmp_path / "recipe.yaml"
            shutil.move(disk / "recipe.yaml", recipe)
            args[1] = str(recipe)
        proc = subprocess.run(
            [sys.executable, "-m", "skillmix", *args],
            capture_output=True,
            text=True,
            preexec_fn=limit,
            timeout=120,
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
        )
        output = proc.stdout + proc.stderr
        assert proc.returncode == 1, output
        assert "Traceback" not in output and "Aborted!" not in output, output
        assert problem in output and str(disk) in output, output
        left = sorted(p.relative_to(disk).as_posix() for p in disk.rglob("*") if p.is_file())
        assert not [p for p in left if ".tmp" in p], left
        for name in ("out.jsonl", "mix/manifest.json", "audit/report.json"):
            assert name not in left, f"{name} left on a full disk: {left}"
