"""A small OpenAI-compatible chat completion server for tests, benchmarks and offline demos.

It answers deterministically (a function of the request body), can wait before answering,
and can inject faults (429, 500, malformed JSON, slow or hanging answers). It logs every
request it receives, so a test can check that nothing answered was asked twice.

    python -m curate.backends.mock_server --port 8000 --delay 0.2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

Answer = Callable[[dict], str]
ROUTES = ("/v1/chat/completions", "/chat/completions")
# Given the server and the request body, the fault to inject, or None to answer normally:
# "401", "429", "500", "malformed", "bad_gzip", "slow" (answer after `slow_s`), "hang"
# (never answer).
Fault = Callable[["MockOpenAIServer", dict], str | None]


def body_key(body: dict) -> str:
    """Identifies a request by what it asks: messages, sampling params and seed."""
    fields = {k: v for k, v in body.items() if k != "stream"}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def echo_answer(body: dict) -> str:
    return f"answer {body_key(body)}"


def template_answer(body: dict) -> str:
    """Answers in the shape skillmix's synthesis templates ask for, for offline demos:
    a 'PROBLEM:' reply to a persona prompt, '####' / 'Final answer:' solutions, a code
    block with its asserts. Deterministic in the request."""
    messages = body.get("messages") or [{"role": "user", "content": ""}]
    text = str(messages[-1].get("content", ""))
    system = str(messages[0].get("content", "")) if messages[0].get("role") == "system" else ""
    n = int(body_key(body)[:6], 16)
    if text.startswith(JUDGE_OPENING) and "<answer>" in text:
        return judge_answer(text.split("<answer>", 1)[1])
    if "Here is a persona:" in text:
        persona = text.split("\n")[1] if "\n" in text else "someone"
        return f"PROBLEM: {persona} needs {n % 90 + 10} boxes of {n % 7 + 2} items. How many?"
    if "####" in system:
        return f"Multiply the boxes by the items.\n#### {n % 500}"
    if "Final answer" in system:
        return f"Work it out.\nFinal answer: \\frac{{{n % 9 + 1}}}{{{n % 5 + 2}}}"
    if "```python" in system:
        return (
            "```python\ndef add_one(x):\n    return x + 1\n```\n"
            "```python\nassert add_one(1) == 2\nassert add_one(-1) == 0\n```"
        )
    return f"here is a short answer number {n % 1000} in lowercase words"


# How skillmix's judge template opens (curate.synth.preferences.JUDGE_MARKER; a test keeps
# the two equal, so this module needs no import of the synthesis code).
JUDGE_OPENING = "You are grading one answer written by an AI assistant."
ASPECT_NAMES = ("helpfulness", "instruction_following", "honesty", "truthfulness")


def judge_answer(answer: str) -> str:
    """A judge's reply rating `answer` 1-5 on the four aspects, deterministic in the answer:
    half the answers get a JSON object, half UltraFeedback-style 'Rating: N' lines."""
    h = int(hashlib.sha256(answer.encode()).hexdigest()[:8], 16)
    scores = {a: (h >> (3 * i)) % 5 + 1 for i, a in enumerate(ASPECT_NAMES)}
    if h % 2:
        return json.dumps(scores)
    return "\n".join(f"{a.replace('_', ' ').title()}: Rating: {v}" for a, v in scores.items())


@dataclass
class RequestLog:
    received: list[str] = field(default_factory=list)  # body keys, in arrival order
    answered: list[str] = field(default_factory=list)  # keys answered with a 200
    statuses: dict[str, int] = field(default_factory=dict)  # outcome -> count


class MockOpenAIServer:
    def __init__(
        self,
        answer: Answer = echo_answer,
        *,
        delay_s: float = 0.0,
        fault: Fault | None = None,
        slow_s: float = 5.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.answer = answer
        self.delay_s = delay_s
        self.fault = fault
        self.slow_s = slow_s
        self.host = host
        self.port = port
        self.log = RequestLog()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def _note(self, outcome: str, key: str | None = None) -> None:
        with self._lock:
            self.log.statuses[outcome] = self.log.statuses.get(outcome, 0) + 1
            if outcome == "200" and key is not None:
                self.log.answered.append(key)

    async def _respond(self, body: dict) -> tuple[int, bytes, dict[str, str]]:
        key = body_key(body)
        with self._lock:
            self.log.received.append(key)
        fault = self.fault(self, body) if self.fault else None
        if fault == "hang":
            self._note("hang")
            await asyncio.Event().wait()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if fault == "401":
            self._note("401")
            return 401, b'{"error": "invalid api key"}', {}
        if fault == "429":
            self._note("429")
            return 429, b'{"error": "rate limited"}', {"Retry-After": "0"}
        if fault == "500":
            self._note("500")
            return 500, b'{"error": "internal"}', {}
        if fault == "malformed":
            self._note("malformed")
            return 200, b'{"choices": [{"message": ', {}
        if fault == "bad_gzip":  # claims gzip, sends bytes that do not inflate
            self._note("bad_gzip")
            return 200, b"not gzip at all", {"Content-Encoding": "gzip"}
        if fault == "slow":
            self._note("slow")
            await asyncio.sleep(self.slow_s)
        text = self.answer(body)
        finish_reason = "stop"
        limit = body.get("max_tokens")
        if isinstance(limit, int) and len(text.split()) > limit:  # a word counts as a token
            text, finish_reason = " ".join(text.split()[:limit]), "length"
        messages = body.get("messages", [])
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
        payload = {
            "id": f"chatcmpl-{key}",
            "object": "chat.completion",
            "model": body.get("model", "mock"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(text.split()),
                "total_tokens": prompt_tokens + len(text.split()),
            },
        }
        if fault != "slow":
            self._note("200", key)
        return 200, json.dumps(payload).encode(), {}

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                raw = await reader.readexactly(int(headers.get("content-length", "0")))
                if method == "POST" and path.rstrip("/") in ROUTES:
                    status, data, extra = await self._respond(json.loads(raw or b"{}"))
                else:
                    status, data, extra = 404, b'{"error": "not found"}', {}
                reason = {
                    200: "OK",
                    401: "Unauthorized",
                    404: "Not Found",
                    429: "Too Many Requests",
                }.get(status, "Internal Server Error")
                out = [
                    f"HTTP/1.1 {status} {reason}",
                    "Content-Type: application/json",
                    f"Content-Length: {len(data)}",
                ]
                out += [f"{k}: {v}" for k, v in extra.items()]
                writer.write(("\r\n".join(out) + "\r\n\r\n").encode() + data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:  # the server is stopping
            pass
        finally:
            writer.close()

    async def serve(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]
        self._loop = asyncio.get_running_loop()
        self._ready.set()
        async with self._server:
            await self._server.serve_forever()

    def start(self) -> MockOpenAIServer:
        """Serve from a background thread; returns once the port is bound."""

        def run() -> None:
            with contextlib.suppress(asyncio.CancelledError):
                asyncio.run(self.serve())

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def _shutdown(self) -> None:
        # Runs inside the server's loop: close the socket, cancel every task (serve_forever
        # and hung handlers alike); asyncio.run then returns in the server thread.
        if self._server is not None:
            self._server.close()
        for task in asyncio.all_tasks():
            task.cancel()

    def stop(self) -> None:
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop may have ended already
                self._loop.call_soon_threadsafe(self._shutdown)
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> MockOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--port", type=int, default=8000, help="port (0 picks a free one)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument(
        "--answers",
        choices=("echo", "templates"),
        default="echo",
        help="echo: 'answer <hash>'; templates: replies shaped like skillmix's templates",
    )
    args = parser.parse_args()
    answer = template_answer if args.answers == "templates" else echo_answer
    server = MockOpenAIServer(answer, delay_s=args.delay, host=args.host, port=args.port)

    async def announce_and_serve() -> None:
        task = asyncio.create_task(server.serve())
        await asyncio.get_running_loop().run_in_executor(None, server._ready.wait)
        print(f"serving on {server.url}", flush=True)
        await task

    asyncio.run(announce_and_serve())


if __name__ == "__main__":
    main()
