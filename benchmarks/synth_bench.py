"""Synthesis client throughput: skillmix's OpenAI-compatible backend against the official
`openai` client (AsyncOpenAI + a semaphore, the usual synthesis-script pattern), side by
side, against the same local mock server run in its own process.

1. The server answers after 200 ms; 64 requests in flight: the ideal is 320 requests/s.
2. The server answers at once: what each client costs per request (its own CPU time).

    python benchmarks/synth_bench.py [--concurrency 64] [--requests 1920] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._report import machine_line, write_section
from curate.backends import (
    GenerationRequest,
    OpenAIBackend,
    RequestCache,
    SamplingParams,
    run_cached,
)

CONCURRENCY = 64


def start_server(delay: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "curate.backends.mock_server", "--port", "0", "--delay", str(delay)],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline().strip()
    if not line.startswith("serving on "):
        proc.kill()
        raise RuntimeError(f"mock server did not start: {line!r}")
    return proc, line.removeprefix("serving on ")


def make_requests(n: int, tag: str) -> list[GenerationRequest]:
    params = SamplingParams(temperature=0.7, max_tokens=256)
    return [
        GenerationRequest.chat([{"role": "user", "content": f"{tag} problem {i}"}], params, i)
        for i in range(n)
    ]


def run_skillmix(url: str, reqs: list[GenerationRequest]) -> None:
    backend = OpenAIBackend(url, "mock", concurrency=CONCURRENCY)
    with tempfile.TemporaryDirectory() as tmp, RequestCache(Path(tmp) / "c.jsonl") as cache:
        run = run_cached(backend, reqs, cache)  # the real path: every answer is cached
    assert len(run.results) == len(reqs), run.failures


def run_openai(url: str, reqs: list[GenerationRequest]) -> None:
    from openai import AsyncOpenAI

    async def main() -> int:
        client = AsyncOpenAI(base_url=url, api_key="unused", max_retries=8, timeout=120)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(request: GenerationRequest) -> str:
            async with gate:
                response = await client.chat.completions.create(
                    model="mock",
                    messages=request.message_dicts(),
                    temperature=request.params.temperature,
                    max_tokens=request.params.max_tokens,
                    seed=request.seed,
                )
                return response.choices[0].message.content

        answers = await asyncio.gather(*(one(r) for r in reqs))
        await client.close()
        return len(answers)

    assert asyncio.run(main()) == len(reqs)


def run_raw_asyncio(url: str, reqs: list[GenerationRequest]) -> None:
    """Reference floor: a bare asyncio HTTP/1.1 loop (no retries, no cache, no parsing
    beyond the body). What the machine allows, not a usable client."""
    import json
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    path = parts.path.rstrip("/") + "/chat/completions"

    async def worker(queue: list[GenerationRequest], done: list[int]) -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        while queue:
            request = queue.pop()
            body = json.dumps(
                {"model": "mock", "messages": request.message_dicts(), "seed": request.seed}
            ).encode()
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}"
                "\r\n\r\n".encode()
                + body
            )
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            json.loads(await reader.readexactly(length))
            done.append(1)
        writer.close()

    async def main() -> int:
        queue, done = list(reqs), []
        await asyncio.gather(*(worker(queue, done) for _ in range(CONCURRENCY)))
        return len(done)

    assert asyncio.run(main()) == len(reqs)


def measure(client: Callable[[str, list], None], url: str, n: int, tag: str) -> tuple[float, float]:
    """(requests per second, client CPU milliseconds per request) for one run."""
    reqs = make_requests(n, tag)
    wall, cpu = time.perf_counter(), time.process_time()
    client(url, reqs)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return n / wall, 1000 * cpu / n


CLIENTS = {
    "skillmix OpenAIBackend (+ request cache)": run_skillmix,
    "openai AsyncOpenAI + semaphore": run_openai,
    "reference floor: bare asyncio sockets": run_raw_asyncio,
}


def scenario(delay: float, n: int, repeats: int) -> dict[str, list[tuple[float, float]]]:
    proc, url = start_server(delay)
    try:
        for client in CLIENTS.values():  # warm-up: imports, connections
            measure(client, url, CONCURRENCY, "warm")
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in CLIENTS}
        for r in range(repeats):  # interleaved, so machine noise hits both alike
            for name, client in CLIENTS.items():
                results[name].append(measure(client, url, n, f"{name}-{delay}-{r}"))
        return results
    finally:
        proc.kill()
        proc.wait()


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    global CONCURRENCY  # the request-running helpers read it
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1920, help="requests per run")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY, help="requests in flight")
    parser.add_argument("--repeats", type=int, default=3, help="runs per client (median)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    CONCURRENCY = args.concurrency

    ideal = CONCURRENCY / 0.2
    load_before = os.getloadavg()[0]
    slow = scenario(0.2, args.requests, args.repeats)
    fast = scenario(0.0, args.requests, args.repeats)
    load_after = os.getloadavg()[0]
    lines = [
        "## Synthesis client (`skillmix synth` backend)",
        "",
        machine_line(),
        "",
        f"Local OpenAI-compatible mock server in its own process; {args.requests} chat "
        f"requests per run, {CONCURRENCY} in flight; median of {args.repeats} interleaved "
        "runs (all runs listed). Load average (1 min) of this shared machine: "
        f"{load_before:.1f} before, {load_after:.1f} after.",
        "",
        f"**Server answers after 200 ms** (ideal {ideal:.0f} requests/s):",
        "",
        "| client | requests/s (median) | share of ideal | runs |",
        "|---|---:|---:|---|",
    ]
    for name, runs in slow.items():
        rate = median([r for r, _ in runs])
        lines.append(
            f"| {name} | {rate:.0f} | {rate / ideal:.1%} | "
            f"{', '.join(f'{r:.0f}' for r, _ in runs)} |"
        )
    lines += [
        "",
        "**Server answers at once** (the client's own cost):",
        "",
        "| client | requests/s (median) | client CPU ms per request (median) | runs (ms) |",
        "|---|---:|---:|---|",
    ]
    for name, runs in fast.items():
        lines.append(
            f"| {name} | {median([r for r, _ in runs]):.0f} | "
            f"{median([c for _, c in runs]):.2f} | "
            f"{', '.join(f'{c:.2f}' for _, c in runs)} |"
        )
    lines += [
        "",
        "The reference floor is a bare asyncio HTTP/1.1 loop with no retries, cache or "
        "checks: it shows what this machine allows at the time (scheduling delays on a "
        "loaded 2-core machine add latency to every 200 ms round trip). "
        "skillmix's numbers include appending every answer to the resumable request cache. "
        "Each skillmix worker owns one keep-alive connection through httpx's transport API: "
        "httpcore's shared pool scans all its connections on every request, which at 64 "
        "connections cost about 10 ms of CPU per request in a profile here (the same scan "
        "is inside the openai client), and the client layer (cookies, redirects, auth "
        "flows) cost about a fifth of the rest.",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("synth", text)


if __name__ == "__main__":
    main()
