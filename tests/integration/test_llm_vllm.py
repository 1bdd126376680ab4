"""The vllm backend for real: runs only where vLLM is importable (its own venv, see
scripts/make-vllm-venv.sh and docs/llm.md) and the default model is cached.

    VLLM_CPU_KVCACHE_SPACE=2 OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 \\
        /work/vllm-venv/bin/python -m pytest tests/integration/test_llm_vllm.py -q
"""

import pytest

from afterburner.errors import BackendError
from afterburner.llm import Sampling, extract_code, get_backend

pytest.importorskip("vllm")
pytestmark = [pytest.mark.integration, pytest.mark.slow]

CONV = [{"role": "user", "content": "Write a Python function add(a, b) that returns a + b. Only the code."}]
OTHER = [{"role": "user", "content": "Write a Python function neg(x) that returns -x. Only the code."}]


@pytest.fixture(scope="module")
def backend():
    return get_backend("vllm")  # Qwen/Qwen2.5-Coder-0.5B-Instruct


def test_n_completions_per_conversation_with_real_token_counts(backend):
    out = backend.generate([CONV, OTHER], n=3, sampling=Sampling(temperature=0.8, max_new_tokens=60, seed=0))
    assert [len(row) for row in out] == [3, 3]
    assert out[0][0].prompt_tokens > 10 and out[0][0].prompt_tokens != out[1][0].prompt_tokens
    assert all(0 < c.completion_tokens <= 60 for row in out for c in row)
    assert any(extract_code(c.text, "add").ok for c in out[0])


def test_the_n_samples_differ(backend):
    story = [{"role": "user", "content": "Tell me a short story about a fast snake."}]
    [row] = backend.generate([story], n=3, sampling=Sampling(temperature=1.0, max_new_tokens=24, seed=0))
    assert len({c.text for c in row}) == 3  # n samples, not one repeated


def test_seed_repeats_and_stop_strings_cut(backend):
    s = Sampling(temperature=0.8, max_new_tokens=60, seed=3, stop=("```\n",))
    a = backend.generate([CONV], n=2, sampling=s)
    b = backend.generate([CONV], n=2, sampling=s)
    assert [c.text for c in a[0]] == [c.text for c in b[0]]
    for c in a[0]:
        assert "```\n" not in c.text
        if c.extra.get("stopped_by"):
            assert c.finish_reason == "stop"


def test_engine_is_cached(backend):
    assert get_backend("vllm").llm is backend.llm


def test_uncached_model_offline_is_one_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BackendError, match="not in the local Hugging Face cache"):
        get_backend("vllm", model="nobody/no-such-model")
