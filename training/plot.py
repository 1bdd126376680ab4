"""The reward curve of a run: trl's log history (``trainer_state.json``) as a PNG."""

from __future__ import annotations

import json
from pathlib import Path

from afterburner.errors import ConfigError

__all__ = ["plot_reward_curve", "reward_history"]


def reward_history(trainer_state: str | Path) -> list[tuple[int, float, float | None]]:
    """(step, mean reward, reward std) of every logged step that has a reward."""
    p = Path(trainer_state)
    if p.is_dir():
        p = p / "trainer_state.json"
    try:
        history = json.loads(p.read_text())["log_history"]
    except (OSError, ValueError, KeyError) as e:
        raise ConfigError(f"{str(p)!r} is not a trainer_state.json with a log_history: {e}") from None
    return [(int(h["step"]), float(h["reward"]), h.get("reward_std")) for h in history if "reward" in h]


def plot_reward_curve(trainer_state: str | Path, out_png: str | Path, window: int = 10) -> Path:
    """Plot the mean reward per step (and a moving average over `window` steps) to `out_png`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = reward_history(trainer_state)
    if not points:
        raise ConfigError(f"no reward in the log history of {str(trainer_state)!r}")
    steps = [s for s, _, _ in points]
    rewards = [r for _, r, _ in points]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, rewards, ".", alpha=0.5, label="mean reward of the step's completions")
    if len(rewards) >= window:
        avg = [sum(rewards[i - window + 1 : i + 1]) / window for i in range(window - 1, len(rewards))]
        ax.plot(steps[window - 1 :], avg, "-", label=f"moving average ({window} steps)")
    ax.set_xlabel("training step")
    ax.set_ylabel("reward")
    ax.set_title("GRPO reward (sandbox-measured)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = Path(out_png)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
