"""Tiny models for tests: a randomly initialised 2-layer Qwen2 with its own tokenizer, no download.

    from afterburner.llm.testing import make_tiny_model, make_tiny_adapter
    model_dir = make_tiny_model(tmp_path / "tiny")          # config, weights, tokenizer, chat template
    adapter_dir = make_tiny_adapter(model_dir, tmp_path / "lora")   # a peft LoRA adapter on it

Both directories load with ``from_pretrained`` and with ``get_backend("transformers", model=...)``.
The output is gibberish, but real: real tokens, real sampling, real chat template. Needs torch,
transformers and tokenizers (peft for the adapter).
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CHAT_TEMPLATE",
    "DEFAULT_MODEL_ID",
    "default_model_cached",
    "make_tiny_adapter",
    "make_tiny_model",
]

DEFAULT_MODEL_ID = "Qwen/Qwen2.5-Coder-0.5B-Instruct"

# A Qwen-style ChatML template, small enough to read.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
_CORPUS = [
    "def f(x):\n    return x + 1\n",
    "```python\nclass Solution:\n    def twoSum(self, nums, target):\n        return [0, 1]\n```\n",
    "for i in range(n):\n    total += nums[i] * 2\nprint(total)\n",
    "Make this function faster. Here is the code and its tests.",
    "import collections, itertools, math\nseen = {}\nreturn sorted(xs)[:k]\n",
    "<thinking>use a hash map</thinking>\n<solution>\n```python\n...\n```\n</solution>\n",
]


def make_tiny_model(path: str | Path, *, vocab_size: int = 512, seed: int = 0) -> Path:
    """Save a tiny random Qwen2ForCausalLM (2 layers, hidden size 64) and a byte-level BPE tokenizer."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GenerationConfig, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=_SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_CORPUS * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token=None
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(path)

    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        initializer_range=0.2,  # larger than the default so greedy output is not one repeated token
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config).eval()
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, do_sample=True
    )
    model.save_pretrained(path)
    return path


def make_tiny_adapter(base_dir: str | Path, path: str | Path, *, seed: int = 0) -> Path:
    """Save a LoRA adapter (peft) on the model in `base_dir`, with non-zero weights so it changes outputs."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from afterburner.llm.quiet import quiet_library_warnings

    base = AutoModelForCausalLM.from_pretrained(str(base_dir))
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    with quiet_library_warnings():
        model = get_peft_model(base, config)
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(std=0.5)  # peft initialises B to zero: make the adapter actually do something
    with quiet_library_warnings():
        model.save_pretrained(str(path))
    return Path(path)


def default_model_cached(model_id: str = DEFAULT_MODEL_ID) -> bool:
    """True when `model_id` (config and weights) is in the local Hugging Face cache."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    return all(
        isinstance(try_to_load_from_cache(model_id, f), str) for f in ("config.json", "model.safetensors")
    )
