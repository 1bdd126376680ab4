"""Zero-config optimize inside a real (small, multi-file) project: the target's tests are discovered and
recorded, the recorded calls judge candidates, the project's tests gate them, the change is a diff
``git apply`` takes and a commit on a new branch; the bad cases stop with one line and touch nothing.
Scripted backend, the real sandbox."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from afterburner.cli import main
from afterburner.trajectory import read_trajectory

pytestmark = pytest.mark.integration

CORE = '''\
"""Stock summaries."""

import warnings

from .units import to_cents

TAX = 0.25  # a module global the function reads


class Item:
    def __init__(self, name, price, qty):
        self.name, self.price, self.qty = name, price, qty

    def __eq__(self, other):
        return isinstance(other, Item) and vars(self) == vars(other)

    def __repr__(self):
        return f"Item({self.name!r}, {self.price!r}, {self.qty!r})"


def _line_total(item):
    return to_cents(item.price) * item.qty


def summarize(items):
    """Total value in cents with tax, and the names by value (largest first, ties by name)."""
    totals = []
    for it in items:
        if it.qty < 0:
            warnings.warn(f"negative quantity for {it.name}", UserWarning)
        totals.append((_line_total(it), it.name))
    for i in range(len(totals)):
        for j in range(len(totals) - 1 - i):
            if (-totals[j][0], totals[j][1]) > (-totals[j + 1][0], totals[j + 1][1]):
                totals[j], totals[j + 1] = totals[j + 1], totals[j]
    total = 0
    for t, _ in totals:
        total += t
    return round(total * (1 + TAX)), [n for _, n in totals]


def unused(x):
    return x + 1


def count_lines(f):
    return sum(1 for _ in f)


def pick(items):
    import random

    return random.choice(items) * random.random()


def price_of(item):
    return to_cents(item.price) + 1
'''

UNITS = """\
def to_cents(price):
    return int(round(price * 100))
"""

TESTS = """\
import random

import pytest

from inventory import Item, summarize


def test_small():
    assert summarize([Item("a", 1.5, 2), Item("b", 0.25, 4)]) == (500, ["a", "b"])


def test_many():
    rng = random.Random(3)
    items = [Item(f"i{k}", rng.randint(1, 999) / 100, rng.randint(0, 9)) for k in range(250)]
    total, names = summarize(items)
    assert sorted(names) == sorted(it.name for it in items) and total > 0


def test_input_is_left_alone():
    items = [Item("b", 1.0, 1), Item("a", 2.0, 1)]
    summarize(items)
    assert [it.name for it in items] == ["b", "a"]


def test_negative_quantity_warns():
    with pytest.warns(UserWarning, match="negative quantity"):
        summarize([Item("x", 1.0, -1)])


def test_empty():
    assert summarize([]) == (0, [])
"""

OTHER_TESTS = """\
import io
import os

from inventory.core import Item, count_lines, pick, price_of


def test_count_lines(tmp_path):
    p = tmp_path / "f.txt"
    p.write_text("a\\nb\\n")
    with open(p) as f:
        assert count_lines(f) == 2


def test_pick():
    assert 0 <= pick([1, 2, 3]) < 3


def test_price_of():
    assert price_of(Item("a", 1.0, 1)) == 100  # wrong on purpose: the project's test fails already
"""

FAST = '''\
def summarize(items):
    """Total value in cents with tax, and the names by value (largest first, ties by name)."""
    totals = []
    for it in items:
        if it.qty < 0:
            warnings.warn(f"negative quantity for {it.name}", UserWarning)
        totals.append((_line_total(it), it.name))
    totals.sort(key=lambda t: (-t[0], t[1]))
    return round(sum(t for t, _ in totals) * (1 + TAX)), [n for _, n in totals]
'''
NO_WARNING = FAST.replace(
    '        if it.qty < 0:\n            warnings.warn(f"negative quantity for {it.name}", UserWarning)\n', ""
)
WRONG = FAST.replace("(-t[0], t[1])", "(t[0], t[1])")  # smallest first
MUTATES = FAST.replace("    totals = []\n", "    items.sort(key=lambda it: it.name)\n    totals = []\n")


def block(code: str) -> str:
    return f"```python\n{code}```\n"


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def make_project(root: Path) -> Path:
    (root / "inventory").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "inventory"\nversion = "0.1"\n')
    (root / "inventory" / "__init__.py").write_text("from .core import Item, summarize\n")
    (root / "inventory" / "core.py").write_text(CORE)
    (root / "inventory" / "units.py").write_text(UNITS)
    (root / "tests" / "test_core.py").write_text(TESTS)
    (root / "tests" / "test_other.py").write_text(OTHER_TESTS)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "initial")
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    } | {"<dirs>": "\n".join(sorted(str(p) for p in root.rglob("*") if p.is_dir())).encode()}


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "shop")


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_discovered_tests_judge_candidates_and_the_change_is_a_diff_and_a_branch(project, tmp_path, capsys):
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps([block(WRONG), block(NO_WARNING), block(MUTATES), block(FAST)]))
    before = (project / "inventory" / "core.py").read_text()
    code, out, err = run_cli(
        capsys,
        "optimize",
        f"{project}/inventory/core.py::summarize",
        "--backend", "scripted", "--replies", str(replies),
        "--rounds", "1", "--candidates", "4",
        "--runs-dir", str(tmp_path / "runs"),
        "--diff", "--git-branch", "faster-summarize", "--no-rewrites",
    )  # fmt: skip
    assert code == 0, err
    # what was found, said in so many words
    assert "5 of the suite's 8 tests call summarize" in err
    assert "are the oracle" in err and "costliest recorded call(s)" in err
    assert "100% of summarize's lines" in err  # the timing calls include the warning's branch
    assert "must also pass 5 discovered test(s) in the sandbox" in err

    # each candidate's fate: wrong on the calls; right on the calls but a discovered test fails;
    # mutating its argument; the fast one accepted
    run_dir = next((tmp_path / "runs").iterdir())
    steps = {s["index"]: s for s in read_trajectory(run_dir / "trajectory.jsonl").steps}
    assert steps[0]["status"] == "wrong_answer" and "wrong return value" in steps[0]["failure"]
    assert steps[1]["status"] == "wrong_answer"
    assert "tests/test_core.py::test_negative_quantity_warns" in steps[1]["failure"]
    assert steps[1]["check"]["details"]["project_tests"]["failed"]
    assert steps[2]["status"] == "wrong_answer"
    assert "arguments after the call differ" in steps[2]["check"]["failure"]["error"]
    assert steps[3]["status"] == "passed" and steps[3]["accepted"]

    # stdout is the diff alone, and git applies it
    assert out.startswith("--- a/inventory/core.py\n+++ b/inventory/core.py\n"), out[:200]
    patch = tmp_path / "change.patch"
    patch.write_text(out)
    subprocess.run(["git", "-C", str(project), "apply", "--check", str(patch)], check=True)
    # the work tree is untouched; the branch holds the change, with the speedup in its message
    assert (project / "inventory" / "core.py").read_text() == before
    assert git(project, "status", "--porcelain") == ""
    assert git(project, "rev-parse", "--abbrev-ref", "HEAD").strip() != "faster-summarize"
    new = git(project, "show", "faster-summarize:inventory/core.py")
    assert "totals.sort(key=lambda t: (-t[0], t[1]))" in new and "import warnings" in new
    message = git(project, "log", "-1", "--format=%B", "faster-summarize")
    assert message.startswith("Speed up ") and "x faster (95% interval " in message
    git(project, "apply", str(patch))
    assert (project / "inventory" / "core.py").read_text() == new


def test_a_function_of_the_module_with_globals_and_project_imports_runs_in_the_sandbox(project, tmp_path):
    """The task: the candidate imported as inventory.core (TAX, _line_total, .units); inputs of its own class."""
    from afterburner.cli import build_parser
    from afterburner.cli.zeroconfig import make_sandbox
    from afterburner.zeroconfig import prepare_project_task

    args = build_parser().parse_args(["optimize", "x.py::f"])
    lines: list[str] = []
    pt = prepare_project_task(
        f"{project}/inventory/core.py::summarize", lambda ro: make_sandbox(args, ro), say=lines.append
    )
    try:
        task = pt.task
        assert task.metadata["project"]["module"] == "inventory.core"
        assert sorted(pt.tests) == sorted(pt.gate_tests) and len(pt.tests) == 5
        assert pt.sandbox.check(task, task.code).passed
        # a candidate that reads another global or drops the project helper is judged, not crashed
        changed = task.code.replace("round(total * (1 + TAX))", "round(total * (1 + TAX + 0.01))")
        res = pt.sandbox.check(task, changed)
        assert res.status.value == "wrong_answer" and "wrong return value" in res.failure.error
    finally:
        pt.sandbox.close()


@pytest.mark.parametrize(
    "name, expected",
    [
        ("unused", "no test calls unused (8 tests ran in"),
        ("count_lines", "argument 'f' (_io.TextIOWrapper) cannot be serialized"),
        ("pick", "pick is nondeterministic on its recorded inputs"),
        ("price_of", "1 of the 1 tests that call price_of fail before any change"),
    ],
)
def test_bad_cases_stop_with_one_line_and_change_nothing(project, tmp_path, capsys, name, expected):
    before = snapshot(project)
    code, out, err = run_cli(
        capsys,
        "optimize",
        f"{project}/inventory/core.py::{name}",
        "--backend", "scripted", "--replies", str(tmp_path / "none.json"),
        "--runs-dir", str(tmp_path / "runs"),
    )  # fmt: skip
    assert code == 2
    errors = [ln for ln in err.splitlines() if ln.startswith("afterburner: error:")]
    assert len(errors) == 1 and expected in errors[0], err
    assert snapshot(project) == before
    assert not (tmp_path / "runs").exists()
    assert out == ""


def test_nothing_calls_it_says_how_to_give_tests_or_a_trace(project, capsys):
    code, _, err = run_cli(
        capsys, "optimize", f"{project}/inventory/core.py::unused", "--backend", "scripted"
    )
    assert code == 2 and "--tests FILE" in err and "--trace FILE" in err and "afterburner trace --" in err


def test_an_unserializable_argument_among_good_calls_is_reported_and_skipped(tmp_path):
    from afterburner.discover import record_pytest, target_spec

    root = tmp_path / "p"
    (root / "tests").mkdir(parents=True)
    (root / "setup.cfg").write_text("")
    (root / "mod.py").write_text("def apply(fn, xs):\n    return [fn(x) for x in xs]\n")
    (root / "tests" / "test_mod.py").write_text(
        textwrap.dedent(
            """
            from mod import apply

            def double(x):
                return 2 * x

            def test_named():
                assert apply(double, [1, 2]) == [2, 4]

            def test_lambda():
                assert apply(lambda x: x + 1, [1]) == [2]
            """
        )
    )
    code = (root / "mod.py").read_text()
    rec = record_pytest(target_spec(code, root / "mod.py", "apply"), root)
    assert rec.seen == 2 and len(rec.calls) == 1  # the named function pickles by reference
    [skip] = rec.skipped
    assert skip["count"] == 1 and skip["tests"] == ["tests/test_mod.py::test_lambda"]
    assert skip["reason"].startswith("argument 'fn' (function) cannot be serialized"), skip
    assert "<lambda>" in skip["reason"]
