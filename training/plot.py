"""The reward curve of a run: trl's log history (``trainer_state.json``) as a PNG."""

from __future__ import annotations

import json
from pathlib import Path

from afterburner.errors import ConfigError

__all__ = ["plot_reward_curve", "reward_history", "sandbox_rates"]


def _log_history(trainer_state: str | Path) -> list[dict]:
    p = Path(trainer_state)
    if p.is_dir():
        p = p / "trainer_state.json"
    try:
        return json.loads(p.read_text())["log_history"]
    except (OSError, ValueError, KeyError) as e:
        raise ConfigError(f"{str(p)!r} is not a trainer_state.json with a log_history: {e}") from None


def reward_history(trainer_state: str | Path) -> list[tuple[int, float, float | None]]:
    """(step, mean reward, reward std) of every logged step that has a reward."""
    history = _log_history(trainer_state)
    return [(int(h["step"]), float(h["reward"]), h.get("reward_std")) for h in history if "reward" in h]


def sandbox_rates(trainer_state: str | Path) -> dict[str, list[tuple[int, float]]]:
    """(step, rate) of the rewards' own logs: the share of completions that passed / were faster."""
    history = _log_history(trainer_state)
    return {
        name: [(int(h["step"]), float(h[key])) for h in history if key in h]
        for name, key in (
            ("passed the tests", "sandbox/pass_rate"),
            ("significantly faster", "sandbox/improved_rate"),
        )
    }


def _moving_average(values: list[float], window: int) -> list[float]:
    return [sum(values[i - window + 1 : i + 1]) / window for i in range(window - 1, len(values))]


def plot_reward_curve(trainer_state: str | Path, out_png: str | Path, window: int = 10) -> Path:
    """Plot the mean reward per step (and a moving average over `window` steps) to `out_png`; below it,
    the moving averages of the share of completions that passed and that were significantly faster."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = reward_history(trainer_state)
    if not points:
        raise ConfigError(f"no reward in the log history of {str(trainer_state)!r}")
    steps = [s for s, _, _ in points]
    rewards = [r for _, r, _ in points]
    rates = {k: v for k, v in sandbox_rates(trainer_state).items() if len(v) >= window}
    fig, axes = plt.subplots(2 if rates else 1, 1, figsize=(7, 6 if rates else 4), sharex=True, squeeze=False)
    ax = axes[0][0]
    ax.plot(steps, rewards, ".", alpha=0.5, label="mean reward of the step's completions")
    if len(rewards) >= window:
        ax.plot(
            steps[window - 1 :],
            _moving_average(rewards, window),
            "-",
            label=f"moving average ({window} steps)",
        )
    ax.set_ylabel("reward")
    ax.set_title("GRPO reward (sandbox-measured)")
    ax.grid(alpha=0.3)
    ax.legend()
    if rates:
        low = axes[1][0]
        for name, series in rates.items():
            low.plot(
                [s for s, _ in series][window - 1 :],
                _moving_average([r for _, r in series], window),
                "-",
                label=name,
            )
        low.set_ylabel(f"share of completions\n(moving average, {window} steps)")
        low.set_ylim(0, 1)
        low.grid(alpha=0.3)
        low.legend()
    axes[-1][0].set_xlabel("training step")
    fig.tight_layout()
    out = Path(out_png)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
