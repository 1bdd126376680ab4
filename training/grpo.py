"""Online RL (stage 2): GRPO (or RLOO) with trl, rewards from running the policy's code in the sandbox.

The prompts are the optimizer's own conversations (first round, and the rounds recorded in trajectories),
so the trained policy fits the loop.
``advantage`` picks how a group's rewards become advantages (see docs/training.md):

- ``no_std`` (default): GRPOTrainer with ``scale_rewards="none"``: reward minus the group mean, not
  divided by the group's std, so tiny timing differences inside a group are not blown up to +-1;
- ``group_std``: GRPOTrainer's default, divided by the group's std (the original GRPO);
- ``rloo``: trl's RLOOTrainer (leave-one-out baseline, advantages not normalised).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from afterburner.errors import ConfigError
from afterburner.llm.quiet import quiet_library_warnings
from afterburner.task import Task
from training.config import TrainConfig
from training.data import (
    TrajectoryData,
    grpo_rows,
    keep_tasks,
    load_tasks,
    read_trajectories,
    to_dataset,
    trajectory_prompt_rows,
    validate_tasks,
)
from training.rewards import get_sandbox, make_reward

__all__ = ["collect_tasks", "grpo_args", "grpo_dataset", "step_figures", "train_grpo"]

log = logging.getLogger(__name__)


def collect_tasks(cfg: TrainConfig, sandbox: Any = None) -> tuple[list[Task], dict, TrajectoryData | None]:
    """The training tasks of `cfg` (problem sets, suites, trajectories), validated; a report; and the
    trajectories read (None without ``trajectories:``)."""
    tasks = load_tasks(cfg.tasks, cfg.limit, cfg.exclude, cfg.split)
    report: dict[str, Any] = {"broken_trajectory_lines": 0, "excluded_tasks": [], "split": cfg.split}
    data = None
    if cfg.trajectories:
        data = keep_tasks(read_trajectories(cfg.trajectories), cfg.exclude, cfg.split)
        report["broken_trajectory_lines"] = data.broken_lines
        report["skipped_trajectory_files"] = data.skipped_files
        have = {t.name for t in tasks}
        tasks += [t for name, t in data.tasks.items() if name not in have]
    if cfg.validate_tasks and tasks:
        sb = sandbox if sandbox is not None else get_sandbox(cfg.reward_workers, cfg.sandbox)
        tasks, excluded = validate_tasks(tasks, sb)
        report["excluded_tasks"] = excluded
        for name, why in excluded:  # the report carries them; the CLI prints them once
            log.info("task %s excluded: %s", name, why)
    if not tasks:
        raise ConfigError(
            "no usable training tasks: give tasks: (problem sets, suite dirs, task files) or trajectories:"
        )
    report["tasks"] = len(tasks)
    return tasks, report, data


def grpo_dataset(cfg: TrainConfig, sandbox: Any = None) -> tuple[Any, dict]:
    """The GRPO prompt dataset (``prompt``, ``task``, ``task_name``) and the data report."""
    tasks, report, data = collect_tasks(cfg, sandbox)
    rows = grpo_rows(tasks, cfg.strategy, cfg.goal)
    if data is not None:  # and every prompt the agent really met (later rounds carry measured feedback)
        rows += trajectory_prompt_rows(data, {t.name for t in tasks})
    report["prompts"] = len(rows)
    return to_dataset(rows), report


@quiet_library_warnings()  # peft's warnings about names and lookups the user does not control
def train_grpo(
    cfg: TrainConfig, output_dir: str | None = None, *, sandbox_factory: Callable[[], Any] | None = None
) -> Path:
    """Run GRPO (or RLOO) as configured; returns the output directory (a LoRA adapter by default).

    `sandbox_factory`: a picklable zero-argument callable returning the sandbox to use (default: one
    `afterburner.sandbox.Sandbox` per process with ``cfg.sandbox`` settings).
    """
    from training.common import train_and_finish

    out = output_dir or cfg.output_dir
    dataset, report = grpo_dataset(cfg, sandbox_factory() if sandbox_factory else None)
    reward = make_reward(
        cfg.reward,
        repeats=cfg.reward_repeats,
        min_gain=cfg.reward_min_gain,
        workers=cfg.reward_workers,
        sandbox=cfg.sandbox,
        metric="memory" if cfg.goal == "memory" else "time",
        sandbox_factory=sandbox_factory,
        executor=cfg.reward_executor,
        ray_address=cfg.ray_address,
    )
    args, trainer_cls = grpo_args(cfg, out)

    def extra(trainer: Any) -> dict:
        return {
            "kind": "grpo",
            "advantage": cfg.advantage,
            **report,
            **step_figures(trainer.state.log_history),
        }

    return train_and_finish(trainer_cls, cfg, out, args, dataset, extra, reward_funcs=[reward])


def grpo_args(cfg: TrainConfig, output_dir: str) -> tuple[Any, type]:
    """trl's config and trainer class for `cfg`: GRPOConfig/GRPOTrainer (``scale_rewards`` by
    ``advantage``), or RLOOConfig/RLOOTrainer for ``advantage: rloo``. No model is loaded."""
    from training.common import trl_kwargs

    specific = {
        "num_generations": cfg.num_generations,
        "max_completion_length": cfg.max_completion_length,
        "temperature": cfg.temperature,
        "beta": cfg.beta,
        "use_vllm": cfg.use_vllm,
        "vllm_mode": cfg.vllm_mode,
    }
    if cfg.advantage == "rloo":
        from trl import RLOOConfig, RLOOTrainer

        args = RLOOConfig(**trl_kwargs(cfg, RLOOConfig, output_dir, normalize_advantages=False, **specific))
        return args, RLOOTrainer
    from trl import GRPOConfig, GRPOTrainer

    scale = "none" if cfg.advantage == "no_std" else "group"
    return GRPOConfig(**trl_kwargs(cfg, GRPOConfig, output_dir, scale_rewards=scale, **specific)), GRPOTrainer


def step_figures(log_history: list[dict]) -> dict:
    """What the steps did, from trl's logs: mean reward per step, the share of completions that ended
    before ``max_completion_length`` and their mean length, the sandbox pass rate, and the share of
    groups with zero advantage (overall and per quarter, `training.plot.zero_std_share`)."""
    from training.plot import zero_std_share

    steps = [h for h in log_history if "reward" in h]

    def mean(key: str) -> float | None:
        values = [float(h[key]) for h in steps if h.get(key) is not None]
        return round(sum(values) / len(values), 4) if values else None

    clipped = mean("completions/clipped_ratio")
    return {
        "rewards": [round(float(h["reward"]), 4) for h in steps],
        "finished_ratio": None if clipped is None else round(1.0 - clipped, 4),
        "finished_mean_length": mean("completions/mean_terminated_length"),
        "pass_rate": mean("sandbox/pass_rate"),
        "unchanged_rate": mean("sandbox/unchanged_rate"),
        "zero_std_share": zero_std_share(log_history),
    }
