"""Library warnings a user can do nothing about, silenced where the project's own calls cause them.

- transformers 5 renamed gradient checkpointing to activation checkpointing and warns on the old names;
  peft still reads ``model.is_gradient_checkpointing`` whenever it wraps a model, so every LoRA adapter
  loaded (``--model ADAPTER``) or trained warns (``FutureWarning``), whatever the user's settings.
- peft, saving an adapter, asks the hub whether the base model's ``config.json`` exists; on a machine
  that cannot reach the hub (HF_HUB_OFFLINE unset) that fails with "Unable to fetch remote file ...
  silently ignoring the lookup" (``UserWarning``), although nothing is missing.

`quiet_library_warnings()` ignores exactly these two, and only inside its ``with`` block: the user's own
code, and any other warning, are left as they are.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["QUIETED", "quiet_library_warnings"]

QUIETED: tuple[tuple[type[Warning], str], ...] = (
    (FutureWarning, r"`(is_)?gradient_checkpointing\w*` is deprecated"),
    (UserWarning, r"Unable to fetch remote file"),
)


@contextmanager
def quiet_library_warnings() -> Iterator[None]:
    """Ignore the warnings of `QUIETED` inside the block (a `warnings.catch_warnings` scope)."""
    with warnings.catch_warnings():
        for category, message in QUIETED:
            warnings.filterwarnings("ignore", message=message, category=category)
        yield
