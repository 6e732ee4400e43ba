"""Generation backends (OpenAI-compatible HTTP, local transformers) and the request cache."""

from curate.backends.base import (
    Backend,
    Completion,
    GenerationRequest,
    SamplingParams,
    Usage,
    request_key,
)
from curate.backends.cache import RequestCache
from curate.backends.openai_http import OpenAIBackend, RetryPolicy
from curate.backends.ratelimit import TokenBucket
from curate.backends.runner import CachedRun, run_cached

__all__ = [
    "Backend",
    "CachedRun",
    "Completion",
    "GenerationRequest",
    "OpenAIBackend",
    "RequestCache",
    "RetryPolicy",
    "SamplingParams",
    "TokenBucket",
    "Usage",
    "request_key",
    "run_cached",
]
