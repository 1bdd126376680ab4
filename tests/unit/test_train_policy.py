"""Which policy a training stage starts from (base, or the previous stage's adapter continued), and
resuming an interrupted run from its last checkpoint; tiny stand-ins, no download."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from afterburner.errors import ConfigError
from training import common
from training.common import PolicyPlan, last_checkpoint, load_policy, policy_plan
from training.config import load_config


def _adapter_dir(path: Path, base: str) -> Path:
    path.mkdir(parents=True)
    (path / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": base}))
    return path


def test_a_model_id_gets_a_new_lora_and_a_stage1_adapter_is_continued_not_stacked(tmp_path):
    assert policy_plan(load_config(None, {"model": "org/base"})) == PolicyPlan("org/base", new_lora=True)
    assert policy_plan(load_config(None, {"model": "org/base", "lora": False})) == PolicyPlan("org/base")
    stage1 = str(_adapter_dir(tmp_path / "stage1-sft", "org/base"))
    plan = policy_plan(load_config(None, {"model": stage1}))
    assert plan == PolicyPlan("org/base", adapter=stage1, new_lora=False, merge=False)
    assert "trained further" in plan.describe()
    merged = policy_plan(load_config(None, {"model": stage1, "lora": False}))
    assert merged.merge and not merged.new_lora and merged.adapter == stage1


def test_an_unfinished_stage_is_an_error_that_names_its_checkpoints(tmp_path):
    run = tmp_path / "stage1-sft"
    (run / "checkpoint-4").mkdir(parents=True)
    with pytest.raises(
        ConfigError, match=r"neither adapter_config.json nor config.json \(checkpoints: checkpoint-4"
    ):
        policy_plan(load_config(None, {"model": str(run)}))


def test_load_policy_continues_the_adapter_as_a_trainable_peft_model(tiny_model_dir, tmp_path):
    from afterburner.llm.quiet import quiet_library_warnings
    from afterburner.llm.testing import make_tiny_adapter

    stage1 = make_tiny_adapter(tiny_model_dir, tmp_path / "stage1")
    with quiet_library_warnings():
        model, _, peft_config = load_policy(load_config(None, {"model": str(stage1), "use_cpu": True}))
    assert peft_config is None  # the trainer adds no second adapter
    assert type(model).__name__.startswith("PeftModel") and list(model.peft_config) == ["default"]
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    fresh, _, lora = load_policy(load_config(None, {"model": str(tiny_model_dir), "use_cpu": True}))
    assert lora is not None and lora.r == 16 and not hasattr(fresh, "peft_config")


def test_last_checkpoint_is_the_newest_complete_one(tmp_path):
    assert last_checkpoint(tmp_path) is None
    for step, complete in ((5, True), (10, True), (15, False)):  # 15: interrupted while saving
        (tmp_path / f"checkpoint-{step}").mkdir()
        if complete:
            (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    assert last_checkpoint(tmp_path) == str(tmp_path / "checkpoint-10")


class _Trainer:
    """Stands in for a trl trainer: records what `train` was asked to resume from."""

    def __init__(self, **kw):
        self.state = SimpleNamespace(
            global_step=0, log_history=[], save_to_json=lambda p: Path(p).write_text("{}")
        )

    def train(self, resume_from_checkpoint=None):
        self.resumed = resume_from_checkpoint
        self.state.global_step = 12

    def save_model(self, out):
        Path(out).mkdir(parents=True, exist_ok=True)


@pytest.mark.parametrize("resume", [True, False])
def test_resume_true_continues_from_the_last_checkpoint(tmp_path, monkeypatch, resume):
    out = tmp_path / "run"
    (out / "checkpoint-8").mkdir(parents=True)
    (out / "checkpoint-8" / "trainer_state.json").write_text("{}")
    tokenizer = SimpleNamespace(save_pretrained=lambda path: None)
    monkeypatch.setattr(common, "load_policy", lambda cfg: (object(), tokenizer, None))
    cfg = load_config(None, {"model": "org/base", "resume": resume})
    common.train_and_finish(_Trainer, cfg, str(out), None, [], {"kind": "sft"})
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["resumed_from"] == (str(out / "checkpoint-8") if resume else None)
    assert summary["steps"] == 12 and summary["policy"] == "org/base with a new LoRA adapter"
