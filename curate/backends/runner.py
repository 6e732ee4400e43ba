"""Run requests through a backend with the resumable cache in front of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from curate.backends.base import Backend, Completion, GenerationRequest, Usage, request_key
from curate.backends.cache import RequestCache
from manifests.progress import Progress


@dataclass
class CachedRun:
    results: dict[str, Completion] = field(default_factory=dict)  # key -> answer
    failures: dict[str, str] = field(default_factory=dict)  # key -> why it has no answer
    usage: Usage = field(default_factory=Usage)
    keys: dict[GenerationRequest, str] = field(default_factory=dict)  # hashed once each

    def answer(self, model: str, request: GenerationRequest) -> Completion | None:
        key = self.keys.get(request) or request_key(model, request)
        return self.results.get(key)


def failure_kind(reason: str) -> str:
    """The short kind of a failure reason: 'gave up after 9 tries: http_429' -> 'http_429',
    'http_401: {body}' -> 'http_401'."""
    head, _, tail = reason.partition(": ")
    return tail.strip() if head.startswith("gave up after") else head.strip()


def run_cached(
    backend: Backend,
    requests: Sequence[GenerationRequest],
    cache: RequestCache,
    *,
    desc: str = "synth",
) -> CachedRun:
    """Answer every request, from the cache when it has the answer, else from the backend.

    Each answer is appended to the cache as soon as it arrives, so a killed run that is
    started again sends only what is still unanswered. Identical requests are sent once.
    A progress bar (`desc`) counts distinct requests answered, cached ones included, with
    retries, failures and tokens so far.
    """
    run = CachedRun()
    todo: dict[str, GenerationRequest] = {}
    for request in requests:
        key = run.keys.get(request) or request_key(backend.model, request)
        run.keys[request] = key
        cached = cache.get(key)
        if cached is not None:
            if key not in run.results:
                run.usage.cached += 1
            run.results[key] = cached
        else:
            todo.setdefault(key, request)

    def tick() -> None:
        usage = run.usage
        tokens = usage.prompt_tokens + usage.completion_tokens
        bar.update(1, retries=usage.retries, failed=usage.failed, tokens=tokens)

    def on_result(request: GenerationRequest, completion: Completion) -> None:
        key = run.keys[request]
        cache.put(key, completion)
        run.results[key] = completion
        tick()

    def on_failure(request: GenerationRequest, reason: str) -> None:
        run.failures[run.keys[request]] = reason
        tick()

    done = len(run.results)
    with Progress(done + len(todo), desc=desc, unit="req", initial=done) as bar:
        backend.generate(list(todo.values()), on_result, on_failure, run.usage)
    cache.sync()
    return run
