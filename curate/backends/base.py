"""What every generation backend shares: requests, results, usage, the Backend protocol."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol

from manifests import canonical_json


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 1024


@dataclass(frozen=True)
class GenerationRequest:
    """One chat completion to make. `seed` makes sampling reproducible where supported."""

    messages: tuple[tuple[str, str], ...]  # (role, content) pairs; a tuple so it hashes
    params: SamplingParams = field(default_factory=SamplingParams)
    seed: int = 0

    @classmethod
    def chat(cls, messages: Sequence[dict], params: SamplingParams, seed: int) -> GenerationRequest:
        return cls(tuple((m["role"], m["content"]) for m in messages), params, seed)

    def message_dicts(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.messages]


def request_key(model: str, request: GenerationRequest) -> str:
    """The cache key: a hash of (model, messages, sampling params, seed)."""
    payload = {
        "model": model,
        "messages": request.message_dicts(),
        "params": asdict(request.params),
        "seed": request.seed,
    }
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"


@dataclass
class Usage:
    """What a run cost and how it went; printed in the run summary."""

    requests: int = 0  # answered by the backend in this run
    cached: int = 0  # answered from the cache, not sent
    failed: int = 0  # gave up after retries, or refused for good
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def count_error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def add_completion(self, completion: Completion) -> None:
        self.requests += 1
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"requests sent {self.requests} (cached {self.cached}, failed {self.failed}, "
            f"retries {self.retries}), tokens prompt {self.prompt_tokens} "
            f"completion {self.completion_tokens}"
        )


# Called once per request as soon as its answer arrives (the cache appends it right away).
ResultCallback = Callable[[GenerationRequest, Completion], None]
FailureCallback = Callable[[GenerationRequest, str], None]


class Backend(Protocol):
    model: str

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        on_result: ResultCallback,
        on_failure: FailureCallback,
        usage: Usage,
    ) -> None:
        """Answer every request: each ends in exactly one on_result or on_failure call."""
        ...
