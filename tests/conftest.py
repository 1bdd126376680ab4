"""Shared test helpers: slow tests skip without the default model; a tiny model built once.

- ``@pytest.mark.slow`` tests are skipped when Qwen/Qwen2.5-Coder-0.5B-Instruct is not in the local
  Hugging Face cache (see the marker in pyproject.toml); the fixture ``requires_default_model`` does
  the same for a test that is not marked slow.
- ``tiny_model_dir``: a 2-layer random Qwen2 with its own tokenizer and chat template, saved once per
  session (`afterburner.llm.testing.make_tiny_model`, no download).
"""

from __future__ import annotations

import pytest

from afterburner.llm.testing import DEFAULT_MODEL_ID, default_model_cached

_SKIP_REASON = f"{DEFAULT_MODEL_ID} is not in the local Hugging Face cache (run: afterburner models install)"


def pytest_collection_modifyitems(config, items):
    if any("slow" in item.keywords for item in items) and not default_model_cached():
        for item in items:
            if "slow" in item.keywords:
                item.add_marker(pytest.mark.skip(reason=_SKIP_REASON))


@pytest.fixture
def requires_default_model():
    """Skip the test when the default model is not in the local cache."""
    if not default_model_cached():
        pytest.skip(_SKIP_REASON)
    return DEFAULT_MODEL_ID


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A 2-layer random Qwen2 with a tiny byte-level tokenizer and a chat template (no download)."""
    pytest.importorskip("transformers")
    from afterburner.llm.testing import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny-qwen2"))
