"""`afterburner bench` end to end: the real sandbox and optimizer, the scripted backend replaying known code,
so every metric has a value we can state in advance."""

import gzip
import json
from pathlib import Path

import pytest

from afterburner.cli import main

pytestmark = pytest.mark.integration

DEDUPE = """\
name: dedupe
entry_point: dedupe
code: |
  def dedupe(xs):
      out = []
      for x in xs:
          if x not in out:
              out.append(x)
      return out
reference: |
  def dedupe(xs):
      return list(dict.fromkeys(xs))
tests: |
  def check(candidate):
      assert candidate([3, 1, 3, 2, 1]) == [3, 1, 2]
      assert candidate([]) == []
workload:
  generate: |
    def generate(n, seed):
        import random
        r = random.Random(seed)
        return ([r.randrange(n) for _ in range(n)],), {}
  sizes: [2500]
"""

PAIRS = """\
name: count_pairs
entry_point: count_pairs
code: |
  def count_pairs(xs, target):
      n = 0
      for i in range(len(xs)):
          for j in range(i + 1, len(xs)):
              if xs[i] + xs[j] == target:
                  n += 1
      return n
reference: |
  from collections import Counter

  def count_pairs(xs, target):
      seen = Counter()
      n = 0
      for x in xs:
          n += seen[target - x]
          seen[x] += 1
      return n
tests:
  check: |
    def check(candidate):
        assert candidate([1, 2, 3, 4], 5) == 2
        assert candidate([2, 2, 2], 4) == 3
workload:
  generate: |
    def generate(n, seed):
        import random
        r = random.Random(seed)
        return ([r.randrange(50) for _ in range(n)], 50), {}
  sizes: [900]
"""


@pytest.fixture
def suite(tmp_path) -> Path:
    d = tmp_path / "suite"
    d.mkdir()
    (d / "count_pairs.yaml").write_text(PAIRS)
    (d / "dedupe.yaml").write_text(DEDUPE)
    (d / "zz_broken.yaml").write_text(
        DEDUPE.replace("name: dedupe", "name: broken").replace("x not in out", "x in out")
    )
    return d


@pytest.fixture
def problem_set(tmp_path) -> Path:
    rows = [
        {"task_id": "Toy/0", "prompt": 'def uniq(xs):\n    """Sorted unique values."""\n',
         "canonical_solution": "    return sorted(set(xs))\n", "entry_point": "uniq",
         "base_input": [[[3, 1, 2, 3]], [[5, 5, 4]]], "plus_input": [[[]]], "atol": 0},
        {"task_id": "Toy/1", "prompt": 'def squares(xs):\n    """Sum of squares."""\n',
         "canonical_solution": "    return sum(x * x for x in xs)\n", "entry_point": "squares",
         "base_input": [[[1, 2, 3]], [[4]]], "plus_input": [[[]]], "atol": 0},
    ]  # fmt: skip
    p = tmp_path / "ToyPlus.jsonl.gz"
    with gzip.open(p, "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    return p


def bench(capsys, *argv: str) -> dict:
    fixed = [
        "--backend",
        "scripted",
        "--rounds",
        "2",
        "--candidates",
        "2",
        "--repeats",
        "5",
        "--json",
        "--no-progress",
    ]
    code = main(["bench", *argv, *fixed])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    data = json.loads(captured.out)
    data["stderr"] = captured.err
    return data


def test_replayed_reference_gets_full_marks(suite, tmp_path, capsys):
    out = tmp_path / "out"
    data = bench(capsys, str(suite), "--model", "replay:reference", "--strategy", "default",
                 "--strategy", "afterburner", "--results-dir", str(out))  # fmt: skip
    # the broken task is reported (which, what) and the others run
    assert "zz_broken.yaml" in data["stderr"] and "fail on its own starting code" in data["stderr"]
    assert data["suite"]["tasks"] == ["count_pairs", "dedupe"]
    for strategy in ("default", "afterburner"):
        agg = data["aggregates"][strategy]
        assert agg["n"] == 2 and agg["pass_at_1"] == 1.0
        assert agg["time_pct"] == 100.0 and agg["integral_pct"] == 100.0
        # in memory the final code is the reference (share >= 1/2 per task); whether it also beats the starting
        # code is for the measurement to say (count_pairs' reference keeps a Counter)
        assert agg["memory_pct"] >= 50.0
        assert (
            agg["significant_rate"] == 1.0 and agg["geomean_speedup"] > 1.5
        )  # the references are much faster
        assert [a["pass_at_1"] for a in data["curves"][strategy]] == [1.0, 1.0]
    records = data["records"]
    assert [(r["task"], r["strategy"]) for r in records] == [
        ("count_pairs", "default"), ("count_pairs", "afterburner"), ("dedupe", "default"), ("dedupe", "afterburner"),
    ]  # fmt: skip
    for r in records:
        lo, hi = r["final"]["speedup_ci"]
        assert 1.1 <= lo <= r["final"]["speedup"] <= hi
        assert r["final"]["solutions"][0]["identical"] and r["tokens_used"] > 0 and r["n_rounds"] >= 1
    for name in ("results.json", "results.jsonl", "summary.md", "speedups.png", "rounds.png"):
        assert (out / name).stat().st_size > 0
    assert "| default | 2 | 100.0 | 100.0 |" in (out / "summary.md").read_text()


def test_wrong_replies_keep_the_original_and_resume_skips_done_work(suite, tmp_path, capsys):
    out = tmp_path / "out"
    first = bench(capsys, str(suite), "--model", "replay:wrong", "--limit", "1", "--results-dir", str(out))
    assert [r["task"] for r in first["records"]] == ["count_pairs"]
    data = bench(capsys, str(suite), "--model", "replay:wrong", "--results-dir", str(out), "--resume")
    assert data["resumed"] == 1 and [r["task"] for r in data["records"]] == ["count_pairs", "dedupe"]
    assert len((out / "results.jsonl").read_text().splitlines()) == 2
    agg = data["aggregates"]["default"]
    # the optimizer rejects every wrong candidate and returns the starting code: correct, no speedup,
    # as good as itself but not as the (much faster) reference -> half the known solutions
    assert agg["pass_at_1"] == 1.0 and agg["significant_rate"] == 0.0 and agg["geomean_speedup"] == 1.0
    assert agg["time_pct"] == 50.0


@pytest.mark.parametrize(
    ("model", "pass_at_1", "time_pct"), [("replay:reference", 1.0, 100.0), ("replay:wrong", 0.0, 0.0)]
)
def test_from_description_problem_set(problem_set, tmp_path, capsys, model, pass_at_1, time_pct):
    data = bench(
        capsys,
        str(problem_set),
        "--model",
        model,
        "--strategy",
        "afterburner",
        "--results-dir",
        str(tmp_path / "o"),
    )
    agg = data["aggregates"]["afterburner"]
    assert agg["n"] == 2 and agg["pass_at_1"] == pass_at_1 and agg["time_pct"] == time_pct
    assert agg["geomean_speedup"] == 1.0  # no starting code: nothing to be faster than


SMOKE = Path(__file__).resolve().parents[2] / "benchmarks" / "suites" / "smoke"


@pytest.mark.skipif(not SMOKE.is_dir(), reason="the smoke suite is not there yet")
def test_smoke_suite_runs_with_two_strategies(tmp_path, capsys):
    data = bench(capsys, str(SMOKE), "--model", "replay:reference", "--strategy", "default",
                 "--strategy", "afterburner", "--limit", "3", "--results-dir", str(tmp_path / "smoke"))  # fmt: skip
    for strategy in ("default", "afterburner"):
        agg = data["aggregates"][strategy]
        assert agg["pass_at_1"] == 1.0 and agg["time_pct"] == 100.0, data["records"]
