"""A run's progress for people, on stderr: a line per verdict, and one line updated in place while it works.

    afterburner.optimize(task, progress=True)
    afterburner.Optimizer(...).run(task, on_event=ProgressDisplay())

`ProgressDisplay` is an ``on_event`` callback (the events: `afterburner.agent.optimizer`). Lasting lines
say what happened: the original's time, each round's replies, every candidate's verdict as it lands
(format error, the code again, wrong answer, crash, timeout, slower, not significant, faster by how
much), a new best, the round's end, the final comparison. The work in progress (tokens generated, the
timed run being measured) is one status line: on a terminal it is rewritten in place; elsewhere (a log,
CI) it is printed as a plain line only after `heartbeat_s` seconds without any other output, so a log
shows that the run is alive without a line per token.

The speedup shown during the run ("best so far ~9.9x") is an estimate: the original's and the best's
median CPU time from separate runs, minutes apart. The figure the run reports is the final comparison,
original and best timed interleaved in one run; the display says which is which.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from afterburner.metrics import finite
from afterburner.report import fmt_seconds

__all__ = ["ProgressDisplay", "RunView"]

log = logging.getLogger(__name__)

Item = tuple[str, str]  # ("line" | "status" | "clear", text)

_STOP_REASONS = {
    "max_rounds": "reached the last round",
    "patience": "patience: {no_improve} round(s) in a row with correct new code and no significant gain",
    "target_speedup": "reached the target speedup",
    "time_budget": "the time budget is used up",
    "token_budget": "the token budget is used up",
}
MAX_REASON = 100  # characters of a failure shown in a verdict (the trajectory has it all)
ESTIMATE = "estimate from separate runs; the final figure is re-measured interleaved"


def _ci(ci: Any) -> str:
    if isinstance(ci, list | tuple) and len(ci) >= 2 and finite(ci[0]) and finite(ci[1]):
        return f" (95% CI {ci[0]:.2f}-{ci[1]:.2f})"
    return ""


def _duration(s: float) -> str:
    if s < 60:
        return f"{s:.1f} s" if s < 10 else f"{s:.0f} s"
    m, sec = divmod(round(s), 60)
    return f"{m} min {sec} s"


def _runs(d: dict) -> str:
    n, at_most = d.get("run", 0), d.get("at_most")
    if not at_most:
        return f"run {n}"
    return f"run {n}/{at_most}" if d.get("fixed") else f"run {n} of up to {at_most}"


def _clip(text: str, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."


def _reason(d: dict) -> str:
    """Why a candidate failed, short: a wrong answer's expected and got values, a crash's error line."""
    case = d.get("first_failure") or {}
    outcome = d.get("outcome")
    if outcome == "wrong" and (case.get("expected") or case.get("got")):
        parts = [f"expected {_clip(case.get('expected', ''), 30)}", f"got {_clip(case.get('got', ''), 30)}"]
        return ", ".join(parts) + (f" for {_clip(case['input'], 30)}" if case.get("input") else "")
    if outcome == "crash" and case.get("error"):
        lines = [ln for ln in case["error"].splitlines() if ln.strip()]
        return _clip(lines[-1], 90) if lines else ""
    return d.get("failure") or ""


class RunView:
    """Turns the events of one run into ``(kind, text)`` items: ``line`` (lasting), ``status`` (the work
    in progress, replaced by the next one) or ``clear``. Pure bookkeeping: no output."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.round = self.rounds = self.k = 0
        self.best = 1.0
        self.best_is_original = True

    def _r(self, d: dict | None = None) -> str:
        rnd = (d or {}).get("round", self.round)
        return f"round {rnd}/{self.rounds}" if self.rounds else f"round {rnd}"

    def _ref(self) -> str:
        return "the original" if self.best_is_original else "the best so far"

    def render(self, name: str, d: dict) -> list[Item]:
        handler = getattr(self, f"_on_{name}", None)
        items = handler(d) if handler else []
        if self.prefix:
            items = [(kind, f"{self.prefix}: {text}" if text else text) for kind, text in items]
        return items

    # -- before the rounds ---------------------------------------------------------------------------
    def _on_loading_model(self, d: dict) -> list[Item]:
        what = d.get("model") or "the default model"
        return [("status", f"loading {what} ({d.get('backend')} backend)")]

    def _on_started(self, d: dict) -> list[Item]:
        items: list[Item] = [("line", f"resuming the run in {d['run_dir']}")] if d.get("resumed") else []
        return [*items, ("status", "checking the original on its tests")]

    def _on_measuring(self, d: dict) -> list[Item]:
        what = d.get("what")
        if what == "original":
            return [("status", f"measuring the original: {_runs(d)}")]
        if what == "candidate":
            i, k = d.get("index", 0) + 1, d.get("candidates") or self.k
            return [
                ("status", f"{self._r(d)}: measuring candidate {i}/{k} against {self._ref()}: {_runs(d)}")
            ]
        if what == "best":
            return [("status", f"{self._r(d)}: profiling the new best: {_runs(d)}")]
        if what == "final":
            return [("status", f"final comparison, original vs best, interleaved: {_runs(d)}")]
        return [("status", f"measuring: {_runs(d)}")]

    def _on_original_measured(self, d: dict) -> list[Item]:
        runs = f" (median of {d['runs']} runs)" if d.get("runs") else ""
        return [("line", f"original: {fmt_seconds(d.get('cpu_s'))} CPU time{runs}")]

    # -- a round ---------------------------------------------------------------------------------------
    def _on_round_started(self, d: dict) -> list[Item]:
        self.round, self.rounds, self.k = d["round"], d.get("rounds") or 0, d.get("candidates") or 0
        upto = f" (up to {d['max_new_tokens']} new tokens each)" if d.get("max_new_tokens") else ""
        return [
            ("line", f"{self._r()}: generating {self.k} candidate{'s' * (self.k != 1)}{upto}"),
            ("status", f"{self._r()}: generating"),
        ]

    def _on_tokens(self, d: dict) -> list[Item]:
        tokens, secs = d.get("tokens", 0), d.get("seconds") or 0.0
        rate = f" ({tokens / secs:.1f} tokens/s)" if secs > 0 else ""
        done = f", {d.get('finished', 0)}/{d['replies']} replies finished" if d.get("replies") else ""
        return [("status", f"{self._r()}: generating: {tokens} tokens{rate}{done}")]

    def _on_generated(self, d: dict) -> list[Item]:
        n, tokens, secs = d.get("replies", 0), d.get("tokens", 0), d.get("seconds") or 0.0
        rate = f", {tokens / secs:.1f} tokens/s" if secs >= 1 else ""
        replies = f"{n} repl{'ies' if n != 1 else 'y'}"
        return [
            ("line", f"{self._r()}: {replies}, {tokens} new tokens in {_duration(secs)}{rate}"),
            ("status", f"{self._r()}: checking the candidates"),
        ]

    def verdict(self, d: dict) -> str:
        """One candidate's verdict in words (the `candidate_evaluated` payload)."""
        outcome, why = d.get("outcome") or "", _reason(d)
        if len(why) > MAX_REASON:
            why = why[: MAX_REASON - 3] + "..."
        because = f" ({why})" if why else ""
        x = d.get("speedup")
        if outcome == "format_error":
            text = f"format error{because}"
        elif outcome == "unchanged":
            text = f"the code again (the same program as {self._ref()})"
        elif outcome == "wrong":
            text = f"wrong answer{because}"
        elif outcome == "timeout":
            text = f"timeout{because}"
        elif outcome == "crash":
            status = str(d.get("status") or "error").replace("_", " ")
            text = f"crash, {status}{because}"
        elif not finite(x):
            text = "correct (measured alone: nothing to compare with)"
        elif outcome == "slower":
            text = f"correct but slower: {x:.2f}x {self._ref()}{_ci(d.get('speedup_ci'))}"
        elif outcome == "faster":
            text = f"faster: {x:.2f}x {self._ref()}{_ci(d.get('speedup_ci'))}, significant"
        else:
            text = f"correct, not significantly faster: {x:.2f}x {self._ref()}{_ci(d.get('speedup_ci'))}"
        if d.get("acceptable") and outcome != "faster":
            text += "; acceptable to this strategy's rule"
        return text

    def _on_candidate_evaluated(self, d: dict) -> list[Item]:
        origin = d.get("origin") or "model"
        if origin != "model":  # a mechanical rewrite of the original (agent/rewrites/)
            return [("line", f"  {origin.replace(':', ' ', 1)}: {self.verdict(d)}")]
        k = d.get("candidates") or self.k
        return [("line", f"  candidate {d.get('index', 0) + 1}/{k}: {self.verdict(d)}")]

    def _on_best_improved(self, d: dict) -> list[Item]:
        if finite(d.get("best_speedup")):
            self.best = d["best_speedup"]
        self.best_is_original = False
        return [
            (
                "line",
                f"{self._r()}: new best (candidate {d.get('index', 0) + 1}): ~{self.best:.1f}x the original "
                f"({ESTIMATE})",
            )
        ]

    def _on_round_finished(self, d: dict) -> list[Item]:
        passed, k = d.get("passed", 0), d.get("candidates") or self.k
        best = "the original" if self.best_is_original else f"~{self.best:.1f}x the original (estimate)"
        text = f"{self._r()} done: {passed}/{k} correct; best so far {best}"
        reason = d.get("stop_reason")
        if reason:
            why = _STOP_REASONS.get(reason, reason).format(no_improve=d.get("no_improve", 0))
            text += f"; stopping: {why}"
        return [("line", text)]

    def _on_finished(self, d: dict) -> list[Item]:
        x = d.get("speedup")
        if d.get("stop_reason") == "interrupted":
            best = d.get("best_speedup")
            est = f" (~{best:.1f}x the original, {ESTIMATE})" if finite(best) and best != 1.0 else ""
            text = f"interrupted after round {d.get('rounds', self.round)}: keeping the best so far{est}"
        elif not finite(x):
            text = "done: no candidate was significantly faster; the original is kept unchanged"
        elif d.get("kept") == "original":
            text = (
                f"final comparison, original vs best, interleaved: {x:.2f}x{_ci(d.get('speedup_ci'))}: the "
                "gain did not hold up; the original is kept"
            )
        else:
            sig = "significant" if d.get("improved") else "not significant"
            text = (
                f"final comparison, original vs best, interleaved: {x:.2f}x{_ci(d.get('speedup_ci'))}, {sig}"
            )
        return [("line", text), ("clear", "")]


class ProgressDisplay:
    """An ``on_event`` callback that shows a run on `stream` (stderr by default). Thread-safe.

    `tty`: rewrite the status line in place (default: whether the stream is a terminal and TERM is not
    "dumb"); otherwise print it only after `heartbeat_s` seconds without output. Use it as a context
    manager, or call `close()`, to clear the status line at the end.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        tty: bool | None = None,
        heartbeat_s: float = 30.0,
        width: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        out = stream or sys.stderr
        if tty is None:
            tty = bool(getattr(out, "isatty", lambda: False)()) and os.environ.get("TERM") != "dumb"
        self.tty, self.heartbeat_s, self.width, self.clock = tty, heartbeat_s, width, clock
        self._lock = threading.RLock()
        self._view = RunView()
        self._status = ""  # the status line's text (shown on a terminal)
        self._shown = False  # a status line is on the screen (terminal)
        self._last_out = clock()  # the last output (for the heartbeat)
        self._broken = False

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stderr

    # -- events ----------------------------------------------------------------------------------------
    def __call__(self, name: str, data: dict) -> None:
        self._show(self._view, name, data, lines=True)

    def scoped(self, prefix: str, *, lines: bool = True) -> Callable[[str, dict], None]:
        """A callback for another run shown on this display (e.g. one task of a benchmark), its text
        prefixed; with ``lines=False`` its lasting lines only update the status line."""
        view = RunView(prefix)

        def callback(name: str, data: dict) -> None:
            self._show(view, name, data, lines=lines)

        return callback

    def _show(self, view: RunView, name: str, data: dict, lines: bool) -> None:
        if self._broken:
            return
        with self._lock:
            try:
                items = view.render(name, data)
            except Exception as e:  # a display bug must not stop a run of many minutes
                self._broken = True
                log.warning("the progress display stopped (%s: %s)", type(e).__name__, e)
                return
            for kind, text in items:
                if kind == "line" and lines:
                    self.line(text)
                elif kind == "clear":
                    if lines:
                        self.clear()
                else:
                    self.status(text)

    # -- output ----------------------------------------------------------------------------------------
    def _clip(self, text: str) -> str:
        width = self.width or shutil.get_terminal_size((100, 24)).columns
        return text if len(text) < width else text[: max(width - 2, 1)] + "…"

    def line(self, text: str) -> None:
        """A lasting line (above the status line, on a terminal)."""
        with self._lock:
            out = self.stream
            if self.tty and self._shown:
                out.write("\r\x1b[K")
            out.write(text + "\n")
            if self.tty and self._status:
                out.write(self._clip(self._status))
                self._shown = True
            else:
                self._shown = False
            out.flush()
            self._last_out = self.clock()

    def status(self, text: str) -> None:
        """The work in progress: rewritten in place on a terminal; else printed after a silence."""
        with self._lock:
            self._status = text
            now = self.clock()
            out = self.stream
            if self.tty:
                out.write("\r" + self._clip(text) + "\x1b[K")
                self._shown = True
                out.flush()
            elif now - self._last_out >= self.heartbeat_s:
                out.write(text + "\n")
                out.flush()
                self._last_out = now

    def clear(self) -> None:
        """Remove the status line."""
        with self._lock:
            if self.tty and self._shown:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
            self._status, self._shown = "", False

    def close(self) -> None:
        self.clear()

    def __enter__(self) -> ProgressDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
