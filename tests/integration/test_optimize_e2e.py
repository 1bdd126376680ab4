"""The whole loop end to end with the real sandbox: scripted replies (CI), and the default model (slow)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from afterburner import load_target
from afterburner.agent.optimizer import Optimizer, optimize
from afterburner.trajectory import read_trajectory

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"
FAST = (EX / "duplicates_fast.py").read_text()
ORIGINAL = (EX / "duplicates.py").read_text()


def block(code: str) -> str:
    return f"Here it is:\n```python\n{code.rstrip()}\n```\n"


REPLY_FAST = block(FAST)
REPLY_WRONG = block("def find_duplicates(items):\n    return sorted(set(items))\n")
REPLY_SLOWER = block(
    "def find_duplicates(items):\n"
    "    for _ in range(2):\n"
    "        duplicates = []\n"
    "        for i in range(len(items)):\n"
    "            for j in range(i + 1, len(items)):\n"
    "                if items[i] == items[j] and items[i] not in duplicates:\n"
    "                    duplicates.append(items[i])\n"
    "                    break\n"
    "    return duplicates\n"
)
REPLY_BROKEN = "```python\ndef find_duplicates(items:\n    return []\n"  # cut off, does not parse


@pytest.fixture(scope="module")
def sandbox():
    from afterburner.sandbox import Sandbox

    with Sandbox(workers=2) as sb:
        yield sb


@pytest.fixture
def task():
    return load_target(
        f"{EX / 'duplicates.py'}::find_duplicates",
        tests=EX / "duplicates_tests.py",
        workload=EX / "duplicates_workload.py",
        sizes=[1000],  # smaller than the example's: keeps the test quick, the gain still clear
    )


def test_slow_example_becomes_the_known_fast_version(task, sandbox, tmp_path):
    replies = [REPLY_WRONG, REPLY_SLOWER, REPLY_FAST, REPLY_BROKEN, REPLY_SLOWER, REPLY_SLOWER]
    res = optimize(
        task,
        backend="scripted",
        replies=replies,
        sandbox=sandbox,
        out_dir=tmp_path,
        candidates=3,
        rounds=3,
        patience=1,
    )
    assert res.status == "improved" and res.improved, res.to_dict()
    assert "Counter(items)" in res.best_code and "def find_duplicates" in res.best_code
    assert res.best_code.startswith('"""Find the values')  # merged back into the module
    assert res.speedup > 3 and res.speedup_ci[0] > 1.05  # significant, original vs best, interleaved
    assert res.stop_reason == "patience" and res.rounds == 2
    assert len(res.rounds_best_code) == 2 and all("Counter" in c for c in res.rounds_best_code)

    traj = read_trajectory(res.trajectory_path)
    assert traj.broken_lines == 0 and traj.run["task"]["entry_point"] == "find_duplicates"
    steps = traj.steps
    assert len(steps) == 6
    assert [s["status"] for s in steps[:3]] == ["wrong_answer", "passed", "passed"]
    assert [s["accepted"] for s in steps] == [False, False, True, False, False, False]
    assert steps[1]["comparison"]["speedup"] < 1  # the slower one was measured and rejected
    assert steps[3]["status"] == "format_error"
    assert all(s["messages"] and s["completion"] for s in steps)
    assert "Counter" in traj.end["best_code"] and traj.end["speedup"] == pytest.approx(res.speedup)
    second_prompt = steps[3]["messages"][-1]["content"]
    assert "Counter(items)" in second_prompt and "wrong answer" in second_prompt


def test_each_program_is_checked_once_on_its_way_to_the_result(task, sandbox, tmp_path, monkeypatch):
    from afterburner.sandbox import Sandbox

    checked, real = [], Sandbox.check

    def counting(self, t, code=None):
        checked.append(t.code if code is None else code)
        return real(self, t, code)

    monkeypatch.setattr(Sandbox, "check", counting)
    res = optimize(
        task, backend="scripted", replies=[REPLY_FAST], sandbox=sandbox, out_dir=tmp_path, candidates=1,
        rounds=1, rewrites=False,
    )  # fmt: skip
    assert res.status == "improved" and "Counter(items)" in res.best_code
    # the original before its measurement, the candidate before its comparison; neither again in the
    # comparison, as the new best, or in the final comparison of the original against the best
    assert sorted(checked) == sorted([ORIGINAL, res.best_code])
    [step] = read_trajectory(res.trajectory_path).steps
    assert res.best.to_dict() == step["comparison"]["b"]  # the winner's figures: its comparison's


def test_wrong_or_slower_candidates_leave_the_original_unchanged(task, sandbox, tmp_path):
    res = optimize(
        task,
        backend="scripted",
        replies=[REPLY_WRONG, REPLY_SLOWER],
        sandbox=sandbox,
        out_dir=tmp_path,
        candidates=2,
        rounds=1,
    )
    assert res.status == "unchanged" and not res.improved and res.speedup == 1.0
    assert res.best_code == ORIGINAL == task.code
    # the first prompt shows the target function alone
    prompt = read_trajectory(res.trajectory_path).steps[0]["messages"][-1]["content"]
    assert "def find_duplicates(items):" in prompt


def test_refine_prompt_names_measured_hot_lines_and_a_remedy(task, sandbox, tmp_path):
    opt = Optimizer(
        backend="scripted",
        replies=[REPLY_WRONG, REPLY_WRONG],
        sandbox=sandbox,
        out_dir=tmp_path,
        candidates=1,
        rounds=2,
        patience=5,
    )
    opt.run(task)
    second = opt._get_backend().calls[1][-1]["content"]
    assert "Hot lines (share of" in second and "%" in second
    assert "What to change:" in second and ("`for j in range" in second or "`if items[i] ==" in second)


def test_interrupt_then_resume_continues_the_same_run(task, sandbox, tmp_path):
    def interrupt_round_2(name, data):
        if name == "round_started" and data["round"] == 2:
            raise KeyboardInterrupt

    first = Optimizer(
        backend="scripted",
        replies=[REPLY_SLOWER],
        sandbox=sandbox,
        out_dir=tmp_path,
        candidates=1,
        rounds=2,
        patience=5,
    )
    res = first.run(task, on_event=interrupt_round_2)
    assert res.status == "interrupted" and res.rounds == 1 and res.best_code == ORIGINAL
    second = Optimizer(backend="scripted", replies=[REPLY_FAST], sandbox=sandbox, out_dir=tmp_path)
    res2 = second.run(resume=res.run_id)
    assert res2.run_id == res.run_id and res2.rounds == 2 and res2.status == "improved"
    assert "Counter" in res2.best_code and res2.improved
    traj = read_trajectory(res2.trajectory_path)
    assert [s["round"] for s in traj.steps] == [1, 2]
    assert [e["status"] for e in traj.of_type("end")] == ["interrupted", "improved"]


# ---- the CLI ---------------------------------------------------------------------------------------


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "afterburner", "optimize", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture
def workdir(tmp_path):
    for name in ("duplicates.py", "duplicates_tests.py", "duplicates_workload.py"):
        shutil.copy(EX / name, tmp_path / name)
    (tmp_path / "replies.json").write_text(json.dumps([REPLY_WRONG, REPLY_FAST]))
    return tmp_path


TARGET = (
    "duplicates.py::find_duplicates",
    "--tests",
    "duplicates_tests.py",
    "--workload",
    "duplicates_workload.py",
    "--sizes",
    "1000",
    "--backend",
    "scripted",
    "--replies",
    "replies.json",
    "--candidates",
    "2",
    "--rounds",
    "1",
)


def test_cli_json_in_place_and_report(workdir):
    p = cli(*TARGET, "--json", "--in-place", "--report", "rep", cwd=workdir)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)  # one JSON object, nothing else on stdout
    assert out["status"] == "improved" and out["speedup"] > 3 and out["speedup_ci"][0] > 1.05
    assert out["rounds"] == 1 and out["stop_reason"] == "max_rounds" and "Counter" in out["best_code"]
    assert Path(workdir / out["trajectory"]).is_file() or Path(out["trajectory"]).is_file()
    assert "Counter" in (workdir / "duplicates.py").read_text()
    assert (workdir / "duplicates.py.orig").read_text() == ORIGINAL  # the user's code is never lost
    assert "```diff" in (workdir / "rep" / "report.md").read_text()
    (workdir / "duplicates.py").write_text(ORIGINAL.replace("list.", "list (edited)."))
    p = cli(*TARGET, "--json", "--in-place", cwd=workdir)  # a second backup does not overwrite the first
    assert p.returncode == 0, p.stderr
    assert (workdir / "duplicates.py.orig").read_text() == ORIGINAL
    [second] = workdir.glob("duplicates.py.*.orig")
    assert "(edited)" in second.read_text()


def test_cli_summary_and_diff_and_out_refuses_to_overwrite(workdir):
    (workdir / "fast.py").write_text("keep me\n")
    p = cli(*TARGET, "--out", "fast.py", cwd=workdir)
    assert p.returncode == 2 and "exists" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert (workdir / "fast.py").read_text() == "keep me\n"
    p = cli(*TARGET, "--out", "fast.py", "--force", cwd=workdir)
    assert p.returncode == 0, p.stderr
    assert "speedup" in p.stdout and "+from collections import Counter" in p.stdout
    assert "Counter" in (workdir / "fast.py").read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (("duplicates.py::nope", "--tests", "duplicates_tests.py"), "does not define 'nope'"),
        (("missing.py::f", "--tests", "duplicates_tests.py"), "does not exist"),
        (
            (
                "duplicates.py::find_duplicates",
                "--tests",
                "bad_tests.py",
                "--backend",
                "scripted",
                "--replies",
                "replies.json",
            ),
            "fails its own tests",
        ),
        (
            (
                "duplicates.py::find_duplicates",
                "--tests",
                "duplicates_tests.py",
                "--backend",
                "transformers",
                "--model",
                "/nonexistent/model-dir",
            ),
            "model",
        ),
    ],
)
def test_cli_bad_input_is_one_clear_line(workdir, args, message):
    (workdir / "bad_tests.py").write_text("def check(candidate):\n    assert candidate([1, 1]) == []\n")
    p = cli(*args, cwd=workdir)
    assert p.returncode == 2, p.stderr
    lines = [ln for ln in p.stderr.strip().splitlines() if ln.startswith("afterburner: error:")]
    assert len(lines) == 1 and message in lines[0], p.stderr
    assert "Traceback" not in p.stderr


def test_cli_shows_each_candidates_verdict_on_stderr_while_it_runs(workdir):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen(
        [sys.executable, "-m", "afterburner", "optimize", *TARGET],
        cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    seen, running_at_verdict = [], None
    for line in p.stderr:
        seen.append(line.rstrip("\n"))
        if line.startswith("  candidate 2/2:"):
            running_at_verdict = p.poll() is None  # the best is still to be profiled and re-measured
    stdout = p.stdout.read()
    assert p.wait(timeout=900) == 0, "\n".join(seen)
    assert running_at_verdict, seen
    assert seen[0].startswith("original: ") and "CPU time (median of" in seen[0]
    assert "round 1/1: generating 2 candidates (up to 512 new tokens each)" in seen
    verdicts = sorted(ln for ln in seen if ln.startswith("  candidate "))
    assert verdicts[0].startswith("  candidate 1/2: wrong answer (")
    assert verdicts[1].startswith("  candidate 2/2: faster: ") and verdicts[1].endswith(", significant")
    assert seen[-1].startswith("final comparison, original vs best, interleaved: ")
    assert "\r" not in "".join(seen)  # not a terminal: plain lines only
    # where the code went: the run folder keeps best.py, and the output says so, each path on its own line
    [best] = workdir.glob("afterburner-runs/*/best.py")
    assert "Counter" in best.read_text()
    assert f"  {best.relative_to(workdir)}" in stdout.splitlines() and "--out FILE" in stdout


def test_measurement_progress_comes_from_the_real_sandbox(task, sandbox, tmp_path):
    events = []
    res = optimize(
        task,
        backend="scripted",
        replies=[REPLY_FAST],
        sandbox=sandbox,
        out_dir=tmp_path,
        candidates=1,
        rounds=1,
        repeats=3,
        on_event=lambda name, data: events.append((name, data)),
    )
    measuring = [d for n, d in events if n == "measuring"]
    # no "best": the winner is not measured again, its comparison's runs are its figures (check once)
    assert {d["what"] for d in measuring} == {"original", "candidate", "final"}
    for what in ("original", "candidate", "final"):
        assert [d["run"] for d in measuring if d["what"] == what] == [1, 2, 3]  # repeats=3: every timed run
    assert all(d["at_most"] == 3 and d["fixed"] for d in measuring)
    assert res.status == "improved" and Path(res.best_path).read_text() == res.best_code


# ---- the default model ------------------------------------------------------------------------------


@pytest.mark.slow
def test_default_model_on_cpu_finishes_and_is_never_worse(task, sandbox, tmp_path):
    res = optimize(
        task,
        backend="transformers",
        sandbox=sandbox,
        out_dir=tmp_path,
        rounds=1,
        candidates=2,
        max_new_tokens=300,
        seed=0,
    )
    assert res.rounds == 1 and res.stop_reason == "max_rounds" and res.llm_calls == 1
    assert sandbox.check(task, res.best_code).passed
    assert res.status in ("improved", "unchanged")
    if res.best_code != task.code:
        assert res.speedup >= 1.0
    assert len(read_trajectory(res.trajectory_path).steps) == 2


def test_cli_custom_backend_by_import_path(workdir):
    args = list(TARGET)
    i = args.index("--backend")
    del args[i : i + 4]  # drop --backend scripted --replies replies.json
    p = cli(*args, "--backend", "examples.custom_backend:KnownAnswerBackend", "--json", cwd=workdir)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["status"] == "improved" and "Counter" in out["best_code"]
