"""The progress display: the text a run's events become, on a terminal and in a log."""

from __future__ import annotations

import io

import pytest

from afterburner.agent.optimizer import Optimizer, optimize
from afterburner.progress import ProgressDisplay
from tests.unit.fakes import FakeSandbox
from tests.unit.test_graph import FAST, SLOWER, WRONG, task  # noqa: F401  (task: a fixture)

BROKEN = "```python\ndef dedupe(xs:\n    return xs\n"

# the events of a run of two rounds of 3 candidates, as the loop emits them (payloads trimmed to what is shown)
RUN = [
    ("loading_model", {"backend": "transformers", "model": None}),
    ("started", {"run_dir": "runs/r1", "resumed": False}),
    ("measuring", {"what": "original", "run": 1, "at_most": 30, "fixed": False}),
    ("measuring", {"what": "original", "run": 2, "at_most": 30, "fixed": False}),
    ("original_measured", {"cpu_s": 0.0771, "runs": 12}),
    ("round_started", {"round": 1, "rounds": 2, "candidates": 3, "max_new_tokens": 512}),
    ("tokens", {"round": 1, "tokens": 30, "finished": 0, "replies": 3, "seconds": 2.5}),
    ("tokens", {"round": 1, "tokens": 240, "finished": 1, "replies": 3, "seconds": 20.0}),
    ("generated", {"round": 1, "replies": 3, "tokens": 546, "seconds": 45.5}),
    ("candidate_evaluated", {"round": 1, "index": 2, "candidates": 3, "status": "format_error",
                             "outcome": "format_error", "failure": "no code block in the reply"}),
    ("measuring", {"what": "candidate", "round": 1, "index": 1, "candidates": 3, "run": 5, "at_most": 12,
                   "fixed": True}),
    ("candidate_evaluated", {"round": 1, "index": 0, "candidates": 3, "status": "wrong_answer",
                             "outcome": "wrong", "failure": "input [1, 1]; expected [1]; got []"}),
    ("candidate_evaluated", {"round": 1, "index": 1, "candidates": 3, "status": "passed", "outcome": "faster",
                             "speedup": 34.88, "speedup_ci": [30.1, 36.2], "acceptable": True}),
    ("measuring", {"what": "best", "round": 1, "run": 3, "at_most": 12, "fixed": True}),
    ("best_improved", {"round": 1, "index": 1, "best_speedup": 34.88}),
    ("round_finished", {"round": 1, "rounds": 2, "passed": 1, "candidates": 3, "stop_reason": ""}),
    ("round_started", {"round": 2, "rounds": 2, "candidates": 4, "max_new_tokens": 512}),
    ("generated", {"round": 2, "replies": 4, "tokens": 300, "seconds": 30.0}),
    ("candidate_evaluated", {"round": 2, "index": 0, "candidates": 4, "status": "unchanged",
                             "outcome": "unchanged"}),
    ("candidate_evaluated", {"round": 2, "index": 1, "candidates": 4, "status": "passed",
                             "outcome": "not_significant", "speedup": 1.02, "speedup_ci": [0.97, 1.08]}),
    ("candidate_evaluated", {"round": 2, "index": 2, "candidates": 4, "status": "timeout", "outcome": "timeout",
                             "failure": "killed after 10.0 s at the time limit of 10 s per run"}),
    ("candidate_evaluated", {"round": 2, "index": 3, "candidates": 4, "status": "runtime_error", "outcome": "crash",
                             "failure": "input: [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]] error: Traceback ...",
                             "first_failure": {"input": "[[1, 2, 3]]", "error": "Traceback (most recent call last):\n"
                                               "  File \"<candidate>\", line 3\nIndexError: list index out of range"}}),
    ("round_finished", {"round": 2, "rounds": 2, "passed": 1, "candidates": 4, "stop_reason": "max_rounds"}),
    ("measuring", {"what": "final", "run": 7, "at_most": 12, "fixed": True}),
    ("finished", {"stop_reason": "max_rounds", "rounds": 2, "speedup": 28.66, "speedup_ci": [27.9, 29.4],
                  "improved": True, "kept": "best"}),
]  # fmt: skip

LINES = [
    "original: 77.10 ms CPU time (median of 12 runs)",
    "round 1/2: generating 3 candidates (up to 512 new tokens each)",
    "round 1/2: 3 replies, 546 new tokens in 46 s, 12.0 tokens/s",
    "  candidate 3/3: format error (no code block in the reply)",
    "  candidate 1/3: wrong answer (input [1, 1]; expected [1]; got [])",
    "  candidate 2/3: faster: 34.88x the original (95% CI 30.10-36.20), significant",
    "round 1/2: new best (candidate 2): ~34.9x the original (estimate from separate runs; the final figure "
    "is re-measured interleaved)",
    "round 1/2 done: 1/3 correct; best so far ~34.9x the original (estimate)",
    "round 2/2: generating 4 candidates (up to 512 new tokens each)",
    "round 2/2: 4 replies, 300 new tokens in 30 s, 10.0 tokens/s",
    "  candidate 1/4: the code again (the same program as the best so far)",
    "  candidate 2/4: correct, not significantly faster: 1.02x the best so far (95% CI 0.97-1.08)",
    "  candidate 3/4: timeout (killed after 10.0 s at the time limit of 10 s per run)",
    "  candidate 4/4: crash, runtime error (IndexError: list index out of range)",
    "round 2/2 done: 1/4 correct; best so far ~34.9x the original (estimate); stopping: reached the last round",
    "final comparison, original vs best, interleaved: 28.66x (95% CI 27.90-29.40), significant",
]


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def feed(display, events=RUN, clock=None, step=0.0):
    for name, data in events:
        if clock is not None:
            clock.t += step
        display(name, {"event": name, "run_id": "r1", **data})


def screen(raw: str) -> list[str]:
    """What a terminal shows after `raw`: carriage return, erase to the end of the line, newline."""
    rows, col = [""], 0
    i = 0
    while i < len(raw):
        if raw.startswith("\x1b[K", i):
            rows[-1] = rows[-1][:col]
            i += 3
            continue
        ch = raw[i]
        if ch == "\r":
            col = 0
        elif ch == "\n":
            rows.append("")
            col = 0
        else:
            row = rows[-1]
            rows[-1] = row[:col] + ch + row[col + 1 :]
            col += 1
        i += 1
    return rows


def test_a_log_gets_plain_lines_one_per_verdict_and_no_line_per_token():
    out = io.StringIO()
    with ProgressDisplay(out, tty=False, clock=Clock()) as display:
        feed(display)
    text = out.getvalue()
    assert text.splitlines() == LINES
    assert "\r" not in text and "\x1b" not in text


def test_a_log_shows_the_work_in_progress_after_a_silence():
    out, clock = io.StringIO(), Clock()
    display = ProgressDisplay(out, tty=False, heartbeat_s=30, clock=clock)
    feed(display, RUN[:5], clock, step=1)  # lasting lines come often: no status line
    assert out.getvalue().splitlines() == LINES[:1]
    clock.t += 31
    display(
        "measuring", {"what": "candidate", "round": 1, "index": 1, "candidates": 3, "run": 5, "at_most": 30}
    )
    clock.t += 1
    display(
        "measuring", {"what": "candidate", "round": 1, "index": 1, "candidates": 3, "run": 6, "at_most": 30}
    )
    assert out.getvalue().splitlines()[1:] == [
        "round 1: measuring candidate 2/3 against the original: run 5 of up to 30"
    ]


def test_a_terminal_gets_the_same_lines_and_one_status_line_rewritten_in_place():
    out = io.StringIO()
    display = ProgressDisplay(out, tty=True, width=200, clock=Clock())
    feed(display, RUN[:8])  # in the middle of round 1's generation
    rows = screen(out.getvalue())
    assert rows[:-1] == LINES[:2]
    assert rows[-1] == "round 1/2: generating: 240 tokens (12.0 tokens/s), 1/3 replies finished"
    feed(display, RUN[8:11])
    assert screen(out.getvalue())[-1] == "round 1/2: measuring candidate 2/3 against the original: run 5/12"
    feed(display, RUN[11:])
    display.close()
    rows = screen(out.getvalue())
    assert rows == [*LINES, ""]  # the status line is gone at the end; every lasting line is there once


def test_a_status_line_never_wraps_on_a_narrow_terminal():
    out = io.StringIO()
    display = ProgressDisplay(out, tty=True, width=40, clock=Clock())
    feed(display, RUN[:8])
    assert len(screen(out.getvalue())[-1]) < 40


def test_a_benchmark_shows_a_task_on_the_status_line_only():
    out = io.StringIO()
    display = ProgressDisplay(out, tty=True, width=200, clock=Clock())
    feed(display.scoped("two-sum [default / default]", lines=False), RUN[:13])
    rows = screen(out.getvalue())
    assert rows == [
        "two-sum [default / default]:   candidate 2/3: faster: 34.88x the original (95% CI 30.10-36.20), significant"
    ]
    display.line("bench 1/3: two-sum [default / default]: passed, 28.66x the starting code (2 rounds, 80 s)")
    assert screen(out.getvalue())[0].startswith("bench 1/3: two-sum")


def test_interrupted_and_unchanged_runs_say_what_is_kept():
    out = io.StringIO()
    display = ProgressDisplay(out, tty=False)
    display("finished", {"stop_reason": "interrupted", "rounds": 1, "best_speedup": 3.2})
    display("finished", {"stop_reason": "patience", "rounds": 3, "speedup": None})
    display(
        "finished",
        {"stop_reason": "max_rounds", "speedup": 0.97, "speedup_ci": [0.9, 1.0], "kept": "original"},
    )
    assert out.getvalue().splitlines() == [
        "interrupted after round 1: keeping the best so far (~3.2x the original, estimate from separate runs; "
        "the final figure is re-measured interleaved)",
        "done: no candidate was significantly faster; the original is kept unchanged",
        "final comparison, original vs best, interleaved: 0.97x (95% CI 0.90-1.00): the gain did not hold up; "
        "the original is kept",
    ]


def test_the_loop_events_become_verdict_lines(task, tmp_path):  # noqa: F811
    out = io.StringIO()
    opt = Optimizer(
        backend="scripted", replies=[WRONG, FAST, BROKEN, SLOWER], sandbox=FakeSandbox(), out_dir=tmp_path,
        candidates=2, rounds=2, patience=5,
    )  # fmt: skip
    res = opt.run(task, on_event=ProgressDisplay(out, tty=False))
    lines = out.getvalue().splitlines()
    assert "  candidate 1/2: wrong answer (expected [], got [1] for [1, 2])" in lines
    assert "  candidate 2/2: faster: 4.00x the original (95% CI 4.00-4.00), significant" in lines
    assert any(ln.startswith("  candidate 1/2: format error (") for ln in lines)
    assert "  candidate 2/2: correct but slower: 0.12x the best so far (95% CI 0.12-0.13)" in lines
    assert lines[-1].startswith(f"final comparison, original vs best, interleaved: {res.speedup:.2f}x")


def test_optimize_progress_true_shows_the_run_on_stderr(task, tmp_path, capsys):  # noqa: F811
    optimize(task, backend="scripted", replies=[WRONG, FAST], sandbox=FakeSandbox(), out_dir=tmp_path,
             candidates=2, rounds=1, progress=True)  # fmt: skip
    captured = capsys.readouterr()
    assert "candidate 1/2: wrong answer" in captured.err and captured.out == ""


def test_a_display_fault_does_not_stop_the_run(task, tmp_path, monkeypatch):  # noqa: F811
    display = ProgressDisplay(io.StringIO(), tty=False)
    monkeypatch.setattr(type(display._view), "_on_round_started", lambda self, d: 1 / 0)
    res = Optimizer(backend="scripted", replies=[FAST], sandbox=FakeSandbox(), out_dir=tmp_path, candidates=1,
                    rounds=1).run(task, on_event=display)  # fmt: skip
    assert res.status == "improved"


@pytest.mark.parametrize("term, tty", [("xterm", True), ("dumb", False)])
def test_a_terminal_is_detected_unless_dumb(term, tty, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setenv("TERM", term)
    assert ProgressDisplay(Terminal()).tty is tty
    assert ProgressDisplay(io.StringIO()).tty is False


def test_a_mechanical_rewrite_is_named_as_one_and_not_counted_as_a_model_candidate():
    out = io.StringIO()
    events = [
        ("round_started", {"round": 1, "rounds": 2, "candidates": 2, "max_new_tokens": 512}),
        ("candidate_evaluated", {"round": 1, "index": 0, "candidates": 2, "status": "passed",
                                 "outcome": "unchanged", "origin": "model"}),
        ("candidate_evaluated", {"round": 1, "index": 2, "candidates": 2, "status": "passed",
                                 "outcome": "faster", "speedup": 3.2, "speedup_ci": [3.0, 3.4],
                                 "acceptable": True, "origin": "rewrite:functools_cache"}),
    ]  # fmt: skip
    with ProgressDisplay(out, tty=False, clock=Clock()) as display:
        for name, data in events:
            display(name, data)
    lines = out.getvalue().splitlines()
    assert any(ln.strip().startswith("candidate 1/2: the code again") for ln in lines)
    assert any(ln.strip().startswith("rewrite functools_cache: faster: 3.20x") for ln in lines)
    assert not any("candidate 3/2" in ln for ln in lines)
