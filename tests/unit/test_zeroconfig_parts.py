"""The zero-config path's parts, without the sandbox: outcomes as data, the in-process call recorder,
targets, coverage, the change as a diff / in place / on a branch, the trace's helpers."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from afterburner.discover import (
    RecordedArgs,
    coverage,
    distinct_calls,
    find_root,
    from_recorder,
    statement_lines,
    target_spec,
)
from afterburner.errors import ConfigError, TaskError
from afterburner.project import commit_on_branch, require_clean, unified_diff, write_in_place
from afterburner.recorder import Recorder
from afterburner.sandbox import codec, projectmode
from afterburner.tracing import own_file, owner, runs_at_import, split_command


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


# ------------------------------------------------------------------------------------------ outcomes
def test_plain_turns_objects_into_data_and_refuses_what_has_none():
    p = Point(1, [2.5])
    out = projectmode.plain({"p": p, "t": (1, {3}), "e": ValueError("bad")})
    assert out["p"] == {"__class__": f"{__name__}.Point", "x": 1, "y": [2.5]}
    assert out["t"] == (1, {3}) and out["e"] == {"__class__": "ValueError", "args": ("bad",)}
    loop: list = []
    loop.append(loop)
    assert projectmode.plain(loop) == [{"__cycle__": "list"}]
    with pytest.raises(projectmode.Unrepresentable, match="generator"):
        projectmode.plain(x for x in [1])
    # the codec carries plain data exactly, so a recorded outcome survives the trip as JSON
    assert codec.decode(codec.encode(out)) == out


def test_outcome_holds_the_return_or_the_exception_and_the_arguments_after():
    def grow(xs):
        xs.append(len(xs))
        return sum(xs)

    assert projectmode.outcome(grow, ([1],), {}) == {"returned": 2, "then args": ([1, 1],), "then kwargs": {}}
    assert projectmode.outcome(grow, ([1],), {}, after=False) == {"returned": 2}
    assert projectmode.outcome(grow, (None,), {})["raised"]["__class__"] == "AttributeError"
    why, exp, got = projectmode.difference(
        {"returned": 1, "then args": ([1],)}, {"returned": 1, "then args": ([1, 0],)}
    )
    assert "arguments after the call differ" in why and exp == ([1],) and got == ([1, 0],)
    assert projectmode.difference({"returned": 1}, {"raised": {"__class__": "KeyError"}})[0].startswith(
        "raised"
    )
    assert projectmode.difference(5, 6) is None


def test_recorded_arguments_unpickle_only_where_they_are_used():
    blob = pickle.dumps(((Point(1, 2),), {"k": 3}))
    ra = RecordedArgs(blob, "f(Point(1, 2), k=3)")
    assert repr(ra) == "f(Point(1, 2), k=3)"
    args, kwargs = pickle.loads(pickle.dumps([ra]))[0]  # what the sandboxed child does
    assert isinstance(args[0], Point) and args[0].y == 2 and kwargs == {"k": 3}


# ------------------------------------------------------------------------------------------ recorder
def _quietly(fn, args):
    try:
        fn(*args)
    except Exception:
        pass


def _record(fn, calls, wrapped=False, **kw):
    """Record `fn`'s calls: found by the tracer, or (`wrapped`) through the wrapper put in its module."""
    code = fn.__code__
    rec = Recorder([{"file": code.co_filename, "qualname": code.co_qualname, **kw}])
    rec.test = "t::x"
    module = sys.modules[__name__]
    original = getattr(module, fn.__name__)
    rec.install(script=None if wrapped else __file__)
    try:
        call = getattr(module, fn.__name__)
        assert (call is not original) == wrapped
        rec.start()
        try:
            for args in calls:
                _quietly(call, args)
        finally:
            rec.stop()
    finally:
        rec.uninstall()
        setattr(module, fn.__name__, original)
    return rec.result()["targets"][0]


def scale(xs, f=2):
    """Scale in place."""
    if not xs:
        raise ValueError("empty")
    for i in range(len(xs)):
        xs[i] *= f
    return len(xs)


def fact(n):
    return 1 if n < 2 else n * fact(n - 1)


@pytest.mark.parametrize("wrapped", [False, True])
def test_the_recorder_keeps_arguments_before_outcomes_after_and_exceptions(wrapped):
    t = _record(scale, [([1, 2],), ([],), ([3], lambda: 0)], wrapped=wrapped)
    assert t["seen"] == 3 and t["kept"] == 2 and t["module"] == __name__
    first, second = (from_recorder(t, {}).calls[i] for i in range(2))
    # as passed (the wrapper sees the call; the tracer sees the frame, defaults filled in), before the
    # call doubled them
    passed = ([1, 2],) if wrapped else ([1, 2], 2)
    assert pickle.loads(first.blob) == (passed, {})
    assert first.expected == {"returned": 2, "then args": ([2, 4], *passed[1:]), "then kwargs": {}}
    assert second.expected["raised"] == {"__class__": "ValueError", "args": ("empty",)}
    [skip] = t["skipped"]
    assert skip["reason"].startswith("argument 'f' (function) cannot be serialized") and skip["tests"] == [
        "t::x"
    ]
    lines = statement_lines(Path(__file__).read_text(), "scale")
    assert len(lines) == 5 and coverage(first.lines, lines) < 1 and coverage(set(t["lines"]), lines) == 1.0


@pytest.mark.parametrize("wrapped", [False, True])
def test_a_recursive_function_is_recorded_once_per_outer_call(wrapped):
    t = _record(fact, [(5,), (3,)], wrapped=wrapped)
    assert t["seen"] == 2 and [c["repr"] for c in t["calls"]] == ["fact(5)", "fact(3)"]


def test_identical_inputs_with_different_outcomes_are_left_out():
    t = _record(scale, [([1],), ([1],), ([5],)])
    calls = from_recorder(t, {}).calls
    assert len(distinct_calls(calls)[0]) == 2
    clash = [
        calls[0],
        type(calls[0])(*(calls[0].test, calls[0].blob, "x", {"returned": 9}, 0.0, frozenset())),
    ]
    assert distinct_calls(clash) == ([], 1)


# ------------------------------------------------------------------------------------------- targets
def test_targets_that_cannot_be_replayed_are_refused_with_a_reason(tmp_path):
    code = textwrap.dedent(
        """
        class C:
            @property
            def p(self):
                return 1

            @classmethod
            def make(cls, x):
                return cls()

            def m(self):
                return 2

        def gen():
            yield 1

        def f():
            def inner():
                yield 2
            return list(inner())
        """
    )
    with pytest.raises(TaskError, match="generator"):
        target_spec(code, "m.py", "gen")
    with pytest.raises(TaskError, match="property"):
        target_spec(code, "m.py", "C.p")
    with pytest.raises(TaskError, match=r"C\.m"):
        target_spec(code, "m.py", "C().m")
    with pytest.raises(TaskError, match="defines no function"):
        target_spec(code, "m.py", "missing")
    assert target_spec(code, "m.py", "C.make")["drop_first"] is True
    assert target_spec(code, "m.py", "C.m")["drop_first"] is False
    assert target_spec(code, "m.py", "f")["qualname"] == "f"  # a generator inside is its own business


def test_the_project_root_is_the_nearest_marked_directory(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "setup.cfg").write_text("")
    (tmp_path / "a" / "b" / "m.py").write_text("")
    assert find_root(tmp_path / "a" / "b" / "m.py") == (tmp_path / "a").resolve()


# -------------------------------------------------------------------------------------------- change
def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text("def f():\n    return 1\n")
    (tmp_path / "pkg" / "n.py").write_text("X = 1")  # no newline at the end
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "one")
    return tmp_path


def test_the_diff_applies_with_git_apply(repo, tmp_path):
    m, n = repo / "pkg" / "m.py", repo / "pkg" / "n.py"
    diff = unified_diff([(m, m.read_text(), "def f():\n    return 2\n"), (n, n.read_text(), "X = 2")])
    assert diff.startswith("--- a/pkg/m.py\n+++ b/pkg/m.py\n") and "\\ No newline at end of file" in diff
    patch = tmp_path / "p.patch"
    patch.write_text(diff)
    git(repo, "apply", str(patch))
    assert m.read_text() == "def f():\n    return 2\n" and n.read_text() == "X = 2"


def test_a_branch_commit_leaves_the_work_tree_and_the_current_branch_alone(repo):
    m = repo / "pkg" / "m.py"
    head = git(repo, "rev-parse", "HEAD")
    commit = commit_on_branch([(m, m.read_text(), "def f():\n    return 3\n")], "fast", "Speed up f: 2x\n")
    assert git(repo, "rev-parse", "HEAD") == head and git(repo, "status", "--porcelain") == ""
    assert m.read_text() == "def f():\n    return 1\n"
    assert git(repo, "show", "fast:pkg/m.py") == "def f():\n    return 3\n"
    assert (
        git(repo, "rev-parse", "fast").strip() == commit
        and git(repo, "log", "-1", "--format=%s", "fast") == "Speed up f: 2x\n"
    )
    with pytest.raises(ConfigError, match="already exists"):
        require_clean([m], "fast")
    m.write_text("def f():\n    return 9\n")
    with pytest.raises(ConfigError, match="not committed"):
        require_clean([m], "other")
    with pytest.raises(ConfigError, match="not a valid branch name"):
        require_clean([m], "bad..name")


def test_in_place_writes_all_files_or_none(tmp_path, monkeypatch):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("a1\n")
    b.write_text("b1\n")
    import afterburner.project as project

    real = project.atomic_write

    def failing(path, text):
        if path == b:
            raise OSError("disk full")
        real(path, text)

    monkeypatch.setattr(project, "atomic_write", failing)
    with pytest.raises(OSError):
        write_in_place([(a, "a1\n", "a2\n"), (b, "b1\n", "b2\n")])
    assert a.read_text() == "a1\n" and b.read_text() == "b1\n"
    monkeypatch.setattr(project, "atomic_write", real)
    with pytest.raises(ConfigError, match="changed while afterburner ran"):
        write_in_place([(a, "old\n", "a2\n")])
    [(_, backup)] = write_in_place([(a, "a1\n", "a2\n")])
    assert a.read_text() == "a2\n" and backup.read_text() == "a1\n"


# --------------------------------------------------------------------------------------------- trace
def test_trace_helpers(tmp_path):
    (tmp_path / "s.py").write_text("")
    assert split_command(["--", "python3", str(tmp_path / "s.py"), "1"]) == [str(tmp_path / "s.py"), "1"]
    assert split_command(["-m", "pytest", "tests"]) == ["-m", "pytest", "tests"]
    with pytest.raises(ConfigError, match="does not exist"):
        split_command(["python", "nope.py"])
    with pytest.raises(ConfigError, match="nothing to trace"):
        split_command(["--"])
    root = tmp_path
    assert own_file(str(root / "pkg" / "m.py"), root)
    assert not own_file(str(root / "tests" / "m.py"), root) and not own_file(str(root / "test_m.py"), root)
    assert not own_file(str(root / ".venv" / "lib" / "site-packages" / "x.py"), root)
    assert not own_file("/elsewhere/m.py", root)
    code = (
        "import os\n\n@dec\ndef f():\n    return [x for x in y]\n\nclass C:\n    def m(self):\n        pass\n"
    )
    assert (
        owner(code, 3) == ("f", True) and owner(code, 5) == ("f", False) and owner(code, 8) == ("C.m", True)
    )
    assert runs_at_import("print(1)\n") and not runs_at_import(code + "if __name__ == '__main__':\n    f()\n")


def test_the_recorder_runs_in_a_process_of_its_own_without_afterburner(tmp_path):
    """The bootstrap loads the recorder by path: the user's process imports nothing of afterburner."""
    from afterburner.discover import run_recorder

    (tmp_path / "s.py").write_text(
        "import sys\nprint(sorted(m for m in sys.modules if m.startswith('afterburner')))\n"
    )
    code, data = run_recorder("profile", {"argv": ["s.py"]}, tmp_path, 60, tmp_path / "log")
    assert code == 0 and data is not None
    assert (tmp_path / "log").read_text().strip() == "[]"
    assert sys.modules.get("afterburner.recorder") is not None  # here, in the parent, it is a module
