"""The transformers backend on a tiny random Qwen2 built by the fixture (no download), and the real
default model in the slow tests."""

import time
from pathlib import Path

import pytest

from afterburner.errors import BackendError
from afterburner.llm import Sampling, extract_code, get_backend

pytest.importorskip("transformers")
pytestmark = pytest.mark.integration

SHORT = [{"role": "user", "content": "hi"}]
LONG = [
    {"role": "system", "content": "You make Python code faster."},
    {"role": "user", "content": "def f(x):\n    return sorted(x)[0]\n\nMake it faster, please."},
]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return get_backend("transformers", model=str(tiny_model_dir), dtype="float32")


def test_n_candidates_per_conversation_from_one_batched_generate_call(tiny, monkeypatch):
    calls = []
    real = tiny.lm.generate

    def spy(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(tiny.lm, "generate", spy)
    out = tiny.generate([SHORT, LONG], n=3, sampling=Sampling(max_new_tokens=12, seed=1))
    assert len(calls) == 1 and calls[0]["num_return_sequences"] == 3
    assert calls[0]["input_ids"].shape[0] == 2 and tiny.tokenizer.padding_side == "left"
    assert [len(row) for row in out] == [3, 3]
    tok = tiny.tokenizer
    for conv, row in zip([SHORT, LONG], out, strict=True):
        prompt = tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=True)
        for c in row:
            assert c.prompt_tokens == len(tok(prompt, add_special_tokens=False).input_ids)  # no padding
            assert 1 <= c.completion_tokens <= 12 and c.finish_reason in ("stop", "length")
    assert out[0][0].prompt_tokens < out[1][0].prompt_tokens


def test_seed_makes_sampling_repeatable_and_candidates_differ(tiny):
    s = Sampling(temperature=1.0, max_new_tokens=16, seed=7)
    a = tiny.generate([LONG], n=4, sampling=s)
    b = tiny.generate([LONG], n=4, sampling=s)
    assert [c.text for c in a[0]] == [c.text for c in b[0]]
    assert len({c.text for c in a[0]}) > 1


def test_left_padding_does_not_change_greedy_output(tiny):
    s = Sampling(temperature=0, max_new_tokens=10)
    [[alone]] = tiny.generate([SHORT], n=1, sampling=s)
    [[batched], _] = tiny.generate([SHORT, LONG], n=1, sampling=s)
    assert batched.text == alone.text and batched.completion_tokens == alone.completion_tokens


def test_greedy_with_n_returns_n_equal_completions(tiny):
    [row] = tiny.generate([SHORT], n=3, sampling=Sampling(temperature=0, max_new_tokens=5))
    assert len(row) == 3 and len({c.text for c in row}) == 1


def test_stop_string_ends_generation_early_and_is_cut_from_the_text(tiny):
    [[full]] = tiny.generate([LONG], sampling=Sampling(temperature=0, max_new_tokens=40))
    assert full.completion_tokens == 40 and full.finish_reason == "length"
    text = full.text
    at = next(
        k
        for k in range(len(text) // 3, len(text) - 3)
        if text[k : k + 3].isascii() and text[k : k + 3].isalpha() and text.index(text[k : k + 3]) == k
    )
    stop = text[at : at + 3]
    [[cut]] = tiny.generate([LONG], sampling=Sampling(temperature=0, max_new_tokens=40, stop=(stop,)))
    assert cut.text == full.text[: full.text.index(stop)]
    assert cut.finish_reason == "stop" and cut.completion_tokens < 40


def test_models_are_cached_per_process(tiny, tiny_model_dir):
    again = get_backend("transformers", model=str(tiny_model_dir), dtype="float32")
    assert again.lm is tiny.lm


def test_lora_adapter_directory_is_a_model(tiny, tiny_model_dir, tmp_path):
    from afterburner.llm.testing import make_tiny_adapter

    adapter = make_tiny_adapter(tiny_model_dir, tmp_path / "lora")
    tuned = get_backend("transformers", model=str(adapter), dtype="float32")
    assert type(tuned.lm).__name__ == "PeftModelForCausalLM"
    s = Sampling(temperature=0, max_new_tokens=12)
    assert tuned.generate([LONG], sampling=s)[0][0].text != tiny.generate([LONG], sampling=s)[0][0].text
    assert (
        get_backend("transformers", model=str(tiny_model_dir), dtype="float32").lm is tiny.lm
    )  # base intact


def test_loading_an_adapter_does_not_warn_about_gradient_checkpointing(tiny_model_dir, tmp_path):
    import warnings

    from afterburner.llm.testing import make_tiny_adapter

    adapter = make_tiny_adapter(tiny_model_dir, tmp_path / "lora")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        get_backend("transformers", model=str(adapter), dtype="float32")
    assert not [w for w in seen if "gradient_checkpointing" in str(w.message)], [str(w.message) for w in seen]


def test_tokens_are_reported_as_they_are_generated(tiny):
    calls = []
    out = tiny.generate(
        [SHORT, LONG], n=2, sampling=Sampling(max_new_tokens=9, seed=3), on_tokens=lambda *a: calls.append(a)
    )
    assert tiny.streams_tokens and 1 <= len(calls) <= 9  # one call per decoding step
    assert all(replies == 4 for _, _, replies in calls)
    counts = [tokens for tokens, _, _ in calls]
    assert counts == sorted(counts) and counts[0] == 4  # every sequence's first token
    assert counts[-1] == sum(c.completion_tokens for row in out for c in row)
    assert calls[-1][1] == sum(c.finish_reason == "stop" for row in out for c in row)


def test_missing_directory_and_uncached_offline_model_fail_in_one_line(monkeypatch, tmp_path):
    with pytest.raises(BackendError, match="does not exist"):
        get_backend("transformers", model=str(tmp_path / "nope"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t = time.monotonic()
    with pytest.raises(BackendError) as e:
        get_backend("transformers", model="nobody/no-such-model")
    assert time.monotonic() - t < 5
    assert "not in the local Hugging Face cache" in str(e.value) and "\n" not in str(e.value)


def test_bad_dtype(tiny_model_dir):
    with pytest.raises(BackendError, match="unknown dtype"):
        get_backend("transformers", model=str(tiny_model_dir), dtype="float77")


@pytest.mark.slow
def test_default_model_writes_extractable_code():
    backend = get_backend("transformers")  # Qwen/Qwen2.5-Coder-0.5B-Instruct, bfloat16 on CPU
    conv = [
        {"role": "user", "content": "Write a Python function add(a, b) that returns a + b. Only the code."}
    ]
    [row] = backend.generate([conv], n=2, sampling=Sampling(temperature=0.2, max_new_tokens=80, seed=0))
    assert len(row) == 2
    assert any(extract_code(c.text, "add").ok for c in row), [c.text for c in row]
    assert all(c.prompt_tokens > 10 and 0 < c.completion_tokens <= 80 for c in row)


GGUF = Path.home() / ".cache/afterburner-model-parts/0.5b/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"


@pytest.mark.slow
@pytest.mark.skipif(not GGUF.is_file(), reason="the default model's GGUF file is not on this machine")
def test_gguf_file_is_a_model():
    backend = get_backend("transformers", model=str(GGUF))
    conv = [{"role": "user", "content": "Say hello."}]
    [[c]] = backend.generate([conv], sampling=Sampling(temperature=0, max_new_tokens=8))
    assert c.text.strip() and c.completion_tokens <= 8


def test_a_prefilled_assistant_message_is_continued_not_answered(tiny):
    prefill = "```python\ndef f(x):\n    # Plan:"
    conv = [*LONG, {"role": "assistant", "content": prefill}]
    prompt = tiny._render(conv)
    assert prompt.endswith(prefill)  # no end of turn, no new assistant header after the prefill
    assert prompt.startswith(tiny._render(LONG).rsplit("<|im_start|>assistant", 1)[0])
    [[c]] = tiny.generate([conv], n=1, sampling=Sampling(temperature=0, max_new_tokens=4))
    assert c.completion_tokens <= 4 and not c.text.startswith(prefill)  # the continuation alone
    assert tiny.continues_final_message
