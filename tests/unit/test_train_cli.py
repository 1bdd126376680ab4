"""`afterburner train ...`: bad input is one clear line and exit code 2; nothing heavy is imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from afterburner.cli import main

CONFIG = Path(__file__).resolve().parents[2] / "training" / "configs" / "smoke_0.5b_cpu.yaml"


def test_unknown_config_key_is_one_line_and_exit_2(capsys):
    assert main(["train", "grpo", "--config", str(CONFIG), "max_stpes=3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("afterburner: error:") and "max_stpes" in err and "max_steps" in err
    assert len(err.splitlines()) == 1


def test_missing_config_file_and_bad_override(capsys, tmp_path):
    assert main(["train", "sft", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["train", "dpo", "--config", str(CONFIG), "beta"]) == 2
    assert "key=value" in capsys.readouterr().err


def test_dpo_without_trajectories_says_what_to_do(capsys):
    assert main(["train", "dpo", "--config", str(CONFIG)]) == 2
    assert "afterburner train collect" in capsys.readouterr().err


def test_plot_command_writes_the_png(tmp_path, capsys):
    state = {"log_history": [{"step": 1, "reward": 0.0}, {"step": 2, "reward": 0.5}]}
    (tmp_path / "trainer_state.json").write_text(json.dumps(state))
    assert main(["train", "plot", str(tmp_path)]) == 0
    assert (tmp_path / "reward_curve.png").is_file()


def test_the_train_command_does_not_import_torch_or_trl():
    code = "import sys; from afterburner.cli import build_parser; build_parser(); print('torch' in sys.modules or 'trl' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
