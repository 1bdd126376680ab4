"""One training configuration: a dataclass loaded from YAML, validated, with ``key=value`` overrides.

The same dataclass serves ``sft``, ``dpo`` and ``grpo``: each trainer reads the fields it needs. An
unknown key is an error that names it and lists the known keys; settings of trl's own config classes
that are not fields here go through ``trl_args`` (checked against the trl class when the trainer starts).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from afterburner.errors import ConfigError
from afterburner.executor import EXECUTORS
from afterburner.llm.base import DEFAULT_MODEL
from afterburner.suite import SPLITS

__all__ = ["ADVANTAGES", "REWARDS", "TrainConfig", "load_config", "parse_overrides"]

REWARDS = ("speedup", "afterburner")
WEIGHTS_DTYPES = ("auto", "float32", "bfloat16")
ADVANTAGES = ("no_std", "group_std", "rloo")


@dataclass
class TrainConfig:
    """Settings of one training run. Paths are relative to the working directory."""

    # what to train and where to write it
    model: str = (
        DEFAULT_MODEL  # a model id, a model directory, or an adapter directory (stage 2 from stage 1)
    )
    output_dir: str = "runs/train"
    resume: bool = False  # continue from the newest checkpoint in output_dir (none there: start afresh)
    seed: int = 0
    # data: problem sets (.jsonl/.jsonl.gz), suite directories of task files, task files; trajectories
    tasks: list[str] = field(default_factory=list)
    trajectories: list[str] = field(default_factory=list)  # .jsonl files or directories of them
    limit: int | None = None  # at most this many tasks per problem set / directory
    exclude: list[str] = field(default_factory=list)  # task names kept out (e.g. the held-out dev tasks)
    split: str | None = "train"  # of a suite in halves (metadata.split) only this half; None: every task
    validate_tasks: bool = True  # drop tasks whose starting code fails their own tests (reported)
    strategy: str = "default"  # the optimizer's prompt strategy the trained policy will serve
    goal: str = "time"
    # model adaptation
    lora: bool = True  # False: full fine-tuning
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: str | list[str] = "all-linear"
    # optimisation (shared)
    learning_rate: float = 1e-5
    max_steps: int = 100
    num_train_epochs: float = 1.0
    per_device_train_batch_size: int = 4
    gradient_accumulation_steps: int = 1
    logging_steps: int = 1
    save_steps: int = 50
    use_cpu: bool = False
    bf16: bool = True  # mixed precision on GPU (ignored with use_cpu)
    weights_dtype: str = "auto"  # auto (float32 on CPU, bfloat16 on GPU) | float32 | bfloat16
    gradient_checkpointing: bool = False
    max_length: int | None = 1024  # sft/dpo: prompt + completion tokens
    dpo_beta: float = 0.1
    # GRPO / RLOO
    num_generations: int = 4
    max_completion_length: int = 512
    temperature: float = 1.0
    beta: float = 0.0  # KL coefficient (0: no reference model, as in current trl and DAPO)
    advantage: str = "no_std"  # no_std | group_std | rloo (see docs/training.md)
    use_vllm: bool = False
    vllm_mode: str = "colocate"
    # reward
    reward: str = "speedup"  # speedup (ours) | afterburner (Du et al. 2025)
    reward_repeats: int = 3  # timing repeats per candidate inside a training step
    reward_min_gain: float = 0.05
    reward_workers: int | None = None  # sandbox workers per process, per node with ray (None: its cores)
    reward_executor: str = "local"  # local (this process) | ray (the rewards spread over a Ray cluster)
    ray_address: str | None = None  # with ray: the cluster (auto, HOST:6379, ray://HOST:10001); None: local
    sandbox: dict[str, Any] = field(default_factory=dict)  # afterburner.sandbox.SandboxConfig fields
    # anything else for trl's GRPOConfig / RLOOConfig / SFTConfig / DPOConfig
    trl_args: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            value, default = getattr(self, f.name), f.default
            if default is dataclasses.MISSING or default is None or value is None:
                continue
            want = float if isinstance(default, float) else type(default)
            ok = (
                isinstance(value, int | float) and not isinstance(value, bool)
                if want is float
                else (isinstance(value, want) and (want is bool or not isinstance(value, bool)))
            )
            if not ok and not (f.name == "lora_target_modules" and isinstance(value, list)):
                raise ConfigError(f"{f.name} must be {want.__name__}, not {value!r}")
        if self.reward not in REWARDS:
            raise ConfigError(f"reward {self.reward!r} is not one of {', '.join(REWARDS)}")
        if self.weights_dtype not in WEIGHTS_DTYPES:
            raise ConfigError(
                f"weights_dtype {self.weights_dtype!r} is not one of {', '.join(WEIGHTS_DTYPES)}"
            )
        if self.reward_executor not in EXECUTORS:
            raise ConfigError(
                f"reward_executor {self.reward_executor!r} is not one of {', '.join(EXECUTORS)}"
            )
        if self.split is not None and self.split not in SPLITS:
            raise ConfigError(f"split {self.split!r} is not one of {', '.join(SPLITS)} (or null: every task)")
        if self.advantage not in ADVANTAGES:
            raise ConfigError(f"advantage {self.advantage!r} is not one of {', '.join(ADVANTAGES)}")
        if self.num_generations < 2:
            raise ConfigError("num_generations must be at least 2 (a group needs something to compare)")
        batch = self.per_device_train_batch_size * self.gradient_accumulation_steps
        if batch % self.num_generations:
            raise ConfigError(
                f"per_device_train_batch_size * gradient_accumulation_steps ({batch}) must be a multiple of "
                f"num_generations ({self.num_generations})"
            )
        for name in ("max_steps", "per_device_train_batch_size", "reward_repeats", "logging_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        for name in ("tasks", "trajectories", "exclude"):
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, [value])
            elif not isinstance(value, list):
                raise ConfigError(f"{name} must be a list of paths (or names)")
        if not isinstance(self.sandbox, dict) or not isinstance(self.trl_args, dict):
            raise ConfigError("sandbox and trl_args must be mappings")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _known() -> list[str]:
    return [f.name for f in dataclasses.fields(TrainConfig)]


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["max_steps=2", "tasks=[a.yaml, b.yaml]"]`` -> a dict; values are parsed as YAML scalars/lists."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} must look like key=value")
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


def load_config(
    path: str | os.PathLike | None = None, overrides: dict[str, Any] | None = None
) -> TrainConfig:
    """Read a YAML config (or start from the defaults), apply overrides, validate."""
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {str(p)!r} does not exist")
        try:
            loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            raise ConfigError(f"config file {str(p)!r} is not valid YAML: {e}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"config file {str(p)!r} must hold one mapping of settings")
        data.update(loaded or {})
    data.update(overrides or {})
    unknown = sorted(set(data) - set(_known()))
    if unknown:
        where = f"config {str(path)!r}" if path else "config"
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(_known())}")
    try:
        return TrainConfig(**data)
    except TypeError as e:  # a wrong type the dataclass could not take
        raise ConfigError(f"config: {e}") from None
