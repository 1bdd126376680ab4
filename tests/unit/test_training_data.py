"""Training data, config and plot helpers, without a model or the real sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from afterburner.errors import ConfigError
from afterburner.prompts import initial_conversation
from afterburner.results import CheckResult, Failure, Status
from afterburner.task import Task
from afterburner.trajectory import TrajectoryWriter
from training.config import load_config, parse_overrides
from training.data import (
    dpo_rows,
    grpo_rows,
    keep_tasks,
    load_tasks,
    read_trajectories,
    sft_rows,
    to_dataset,
    trajectory_prompt_rows,
    validate_tasks,
)

DATA = Path(__file__).resolve().parents[1] / "data"
TASKS = DATA / "train_tasks"
CONFIGS = Path(__file__).resolve().parents[2] / "training" / "configs"


class ExecSandbox:
    """Runs the (trusted, tiny) test-data code in-process against its cases."""

    def check(self, task: Task, code: str) -> CheckResult:
        ns: dict = {}
        exec(code, ns)
        fn = ns[task.entry_point]
        for case in task.cases:
            got = fn(*case.args, **case.kwargs)
            if case.has_expected and got != case.expected:
                return CheckResult(
                    Status.WRONG_ANSWER, Failure(repr(case.args), repr(case.expected), repr(got))
                )
        return CheckResult(Status.PASSED)


def test_a_task_whose_own_code_fails_its_tests_is_excluded_and_reported():
    tasks = load_tasks([str(TASKS)])
    kept, excluded = validate_tasks(tasks, ExecSandbox())
    assert sorted(t.name for t in kept) == ["has_duplicates", "sum_squares"]
    assert [name for name, _ in excluded] == ["broken_reference"]
    assert "fails its tests" in excluded[0][1] and "wrong_answer" in excluded[0][1]


def test_load_tasks_limit_exclude_and_problem_sets_get_timing_inputs():
    assert [t.name for t in load_tasks([str(TASKS)], exclude=["broken_reference"], limit=1)] == [
        "has_duplicates"
    ]
    humaneval = Path("/work/shared/data/HumanEvalPlus.jsonl.gz")
    if humaneval.is_file():
        (task,) = load_tasks([str(humaneval)], limit=1)
        assert task.code and task.has_workload  # the reference is the starting code, timed on the test inputs
    with pytest.raises(Exception, match="not a problem set"):
        load_tasks(["notes.txt"])


def test_grpo_prompts_are_the_optimizers_own_conversation_and_carry_the_task():
    tasks = load_tasks([str(TASKS / "sum_squares.yaml")])
    (row,) = grpo_rows(tasks)
    assert row["prompt"] == initial_conversation(tasks[0])
    assert Task.from_dict(json.loads(row["task"])) == tasks[0]
    ds = to_dataset([row])
    assert ds.column_names == ["prompt", "task", "task_name"] and ds[0]["task_name"] == "sum_squares"


def _write_trajectory(path: Path, task: Task) -> None:
    conv = initial_conversation(task)
    fast = "```python\ndef sum_squares(n):\n    return (n - 1) * n * (2 * n - 1) // 6\n```"
    wrong = "```python\ndef sum_squares(n):\n    return n * n\n```"
    same = "```python\ndef sum_squares(n):\n    return sum(i * i for i in range(n))\n```"
    with TrajectoryWriter(path) as w:
        w.write("run", run_id="r1", task=task.to_dict(), model="m", backend="scripted", strategy="default")
        for i, (text, status, comp, accepted) in enumerate(
            [
                (wrong, "wrong_answer", None, False),
                (fast, "passed", {"speedup": 40.0, "improved": True}, True),
                (same, "passed", {"speedup": 1.3, "improved": False}, False),
            ]
        ):
            w.write(
                "step",
                round=1,
                index=i,
                messages=conv,
                completion=text,
                check={"status": status},
                status=status,
                comparison=comp,
                accepted=accepted,
                best_speedup=40.0 if accepted else 1.0,
            )
        w.write("end", stop_reason="patience", speedup=40.0)
    with open(path, "a") as f:
        f.write('{"format": "afterburner.trajectory/1", "type": "st\n')  # a crash mid-line


def test_trajectories_give_sft_best_solution_and_dpo_pairs_and_count_broken_lines(tmp_path):
    task = load_tasks([str(TASKS / "sum_squares.yaml")])[0]
    _write_trajectory(tmp_path / "a.jsonl", task)
    data = read_trajectories([str(tmp_path)])
    assert data.files == 1 and data.broken_lines == 1 and len(data.steps["sum_squares"]) == 3

    (sft,) = sft_rows(data)
    assert "(n - 1) * n" in sft["completion"][0]["content"] and sft["prompt"] == initial_conversation(task)

    pairs = dpo_rows(data)
    assert len(pairs) == 2
    assert all("(n - 1) * n" in p["chosen"][0]["content"] for p in pairs)
    rejected = {p["rejected"][0]["content"] for p in pairs}
    assert any("n * n\n" in r for r in rejected) and any("sum(i * i" in r for r in rejected)


def test_grpo_prompts_from_trajectories_are_the_distinct_prompts_the_agent_met(tmp_path):
    task = load_tasks([str(TASKS / "sum_squares.yaml")])[0]
    _write_trajectory(tmp_path / "a.jsonl", task)
    data = read_trajectories([str(tmp_path)])
    (row,) = trajectory_prompt_rows(data, {"sum_squares"})  # three steps, one prompt
    assert row["prompt"] == initial_conversation(task) and Task.from_dict(json.loads(row["task"])) == task
    assert trajectory_prompt_rows(data, set()) == []  # an excluded task gives no prompts


def test_sft_from_problem_sets_asks_from_the_description_and_answers_with_the_reference():
    tasks = load_tasks([str(TASKS / "sum_squares.yaml")])
    (row,) = sft_rows(None, tasks)
    assert row["prompt"] == initial_conversation(tasks[0].with_code(""))
    assert "for i in range(n)" in row["completion"][0]["content"]


def _halves(tmp_path: Path) -> Path:
    """A suite in halves: sum_squares as a train task and as a test task."""
    d = tmp_path / "halves"
    d.mkdir()
    text = (TASKS / "sum_squares.yaml").read_text()
    for name, split in (("sq_train", "train"), ("sq_test", "test")):
        (d / f"{name}.yaml").write_text(
            text.replace("name: sum_squares", f"name: {name}") + f"metadata: {{split: {split}}}\n"
        )
    return d


def test_split_keeps_one_half_of_tasks_and_of_trajectories(tmp_path):
    halves = _halves(tmp_path)
    sources = [str(halves), str(TASKS / "sum_squares.yaml")]  # the second has no halves: in either
    assert [t.name for t in load_tasks(sources, split="train")] == ["sq_train", "sum_squares"]
    assert [t.name for t in load_tasks(sources, split="test")] == ["sq_test", "sum_squares"]
    assert len(load_tasks(sources)) == 3
    assert [t.name for t in load_tasks([str(halves)], limit=1, split="test")] == ["sq_test"]
    for task in load_tasks([str(halves)]):
        _write_trajectory(tmp_path / "traj" / f"{task.name}.jsonl", task)
    data = keep_tasks(read_trajectories([str(tmp_path / "traj")]), split="train")
    assert list(data.tasks) == ["sq_train"] and list(data.steps) == ["sq_train"]
    assert len(sft_rows(data)) == 1 and all("sq_train" in row["task"] for row in dpo_rows(data))
    assert load_config(None).split == "train"  # the default: a suite in halves gives its train half
    with pytest.raises(ConfigError, match="split 'dev' is not one of train, test"):
        load_config(None, {"split": "dev"})


def test_config_unknown_key_is_one_clear_error_naming_it_and_the_known_keys(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: x\nmax_stpes: 3\n")
    with pytest.raises(ConfigError) as e:
        load_config(bad)
    msg = str(e.value)
    assert "max_stpes" in msg and "known keys" in msg and "max_steps" in msg and "\n" not in msg


def test_config_overrides_and_validation():
    cfg = load_config(
        CONFIGS / "smoke_0.5b_cpu.yaml", parse_overrides(["max_steps=7", "tasks=[a.yaml, b.yaml]"])
    )
    assert cfg.max_steps == 7 and cfg.tasks == ["a.yaml", "b.yaml"]
    with pytest.raises(ConfigError, match="multiple of num_generations"):
        load_config(CONFIGS / "smoke_0.5b_cpu.yaml", {"num_generations": 3})
    with pytest.raises(ConfigError, match="advantage"):
        load_config(None, {"advantage": "whiten"})
    with pytest.raises(ConfigError, match="weights_dtype 'fp8' is not one of auto, float32, bfloat16"):
        load_config(None, {"weights_dtype": "fp8"})
    with pytest.raises(ConfigError, match="max_steps must be int"):
        load_config(None, {"max_steps": "ten"})
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["max_steps"])


def test_every_shipped_config_loads():
    names = sorted(p.name for p in CONFIGS.glob("*.yaml") if not p.name.startswith("accelerate"))
    assert "smoke_0.5b_cpu.yaml" in names and len(names) >= 3
    for name in names:
        load_config(CONFIGS / name)


def test_reward_curve_from_trainer_state(tmp_path):
    pytest.importorskip("matplotlib")
    from training.plot import plot_reward_curve, reward_history, sandbox_rates

    history = [
        {"step": s, "reward": 0.1 * s, "reward_std": 0.0, "sandbox/pass_rate": 0.5, "loss": 0.0}
        for s in range(1, 13)
    ]
    (tmp_path / "trainer_state.json").write_text(json.dumps({"log_history": [*history, {"train_loss": 0}]}))
    assert reward_history(tmp_path)[-1] == (12, pytest.approx(1.2), 0.0)
    rates = sandbox_rates(tmp_path)
    assert rates["passed the tests"][-1] == (12, 0.5) and rates["significantly faster"] == []
    png = plot_reward_curve(tmp_path, tmp_path / "curve.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _run_log(steps: int) -> list[dict]:
    """A GRPO log of `steps` steps: the first half of the run all groups alike, the second half none,
    and the rewards' own shares rising by quarter."""
    return [
        {
            "step": s,
            "reward": s / steps,
            "frac_reward_zero_std": 1.0 if s <= steps // 2 else 0.0,
            "sandbox/pass_rate": 0.5,
            "sandbox/improved_rate": 0.25 if s > 3 * steps // 4 else 0.0,
            "sandbox/unchanged_rate": 0.5,
            "completions/mean_length": 100.0,
            "completions/clipped_ratio": 0.25,
        }
        for s in range(1, steps + 1)
    ]


def test_zero_advantage_share_over_the_run_and_per_quarter():
    from training.grpo import step_figures
    from training.plot import quarters, zero_std_share

    log = [*_run_log(40), {"train_loss": 0.0, "step": 40}]
    assert [(lo, hi, len(e)) for lo, hi, e in quarters(log)] == [
        (1, 10, 10),
        (11, 20, 10),
        (21, 30, 10),
        (31, 40, 10),
    ]
    assert zero_std_share(log) == {"overall": 0.5, "quarters": [1.0, 1.0, 0.0, 0.0]}
    assert step_figures(log)["zero_std_share"] == zero_std_share(log)
    short = zero_std_share(_run_log(2))  # fewer steps than quarters: the empty ones are None
    assert short == {"overall": 0.5, "quarters": [None, 1.0, None, 0.0]}
    assert zero_std_share([{"step": 1, "reward": 0.1}]) == {"overall": None, "quarters": [None] * 4}


def test_quarter_table_prints_the_per_quarter_figures(tmp_path):
    from training.plot import quarter_table

    (tmp_path / "trainer_state.json").write_text(json.dumps({"log_history": _run_log(40)}))
    lines = quarter_table(tmp_path, max_completion_length=384).splitlines()
    assert lines[0].startswith("| steps | mean reward | completions correct | significantly faster |")
    assert "cut off at 384" in lines[0] and lines[0].endswith("zero-advantage groups |")
    assert lines[2] == "| 1-10 | 0.14 | 50% | 0% | 50% | - | 100 tok | 25% | 100% |"
    assert lines[5] == "| 31-40 | 0.89 | 50% | 25% | 50% | - | 100 tok | 25% | 0% |"
    assert len(lines) == 6


def test_the_two_stage_configs_chain_stage2_onto_stage1_and_fit_the_installed_trl(tmp_path):
    from trl import SFTConfig

    from training.common import trl_kwargs
    from training.grpo import grpo_args

    sft = load_config(CONFIGS / "cpu_0.5b_sft_real.yaml")
    grpo = load_config(CONFIGS / "cpu_0.5b_grpo_real.yaml")
    assert grpo.model == sft.output_dir and sft.split == grpo.split == "train"
    assert sft.resume and grpo.resume and sft.max_length == 3072
    assert grpo.num_generations >= 4 and grpo.max_completion_length == 384 and grpo.max_steps == 40
    args = SFTConfig(**trl_kwargs(sft, SFTConfig, str(tmp_path / "sft"), max_length=sft.max_length))
    assert args.use_cpu and args.max_length == 3072 and args.save_steps == 4
    args, trainer = grpo_args(grpo, str(tmp_path / "grpo"))
    assert trainer.__name__ == "GRPOTrainer" and args.use_cpu and args.scale_rewards == "none"
    assert args.num_generations == 4 and args.max_completion_length == 384
    assert args.per_device_train_batch_size * args.steps_per_generation % args.num_generations == 0
