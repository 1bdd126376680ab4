"""What the three trainers share: loading the model (a model, or a LoRA adapter to continue), trl's
config arguments from a `TrainConfig`, a callback for step time and peak memory, and saving the output
so it is usable at once as ``--model`` of ``afterburner optimize`` / ``bench``.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from afterburner.errors import ConfigError
from training.config import TrainConfig

__all__ = ["finish", "is_adapter_dir", "load_policy", "local_model", "step_callback", "trl_kwargs"]

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


def load_policy(cfg: TrainConfig) -> tuple[Any, Any, Any]:
    """(model, tokenizer, peft_config) for a trl trainer.

    A LoRA adapter directory as `cfg.model` (stage 2 from stage 1) is loaded on its base model and its
    adapter trained further (so the output is still one adapter on the original base); with
    ``lora: false`` it is merged first and the whole model is trained.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if cfg.weights_dtype == "auto":
        dtype = torch.float32 if cfg.use_cpu or not torch.cuda.is_available() else torch.bfloat16
    else:  # bfloat16 on a CPU with bf16 instructions (avx512_bf16, AMX) generates and trains ~2x faster
        dtype = getattr(torch, cfg.weights_dtype)
    if is_adapter_dir(cfg.model):
        from peft import PeftModel

        base_id = json.loads((Path(cfg.model) / "adapter_config.json").read_text())["base_model_name_or_path"]
        base_dir = local_model(base_id)
        base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=dtype)
        tok_source = cfg.model if (Path(cfg.model) / "tokenizer_config.json").is_file() else base_dir
        tokenizer = AutoTokenizer.from_pretrained(tok_source)
        model = PeftModel.from_pretrained(base, cfg.model, is_trainable=cfg.lora)
        if not cfg.lora:
            model = model.merge_and_unload()
        else:  # peft looks up the base's config when it saves: by its local folder, not on the hub
            for peft_cfg in model.peft_config.values():
                peft_cfg.base_model_name_or_path = base_dir
        return model, tokenizer, None
    model_dir = local_model(cfg.model)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    peft_config = None
    if cfg.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            target_modules=cfg.lora_target_modules,
            task_type="CAUSAL_LM",
        )
    return model, tokenizer, peft_config


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
    if is_adapter_dir(cfg.model):
        return json.loads((Path(cfg.model) / "adapter_config.json").read_text())["base_model_name_or_path"]
    return cfg.model


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
    trainer.train()
    return finish(trainer, tokenizer, cfg, output_dir, stats, extra(trainer) if callable(extra) else extra)


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
