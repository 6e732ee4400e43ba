"""Shared test helpers for the curate room: a deterministic 'model' behind a mock server."""

from __future__ import annotations

import pytest

from curate.backends.mock_server import MockOpenAIServer, template_answer


@pytest.fixture
def server():
    """A local OpenAI-compatible server answering in the shape of skillmix's templates."""
    with MockOpenAIServer(template_answer) as srv:
        yield srv
