"""Decoding that may not begin a prefilled reply as the original goes on: the ``avoid`` of a message.

A conversation whose last message is a prefilled assistant reply may give that message an ``avoid``
text (``{"role": "assistant", "content": prefill, "avoid": "    for "}``): the continuation may not
start with it. A backend that declares ``avoids = True`` enforces it while decoding: as long as what
it generated is a prefix of `avoid`, the tokens that would extend it further into `avoid` (past the
indentation) are banned, so the first line must go another way. Whitespace alone is never banned, so a
line can still be indented as the code needs. (`afterburner.agent.focus` says why a reply is started
that way.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["banned_tokens", "token_index"]


def token_index(strings: Sequence[str]) -> dict[str, list[int]]:
    """{token text: the ids that decode to it}, for `banned_tokens`."""
    index: dict[str, list[int]] = {}
    for i, s in enumerate(strings):
        if s:
            index.setdefault(s, []).append(i)
    return index


def banned_tokens(generated: str, avoid: str, index: Mapping[str, list[int]]) -> list[int]:
    """The ids whose text, after `generated`, keeps the continuation a prefix of `avoid` past its
    indentation, or completes `avoid`; none once `generated` has left `avoid` or passed its end."""
    if not avoid.startswith(generated) or len(generated) >= len(avoid):
        return []
    rest = avoid[len(generated) :]
    return [
        i for k in range(1, len(rest) + 1) if (generated + rest[:k]).strip() for i in index.get(rest[:k], ())
    ]


def logits_processor(tokenizer: Any, index: Mapping[str, list[int]], prompt_len: int, avoids: list[str]):
    """A transformers ``LogitsProcessor`` enforcing ``avoids[row]`` on each row of the batch."""
    from transformers import LogitsProcessor

    open_rows = {row for row, avoid in enumerate(avoids) if avoid}

    class AvoidStart(LogitsProcessor):
        def __call__(self, input_ids, scores):
            for row in list(open_rows):
                generated = tokenizer.decode(input_ids[row, prompt_len:], skip_special_tokens=True)
                ban = banned_tokens(generated, avoids[row], index)
                if ban:
                    scores[row, ban] = -float("inf")
                elif not avoids[row].startswith(generated):
                    open_rows.discard(row)  # it went another way: nothing more to enforce
            return scores

    return AvoidStart()
