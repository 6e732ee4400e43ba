"""A tokens-per-minute limit for async clients (a token bucket that refills continuously)."""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    def __init__(
        self, tokens_per_minute: float, burst_s: float = 60.0, clock=time.monotonic
    ) -> None:
        """`burst_s`: seconds of budget that may be spent at once (a minute, as providers
        count; less smooths the load)."""
        if tokens_per_minute <= 0 or burst_s <= 0:
            raise ValueError("tokens_per_minute and burst_s must be positive")
        self.rate = tokens_per_minute / 60.0  # tokens per second
        self.capacity = self.rate * burst_s
        self._level = self.capacity
        self._clock = clock
        self._stamp = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._level = min(self.capacity, self._level + (now - self._stamp) * self.rate)
        self._stamp = now

    def wait_time(self, tokens: float) -> float:
        """Seconds until `tokens` can be spent (a request larger than a minute's budget
        waits for a full bucket)."""
        self._refill()
        need = min(tokens, self.capacity)
        return max(0.0, (need - self._level) / self.rate)

    async def acquire(self, tokens: float) -> None:
        async with self._lock:  # first come, first served
            while (delay := self.wait_time(tokens)) > 0:
                await asyncio.sleep(delay)
            self._level -= min(tokens, self.capacity)

    def refund(self, tokens: float) -> None:
        """Give back what a request reserved but did not use."""
        self._refill()
        self._level = min(self.capacity, self._level + max(0.0, tokens))
