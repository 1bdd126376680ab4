"""The shipped suites (benchmarks/suites/dev, smoke) and examples/ are well-formed (no code is run)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from afterburner.task import load_target, load_task_file, parse_entry_point

ROOT = Path(__file__).resolve().parents[2]
SUITES = ROOT / "benchmarks" / "suites"
DEV = sorted((SUITES / "dev").glob("*.yaml"))
SMOKE = sorted((SUITES / "smoke").glob("*.yaml"))
EXAMPLES = ROOT / "examples"
EXAMPLE_NAMES = sorted(p.name.removesuffix("_workload.py") for p in EXAMPLES.glob("*_workload.py"))

KINDS = {"asymptotic", "constant-factor", "memory"}
DIFFICULTIES = {"Easy", "Medium", "Hard"}


def _methods(source: str, cls: str) -> set[str]:
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            return {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
    return set()


def _functions(source: str) -> set[str]:
    return {n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)}


def test_the_dev_suite_has_forty_tasks_and_the_smoke_suite_a_few():
    assert len(DEV) >= 40
    assert 3 <= len(SMOKE) <= 4


@pytest.mark.parametrize("path", DEV + SMOKE, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_suite_task_is_complete(path):
    task = load_task_file(path)
    assert task.name == path.stem
    cls, instantiate, method = parse_entry_point(task.entry_point)
    assert instantiate and method, "LeetCode tasks call a method of a fresh Solution()"
    for label, source in (("code", task.code), ("reference", task.reference)):
        assert source, f"no {label}"
        assert method in _methods(source, cls), f"{label} lacks {cls}.{method}"
    assert task.code.strip() != task.reference.strip()
    assert "check" in _functions(task.check_source)
    assert "generate" in _functions(task.workload_source)
    assert task.sizes and all(n >= 0 for n in task.sizes)
    assert task.description.strip() and "import" in task.prelude
    meta = task.metadata
    assert "LeetCodeDataset" in meta["source"] and "MIT" in meta["license"]
    assert meta["difficulty"] in DIFFICULTIES
    assert meta["inefficiency"] in KINDS
    assert isinstance(meta["question_id"], int)


def test_the_dev_suite_mixes_difficulties_and_kinds_of_inefficiency():
    metas = [load_task_file(p).metadata for p in DEV]
    assert {m["difficulty"] for m in metas} == DIFFICULTIES
    assert {m["inefficiency"] for m in metas} == KINDS
    assert len({m["question_id"] for m in metas}) == len(metas), "a problem is in the suite twice"


def test_smoke_tasks_are_copies_of_dev_tasks_with_smaller_sizes():
    dev = {p.stem: load_task_file(p) for p in DEV}
    for path in SMOKE:
        task = load_task_file(path)
        assert task.name in dev
        original = dev[task.name]
        assert (task.code, task.reference, task.check_source) == (
            original.code,
            original.reference,
            original.check_source,
        )
        assert max(task.sizes) < max(original.sizes)


def test_there_are_at_least_six_examples():
    assert len(EXAMPLE_NAMES) >= 6
    assert "duplicates" in EXAMPLE_NAMES


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_every_example_has_its_four_files(name):
    source = (EXAMPLES / f"{name}.py").read_text()
    (node,) = (n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name[0] != "_")
    func = node.name
    assert ast.get_docstring(node), "the slow function says what it does"
    task = load_target(
        f"{EXAMPLES / name}.py::{func}",
        tests=EXAMPLES / f"{name}_tests.py",
        workload=EXAMPLES / f"{name}_workload.py",
    )
    assert task.sizes, "the workload file defines SIZES"
    fast = (EXAMPLES / f"{name}_fast.py").read_text()
    assert func in _functions(fast)
    assert fast.strip() != source.strip()


# --- the real suite (benchmarks/suites/real): real code, no problem statement, train and test halves

REAL = sorted((SUITES / "real").glob("*.yaml"))
SPLITS = {"train", "test"}
REAL_KINDS = {"numeric": "numeric", "python": "pure-python", "pure-python": "pure-python"}
PERMISSIVE = ("BSD", "MIT", "Apache", "PSF", "ISC")
# the training configs (accelerate's own launcher configs sit beside them)
CONFIGS = sorted(
    p for p in (ROOT / "training" / "configs").glob("*.yaml") if not p.stem.startswith("accelerate")
)


def _defines(source: str, name: str) -> bool:
    return any(
        isinstance(n, ast.FunctionDef | ast.ClassDef | ast.Assign)
        and (
            getattr(n, "name", None) == name
            or any(getattr(t, "id", None) == name for t in getattr(n, "targets", ()))
        )
        for n in ast.parse(source).body
    )


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.stem)
def test_every_real_task_is_real_code_without_a_statement(path):
    task = load_task_file(path)
    assert task.name == path.stem
    assert task.description == "", "the real suite has no problem statements"
    cls, _, method = parse_entry_point(task.entry_point)
    for label, source in (("code", task.code), ("reference", task.reference)):
        assert source, f"no {label}"
        assert _defines(source, cls), f"{label} lacks {cls}"
        if method:
            assert method in _methods(source, cls), f"{label} lacks {cls}.{method}"
    assert task.code.strip() != task.reference.strip()
    assert "check" in _functions(task.check_source)
    assert "generate" in _functions(task.workload_source)
    assert task.sizes and all(n >= 0 for n in task.sizes)
    meta = task.metadata
    assert meta.get("split") in SPLITS
    assert meta.get("kind") in REAL_KINDS
    assert str(meta.get("source", "")).strip(), "credit the source"
    assert any(word in str(meta.get("license", "")) for word in PERMISSIVE), meta.get("license")
    assert str(meta.get("why_slow", "")).strip() and meta.get("inefficiency") in KINDS
    for held_out in ("pyperformance", "algotune"):
        assert held_out not in str(meta).lower(), "the held-out suites are not a source"


def _real_kinds() -> tuple[list[dict], list[str]]:
    metas = [load_task_file(p).metadata for p in REAL]
    return metas, [REAL_KINDS.get(m.get("kind"), "?") for m in metas]


def test_the_real_suite_has_forty_tasks_fifteen_of_each_kind_in_balanced_halves():
    metas, kinds = _real_kinds()
    assert len(REAL) >= 40, len(REAL)
    for kind in ("numeric", "pure-python"):
        assert kinds.count(kind) >= 15, f"{kind}: {kinds.count(kind)} tasks"
        splits = [m["split"] for m, k in zip(metas, kinds, strict=True) if k == kind]
        train, test = splits.count("train"), splits.count("test")
        assert abs(train - test) <= 2, f"{kind}: {train} train against {test} test"
    halves = [m["split"] for m in metas]
    assert abs(halves.count("train") - halves.count("test")) <= 2, "the halves differ in size"


def test_some_real_targets_are_methods_of_classes():
    methods = [p.stem for p in REAL if parse_entry_point(load_task_file(p).entry_point)[2]]
    assert len(methods) >= 3, methods


def _config_tasks(config: dict) -> list:
    """The suite tasks a training config trains on, read as training reads them
    (`training.data.load_tasks` with the config's `exclude` and `split`, TrainConfig's default when it
    names none): its `tasks` entries that are directories or task files in the repo. Problem sets
    (.jsonl) and paths outside the repo are not suite tasks."""
    from training.config import load_config
    from training.data import load_tasks

    cfg = load_config(None, config)
    sources = []
    for entry in cfg.tasks:
        p = (ROOT / str(entry)).resolve()
        if p.is_relative_to(ROOT) and p.exists() and (p.is_dir() or p.suffix in (".yaml", ".yml")):
            sources.append(str(p))
    return load_tasks(sources, None, cfg.exclude, cfg.split)


def _test_half(tasks: list) -> list[str]:
    return [t.name for t in tasks if t.metadata.get("split") == "test"]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_no_training_config_trains_on_the_test_half(path):
    import yaml

    config = yaml.safe_load(path.read_text()) or {}
    assert _test_half(_config_tasks(config)) == [], f"{path.name} trains on held-out test tasks"


def test_the_test_half_check_catches_a_config_that_names_the_real_suite():
    every = {"tasks": ["benchmarks/suites/real"], "split": None}  # split: null, every task
    held_out = _test_half(_config_tasks(every))
    assert held_out and set(held_out) < {p.stem for p in REAL}
    assert _test_half(_config_tasks({**every, "exclude": held_out})) == []
    assert _test_half(_config_tasks({**every, "split": "test"})) == held_out
    one = next(p for p in REAL if load_task_file(p).metadata["split"] == "test")
    assert _test_half(_config_tasks({"tasks": [str(one.relative_to(ROOT))], "split": None})) == [one.stem]


def test_a_training_config_takes_the_train_half_of_the_real_suite_unless_told_otherwise():
    train = [t.name for t in _config_tasks({"tasks": ["benchmarks/suites/real"]})]
    assert sorted(train) == sorted(p.stem for p in REAL if load_task_file(p).metadata["split"] == "train")
