"""What a GRPO run's log says (trl's log history, ``trainer_state.json``): the reward curve as a PNG,
and per quarter of the run a table of its rewards' own figures (`quarter_table`), among them the share
of groups whose completions all scored alike (`zero_std_share`: zero advantage, the group teaches
nothing)."""

from __future__ import annotations

import json
from pathlib import Path

from afterburner.errors import ConfigError

__all__ = [
    "plot_reward_curve",
    "quarter_rows",
    "quarter_table",
    "quarters",
    "reward_history",
    "sandbox_rates",
    "zero_std_share",
]


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


def _steps(history: list[dict]) -> list[dict]:
    return sorted((h for h in history if "reward" in h and "step" in h), key=lambda h: int(h["step"]))


def quarters(history: list[dict]) -> list[tuple[int, int, list[dict]]]:
    """The logged steps (those with a reward) in four parts of the run by step number, as
    ``(first step, last step, entries)``: 1-25, 26-50, 51-75, 76-100 of 100 steps, 1-10 ... of 40. A part
    may be empty (a run of fewer than four steps)."""
    steps = _steps(history)
    last = int(steps[-1]["step"]) if steps else 0
    bounds = [(q * last // 4 + 1, (q + 1) * last // 4) for q in range(4)]
    return [(lo, hi, [h for h in steps if lo <= int(h["step"]) <= hi]) for lo, hi in bounds]


def _mean(entries: list[dict], key: str) -> float | None:
    values = [float(h[key]) for h in entries if h.get(key) is not None]
    return sum(values) / len(values) if values else None


def zero_std_share(history: list[dict]) -> dict:
    """The share of groups with zero advantage (all completions of a prompt scored alike: trl's
    ``frac_reward_zero_std``), over the run and per quarter (None where nothing was logged).

    >>> zero_std_share([{"step": s, "reward": 0.1, "frac_reward_zero_std": float(s > 2)} for s in (1, 2, 3, 4)])
    {'overall': 0.5, 'quarters': [0.0, 0.0, 1.0, 1.0]}
    """

    def share(entries: list[dict]) -> float | None:
        value = _mean(entries, "frac_reward_zero_std")
        return None if value is None else round(value, 4)

    return {"overall": share(_steps(history)), "quarters": [share(e) for _, _, e in quarters(history)]}


_COLUMNS = (  # (header, key in the log, how to show the quarter's mean)
    ("mean reward", "reward", "{:.2f}"),
    ("completions correct", "sandbox/pass_rate", "{:.0%}"),
    ("significantly faster", "sandbox/improved_rate", "{:.0%}"),
    ("the code again", "sandbox/unchanged_rate", "{:.0%}"),
    ("format errors", "sandbox/format_error_rate", "{:.0%}"),
    ("mean length", "completions/mean_length", "{:.0f} tok"),
    ("cut off", "completions/clipped_ratio", "{:.0%}"),
    ("zero-advantage groups", "frac_reward_zero_std", "{:.0%}"),
)


def quarter_rows(trainer_state: str | Path) -> list[dict]:
    """Per non-empty quarter of the run: ``steps`` ("1-10") and the mean of each logged figure (None
    where the log has none)."""
    return [
        {"steps": f"{lo}-{hi}", **{key: _mean(entries, key) for _, key, _ in _COLUMNS}}
        for lo, hi, entries in quarters(_log_history(trainer_state))
        if entries
    ]


def quarter_table(trainer_state: str | Path, max_completion_length: int | None = None) -> str:
    """The per-quarter table of docs/training.md, in Markdown: mean reward, the shares of completions
    that were correct, significantly faster, the starting code again, format errors, their mean length,
    the share cut off at `max_completion_length`, and the share of zero-advantage groups."""
    rows = quarter_rows(trainer_state)
    if not rows:
        raise ConfigError(f"no reward in the log history of {str(trainer_state)!r}")
    headers = [
        f"cut off at {max_completion_length}" if h == "cut off" and max_completion_length else h
        for h, _, _ in _COLUMNS
    ]
    lines = ["| steps | " + " | ".join(headers) + " |", "|---" * (len(headers) + 1) + "|"]
    for row in rows:
        cells = ["-" if row[key] is None else fmt.format(row[key]) for _, key, fmt in _COLUMNS]
        lines.append(f"| {row['steps']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


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
