"""Offline stage 1: supervised fine-tuning on the best correct solution per task (trl's SFTTrainer).

Examples come from trajectories (the best accepted reply per task, with the prompt it answered) and
from problem sets (the reference solution, asked for from the description): correctness first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from afterburner.errors import ConfigError
from afterburner.llm.quiet import quiet_library_warnings
from training.config import TrainConfig
from training.data import keep_tasks, load_tasks, read_trajectories, sft_rows, to_dataset, validate_tasks
from training.rewards import get_sandbox

__all__ = ["sft_dataset", "train_sft"]


def sft_dataset(cfg: TrainConfig, sandbox: Any = None) -> tuple[Any, dict]:
    """The SFT dataset (``prompt``, ``completion`` as messages) and a report of what went in."""
    report: dict[str, Any] = {"broken_trajectory_lines": 0, "excluded_tasks": [], "split": cfg.split}
    data = None
    if cfg.trajectories:
        data = keep_tasks(read_trajectories(cfg.trajectories), cfg.exclude, cfg.split)
        report["broken_trajectory_lines"] = data.broken_lines
    tasks = load_tasks(cfg.tasks, cfg.limit, cfg.exclude, cfg.split) if cfg.tasks else []
    if tasks and cfg.validate_tasks:
        sb = sandbox if sandbox is not None else get_sandbox(cfg.reward_workers, cfg.sandbox)
        tasks, report["excluded_tasks"] = validate_tasks(tasks, sb)
    rows = sft_rows(data, tasks, cfg.strategy, cfg.goal)
    if not rows:
        raise ConfigError(
            "no SFT examples: give trajectories: with accepted correct replies, or tasks: with references"
        )
    report["examples"] = len(rows)
    return to_dataset(rows, ["prompt", "completion"]), report


@quiet_library_warnings()  # peft's warnings about names and lookups the user does not control
def train_sft(cfg: TrainConfig, output_dir: str | None = None) -> Path:
    """Run SFT as configured; returns the output directory (a LoRA adapter by default)."""
    out = output_dir or cfg.output_dir
    dataset, report = sft_dataset(cfg)  # check the data before loading anything heavy
    from trl import SFTConfig, SFTTrainer

    from training.common import train_and_finish, trl_kwargs

    args = SFTConfig(**trl_kwargs(cfg, SFTConfig, out, max_length=cfg.max_length))
    return train_and_finish(SFTTrainer, cfg, out, args, dataset, {"kind": "sft", **report})
