"""The default backend: a Hugging Face causal LM in this process, sampled in batches.

    get_backend("transformers")                                   # Qwen/Qwen2.5-Coder-0.5B-Instruct
    get_backend("transformers", model="path/to/dir")              # a saved model, or a LoRA adapter dir
    get_backend("transformers", model="model.gguf")               # a GGUF file (or gguf_file="x.gguf")
    get_backend("transformers", model=..., dtype="float32", device="cpu")

All `n` candidates of all conversations come from ONE ``generate`` call (``num_return_sequences=n``,
left padding), which is several times the throughput of n calls on CPU. A directory holding
``adapter_config.json`` is a peft adapter: its base model is loaded and the adapter applied. Loaded
models are cached per (model, dtype, device, gguf file) for the life of the process.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from afterburner.errors import BackendError
from afterburner.llm.base import DEFAULT_MODEL, Completion, Conversation, Sampling, apply_stop
from afterburner.llm.models import LoadedModels, cached_snapshot, require_hub

__all__ = ["TransformersBackend", "clear_cache"]

_LOADED = LoadedModels()  # (model, dtype, device, gguf file) -> (model, tokenizer)


class TransformersBackend:
    """Samples completions from a local Hugging Face model (hub id, directory, GGUF file or adapter)."""

    name = "transformers"
    continues_final_message = True  # a conversation ending with an assistant message is continued
    streams_tokens = True  # generate(..., on_tokens=cb) reports the tokens as they are generated
    avoids = True  # a prefilled reply's "avoid" start is banned while decoding (afterburner.llm.avoid)

    def __init__(
        self,
        model: str | None = None,
        dtype: str = "auto",
        device: str = "auto",
        gguf_file: str | None = None,
        trust_remote_code: bool = False,
    ) -> None:
        import torch

        self.model = str(model or DEFAULT_MODEL)
        self.device = _pick_device(device)
        self.dtype = _pick_dtype(dtype, self.device)
        self.gguf_file = gguf_file
        self.trust_remote_code = trust_remote_code
        self._torch = torch
        self._lock = threading.Lock()
        self.lm, self.tokenizer = self._load()
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._eos_ids = _eos_ids(self.lm, self.tokenizer)
        self._tokens: dict[str, list[int]] | None = None  # token text -> ids, for `avoid` (built once)

    def __repr__(self) -> str:
        return f"TransformersBackend(model={self.model!r}, dtype={self.dtype}, device={self.device!r})"

    # ------------------------------------------------------------------ generation

    def generate(
        self,
        conversations: Sequence[Conversation],
        n: int = 1,
        sampling: Sampling | None = None,
        on_tokens: Callable[[int, int, int], None] | None = None,
    ) -> list[list[Completion]]:
        """For each conversation, `n` sampled completions, all in one batched ``generate`` call.

        `on_tokens(generated, finished, sequences)` is called after every decoding step: the new tokens
        of all sequences so far, how many sequences have ended, and how many there are."""
        if not conversations:
            return []
        sampling = sampling or Sampling()
        torch = self._torch
        prompts = [self._render(c) for c in conversations]
        enc = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        enc = {k: v.to(self.lm.device) for k, v in enc.items()}
        greedy = sampling.temperature <= 0
        per_call = 1 if greedy else n  # greedy decoding cannot return several sequences; they'd be equal
        kwargs: dict[str, Any] = {
            "max_new_tokens": sampling.max_new_tokens,
            "do_sample": not greedy,
            "num_return_sequences": per_call,
            "pad_token_id": self.tokenizer.pad_token_id,
            "eos_token_id": self._eos_ids,
        }
        if not greedy:
            # top_k, repetition_penalty, ...: the model's generation_config defaults, as vLLM does.
            kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p)
        if sampling.stop:
            kwargs.update(stop_strings=list(sampling.stop), tokenizer=self.tokenizer)
        avoids = [_avoid(c) for c in conversations for _ in range(per_call)]
        if any(avoids):
            from transformers import LogitsProcessorList

            from afterburner.llm.avoid import logits_processor

            processor = logits_processor(
                self.tokenizer, self._token_index(), enc["input_ids"].shape[1], avoids
            )
            kwargs["logits_processor"] = LogitsProcessorList([processor])
        if on_tokens is not None:
            kwargs["streamer"] = _TokenCounter(on_tokens, {*self._eos_ids, self.tokenizer.pad_token_id})
        with self._lock, torch.inference_mode():
            if sampling.seed is not None:
                torch.manual_seed(sampling.seed)
            out = self.lm.generate(**enc, **kwargs)
        prompt_len = enc["input_ids"].shape[1]
        prompt_tokens = enc["attention_mask"].sum(dim=1).tolist()
        new = out[:, prompt_len:].tolist()
        results: list[list[Completion]] = []
        for i in range(len(conversations)):
            row = [
                self._completion(new[i * per_call + j], int(prompt_tokens[i]), sampling)
                for j in range(per_call)
            ]
            results.append(row if per_call == n else row * n)
        return results

    def _completion(self, tokens: list[int], prompt_tokens: int, sampling: Sampling) -> Completion:
        count = len(tokens)
        finish = "length"
        for k, t in enumerate(tokens):
            if t in self._eos_ids:
                count, finish = k + 1, "stop"
                break
        else:
            pad = self.tokenizer.pad_token_id
            while count and tokens[count - 1] == pad:
                count -= 1
            if count < len(tokens):
                finish = "stop"  # ended early: a stop string, padded after
        text = self.tokenizer.decode(tokens[:count], skip_special_tokens=True)
        text, stopped = apply_stop(text, sampling.stop)
        if stopped:
            finish = "stop"
        return Completion(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=count,
            finish_reason=finish,
            extra={"stopped_by": stopped} if stopped else {},
        )

    def _token_index(self) -> dict[str, list[int]]:
        if self._tokens is None:
            from afterburner.llm.avoid import token_index

            self._tokens = token_index([self.tokenizer.decode([i]) for i in range(len(self.tokenizer))])
        return self._tokens

    def _render(self, conversation: Conversation) -> str:
        """The prompt text; a conversation that ends with an assistant message is continued from it."""
        prefilled = bool(conversation) and conversation[-1].get("role") == "assistant"
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(
                list(conversation),
                tokenize=False,
                add_generation_prompt=not prefilled,
                continue_final_message=prefilled,
            )
        # A base model without a chat template: a plain transcript.
        lines = [f"{m['role']}: {m['content']}" for m in conversation]
        return "\n\n".join(lines if prefilled else [*lines, "assistant:"])

    # ------------------------------------------------------------------ loading

    def _load(self) -> tuple[Any, Any]:
        return _LOADED.get((self.model, str(self.dtype), self.device, self.gguf_file), self._load_uncached)

    def _load_uncached(self) -> tuple[Any, Any]:
        model, gguf = self.model, self.gguf_file
        path = Path(model).expanduser()
        if path.suffix.lower() == ".gguf":
            if not path.is_file():
                raise BackendError(f"GGUF file {model!r} does not exist")
            model, gguf = str(path.parent), path.name
        elif path.is_dir() and (path / "adapter_config.json").is_file():
            return self._load_adapter(path)
        elif not path.exists() and (model.startswith((".", "/", "~")) or model.count("/") > 1):
            raise BackendError(f"model directory {model!r} does not exist")
        return self._from_pretrained(*_local_or_reachable(model, gguf or "config.json"), gguf)

    def _from_pretrained(self, model: str, local_only: bool, gguf: str | None) -> tuple[Any, Any]:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        common: dict[str, Any] = {"local_files_only": local_only, "trust_remote_code": self.trust_remote_code}
        if gguf:
            common["gguf_file"] = gguf
        try:
            tokenizer = AutoTokenizer.from_pretrained(model, **common)
            lm = AutoModelForCausalLM.from_pretrained(model, dtype=self.dtype, **common)
        except (OSError, ValueError, ImportError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise BackendError(f"cannot load model {model!r}: {first}") from None
        return lm.to(self.device).eval(), tokenizer

    def _load_adapter(self, path: Path) -> tuple[Any, Any]:
        try:
            config = json.loads((path / "adapter_config.json").read_text())
        except (OSError, ValueError) as e:
            raise BackendError(f"adapter {str(path)!r} has an unreadable adapter_config.json: {e}") from None
        base = config.get("base_model_name_or_path")
        if not base:
            raise BackendError(
                f"adapter {str(path)!r} does not name its base model (base_model_name_or_path)"
            )
        try:
            from peft import PeftModelForCausalLM
        except ImportError:
            raise BackendError("loading a LoRA adapter needs peft: pip install peft") from None
        # A fresh base (not the cached one): peft injects its layers into the model it is given.
        lm, tokenizer = self._from_pretrained(*_local_or_reachable(base, "config.json"), None)
        if (path / "tokenizer_config.json").is_file():
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(path))
        from afterburner.llm.quiet import quiet_library_warnings

        with quiet_library_warnings():  # peft reads transformers' deprecated gradient-checkpointing name
            lm = PeftModelForCausalLM.from_pretrained(lm, str(path)).to(self.device).eval()
        return lm, tokenizer


class _TokenCounter:
    """A ``generate`` streamer that counts each sequence's new tokens as they come (no decoding).

    transformers calls ``put`` once with the prompt, then once per step with one token per sequence; a
    sequence has ended at its first end (or, after a stop string, padding) token."""

    def __init__(self, callback: Callable[[int, int, int], None], end_ids: set[int | None]) -> None:
        self.callback, self.end_ids = callback, end_ids
        self.prompt_seen = False
        self.ended: list[bool] = []
        self.count = 0

    def put(self, value: Any) -> None:
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        tokens = value.reshape(-1).tolist()
        if not self.ended:
            self.ended = [False] * len(tokens)
        for i, t in enumerate(tokens[: len(self.ended)]):
            if not self.ended[i]:
                self.count += 1
                self.ended[i] = t in self.end_ids
        self.callback(self.count, sum(self.ended), len(self.ended))

    def end(self) -> None:
        pass


def clear_cache() -> None:
    """Forget the models loaded in this process (frees their memory once nothing else holds them)."""
    _LOADED.clear()


def _pick_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    return "cpu"


def _pick_dtype(dtype: Any, device: str) -> Any:
    import torch

    if not isinstance(dtype, str):
        return dtype
    if dtype == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.bfloat16 if device == "cpu" else torch.float32
    value = getattr(torch, dtype, None)
    if not isinstance(value, torch.dtype):
        raise BackendError(f"unknown dtype {dtype!r}; use auto, bfloat16, float16 or float32")
    return value


def _avoid(conversation: Conversation) -> str:
    """The prefilled reply's ``avoid`` text (`afterburner.llm.avoid`), or ""."""
    last = conversation[-1] if conversation else {}
    return last.get("avoid", "") if last.get("role") == "assistant" else ""


def _eos_ids(lm: Any, tokenizer: Any) -> list[int]:
    ids = getattr(lm.generation_config, "eos_token_id", None)
    ids = list(ids) if isinstance(ids, list | tuple) else [ids]
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    return sorted({i for i in ids if i is not None})


def _local_or_reachable(model: str, filename: str) -> tuple[str, bool]:
    """(what to load, local only): a path as it is; a cached hub id as its snapshot folder, so that
    nothing asks the hub; otherwise the id, once the hub is known to be reachable."""
    if Path(model).expanduser().exists():
        return model, True
    if cached_snapshot(model, filename) is not None:
        from huggingface_hub import snapshot_download

        return snapshot_download(model, local_files_only=True), True
    require_hub(model)
    return model, False
