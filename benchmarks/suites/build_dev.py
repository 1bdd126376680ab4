"""Build the development suite benchmarks/suites/dev/*.yaml from LeetCodeDataset and dev_specs.py.

For every spec: the problem text, imports (`prompt`), tests and reference solution come from
LeetCodeDataset v0.2.0 (newfacade/LeetCodeDataset, MIT; problems (c) LeetCode); the naive starting
solution, the workload generator and its sizes come from dev_specs.py. The dataset's tests are the
problem's examples only, so a few extra cases are appended to check(candidate): small inputs from the
task's own generate(n, seed) with the answers of the reference solution.

The smoke suite (benchmarks/suites/smoke) is a few easy dev tasks with small sizes, for quick CI runs.

    python benchmarks/suites/build_dev.py [--data PATH] [--out DIR] [--smoke-out DIR] [--only ID ...]
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import re
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from dev_specs import SPECS  # noqa: E402

DEFAULT_DATA = Path("/work/shared/data/leetcodedataset-v0.2.0-train.jsonl.gz")
SOURCE = "LeetCodeDataset v0.2.0 (newfacade/LeetCodeDataset)"
LICENSE = "MIT (dataset); problem statements (c) LeetCode"
# smoke suite: easy dev tasks and the small sizes they get there (the naive code takes ~15-30 ms)
SMOKE_SIZES = {
    "two-sum": [1200],
    "climbing-stairs": [27],
    "missing-number": [3000],
    "best-time-to-buy-and-sell-stock": [1200],
}


class _Block(str):
    """A string written as a YAML literal block."""


def _block_representer(dumper: yaml.Dumper, data: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")


yaml.add_representer(_Block, _block_representer)


def _clean(text: str) -> str:
    """Trailing spaces removed (YAML literal blocks cannot carry them), one final newline."""
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()) + "\n"


def _fix_superscripts(statement: str) -> str:
    """The dataset's statements lost their superscripts ("10^4" reads "104", "2^31" reads "231");
    restore the common ones in the Constraints section (no constraint here is a literal 101-109 or 231)."""
    head, sep, constraints = statement.partition("Constraints:")
    if not sep:
        return statement
    constraints = re.sub(r"\b10([1-9])\b", r"10^\1", constraints)
    constraints = re.sub(r"\b231\b", "2^31", constraints)
    return head + sep + constraints


def _call(entry_point: str, source: str, prelude: str):
    ns: dict = {"__name__": "__build__"}
    exec(compile(prelude + "\n" + source, "<reference>", "exec"), ns)
    cls, method = entry_point.split("().")
    return lambda *a, **k: getattr(ns[cls](), method)(*a, **k)


def _extra_cases(spec: dict, row: dict) -> list[str]:
    gns: dict = {"__name__": "__generate__"}
    exec(compile(spec["generate"], "<generate>", "exec"), gns)
    reference = _call(row["entry_point"], row["completion"], row["prompt"])
    lines = []
    for seed, n in enumerate(spec["small"]):
        args, kwargs = gns["generate"](n, seed)
        assert not args, f"{spec['id']}: generate must return keyword arguments only"
        expected = reference(**copy.deepcopy(kwargs))
        call = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        lines.append(f"    assert candidate({call}) == {expected!r}")
    return lines


def build_task(spec: dict, row: dict) -> dict:
    tests = _clean(row["test"]).rstrip("\n")
    extra = _extra_cases(spec, row)
    tests += "\n\n    # extra cases: small generated inputs, answers from the reference solution\n"
    tests += "\n".join(extra) + "\n"
    meta = row.get("meta", {})
    # the dataset's `question_title` holds the full statement (examples, constraints); `query` lacks them
    return {
        "name": spec["id"],
        "entry_point": row["entry_point"],
        "description": _Block(_clean(_fix_superscripts(meta.get("question_title") or row["query"]))),
        "prelude": _Block(_clean(row["prompt"])),
        "code": _Block(_clean(spec["naive"])),
        "reference": _Block(_clean(row["completion"])),
        "tests": _Block(tests),
        "workload": {"generate": _Block(_clean(spec["generate"])), "sizes": list(spec["sizes"])},
        "metadata": {
            "source": SOURCE,
            "license": LICENSE,
            "question_id": meta.get("question_id"),
            "difficulty": meta.get("difficulty"),
            "inefficiency": spec["kind"],
            "why_slow": spec["why"],
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=HERE / "dev")
    ap.add_argument("--smoke-out", type=Path, default=HERE / "smoke")
    ap.add_argument("--only", nargs="*", help="task ids to (re)build (default: all)")
    args = ap.parse_args(argv)
    rows = {}
    with gzip.open(args.data, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            rows[row["task_id"]] = row
    args.out.mkdir(parents=True, exist_ok=True)
    for spec in SPECS:
        if args.only and spec["id"] not in args.only:
            continue
        task = build_task(spec, rows[spec["id"]])
        path = args.out / f"{spec['id']}.yaml"
        path.write_text(yaml.dump(task, sort_keys=False, allow_unicode=True, width=110), encoding="utf-8")
        print(f"wrote {path}")
        if spec["id"] in SMOKE_SIZES:
            args.smoke_out.mkdir(parents=True, exist_ok=True)
            smoke = {**task, "workload": {**task["workload"], "sizes": SMOKE_SIZES[spec["id"]]}}
            path = args.smoke_out / f"{spec['id']}.yaml"
            path.write_text(
                yaml.dump(smoke, sort_keys=False, allow_unicode=True, width=110), encoding="utf-8"
            )
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
