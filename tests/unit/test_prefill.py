"""No wasted samples: the reply starts with the fence and the target's signature where the backend can
continue an assistant message, and the extraction reads such a continuation."""

from __future__ import annotations

import pytest

from afterburner.agent.optimizer import Optimizer
from afterburner.llm import extract_code
from afterburner.llm.scripted import ScriptedBackend
from afterburner.prompts import reply_start, target_signature
from afterburner.task import Task
from afterburner.trajectory import read_trajectory
from tests.unit.fakes import FakeSandbox
from tests.unit.test_graph import ORIGINAL

MODULE = '''\
import functools

LIMIT = 10


@functools.lru_cache(maxsize=None)
def total(xs: tuple,
          scale: int = 1) -> int:
    """Sum, scaled."""
    # the slow part
    return sum(x * scale for x in xs)


class Grid:
    """A grid."""

    size = 3

    @staticmethod
    def cells(n):
        return [(i, j) for i in range(n) for j in range(n)]


def one(x): return x
'''


def test_signature_of_a_function_keeps_decorators_and_a_multiline_signature():
    header, indent = target_signature(MODULE, "total")
    assert (
        header
        == "@functools.lru_cache(maxsize=None)\ndef total(xs: tuple,\n          scale: int = 1) -> int:"
    )
    assert indent == "    "


@pytest.mark.parametrize("entry", ["Grid.cells", "Grid().cells"])
def test_signature_of_a_method_starts_with_its_class(entry):
    header, indent = target_signature(MODULE, entry)
    assert header == "class Grid:\n    @staticmethod\n    def cells(n):" and indent == " " * 8


@pytest.mark.parametrize("entry", ["one", "missing", "Grid.nope", "LIMIT"])
def test_no_signature_where_there_is_no_separate_header(entry):
    assert target_signature(MODULE, entry) == ("", "")


def test_reply_start_per_strategy():
    task = Task(name="t", entry_point="total", code=MODULE, check_source="def check(c): pass\n")
    start = reply_start(task, "default")
    assert start.startswith("```python\n@functools.lru_cache") and start.endswith("-> int:")
    assert reply_start(task, "baseline") == start
    assert reply_start(task, "afterburner") == ""  # the paper's <thinking>/<solution> layout is the model's
    assert reply_start(task.with_code(""), "default") == "```python\n"  # no code: the fence alone


def test_extraction_reads_the_continuation_of_a_prefilled_signature():
    prefill = "```python\ndef f(xs):\n    # Plan:"
    ext = extract_code(" use a set\n    return set(xs)\n```", "f", prefill=prefill)
    assert ext.ok and ext.code == "def f(xs):\n    # Plan: use a set\n    return set(xs)\n"
    # cut off by the token limit: still code, if it parses
    assert extract_code(" sum\n    return sum(xs)\n", "f", prefill=prefill).ok
    # a backend that ignored the prefill: the reply is read on its own
    whole = "Sure!\n```python\ndef f(xs):\n    return set(xs)\n```\n"
    assert extract_code(whole, "f", prefill=prefill).code == "def f(xs):\n    return set(xs)\n"
    # a text that already starts with the prefill is not prefixed twice
    assert extract_code(prefill + " x\n    return 1\n```", "f", prefill=prefill).ok
    bad = extract_code(" oops\n  return (\n```", "f", prefill=prefill)
    assert not bad.ok and "parses" in bad.reason


class ContinuingBackend(ScriptedBackend):
    """The scripted backend, as a model that continues a prefilled assistant message (transformers)."""

    continues_final_message = True


def test_the_loop_prefills_where_the_backend_continues_and_records_the_whole_reply(tmp_path):
    task = Task(name="dedupe", entry_point="dedupe", code=ORIGINAL, check_source="def check(c): pass\n")
    body = '\n    _ = "# speed: 4"\n    return list(dict.fromkeys(xs))\n```\n'
    echo = "\n" + "".join(ORIGINAL.splitlines(keepends=True)[1:]) + "```\n"
    backend = ContinuingBackend(replies=[body, echo, " nothing\n  )", "Here it is: dedupe is fine."])
    opt = Optimizer(backend=backend, sandbox=FakeSandbox(), out_dir=tmp_path, candidates=4, rounds=1)
    res = opt.run(task)
    prefill = "```python\ndef dedupe(xs):"
    sent = backend.calls[0]
    assert sent[-1] == {"role": "assistant", "content": prefill} and sent[-2]["role"] == "user"
    assert res.status == "improved" and "dict.fromkeys" in res.best_code
    steps = read_trajectory(res.trajectory_path).steps
    assert steps[0]["completion"].startswith(prefill + '\n    _ = "# speed: 4"')  # the whole reply
    assert steps[0]["messages"][-1]["role"] == "user"  # the prompt, as training reads it
    assert [s["outcome"] for s in steps] == ["faster", "unchanged", "format_error", "format_error"]


def test_no_prefill_for_a_backend_that_cannot_continue(tmp_path):
    task = Task(name="dedupe", entry_point="dedupe", code=ORIGINAL, check_source="def check(c): pass\n")
    opt = Optimizer(
        backend="scripted",
        replies=[ORIGINAL],
        sandbox=FakeSandbox(),
        out_dir=tmp_path,
        candidates=1,
        rounds=1,
    )
    opt.run(task)
    assert opt._get_backend().calls[0][-1]["role"] == "user"


def test_openai_backend_asks_the_server_to_continue_only_when_told():
    from afterburner.llm import Sampling
    from afterburner.llm.openai_backend import OpenAIBackend

    conv = [{"role": "user", "content": "go"}, {"role": "assistant", "content": "```python\n"}]
    told = OpenAIBackend(model="m", base_url="http://127.0.0.1:9/v1", continue_final_message=True)
    body = told._body(conv, 1, Sampling(), 1)
    assert told.continues_final_message and body["continue_final_message"] is True
    assert body["add_generation_prompt"] is False and body["messages"][-1]["role"] == "assistant"
    plain = OpenAIBackend(model="m", base_url="http://127.0.0.1:9/v1")
    assert not plain.continues_final_message and "continue_final_message" not in plain._body(
        conv, 1, Sampling(), 1
    )
