"""A deterministic backend with canned replies, for tests, docs and demos.

    get_backend("scripted", replies=["slow version", "wrong version", "fast version"])
    get_backend("scripted", replies=lambda conversation, i: "...")     # i counts completions from 0
    get_backend("scripted", model="replies.yaml")                      # a list, or {replies: [...], cycle: true}

Each completion consumes the next reply, across calls and conversations; with ``cycle=True`` the list
repeats, otherwise running out is a `BackendError`. Stop strings cut a reply like a real model's
would. Token counts are whitespace-split word counts (an approximation). Every conversation received
is kept in ``calls`` so tests can look at the prompts.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from afterburner.errors import BackendError
from afterburner.llm.base import Completion, Conversation, Sampling, apply_stop

__all__ = ["ScriptedBackend"]

ReplyFn = Callable[[Conversation, int], str]


class ScriptedBackend:
    """Returns canned replies in order (or from a callable), never touching a model."""

    name = "scripted"

    def __init__(
        self,
        model: str | None = None,
        replies: Sequence[str] | ReplyFn | None = None,
        cycle: bool | None = None,
    ) -> None:
        file_cycle = None
        if replies is None and model:
            replies, file_cycle = _load_replies(model)
        if replies is None:
            raise BackendError(
                "the scripted backend needs replies=[...], a callable, or model=path/to/replies.json|.yaml"
            )
        if isinstance(replies, str) or not (callable(replies) or isinstance(replies, Sequence)):
            raise BackendError("scripted replies must be a list of strings or a callable (conversation, i)")
        if not callable(replies):
            replies = [str(r) for r in replies]
            if not replies:
                raise BackendError("scripted replies are empty: give at least one reply")
        self.model = model if isinstance(model, str) and model else "scripted"
        self.replies = replies
        self.cycle = bool(file_cycle if cycle is None else cycle)
        self.calls: list[Conversation] = []
        self._next = 0
        self._lock = threading.Lock()

    def generate(
        self, conversations: Sequence[Conversation], n: int = 1, sampling: Sampling | None = None
    ) -> list[list[Completion]]:
        sampling = sampling or Sampling()
        out: list[list[Completion]] = []
        for conversation in conversations:
            prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in conversation)
            with self._lock:
                self.calls.append([dict(m) for m in conversation])
                texts = [self._reply(conversation) for _ in range(n)]
            row = []
            for raw in texts:
                text, stopped = apply_stop(raw, sampling.stop)
                words = text.split()
                finish = "stop"
                if len(words) > sampling.max_new_tokens:
                    # Cut at the word budget, keeping the original spacing up to there.
                    cut = _nth_word_end(text, sampling.max_new_tokens)
                    text, words, finish = text[:cut], words[: sampling.max_new_tokens], "length"
                row.append(
                    Completion(
                        text=text,
                        prompt_tokens=prompt_tokens,
                        completion_tokens=len(words),
                        finish_reason=finish,
                        extra={"stopped_by": stopped} if stopped else {},
                    )
                )
            out.append(row)
        return out

    def _reply(self, conversation: Conversation) -> str:
        i = self._next
        self._next += 1
        if callable(self.replies):
            return str(self.replies(conversation, i))
        if i >= len(self.replies):
            if not self.cycle:
                raise BackendError(
                    f"the scripted backend ran out of replies after {len(self.replies)}; "
                    "give more replies or cycle=True"
                )
            i %= len(self.replies)
        return self.replies[i]


def _nth_word_end(text: str, n: int) -> int:
    count, in_word = 0, False
    for k, ch in enumerate(text):
        if ch.isspace():
            if in_word:
                count += 1
                if count == n:
                    return k
            in_word = False
        else:
            in_word = True
    return len(text)


def _load_replies(path: str) -> tuple[list[str], bool | None]:
    p = Path(path)
    if not p.is_file():
        raise BackendError(f"scripted replies file {path!r} does not exist")
    try:
        text = p.read_text(encoding="utf-8")
        if p.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data: Any = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as e:
        raise BackendError(f"scripted replies file {path!r} cannot be read: {e}".splitlines()[0]) from None
    cycle = None
    if isinstance(data, dict):
        cycle = data.get("cycle")
        data = data.get("replies")
    if not isinstance(data, list) or not all(isinstance(r, str) for r in data):
        raise BackendError(
            f"scripted replies file {path!r} must hold a list of strings (or {{replies: [...], cycle: bool}})"
        )
    return data, cycle
