"""`afterburner train collect`: trajectories from the real optimizer (scripted model, real sandbox),
resumable, with failing tasks excluded, and they feed the SFT/DPO data builders."""

from __future__ import annotations

from pathlib import Path

import pytest

from afterburner.llm import get_backend
from training.collect import collect, trajectory_path
from training.data import dpo_rows, read_trajectories, sft_rows

pytestmark = pytest.mark.integration

TASKS = Path(__file__).resolve().parents[1] / "data" / "train_tasks"
FAST = "```python\ndef sum_squares(n):\n    return (n - 1) * n * (2 * n - 1) // 6\n```"
WRONG = "```python\ndef sum_squares(n):\n    return n\n```"


def test_collect_runs_the_optimizer_resumes_and_feeds_sft_and_dpo(tmp_path):
    sources = [str(TASKS / "sum_squares.yaml"), str(TASKS / "broken_reference.yaml")]
    # 3 candidates: two answer the prompt with the code (FAST, WRONG: a DPO pair), one the problem
    # statement alone (FAST again); DPO pairs only replies to the same prompt
    backend = get_backend("scripted", replies=[FAST, WRONG, FAST], cycle=True)
    out = tmp_path / "traj"
    report = collect(
        sources, out, backend=backend, rounds=1, candidates=3, patience=1, out_dir=tmp_path / "opt"
    )
    assert report.done == ["sum_squares"] and report.improved == 1
    assert [name for name, _ in report.excluded] == ["broken_reference"]
    assert trajectory_path(out, type("T", (), {"name": "sum_squares"})()).is_file()

    again = collect(sources, out, backend=backend, rounds=1, candidates=3, out_dir=tmp_path / "opt")
    assert again.skipped == ["sum_squares"] and not again.done  # resumed: finished tasks are not rerun

    data = read_trajectories([str(out)])
    (sft,) = sft_rows(data)
    assert "(n - 1) * n" in sft["completion"][0]["content"]
    (pair,) = dpo_rows(data)
    assert "(n - 1) * n" in pair["chosen"][0]["content"] and "return n\n" in pair["rejected"][0]["content"]
