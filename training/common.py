"""What the three trainers share: loading the model (a model, or a LoRA adapter to continue:
`policy_plan`), trl's config arguments from a `TrainConfig`, resuming from the last checkpoint, a
callback for step time and peak memory, and saving the output so it is usable at once as ``--model``
of ``afterburner optimize`` / ``bench``.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from afterburner.errors import ConfigError
from training.config import TrainConfig

__all__ = [
    "PolicyPlan",
    "finish",
    "is_adapter_dir",
    "last_checkpoint",
    "load_policy",
    "local_model",
    "policy_plan",
    "step_callback",
    "trl_kwargs",
]

log = logging.getLogger(__name__)


def is_adapter_dir(path: str) -> bool:
    return (Path(path) / "adapter_config.json").is_file()


def local_model(model: str) -> str:
    """Where to load `model` from: a path as it is, a hub id in the local cache as its snapshot folder
    (so nothing asks the network first, with or without HF_HUB_OFFLINE); an id that is not cached only
    when the hub can be reached, else a one-line error saying how to install it."""
    from afterburner.llm.models import hub_reachable, resolve_local

    found = resolve_local(model)
    if found is not None:
        return found
    if model.startswith((".", "/", "~")) or model.count("/") != 1:
        raise ConfigError(f"model {model!r} is neither a directory nor a hub id ORG/NAME")
    ok, host = hub_reachable()
    if not ok:
        why = "HF_HUB_OFFLINE is set" if os.environ.get("HF_HUB_OFFLINE") else f"{host} cannot be reached"
        raise ConfigError(
            f"model {model!r} is not in the local Hugging Face cache and {why}: run "
            f"`afterburner models install {model}` (with --from PATH for a copied GGUF file or model directory)"
        )
    return model


@dataclass(frozen=True)
class PolicyPlan:
    """What `load_policy` loads for a config: the `base` model (an id or a directory) and, to continue
    an earlier stage, its LoRA `adapter` (trained further as it is: `new_lora` is then False, there is
    no second LoRA on top); `merge`: merge that adapter into the base and train the whole model."""

    base: str
    adapter: str | None = None
    new_lora: bool = False
    merge: bool = False

    def describe(self) -> str:
        if self.adapter is None:
            return f"{self.base} with a new LoRA adapter" if self.new_lora else f"{self.base}, all weights"
        how = "merged into it, all weights trained" if self.merge else "trained further"
        return f"the adapter {self.adapter} on {self.base}, {how}"


def policy_plan(cfg: TrainConfig) -> PolicyPlan:
    """Base model or adapter: `cfg.model` as a LoRA adapter directory (``adapter_config.json``, the
    output of stage 1) continues that adapter on the base it names; anything else is the base, with a
    new LoRA when ``lora: true``. A directory with neither an adapter nor a model in it (a stage that
    did not finish) is an error that says so, not a download attempt."""
    model = cfg.model
    if is_adapter_dir(model):
        base = json.loads((Path(model) / "adapter_config.json").read_text())["base_model_name_or_path"]
        return PolicyPlan(base, adapter=model, merge=not cfg.lora)
    p = Path(model).expanduser()
    if p.is_dir() and not (p / "config.json").is_file():
        checkpoints = sorted(c.name for c in p.glob("checkpoint-*"))
        hint = (
            f" (checkpoints: {', '.join(checkpoints)}; finish that run with resume: true)"
            if checkpoints
            else ""
        )
        raise ConfigError(
            f"model {model!r} is a directory with neither adapter_config.json nor config.json{hint}"
        )
    return PolicyPlan(model, new_lora=cfg.lora)


def load_policy(cfg: TrainConfig) -> tuple[Any, Any, Any]:
    """(model, tokenizer, peft_config) for a trl trainer, as `policy_plan` decides.

    A continued adapter comes back as a trainable ``PeftModel`` and no peft_config (so the trainer puts
    no second adapter on it): the output is still one adapter on the original base.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    plan = policy_plan(cfg)
    if cfg.weights_dtype == "auto":
        dtype = torch.float32 if cfg.use_cpu or not torch.cuda.is_available() else torch.bfloat16
    else:  # bfloat16 on a CPU with bf16 instructions (avx512_bf16, AMX) generates and trains ~2x faster
        dtype = getattr(torch, cfg.weights_dtype)
    base_dir = local_model(plan.base)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=dtype)
    if plan.adapter is not None:
        from peft import PeftModel

        tok_source = plan.adapter if (Path(plan.adapter) / "tokenizer_config.json").is_file() else base_dir
        tokenizer = AutoTokenizer.from_pretrained(tok_source)
        model = PeftModel.from_pretrained(model, plan.adapter, is_trainable=not plan.merge)
        if plan.merge:
            model = model.merge_and_unload()
        else:  # peft looks up the base's config when it saves: by its local folder, not on the hub
            for peft_cfg in model.peft_config.values():
                peft_cfg.base_model_name_or_path = base_dir
        return model, tokenizer, None
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    peft_config = None
    if plan.new_lora:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            target_modules=cfg.lora_target_modules,
            task_type="CAUSAL_LM",
        )
    return model, tokenizer, peft_config


def last_checkpoint(output_dir: str | os.PathLike) -> str | None:
    """The newest complete checkpoint (``checkpoint-N`` with its ``trainer_state.json``, which the
    trainer writes last) in `output_dir`, or None: where ``resume: true`` continues."""
    folder = Path(output_dir)
    done = [
        c
        for c in folder.glob("checkpoint-*")
        if c.name[11:].isdigit() and (c / "trainer_state.json").is_file()
    ]
    return str(max(done, key=lambda c: int(c.name[11:]))) if done else None


def trl_kwargs(cfg: TrainConfig, config_cls: type, output_dir: str, **specific: Any) -> dict:
    """Keyword arguments for a trl config class: the shared fields, `specific`, then ``cfg.trl_args``."""
    kw: dict[str, Any] = {
        "output_dir": output_dir,
        "seed": cfg.seed,
        "learning_rate": cfg.learning_rate,
        "max_steps": cfg.max_steps,
        "num_train_epochs": cfg.num_train_epochs,
        "per_device_train_batch_size": cfg.per_device_train_batch_size,
        "gradient_accumulation_steps": cfg.gradient_accumulation_steps,
        "logging_steps": cfg.logging_steps,
        "save_steps": cfg.save_steps,
        "use_cpu": cfg.use_cpu,
        "bf16": False if cfg.use_cpu else cfg.bf16,
        "gradient_checkpointing": cfg.gradient_checkpointing,
        "report_to": "none",
        "save_total_limit": 2,
    }
    kw.update(specific)
    known = {f.name for f in fields(config_cls)}
    # transformers >= 5.x: gradient_checkpointing is a deprecated alias
    if "activation_checkpointing" in known:
        kw["activation_checkpointing"] = kw.pop("gradient_checkpointing")
    unknown = sorted(set(cfg.trl_args) - known)
    if unknown:
        raise ConfigError(
            f"trl_args: {', '.join(unknown)} not settings of trl's {config_cls.__name__} "
            f"(see its documentation for the known ones)"
        )
    kw.update(cfg.trl_args)
    return kw


def _base_id(cfg: TrainConfig) -> str:
    return policy_plan(cfg).base


def _name_base_by_id(out: Path, cfg: TrainConfig) -> None:
    """The adapter was trained on the cached snapshot folder of a hub id: name its base by that id again
    (in adapter_config.json and peft's model card, also in checkpoints), so the adapter is portable."""
    from afterburner.llm.models import cached_snapshot

    base = _base_id(cfg)
    snapshot = cached_snapshot(base) if not Path(base).expanduser().exists() else None
    if not snapshot:
        return
    for folder in [out, *sorted(out.glob("checkpoint-*"))]:
        config = folder / "adapter_config.json"
        if not config.is_file():
            continue
        data = json.loads(config.read_text())
        if data.get("base_model_name_or_path") == snapshot:
            data["base_model_name_or_path"] = base
            config.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        card = folder / "README.md"
        if card.is_file():
            card.write_text(card.read_text().replace(snapshot, base))


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def step_callback() -> Any:
    from transformers import TrainerCallback

    class StepStats(TrainerCallback):
        """Wall time of every optimizer step, and the process's peak resident memory."""

        def __init__(self) -> None:
            self.step_times: list[float] = []
            self._t0 = 0.0

        def on_step_begin(self, args, state, control, **kwargs):
            self._t0 = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            self.step_times.append(time.perf_counter() - self._t0)

    return StepStats()


def train_and_finish(
    trainer_cls: type,
    cfg: TrainConfig,
    output_dir: str,
    args: Any,
    dataset: Any,
    extra: Any,
    **trainer_kw: Any,
) -> Path:
    """Load the policy, build the trl trainer on it (the data, our step callback), train and `finish`.

    `extra`: the summary's own figures, a dict or a function of the trained trainer (figures from its logs)."""
    resume = last_checkpoint(output_dir) if cfg.resume else None
    if resume:
        log.info("resuming from %s", resume)
    model, tokenizer, peft_config = load_policy(cfg)
    stats = step_callback()
    trainer = trainer_cls(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[stats],
        **trainer_kw,
    )
    trainer.train(resume_from_checkpoint=resume)
    figures = extra(trainer) if callable(extra) else extra
    summary = {"policy": policy_plan(cfg).describe(), "resumed_from": resume, **figures}
    return finish(trainer, tokenizer, cfg, output_dir, stats, summary)


def finish(trainer: Any, tokenizer: Any, cfg: TrainConfig, output_dir: str, stats: Any, extra: dict) -> Path:
    """Save the adapter (or model) and tokenizer, the config, a summary with figures, the reward curve."""
    out = Path(output_dir)
    trainer.save_model(str(out))
    tokenizer.save_pretrained(str(out))
    _name_base_by_id(out, cfg)
    trainer.state.save_to_json(str(out / "trainer_state.json"))
    times = sorted(stats.step_times)
    summary = {
        "model": cfg.model,
        "steps": trainer.state.global_step,
        "step_time_s": {
            "median": times[len(times) // 2] if times else None,
            "mean": sum(times) / len(times) if times else None,
            "first": stats.step_times[0] if times else None,
            "n": len(times),
        },
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        **extra,
    }
    (out / "train_config.json").write_text(json.dumps(cfg.to_dict(), indent=2, default=str))
    (out / "train_summary.json").write_text(json.dumps(summary, indent=2, default=str))
    try:
        from training.plot import plot_reward_curve

        if any("reward" in h for h in trainer.state.log_history):
            plot_reward_curve(out / "trainer_state.json", out / "reward_curve.png")
    except ImportError:  # matplotlib is optional
        log.info("matplotlib not installed: no reward_curve.png")
    return out
