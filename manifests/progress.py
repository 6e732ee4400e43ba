"""Progress bars: the one place that decides whether and how a long loop shows progress.

A bar (tqdm: count, rate per second, ETA) is drawn on stderr only when stderr is a
terminal, so logs, CI and piped runs stay clean; `SKILLMIX_PROGRESS=1` forces bars on (to
see them under a pager or in a test), `SKILLMIX_PROGRESS=0` turns them off. The
accounting line a command prints at the end is not the bar's job and is printed anyway.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TextIO, TypeVar

T = TypeVar("T")

ENV = "SKILLMIX_PROGRESS"


def bars_enabled(stream: TextIO | None = None) -> bool:
    """Whether bars are drawn on `stream` (stderr by default)."""
    forced = os.environ.get(ENV, "").strip().lower()
    if forced in {"0", "false", "no", "off"}:
        return False
    if forced in {"1", "true", "yes", "on"}:
        return True
    stream = stream if stream is not None else sys.stderr
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


class Progress:
    """A bar over `total` units (None: unknown total, count and rate only).

    `update(n, **postfix)` advances it and shows the postfix fields (retries, cost, loss);
    used as a context manager it closes itself. When bars are off every call is a no-op,
    so loops call it unconditionally.
    """

    def __init__(
        self,
        total: int | None = None,
        *,
        desc: str,
        unit: str = "row",
        initial: int = 0,
        enabled: bool = True,
        stream: TextIO | None = None,
        mininterval: float = 0.5,
    ) -> None:
        stream = stream if stream is not None else sys.stderr
        self._bar = None
        if enabled and bars_enabled(stream):
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                initial=initial,
                desc=desc,
                unit=unit,
                file=stream,
                dynamic_ncols=True,
                mininterval=mininterval,
                leave=False,
            )

    @property
    def active(self) -> bool:
        return self._bar is not None

    def update(self, n: int = 1, **postfix: Any) -> None:
        if self._bar is None:
            return
        if postfix:
            self._bar.set_postfix(postfix, refresh=False)
        self._bar.update(n)

    def set_total(self, total: int) -> None:
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.refresh()  # the final count is drawn even when updates came faster
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def track(
    items: Iterable[T], *, desc: str, total: int | None = None, unit: str = "row"
) -> Iterator[T]:
    """Yield `items` while a bar counts them."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with Progress(total, desc=desc, unit=unit) as bar:
        for item in items:
            yield item
            bar.update()
