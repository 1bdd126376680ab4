"""LLM backends chosen by name, and code extraction from their completions.

    from afterburner.llm import get_backend, Sampling
    backend = get_backend("transformers")                      # the default model, in-process
    backend = get_backend("scripted", replies=["```python\\ndef f(): ...\\n```"])
    [[c]] = backend.generate([[{"role": "user", "content": "..."}]], n=1, sampling=Sampling(seed=0))

A backend is a short name from `BACKENDS` (extendable with `register_backend`) or a dotted import path
``pkg.module:Class`` / ``pkg.module.Class``. Backends are imported only when chosen, so nothing heavy
(torch, transformers, vllm) loads before it is used.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from afterburner.errors import BackendError
from afterburner.llm.base import DEFAULT_MODEL, Backend, Completion, Conversation, Message, Sampling
from afterburner.llm.extract import Extraction, extract_code, merge_into_module

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "DEFAULT_MODEL",
    "Backend",
    "Completion",
    "Conversation",
    "Extraction",
    "Message",
    "Sampling",
    "extract_code",
    "get_backend",
    "merge_into_module",
    "register_backend",
]

DEFAULT_BACKEND = "transformers"

BACKENDS: dict[str, str] = {
    "transformers": "afterburner.llm.transformers_backend:TransformersBackend",
    "vllm": "afterburner.llm.vllm_backend:VLLMBackend",
    "openai": "afterburner.llm.openai_backend:OpenAIBackend",
    "scripted": "afterburner.llm.scripted:ScriptedBackend",
}


def register_backend(name: str, target: str) -> None:
    """Make `name` choose the backend class at `target` (``pkg.module:Class``)."""
    BACKENDS[name] = target


def get_backend(name: str | Backend | None = None, model: str | None = None, **options: Any) -> Backend:
    """Build the backend called `name` (a short name or an import path) for `model`.

    `options` go to the backend's constructor; an option it does not take is a `BackendError`.
    An object that already has a ``generate`` method is returned as it is.
    """
    if name is not None and not isinstance(name, str):
        if callable(getattr(name, "generate", None)):
            return name
        raise BackendError(f"a backend is a name or an object with generate(), not {type(name).__name__}")
    name = (name or DEFAULT_BACKEND).strip()
    cls = _resolve(name)
    try:
        inspect.signature(cls).bind(model=model, **options)
    except TypeError:
        params = [p for p in inspect.signature(cls).parameters if p not in ("self", "model")]
        unknown = sorted(set(options) - set(params))
        raise BackendError(
            f"backend {name!r} does not take option(s) {', '.join(unknown) or '?'}; "
            f"it takes: {', '.join(params) or 'none'}"
        ) from None
    return cls(model=model, **options)


def _resolve(name: str) -> type:
    target = BACKENDS.get(name)
    if target is None:
        if "." not in name and ":" not in name:
            raise BackendError(
                f"unknown backend {name!r}; known: {', '.join(sorted(BACKENDS))} "
                "(or an import path pkg.module:Class)"
            )
        target = name
    module_name, sep, attr = target.partition(":")
    if not sep:
        module_name, _, attr = target.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        missing = e.name or module_name
        if name in BACKENDS and missing != module_name:
            hint = _INSTALL_HINTS.get(name, f"pip install {missing}")
            raise BackendError(f"backend {name!r} needs the package {missing!r}: {hint}") from None
        raise BackendError(f"backend {name!r}: cannot import module {module_name!r} ({e})") from None
    cls = getattr(module, attr, None)
    if cls is None:
        raise BackendError(f"backend {name!r}: module {module_name!r} has no attribute {attr!r}")
    return cls


_INSTALL_HINTS = {
    "transformers": "pip install 'afterburner[llm]'",
    "vllm": "build a separate venv with scripts/make-vllm-venv.sh (vLLM pins its own torch)",
    "openai": "pip install httpx tenacity",
}
