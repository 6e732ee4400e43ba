import asyncio

from curate.backends import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bucket_waits_for_refill():
    clock = FakeClock()
    bucket = TokenBucket(600, clock=clock)  # 10 tokens per second
    assert bucket.wait_time(600) == 0.0
    asyncio.run(bucket.acquire(600))
    assert abs(bucket.wait_time(100) - 10.0) < 1e-9
    clock.now = 5.0
    assert abs(bucket.wait_time(100) - 5.0) < 1e-9
    bucket.refund(100)
    assert bucket.wait_time(100) == 0.0


def test_oversized_request_waits_for_a_full_bucket_not_forever():
    clock = FakeClock()
    bucket = TokenBucket(60, clock=clock)
    asyncio.run(bucket.acquire(10))
    assert abs(bucket.wait_time(1000) - 10.0) < 1e-9


def test_acquire_really_sleeps():
    bucket = TokenBucket(60 * 50)  # 50 tokens per second

    async def go() -> float:
        loop = asyncio.get_running_loop()
        await bucket.acquire(3000)
        start = loop.time()
        await bucket.acquire(10)  # needs 0.2 s of refill
        return loop.time() - start

    assert asyncio.run(go()) >= 0.15
