"""The LLM seam: one small protocol that every backend satisfies by duck typing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["DEFAULT_MODEL", "Backend", "Completion", "Conversation", "Message", "Sampling", "apply_stop"]

DEFAULT_MODEL = "Qwen/Qwen2.5-Coder-0.5B-Instruct"

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}
Conversation = list[Message]


@dataclass(frozen=True)
class Sampling:
    """How to sample. `stop` strings end a completion (the stop string itself is kept out of the text)."""

    temperature: float = 0.7
    top_p: float = 0.95
    max_new_tokens: int = 768
    seed: int | None = None
    stop: tuple[str, ...] = ()


def apply_stop(text: str, stop: Sequence[str]) -> tuple[str, str | None]:
    """Cut `text` before the earliest stop string; returns (text, the stop string found or None)."""
    best: tuple[int, str] | None = None
    for s in stop:
        if s and (k := text.find(s)) >= 0 and (best is None or k < best[0]):
            best = (k, s)
    return (text, None) if best is None else (text[: best[0]], best[1])


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"  # "stop" | "length" | "error"
    extra: dict = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """Returns, for each conversation, `n` completions.

    Optional capabilities, as class attributes: ``continues_final_message = True`` (a conversation that
    ends with an assistant message is continued from it) and ``streams_tokens = True`` (``generate`` also
    takes ``on_tokens=callback(generated, finished, sequences)``, called as tokens are generated).
    """

    name: str
    model: str

    def generate(
        self, conversations: Sequence[Conversation], n: int = 1, sampling: Sampling | None = None
    ) -> list[list[Completion]]: ...
