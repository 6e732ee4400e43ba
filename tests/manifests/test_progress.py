"""The progress owner: bars only on a terminal or when forced, never in logs."""

from __future__ import annotations

import io

from manifests.progress import Progress, bars_enabled, track


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_bar_when_stream_is_not_a_terminal(monkeypatch):
    monkeypatch.delenv("SKILLMIX_PROGRESS", raising=False)
    stream = io.StringIO()
    with Progress(10, desc="mix", stream=stream) as bar:
        assert not bar.active
        bar.update(5, retries=1)
    assert stream.getvalue() == ""


def test_bar_on_a_terminal_shows_count_rate_and_postfix(monkeypatch):
    monkeypatch.delenv("SKILLMIX_PROGRESS", raising=False)
    stream = _Tty()
    with Progress(10, desc="synth", unit="req", stream=stream, mininterval=0) as bar:
        assert bar.active
        bar.update(4, retries=2, cost="$0.01")
    text = stream.getvalue()
    assert "synth" in text and "4/10" in text and "retries=2" in text
    assert "req/s" in text


def test_environment_forces_bars_on_and_off(monkeypatch):
    monkeypatch.setenv("SKILLMIX_PROGRESS", "0")
    assert not bars_enabled(_Tty())
    monkeypatch.setenv("SKILLMIX_PROGRESS", "1")
    assert bars_enabled(io.StringIO())


def test_track_yields_every_item_unchanged(monkeypatch):
    monkeypatch.delenv("SKILLMIX_PROGRESS", raising=False)
    assert list(track(["a", "b", "c"], desc="tag")) == ["a", "b", "c"]


def test_final_count_is_drawn_even_when_updates_come_faster_than_the_interval(monkeypatch):
    monkeypatch.delenv("SKILLMIX_PROGRESS", raising=False)
    stream = _Tty()
    with Progress(120, desc="mix: write", stream=stream, mininterval=60) as bar:
        for _ in range(120):
            bar.update()
    draws = stream.getvalue().split("\r")
    assert any(d.startswith("mix: write") and "120/120" in d for d in draws)
    assert draws[-1].strip() == ""  # then cleared: the accounting line follows on a clean line


def test_only_the_progress_owner_imports_tqdm():
    """Every bar goes through manifests.progress; a keyword such as vLLM's use_tqdm=False
    is not an import and is allowed."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    owner = root / "manifests" / "progress.py"
    imports = re.compile(r"^\s*(?:from\s+tqdm[\s.]|import\s+tqdm\b)", re.MULTILINE)
    sources = [
        path
        for path in root.rglob("*.py")
        if not any(part.startswith(".") for part in path.relative_to(root).parts)
    ]
    assert owner in sources and len(sources) > 100  # the tree was found
    assert imports.search(owner.read_text(encoding="utf-8"))  # the pattern finds an import
    offenders = [
        str(path.relative_to(root))
        for path in sources
        if path != owner and imports.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
