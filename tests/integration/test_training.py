"""Training end to end on CPU with a tiny random Qwen2: GRPO (real sandbox reward), SFT and DPO steps,
each writing a LoRA adapter that `afterburner optimize` then uses as its model.

The tiny model writes gibberish, so the optimizer finds nothing better and returns the original code:
these tests assert that the whole path runs and returns cleanly, not that the model learned anything.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("trl")
pytest.importorskip("peft")

from afterburner.cli import main
from afterburner.task import load_task_file

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "training" / "configs" / "smoke_0.5b_cpu.yaml"
TASKS = ROOT / "tests" / "data" / "train_tasks"


def _optimize_with(adapter: Path, tmp_path: Path) -> None:
    import afterburner

    task = load_task_file(TASKS / "sum_squares.yaml")
    result = afterburner.optimize(
        task,
        backend="transformers",
        model=str(adapter),
        rounds=1,
        candidates=1,
        max_new_tokens=16,
        out_dir=tmp_path / "opt",
        trajectory=tmp_path / "opt" / "t.jsonl",
    )
    assert result.best_code == task.code and not result.improved
    assert result.llm_calls >= 1


def _assert_adapter(out: Path, steps: int) -> dict:
    assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["steps"] == steps and summary["step_time_s"]["n"] == steps
    return summary


def test_grpo_two_steps_with_the_sandbox_reward_then_optimize_uses_the_adapter(
    tiny_model_dir, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "grpo"
    rc = main(["train", "grpo", "--config", str(CONFIG), "--output-dir", str(out), f"model={tiny_model_dir}"])
    assert rc == 0
    summary = _assert_adapter(out, 2)
    assert summary["tasks"] == 2
    assert [name for name, _ in summary["excluded_tasks"]] == ["broken_reference"]
    captured = capsys.readouterr()
    err = captured.err
    assert err.count("excluded broken_reference") == 1 and "a deliberate fixture" in err
    assert "mean reward per step:" in captured.out and "of completions ended within" in captured.out
    rewards = [
        h["reward"]
        for h in json.loads((out / "trainer_state.json").read_text())["log_history"]
        if "reward" in h
    ]
    assert len(rewards) == 2  # the sandbox scored every step (gibberish scores 0.0: no usable code)
    assert (out / "reward_curve.png").is_file()
    _optimize_with(out, tmp_path)


def test_sft_one_step_then_optimize_uses_the_adapter(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "sft"
    rc = main(
        [
            "train",
            "sft",
            "--config",
            str(CONFIG),
            "--output-dir",
            str(out),
            f"model={tiny_model_dir}",
            "max_steps=1",
        ]
    )
    assert rc == 0
    summary = _assert_adapter(out, 1)
    assert summary["examples"] == 2  # the broken task was excluded before it became an example
    _optimize_with(out, tmp_path)


def test_dpo_one_step_from_a_trajectory_then_optimize_uses_the_adapter(tiny_model_dir, tmp_path, monkeypatch):
    from afterburner.prompts import initial_conversation
    from afterburner.trajectory import TrajectoryWriter

    task = load_task_file(TASKS / "sum_squares.yaml")
    conv = initial_conversation(task)
    with TrajectoryWriter(tmp_path / "traj" / "sum_squares.jsonl") as w:
        w.write("run", run_id="r", task=task.to_dict(), model="m", backend="scripted", strategy="default")
        for i, (text, status, comparison) in enumerate(
            [
                (
                    "```python\ndef sum_squares(n):\n    return (n - 1) * n * (2 * n - 1) // 6\n```",
                    "passed",
                    {"speedup": 30.0, "improved": True},
                ),
                ("```python\ndef sum_squares(n):\n    return n * n\n```", "wrong_answer", None),
            ]
        ):
            w.write(
                "step",
                round=1,
                index=i,
                messages=conv,
                completion=text,
                check={"status": status},
                comparison=comparison,
                accepted=i == 0,
                best_speedup=30.0,
            )
    monkeypatch.chdir(ROOT)
    out = tmp_path / "dpo"
    rc = main(
        [
            "train",
            "dpo",
            "--config",
            str(CONFIG),
            "--output-dir",
            str(out),
            f"model={tiny_model_dir}",
            "max_steps=1",
            "per_device_train_batch_size=2",
            f"trajectories=[{tmp_path / 'traj'}]",
        ]
    )
    assert rc == 0
    summary = _assert_adapter(out, 1)
    assert summary["pairs"] == 1
    _optimize_with(out, tmp_path)


def test_stage_two_continues_the_stage_one_adapter(tiny_model_dir, tmp_path, monkeypatch):
    """GRPO from an SFT adapter trains that adapter further: the output is one adapter on the same base."""
    monkeypatch.chdir(ROOT)
    stage1, stage2 = tmp_path / "s1", tmp_path / "s2"
    base = [f"model={tiny_model_dir}", "max_steps=1", "tasks=[tests/data/train_tasks/sum_squares.yaml]"]
    assert main(["train", "sft", "--config", str(CONFIG), "--output-dir", str(stage1), *base]) == 0
    assert (
        main(
            [
                "train",
                "grpo",
                "--config",
                str(CONFIG),
                "--output-dir",
                str(stage2),
                *base[1:],
                f"model={stage1}",
            ]
        )
        == 0
    )
    cfg = json.loads((stage2 / "adapter_config.json").read_text())
    assert Path(cfg["base_model_name_or_path"]) == Path(tiny_model_dir)


def test_full_fine_tuning_writes_a_model_directory_optimize_can_load(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "full"
    args = [
        f"model={tiny_model_dir}",
        "lora=false",
        "max_steps=1",
        "tasks=[tests/data/train_tasks/sum_squares.yaml]",
    ]
    assert main(["train", "grpo", "--config", str(CONFIG), "--output-dir", str(out), *args]) == 0
    assert (out / "config.json").is_file() and (out / "model.safetensors").is_file()
    assert not (out / "adapter_config.json").exists()
    _optimize_with(out, tmp_path)


@pytest.mark.parametrize("advantage", ["rloo", "group_std"])
def test_the_other_advantage_choices_train_too(advantage, tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = tmp_path / advantage
    args = [
        f"model={tiny_model_dir}",
        f"advantage={advantage}",
        "max_steps=1",
        "tasks=[tests/data/train_tasks/sum_squares.yaml]",
    ]
    assert main(["train", "grpo", "--config", str(CONFIG), "--output-dir", str(out), *args]) == 0
    summary = _assert_adapter(out, 1)
    assert summary["advantage"] == advantage
