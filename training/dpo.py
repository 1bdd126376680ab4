"""Offline stage 1b: DPO on pairs from trajectories, a faster correct reply chosen over a slower or wrong
one for the same prompt (trl's DPOTrainer; with LoRA the reference model is the adapter switched off).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from afterburner.errors import ConfigError
from afterburner.llm.quiet import quiet_library_warnings
from training.config import TrainConfig
from training.data import dpo_rows, keep_tasks, read_trajectories, to_dataset

__all__ = ["dpo_dataset", "train_dpo"]


def dpo_dataset(cfg: TrainConfig) -> tuple[Any, dict]:
    """The DPO dataset (``prompt``, ``chosen``, ``rejected`` as messages) and a report."""
    if not cfg.trajectories:
        raise ConfigError("DPO needs trajectories: (run `afterburner train collect` first)")
    data = keep_tasks(read_trajectories(cfg.trajectories), cfg.exclude, cfg.split)
    rows = dpo_rows(data)
    if not rows:
        raise ConfigError(
            f"no DPO pairs in {data.files} trajectory file(s): they need, for one prompt, a correct faster "
            "reply and a wrong or slower one"
        )
    report = {
        "pairs": len(rows),
        "broken_trajectory_lines": data.broken_lines,
        "trajectory_files": data.files,
    }
    return to_dataset(rows, ["prompt", "chosen", "rejected"]), report


@quiet_library_warnings()  # peft's warnings about names and lookups the user does not control
def train_dpo(cfg: TrainConfig, output_dir: str | None = None) -> Path:
    """Run DPO as configured; returns the output directory (a LoRA adapter by default)."""
    out = output_dir or cfg.output_dir
    dataset, report = dpo_dataset(cfg)  # check the data before loading anything heavy
    from trl import DPOConfig, DPOTrainer

    from training.common import train_and_finish, trl_kwargs

    args = DPOConfig(**trl_kwargs(cfg, DPOConfig, out, beta=cfg.dpo_beta, max_length=cfg.max_length))
    return train_and_finish(DPOTrainer, cfg, out, args, dataset, {"kind": "dpo", **report})
