"""The library warnings a user can do nothing about are silenced inside the project's calls, and only
those, and only there."""

import warnings

import pytest

from afterburner.llm.quiet import quiet_library_warnings

# the messages as transformers 5 and peft 0.21 word them
GC = "`is_gradient_checkpointing` is deprecated and will be removed in v6. Use `is_activation_checkpointing` instead."
GC_ARGS = "`gradient_checkpointing` is deprecated and will be removed in v6. Use `activation_checkpointing` instead."
PEFT = (
    "Unable to fetch remote file due to the following error (MaxRetryError) - silently ignoring the lookup for "
    "the file config.json in Qwen/Qwen2.5-Coder-0.5B-Instruct."
)


@pytest.mark.parametrize(
    ("message", "category"), [(GC, FutureWarning), (GC_ARGS, FutureWarning), (PEFT, UserWarning)]
)
def test_the_known_library_warnings_are_silent_inside_and_shown_outside(message, category):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with quiet_library_warnings():
            warnings.warn(message, category, stacklevel=1)
        assert seen == []
        warnings.warn(message, category, stacklevel=1)
        assert [str(w.message) for w in seen] == [message]


def test_other_warnings_still_show_inside():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with quiet_library_warnings():
            warnings.warn("`use_cache=True` is incompatible with something", FutureWarning, stacklevel=1)
            warnings.warn("the candidate did something", UserWarning, stacklevel=1)
    assert len(seen) == 2
