import json

import pytest

from afterburner.errors import BackendError
from afterburner.llm import Completion, Sampling, get_backend

CONV = [{"role": "user", "content": "make it fast please"}]


def test_replies_in_order_across_calls_and_conversations():
    b = get_backend("scripted", replies=["a", "b c", "d"])
    [[c1, c2]] = b.generate([CONV], n=2)
    [[c3]] = b.generate([CONV], n=1)
    assert [c1.text, c2.text, c3.text] == ["a", "b c", "d"]
    assert c2 == Completion("b c", prompt_tokens=4, completion_tokens=2)
    assert len(b.calls) == 2 and b.calls[0] == CONV


def test_running_out_is_a_clear_error_unless_cycling():
    b = get_backend("scripted", replies=["x"])
    b.generate([CONV])
    with pytest.raises(BackendError, match="ran out of replies"):
        b.generate([CONV])
    cyc = get_backend("scripted", replies=["x", "y"], cycle=True)
    assert [c.text for c in cyc.generate([CONV, CONV], n=3)[1]] == ["y", "x", "y"]


def test_callable_replies_get_conversation_and_running_index():
    b = get_backend("scripted", replies=lambda conv, i: f"{conv[-1]['content']}#{i}")
    out = b.generate([CONV, [{"role": "user", "content": "q"}]], n=2)
    assert [[c.text for c in row] for row in out] == [
        ["make it fast please#0", "make it fast please#1"],
        ["q#2", "q#3"],
    ]


def test_stop_strings_and_max_new_tokens():
    b = get_backend(
        "scripted", replies=["```python\nx = 1\n```\nmore prose", "one two three four"], cycle=True
    )
    [[c]] = b.generate([CONV], sampling=Sampling(stop=("```\n",)))
    assert c.text == "```python\nx = 1\n" and c.finish_reason == "stop"
    [[c]] = b.generate([CONV], sampling=Sampling(max_new_tokens=2))
    assert (c.text, c.completion_tokens, c.finish_reason) == ("one two", 2, "length")


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_replies_from_a_file(tmp_path, suffix):
    path = tmp_path / f"replies{suffix}"
    path.write_text(json.dumps({"replies": ["r1", "r2"], "cycle": True}))  # JSON is valid YAML
    b = get_backend("scripted", model=str(path))
    assert [c.text for c in b.generate([CONV], n=3)[0]] == ["r1", "r2", "r1"]
    assert b.model == str(path)


def test_bad_files_and_missing_replies(tmp_path):
    with pytest.raises(BackendError, match="does not exist"):
        get_backend("scripted", model=str(tmp_path / "nope.json"))
    bad = tmp_path / "bad.json"
    bad.write_text('{"replies": [1, 2]}')
    with pytest.raises(BackendError, match="list of strings"):
        get_backend("scripted", model=str(bad))
    with pytest.raises(BackendError, match="needs replies"):
        get_backend("scripted")
