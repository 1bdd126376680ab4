"""What is optimized: a `Task` (code, entry point, tests, workload) and its loaders.

A task names
- the code: a module's source and an entry point, one of ``func``, ``Class.method`` (an attribute of
  the class, e.g. a staticmethod) or ``Class().method`` (a method of a fresh instance, LeetCode style);
- its correctness tests: Python source defining ``check(candidate)`` that raises on a wrong answer, or
  explicit cases ``{"args": [...], "kwargs": {...}, "expected": ...}`` (``expected`` optional: without it
  the original code is the oracle, i.e. differential testing);
- its workload for timing: Python source defining ``generate(n, seed) -> (args, kwargs)`` with sizes, or
  explicit inputs (cases without ``expected``).

Loaders: `load_target` (``path/to/file.py::name`` with tests and workload files), `load_task_file`
(one task in YAML or JSON), `load_problem_set` (the JSONL sets LeetCodeDataset, HumanEval+, MBPP+).
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from afterburner.errors import TaskError
from afterburner.program import defined_names

__all__ = [
    "Case",
    "Task",
    "load_problem_set",
    "load_target",
    "load_task_file",
    "parse_entry_point",
    "task_from_row",
]

_ENTRY_RE = re.compile(r"^([A-Za-z_]\w*)(?:(\(\))?\.([A-Za-z_]\w*))?$")


@dataclass(frozen=True)
class Case:
    """One call of the entry point; `expected` is only meaningful when `has_expected`."""

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    expected: Any = None
    has_expected: bool = False

    @classmethod
    def from_obj(cls, obj: Any, where: str = "case") -> Case:
        if isinstance(obj, Case):
            return obj
        if isinstance(obj, dict) and ("args" in obj or "kwargs" in obj or "expected" in obj):
            args = obj.get("args", [])
            kwargs = obj.get("kwargs", {})
            if not isinstance(args, list | tuple) or not isinstance(kwargs, dict):
                raise TaskError(f"{where}: 'args' must be a list and 'kwargs' a mapping")
            return cls(tuple(args), dict(kwargs), obj.get("expected"), "expected" in obj)
        if isinstance(obj, list | tuple):  # a bare list of positional arguments
            return cls(tuple(obj))
        raise TaskError(f"{where}: expected a mapping with 'args'/'kwargs'/'expected' or a list of arguments")

    def to_obj(self) -> dict:
        out: dict[str, Any] = {"args": list(self.args), "kwargs": dict(self.kwargs)}
        if self.has_expected:
            out["expected"] = self.expected
        return out


@dataclass(frozen=True)
class Task:
    """A unit of optimization work. Everything is source text, so a task can travel to a sandbox."""

    name: str
    entry_point: str
    code: str = ""  # the starting code; empty for from-description tasks (the model writes it)
    check_source: str | None = None  # Python source defining check(candidate)
    cases: tuple[Case, ...] = ()  # explicit test cases
    workload_source: str | None = None  # Python source defining generate(n, seed)
    sizes: tuple[int, ...] = ()
    workload_inputs: tuple[Case, ...] = ()
    description: str = ""  # the problem statement, when there is one
    reference: str | None = None  # an efficient reference solution (module source), when known
    prelude: str = ""  # imports the code assumes (LeetCodeDataset's `prompt`), prepended when run
    atol: float = 0.0  # absolute tolerance for float outputs
    source_path: str | None = None  # the file the code came from (for --in-place)
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("name", "code", "description", "prelude"):
            if not isinstance(getattr(self, name), str):
                raise TaskError(f"{name!r} must be text, not {getattr(self, name)!r}")
        for name in ("check_source", "workload_source", "reference", "source_path"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise TaskError(f"{name!r} must be text, not {getattr(self, name)!r}")
        parse_entry_point(self.entry_point)

    @property
    def has_tests(self) -> bool:
        return self.check_source is not None or bool(self.cases)

    @property
    def has_workload(self) -> bool:
        return bool(self.workload_source and self.sizes) or bool(self.workload_inputs)

    @property
    def function_name(self) -> str:
        """The name of the function or method being optimized (`twoSum` for `Solution().twoSum`)."""
        cls, _, method = parse_entry_point(self.entry_point)
        return method or cls

    def with_code(self, code: str) -> Task:
        return replace(self, code=code)

    def fingerprint(self) -> str:
        """A short hash of everything that defines the task (used for caches and run ids)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, default=repr)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in ("cases", "workload_inputs"):
                v = [c.to_obj() for c in v]
            elif f.name == "sizes":
                v = list(v)
            out[f.name] = v
        return out

    @classmethod
    def from_dict(cls, data: dict, where: str = "task") -> Task:
        """Build a task from the task-file layout (see docs/tasks.md) or from `to_dict` output."""
        data = dict(data)
        known = {f.name for f in fields(cls)} | {"tests", "workload"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise TaskError(
                f"{where}: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(sorted(known))}"
            )
        for key in ("name", "entry_point"):
            if not data.get(key):
                raise TaskError(f"{where}: missing '{key}'")
        tests = data.pop("tests", None)
        if tests is not None:
            data.update(_parse_tests_obj(tests, where))
        workload = data.pop("workload", None)
        if workload is not None:
            data.update(_parse_workload_obj(workload, where))
        data["cases"] = tuple(
            Case.from_obj(c, f"{where}: case {i}") for i, c in enumerate(data.get("cases", ()))
        )
        data["workload_inputs"] = tuple(
            Case.from_obj(c, f"{where}: workload input {i}")
            for i, c in enumerate(data.get("workload_inputs", ()))
        )
        data["sizes"] = _sizes(data.get("sizes", ()), where)
        if not isinstance(data.get("atol", 0.0), int | float) or isinstance(data.get("atol"), bool):
            raise TaskError(f"{where}: 'atol' must be a number, not {data['atol']!r}")
        if not isinstance(data.get("metadata", {}), dict):
            raise TaskError(f"{where}: 'metadata' must be a mapping, not {data['metadata']!r}")
        try:
            task = cls(**data)
        except TaskError as e:
            raise TaskError(f"{where}: {e}") from None
        if task.code:
            tree = _parse(task.code, f"{where}: 'code'")
            name, _, method = parse_entry_point(task.entry_point)
            if name not in defined_names(tree.body, imports=True):
                raise TaskError(
                    f"{where}: 'code' does not define {name!r} (entry point {task.entry_point!r}){_listing(tree)}"
                )
            if method and not _class_has_method(tree, name, method):
                raise TaskError(f"{where}: class {name!r} in 'code' has no method {method!r}")
        return task


def parse_entry_point(entry_point: str) -> tuple[str, bool, str | None]:
    """Split an entry point into (name, instantiate, method): ``Solution().f`` -> ("Solution", True, "f")."""
    if not isinstance(entry_point, str):
        raise TaskError(
            f"entry point must be text such as f, Class.method or Class().method, not {entry_point!r}"
        )
    m = _ENTRY_RE.match(entry_point.strip())
    if not m:
        raise TaskError(f"entry point {entry_point!r} is not one of: name, Class.method, Class().method")
    return m.group(1), bool(m.group(2)), m.group(3)


def _parse(source: str, what: str) -> ast.Module:
    """The module's syntax tree; a syntax error names `what`, the line and the problem."""
    try:
        return ast.parse(source)
    except SyntaxError as e:
        text = (e.text or "").strip()
        shown = f": {text[:80]!r}" if text else ""
        raise TaskError(f"{what}, line {e.lineno}: {e.msg}{shown}") from None
    except ValueError as e:  # a NUL byte in the source
        raise TaskError(f"{what}: not Python source ({e})") from None


def _listing(tree: ast.Module) -> str:
    names = sorted(n for n in defined_names(tree.body, imports=True) if not n.startswith("__"))
    if not names:
        return "; it defines nothing at the top level"
    more = f" and {len(names) - 8} more" if len(names) > 8 else ""
    return f"; it defines {', '.join(names[:8])}{more}"


def _sizes(sizes: Any, where: str) -> tuple[int, ...]:
    if not isinstance(sizes, list | tuple) or not all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in sizes
    ):
        raise TaskError(f"{where}: 'sizes' must be a list of whole numbers n >= 0, not {sizes!r}")
    return tuple(sizes)


def _require(source: Any, name: str, signature: str, what: str) -> None:
    """`source` must be Python text that defines `name` at the top level."""
    if not isinstance(source, str):
        raise TaskError(f"{what} must be Python source defining {signature}, not {source!r}")
    tree = _parse(source, what)
    if name not in defined_names(tree.body, imports=True):
        raise TaskError(f"{what} does not define {signature}{_listing(tree)}")


def _read(path: str | Path, what: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise TaskError(f"{what} {str(p)!r} does not exist (or is not a file)")
    try:
        return p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TaskError(f"{what} {str(p)!r} cannot be read: {e}") from None


def _load_data_file(path: Path, what: str) -> Any:
    text = _read(path, what)
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        raise TaskError(f"{what} {str(path)!r} is not valid {path.suffix.lstrip('.').upper()}: {e}") from None


def _parse_tests_obj(tests: Any, where: str) -> dict:
    if isinstance(tests, str):  # Python source of check(candidate)
        _require(tests, "check", "check(candidate)", f"{where}: the tests source")
        return {"check_source": tests}
    if isinstance(tests, dict) and "check" in tests:
        return _parse_tests_obj(tests["check"], where)
    if isinstance(tests, dict) and "cases" in tests:
        tests = tests["cases"]
    if isinstance(tests, list):
        return {"cases": [Case.from_obj(c, f"{where}: test case {i}") for i, c in enumerate(tests)]}
    raise TaskError(f"{where}: 'tests' must be check(candidate) source or a list of cases")


def _parse_workload_obj(workload: Any, where: str) -> dict:
    if isinstance(workload, dict) and "generate" in workload:
        src = workload["generate"]
        _require(src, "generate", "generate(n, seed)", f"{where}: the workload source")
        sizes = workload.get("sizes") or []
        if not sizes:
            raise TaskError(f"{where}: the workload needs 'sizes' (a list of n for generate(n, seed))")
        return {"workload_source": src, "sizes": _sizes(sizes, where)}
    if isinstance(workload, dict) and "inputs" in workload:
        workload = workload["inputs"]
    if isinstance(workload, list):
        return {
            "workload_inputs": [
                Case.from_obj(c, f"{where}: workload input {i}") for i, c in enumerate(workload)
            ]
        }
    raise TaskError(f"{where}: 'workload' must be {{generate: source, sizes: [...]}} or a list of inputs")


def _sizes_from_source(source: str) -> tuple[int, ...]:
    """Read a module-level ``SIZES = [...]`` from a workload file, if there is one."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "SIZES" for t in node.targets
        ):
            try:
                return tuple(int(s) for s in ast.literal_eval(node.value))
            except (ValueError, TypeError):
                return ()
    return ()


def load_tests(path: str | Path) -> dict:
    """Tests from a file: ``.py`` defining check(candidate), or JSON/YAML cases. Returns Task fields."""
    p = Path(path)
    if p.suffix == ".py":
        src = _read(p, "tests file")
        _require(src, "check", "check(candidate)", f"tests file {str(p)!r}")
        return {"check_source": src}
    if p.suffix in (".json", ".yaml", ".yml"):
        return _parse_tests_obj(_load_data_file(p, "tests file"), f"tests file {str(p)!r}")
    raise TaskError(f"tests file {str(p)!r} must be .py (check(candidate)) or .json/.yaml (cases)")


def load_workload(path: str | Path, sizes: Sequence[int] | None = None) -> dict:
    """A workload from a file: ``.py`` defining generate(n, seed) (+ sizes), or JSON/YAML inputs."""
    p = Path(path)
    if p.suffix == ".py":
        src = _read(p, "workload file")
        _require(src, "generate", "generate(n, seed)", f"workload file {str(p)!r}")
        chosen = tuple(int(s) for s in sizes) if sizes else _sizes_from_source(src)
        if not chosen:
            raise TaskError(f"workload file {str(p)!r}: give --sizes or define SIZES = [...] in the file")
        return {"workload_source": src, "sizes": chosen}
    if p.suffix in (".json", ".yaml", ".yml"):
        return _parse_workload_obj(_load_data_file(p, "workload file"), f"workload file {str(p)!r}")
    raise TaskError(f"workload file {str(p)!r} must be .py (generate(n, seed)) or .json/.yaml (inputs)")


def load_target(
    target: str,
    tests: str | Path | None = None,
    workload: str | Path | None = None,
    sizes: Sequence[int] | None = None,
    description: str = "",
) -> Task:
    """Load ``path/to/file.py::entry_point`` with its tests and workload files."""
    if "::" not in target:
        raise TaskError(f"target {target!r} must look like path/to/file.py::function_name")
    path_s, entry = target.rsplit("::", 1)
    code = _read(path_s, "source file")
    name, _, method = parse_entry_point(entry)
    tree = _parse(code, f"source file {path_s!r}")
    if name not in defined_names(tree.body, imports=True):
        raise TaskError(
            f"source file {path_s!r} does not define {name!r} (entry point {entry!r}){_listing(tree)}"
        )
    if method and not _class_has_method(tree, name, method):
        raise TaskError(f"class {name!r} in {path_s!r} has no method {method!r}")
    data: dict[str, Any] = {}
    if tests is not None:
        data.update(load_tests(tests))
    if workload is not None:
        data.update(load_workload(workload, sizes))
    elif sizes:
        raise TaskError("--sizes needs --workload (a file defining generate(n, seed))")
    return Task(
        name=Path(path_s).stem + "." + (method or name),
        entry_point=entry,
        code=code,
        description=description,
        source_path=str(Path(path_s).resolve()),
        cases=tuple(data.pop("cases", ())),
        workload_inputs=tuple(data.pop("workload_inputs", ())),
        **data,
    )


def _class_has_method(tree: ast.Module, cls: str, method: str) -> bool:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            return any(
                (isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == method)
                or (
                    isinstance(n, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == method for t in n.targets)
                )
                for n in node.body
            )
    return False


def load_task_file(path: str | Path) -> Task:
    """One task in YAML or JSON (the suite format, see docs/tasks.md)."""
    p = Path(path)
    data = _load_data_file(p, "task file")
    if not isinstance(data, dict):
        raise TaskError(f"task file {str(p)!r} must hold one mapping")
    data.setdefault("name", p.stem)
    data.setdefault("source_path", None)
    return Task.from_dict(data, where=f"task file {str(p)!r}")


def _detect_kind(row: dict) -> str:
    if "input_output" in row or str(row.get("entry_point", "")).startswith("Solution()"):
        return "leetcode"
    if "plus_input" in row and "assertion" in row:
        return "mbpp+"
    if "plus_input" in row:
        return "humaneval+"
    raise TaskError(f"cannot tell which problem set row {row.get('task_id', '?')!r} comes from")


def task_from_row(row: dict, kind: str | None = None, with_solution: bool = False) -> Task:
    """One problem-set row (LeetCodeDataset, HumanEval+ or MBPP+; `kind` detected when not given)."""
    kind = kind or _detect_kind(row)
    if kind == "leetcode":
        return Task(
            name=row["task_id"],
            entry_point=row["entry_point"],
            code=row["completion"] if with_solution else "",
            check_source=row["test"],
            description=row["query"],
            reference=row["completion"],
            prelude=row.get("prompt", ""),
            metadata={"source": "LeetCodeDataset (MIT)", "difficulty": row.get("meta", {}).get("difficulty")},
        )
    # HumanEval+ / MBPP+: differential testing against the canonical solution on base+plus inputs
    if kind == "humaneval+":
        solution = row["prompt"] + row["canonical_solution"]
        description = row["prompt"]
    else:
        solution = row["canonical_solution"]
        description = row["prompt"]
    inputs = list(row.get("base_input") or []) + list(row.get("plus_input") or [])
    return Task(
        name=row["task_id"],
        entry_point=row["entry_point"],
        code=solution if with_solution else "",
        cases=tuple(Case(tuple(a)) for a in inputs),  # no expected: the reference is the oracle
        description=description,
        reference=solution,
        atol=float(row.get("atol") or 0.0),
        metadata={"source": "EvalPlus (Apache-2.0)", "oracle": "reference"},
    )


def load_problem_set(
    path: str | Path, limit: int | None = None, with_solution: bool = False, kind: str | None = None
) -> list[Task]:
    """Tasks from a JSONL(.gz) problem set: LeetCodeDataset, HumanEval+ or MBPP+ (detected per row).

    By default the tasks are from-description (empty `code`: the model writes the first version); with
    `with_solution` the reference solution is the starting code.
    """
    return list(iter_problem_set(path, limit, with_solution, kind))


def iter_problem_set(
    path: str | Path, limit: int | None = None, with_solution: bool = False, kind: str | None = None
) -> Iterator[Task]:
    p = Path(path)
    if not p.is_file():
        raise TaskError(f"problem set {str(p)!r} does not exist")
    opener = gzip.open if p.suffix == ".gz" else open
    count = 0
    with opener(p, "rt", encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if limit is not None and count >= limit:
                return
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                yield task_from_row(row, kind, with_solution)
            except (json.JSONDecodeError, KeyError) as e:
                raise TaskError(f"problem set {str(p)!r} line {lineno}: {e!r}") from None
            count += 1
