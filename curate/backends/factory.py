"""Build a backend from command-line style options."""

from __future__ import annotations

from dataclasses import dataclass

from curate.backends.base import Backend
from curate.backends.openai_http import OpenAIBackend, RetryPolicy

BACKENDS = ("openai", "transformers")


@dataclass(frozen=True)
class BackendOptions:
    kind: str = "openai"
    model: str = ""
    base_url: str = "http://127.0.0.1:8000/v1"
    api_key_env: str | None = None  # the NAME of the variable; the key itself is never kept
    concurrency: int = 16
    timeout_s: float = 120.0
    max_retries: int = 8
    tokens_per_minute: float | None = None
    batch_size: int = 8
    device: str | None = None

    def describe(self) -> dict:
        """What a run summary records about the backend (never the key)."""
        out = {"backend": self.kind, "model": self.model}
        if self.kind == "openai":
            out.update(
                base_url=self.base_url,
                api_key_env=self.api_key_env,
                concurrency=self.concurrency,
                tokens_per_minute=self.tokens_per_minute,
            )
        else:
            out.update(batch_size=self.batch_size)
        return out


def make_backend(options: BackendOptions) -> Backend:
    if not options.model:
        raise ValueError("a model is needed (--model)")
    if options.kind == "openai":
        return OpenAIBackend(
            options.base_url,
            options.model,
            api_key_env=options.api_key_env,
            concurrency=options.concurrency,
            timeout_s=options.timeout_s,
            retry=RetryPolicy(max_retries=options.max_retries),
            tokens_per_minute=options.tokens_per_minute,
        )
    if options.kind == "transformers":
        from curate.backends.transformers_local import TransformersBackend

        return TransformersBackend(
            options.model, batch_size=options.batch_size, device=options.device
        )
    raise ValueError(f"unknown backend {options.kind!r}; known: {BACKENDS}")
