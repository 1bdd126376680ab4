"""The loop's nodes: plain functions of (state, runtime) that return partial state updates.

measure_original -> generate -> evaluate -> select -> (refine -> generate ...) | finish
"""

from __future__ import annotations

import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from afterburner.agent.focus import focus
from afterburner.agent.limits import (
    check_original,
    limit_failure,
    original_limit_error,
    pick_limits,
    with_limits,
)
from afterburner.agent.outcomes import classify_step
from afterburner.agent.remedies import find_remedies
from afterburner.agent.repair import restore_setup
from afterburner.agent.rewrites import rewrite_candidates
from afterburner.agent.state import Candidate, OptimizerState, RunContext
from afterburner.agent.strategies import score
from afterburner.errors import AfterburnerError, TaskError
from afterburner.llm.extract import code_from_reply
from afterburner.metrics import finite
from afterburner.prompts import initial_conversation, refine_conversation, render, render_remedy, reply_start
from afterburner.results import CheckResult, Comparison, Profile

__all__ = ["evaluate", "finish", "generate", "measure_original", "refine", "route", "select"]

log = logging.getLogger(__name__)

MAX_FAILURES_SHOWN = 3
MAX_HISTORY_SHOWN = 4


def _ctx(runtime: Any) -> RunContext:
    return runtime.context


def _median(m: dict | None) -> float | None:
    cpu = (m or {}).get("cpu_time_s") or {}
    x = cpu.get("median")
    return x if isinstance(x, int | float) and math.isfinite(x) and x > 0 else None


def _ratio(num: float | None, den: float | None) -> float | None:
    return num / den if num is not None and den else None


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _failure_line(failure: Any) -> str:
    """A failure in one short line: input, expected, got, and the last line of the error."""
    if failure is None:
        return ""
    error = [ln.strip() for ln in (failure.error or "").splitlines() if ln.strip()]
    parts = [
        f"{k} {_one_line(v, 80)}"
        for k, v in (("input", failure.input), ("expected", failure.expected), ("got", failure.got))
        if v
    ]
    if error:
        parts.append(_one_line(error[-1], 120))
    return "; ".join(parts)


def _run_progress(ctx: RunContext, what: str, **where: Any) -> dict:
    """``on_run=`` for a sandbox timing call, emitting a `measuring` event per timed run, when anyone
    listens and the sandbox reports its runs (`Sandbox.reports_runs`); else no keyword at all."""
    if ctx.on_event is None or not getattr(ctx.sandbox, "reports_runs", False):
        return {}
    fixed = ctx.settings.repeats is not None

    def on_run(n: int, at_most: int) -> None:
        ctx.emit("measuring", what=what, run=n, at_most=at_most, fixed=fixed, **where)

    return {"on_run": on_run}


def _check_of(d: dict | None) -> CheckResult | None:
    """A check result kept in the state (`CheckResult.to_dict`), as the sandbox takes it back."""
    return CheckResult.from_dict(d) if d else None


def _measure_profiled(ctx: RunContext, code: str, checked: CheckResult | None, **progress: Any) -> Any:
    """Measure `code` (whose passed check is `checked`) with a profile, for the feedback; if profiling
    itself fails, measure without it."""
    reps = ctx.settings.repeats
    try:
        return ctx.sandbox.measure(ctx.task, code, repeats=reps, profile=True, checked=checked, **progress)
    except (KeyboardInterrupt, AfterburnerError):
        raise
    except Exception as e:  # the profiler is a nice-to-have: the loop goes on without hot lines
        log.warning("profiling failed (%s: %s); measuring without a profile", type(e).__name__, e)
        return ctx.sandbox.measure(ctx.task, code, repeats=reps, profile=False, checked=checked, **progress)


def measure_original(state: OptimizerState, runtime: Any) -> dict:
    """Check that the original passes its tests (else there is nothing to preserve), then measure it."""
    ctx = _ctx(runtime)
    t0 = time.monotonic()
    task, s = ctx.task, ctx.settings
    baseline = limits = original_check = None
    if task.code:
        check = check_original(ctx.sandbox, task)  # a limit that stops it: an error naming the option
        if not check.passed:
            why = _failure_line(check.failure)
            raise TaskError(
                f"the original code fails its own tests ({check.status.value}{': ' + why if why else ''}); "
                "there is nothing to preserve: fix the code or the tests first"
            )
        original_check = check.to_dict()
        m = _measure_profiled(ctx, task.code, check, **_run_progress(ctx, "original"))
        if not m.ok:
            if m.status.value in ("timeout", "memory_exceeded"):
                error = m.failure.error if m.failure else ""
                raise original_limit_error(m.status.value, ctx.sandbox, None, error)
            why = _failure_line(m.failure)
            raise TaskError(f"the original code cannot be measured on its workload ({m.status.value}: {why})")
        baseline = m.to_dict()
        # the candidates' limits: the user's, or picked from the original's runs (afterburner.agent.limits)
        limits = pick_limits(s.timeout_s, s.memory_limit_mib, check, m)
        ctx.sandbox = with_limits(ctx.sandbox, limits["timeout_s"], limits["memory_bytes"])
        ctx.extra["limits"] = limits
        ctx.emit("original_measured", cpu_s=_median(baseline), runs=(baseline["cpu_time_s"] or {}).get("n"))
    first = {"conversation": initial_conversation(task, ctx.strategy, s.goal), "suggested": []}
    if baseline and ctx.strategy.feedback == "profile":
        # the original's measured hot lines and their remedies already steer the first round
        first = _profile_conversation(ctx, {}, task.code, baseline, baseline)
    fresh = None
    if ctx.strategy.fresh and task.code and task.description:
        fresh = initial_conversation(task.with_code(""), ctx.strategy, s.goal)
    return {
        "round": 0,
        **first,
        "fresh_conversation": fresh,
        "candidates": [],
        "baseline": baseline,
        "original_check": original_check,
        "limits": limits,
        "best_code": task.code,
        "best": baseline,
        "best_check": original_check,
        "best_round": 0,
        "best_speedup": 1.0,
        "rounds_best_code": [],
        "history": [],
        "failures": [],
        "no_improve": 0,
        "tokens_used": 0,
        "llm_calls": 0,
        "elapsed_s": time.monotonic() - t0,
        "stop_reason": "",
        "final": None,
    }


def generate(state: OptimizerState, runtime: Any) -> dict:
    """Ask the backend for the round's k completions of the current prompt."""
    from afterburner.llm import Sampling

    ctx = _ctx(runtime)
    t0 = time.monotonic()
    s = ctx.settings
    rnd = state["round"] + 1
    k = s.candidates
    ctx.emit(
        "round_started",
        round=rnd,
        rounds=s.rounds,
        candidates=k,
        max_new_tokens=s.max_new_tokens,
        best_speedup=state.get("best_speedup", 1.0),
    )
    sampling = Sampling(
        temperature=s.temperature,
        top_p=s.top_p,
        max_new_tokens=s.max_new_tokens,
        seed=None if s.seed is None else s.seed + rnd,
        stop=ctx.strategy.stop,
    )
    fresh_conv = state.get("fresh_conversation")
    n_fresh = math.floor(k * ctx.strategy.fresh) if fresh_conv else 0
    prefill = _reply_prefill(ctx)  # the reply's start (fence, signature), where the backend continues it
    conv, fresh_conv = _prefilled(state["conversation"], prefill), _prefilled(fresh_conv, prefill)
    focused = _focused(ctx, state) if prefill else None
    n_focus = math.floor((k - n_fresh) * ctx.strategy.focus) if focused else 0
    stream = _token_progress(ctx, rnd)
    if n_fresh or n_focus:  # one batched call: the refine prompt's samples, the focused ones, the fresh
        convs = [conv] * (k - n_fresh - n_focus) + [focused] * n_focus + [fresh_conv] * n_fresh
        completions = [c for [c] in ctx.backend.generate(convs, n=1, sampling=sampling, **stream)]
        focus_start = focused[-1]["content"] if n_focus else prefill
        starts = [prefill] * (k - n_fresh - n_focus) + [focus_start] * n_focus + [prefill] * n_fresh
    else:
        [completions] = ctx.backend.generate([conv], n=k, sampling=sampling, **stream)
        starts = [prefill] * k
    candidates = [
        Candidate(
            index=i,
            completion=start + c.text + ((c.extra or {}).get("stopped_by") or ""),  # the whole reply
            prompt_tokens=c.prompt_tokens,
            completion_tokens=c.completion_tokens,
            finish_reason=c.finish_reason,
            fresh=i >= k - n_fresh,
            focused=start != prefill,
            origin="model",
        )
        for i, (c, start) in enumerate(zip(completions, starts, strict=True))
    ]
    # the prompt tokens of each distinct prompt, once: its samples share it
    prompt_tokens = sum({c["fresh"]: c["prompt_tokens"] for c in candidates}.values())
    used = prompt_tokens + sum(c.completion_tokens for c in completions)
    generated = sum(c.completion_tokens for c in completions)
    ctx.emit(
        "generated", round=rnd, replies=len(completions), tokens=generated, seconds=time.monotonic() - t0
    )
    if rnd == 1:  # the mechanical rewrites of the original go beside the model's first k (agent/rewrites/)
        candidates += rewrite_candidates(ctx, state, start=len(candidates))
    return {
        "round": rnd,
        "candidates": candidates,
        "tokens_used": state.get("tokens_used", 0) + used,
        "llm_calls": state.get("llm_calls", 0) + 1,
        "elapsed_s": state.get("elapsed_s", 0.0) + time.monotonic() - t0,
    }


def _token_progress(ctx: RunContext, rnd: int) -> dict:
    """``on_tokens=`` for the backend, emitting `tokens` events, when anyone listens and it streams."""
    if ctx.on_event is None or not getattr(ctx.backend, "streams_tokens", False):
        return {}
    t0 = time.monotonic()

    def on_tokens(tokens: int, finished: int, replies: int) -> None:
        ctx.emit(
            "tokens",
            round=rnd,
            tokens=tokens,
            finished=finished,
            replies=replies,
            seconds=time.monotonic() - t0,
        )

    return {"on_tokens": on_tokens}


def _reply_prefill(ctx: RunContext) -> str:
    """The start of the reply to prefill (`prompts.reply_start`), if the backend continues one."""
    if not getattr(ctx.backend, "continues_final_message", False):
        return ""
    return reply_start(ctx.task, ctx.strategy)


def _focused(ctx: RunContext, state: OptimizerState) -> list[dict] | None:
    """The refine prompt with its reply prefilled up to the best code's hot statement (`agent.focus`)."""
    if not ctx.strategy.focus or not state.get("best_code"):
        return None
    hot = ((state.get("best") or {}).get("profile") or {}).get("lines")
    start = focus(state["best_code"], ctx.task.entry_point, hot)
    if start is None:
        return None
    reply = {"role": "assistant", "content": start.prefill}
    if getattr(ctx.backend, "avoids", False):
        reply["avoid"] = start.avoid
    return [*state["conversation"], reply]


def _prefilled(conversation: list[dict] | None, prefill: str) -> list[dict] | None:
    if not prefill or conversation is None:
        return conversation
    return [*conversation, {"role": "assistant", "content": prefill}]


def _evaluate_code(
    ctx: RunContext, best_code: str, best_check: CheckResult | None, code: str, progress: dict | None = None
) -> dict:
    """Correctness first, then (if correct) an interleaved comparison against the current best, whose
    passed check is `best_check`: neither side is checked again."""
    task, s = ctx.task, ctx.settings
    check = ctx.sandbox.check(task, code)
    out: dict[str, Any] = {
        "status": check.status.value,
        "check": check.to_dict(),
        "comparison": None,
        "failure": check.failure.short() if check.failure else "",
        "acceptable": False,
    }
    if check.status.value in ("timeout", "memory_exceeded"):
        ran = check.wall_time_s
        out["failure"] = limit_failure(check.status.value, ctx.sandbox, ran, _original_run_s(ctx))
    if not check.passed:
        return out
    if not best_code:  # written from a description: measured alone, the fastest correct one wins
        m = ctx.sandbox.measure(task, code, repeats=s.repeats, checked=check, **(progress or {}))
        out.update(status=m.status.value, measurement=m.to_dict(), acceptable=m.ok)
        return out
    cmp = ctx.sandbox.compare(
        task,
        best_code,
        code,
        repeats=s.repeats,
        min_gain=s.min_gain,
        checked_a=best_check,
        checked_b=check,
        **(progress or {}),
    )
    out["comparison"] = cmp.to_dict()
    if not cmp.b.ok:
        out.update(status=cmp.b.status.value, failure=cmp.b.failure.short() if cmp.b.failure else "")
        return out
    out["acceptable"] = bool(ctx.strategy.accept(cmp, s.goal))
    return out


def _original_run_s(ctx: RunContext) -> float | None:
    return (ctx.extra.get("limits") or {}).get("original_run_s")


def _pool_size(sandbox: Any) -> int:
    size = getattr(getattr(sandbox, "pool", None), "size", None) or getattr(sandbox, "workers", None)
    return size if isinstance(size, int) and size > 0 else 2


def evaluate(state: OptimizerState, runtime: Any) -> dict:
    """Extract each completion's code, merge it into the best module, check and measure in parallel."""
    ctx = _ctx(runtime)
    t0 = time.monotonic()
    task, best_code, rnd = ctx.task, state["best_code"], state["round"]
    best_check = _check_of(state.get("best_check"))  # None in a checkpoint of before it was kept
    cands = [dict(c) for c in state["candidates"]]
    for c in cands:
        if c.get("origin", "model") != "model":
            continue  # a mechanical rewrite: its code is the candidate
        # restore_setup: setup lines the rewrite dropped but still reads (agent/repair.py)
        reply = code_from_reply(c["completion"], best_code, task.entry_point, repair=restore_setup)
        ext = reply.extraction
        c["extraction"] = {"ok": ext.ok, "reason": ext.reason, "source": ext.source}
        c["code"], c["comparison"], c["check"], c["acceptable"] = "", None, None, False
        if not ext.ok:
            c.update(status="format_error", failure=ext.reason)
        elif reply.merge_error:
            c.update(
                status="format_error",
                failure=f"could not merge the code into the module: {reply.merge_error}",
            )
        else:
            c["code"] = reply.code
            if reply.restored:
                c["restored"] = list(reply.restored)
            if reply.unchanged:  # formatting, comments, docstrings, imports aside
                c.update(status="unchanged", failure="the same code as the current best: nothing was changed")
        if "status" in c:  # its verdict is in already
            _emit_verdict(ctx, rnd, _model_k(cands), c, c)
    unique = sorted({c["code"] for c in cands if c["code"] and "status" not in c})
    results: dict[str, dict] = {}
    if unique:
        workers = min(len(unique), _pool_size(ctx.sandbox))
        pool = ThreadPoolExecutor(max_workers=max(1, workers))
        try:
            futures = {}
            for code in unique:
                first = min(c["index"] for c in cands if c["code"] == code)
                where = _run_progress(ctx, "candidate", round=rnd, index=first, candidates=len(cands))
                futures[pool.submit(_evaluate_code, ctx, best_code, best_check, code, where)] = code
            for fut in as_completed(futures):
                code = futures[fut]
                results[code] = fut.result()
                for c in cands:
                    if c["code"] == code and "status" not in c:
                        _emit_verdict(ctx, rnd, _model_k(cands), c, results[code])
        except BaseException:  # Ctrl-C or a sandbox fault: do not wait for the other candidates
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
    for c in cands:
        if c["code"] in results and "status" not in c:
            c.update(results[c["code"]])
    return {"candidates": cands, "elapsed_s": state.get("elapsed_s", 0.0) + time.monotonic() - t0}


def _emit_verdict(ctx: RunContext, rnd: int, k: int, c: dict, result: dict) -> None:
    """The `candidate_evaluated` event of candidate `c`, whose evaluation is `result`."""
    cmp = result.get("comparison") or {}
    ctx.emit(
        "candidate_evaluated",
        round=rnd,
        index=c["index"],
        candidates=k,
        status=result["status"],
        outcome=classify_step({**result, "accepted": result.get("acceptable", False)}),
        failure=_one_line(result.get("failure", ""), 160),
        first_failure=(result.get("check") or {}).get("failure"),  # {input, expected, got, error} or None
        acceptable=result.get("acceptable", False),
        speedup=cmp.get("speedup"),
        speedup_ci=cmp.get("speedup_ci"),
        origin=c.get("origin", "model"),
    )


def _model_k(cands: list[dict]) -> int:
    """How many of the round's candidates the model wrote (the mechanical rewrites come after them)."""
    return sum(c.get("origin", "model") == "model" for c in cands)


def _candidate_score(c: dict, goal: str) -> float:
    if c.get("comparison"):
        return score(Comparison.from_dict(c["comparison"]), goal)
    med = _median(c.get("measurement"))
    return 1.0 / med if med else 0.0


def select(state: OptimizerState, runtime: Any) -> dict:
    """Keep the best acceptable candidate (if any), record every step, decide whether to stop."""
    ctx = _ctx(runtime)
    t0 = time.monotonic()
    s, rnd = ctx.settings, state["round"]
    cands = [dict(c) for c in state["candidates"]]
    mine = [c for c in cands if c.get("origin", "model") == "model"]  # the model's: its feedback, patience
    acceptable = [c for c in cands if c.get("acceptable")]
    winner = max(acceptable, key=lambda c: _candidate_score(c, s.goal)) if acceptable else None
    update: dict[str, Any] = {}
    best_speedup = state.get("best_speedup", 1.0)
    if winner is not None:
        for c in cands:
            c["accepted"] = c["index"] == winner["index"]
        best = _winner_figures(ctx, winner, rnd)
        est = _ratio(_median(state.get("baseline")), _median(best))
        if est is None and winner.get("comparison"):
            est = best_speedup * (winner["comparison"].get("speedup") or 1.0)
        best_speedup = est if est is not None else best_speedup
        update.update(
            best_code=winner["code"],
            best=best,
            best_check=winner.get("check"),
            best_round=rnd,
            best_speedup=best_speedup,
            no_improve=0,
        )
    else:
        for c in cands:
            c["accepted"] = False
        # Patience counts rounds that are evidence of no further gain: a correct new program was measured
        # and was not faster. A round of echoes, format errors and failures says nothing about that.
        measured = any(c.get("status") == "passed" for c in mine)
        update["no_improve"] = state.get("no_improve", 0) + int(measured)
    _record_steps(ctx, state, cands, best_speedup)
    if winner is not None:
        ctx.emit(
            "best_improved",
            round=rnd,
            index=winner["index"],
            best_speedup=best_speedup,
            speedup_vs_previous=(winner.get("comparison") or {}).get("speedup"),
        )
    history = [*state.get("history", []), _round_entry(state, mine, winner, s.goal)]
    failures = _failures(mine)
    best_code = update.get("best_code", state["best_code"])
    update.update(
        candidates=cands,
        history=history,
        failures=failures,
        rounds_best_code=[*state.get("rounds_best_code", []), best_code],
        elapsed_s=state.get("elapsed_s", 0.0) + time.monotonic() - t0,
    )
    update["stop_reason"] = _stop_reason(ctx, {**state, **update})
    ctx.emit(
        "round_finished",
        round=rnd,
        rounds=s.rounds,
        passed=history[-1]["passed"],
        candidates=len(cands),
        accepted=winner is not None,
        best_speedup=best_speedup,
        no_improve=update.get("no_improve", 0),
        stop_reason=update["stop_reason"],
    )
    return update


def _record_steps(ctx: RunContext, state: OptimizerState, cands: list[dict], best_speedup: float) -> None:
    """One trajectory step per candidate of the round: its prompt, reply, code, verdict and figures."""
    for c in cands:
        ctx.record(
            "step",
            round=state["round"],
            index=c["index"],
            strategy=ctx.strategy.name,
            origin=c.get("origin", "model"),
            why=c.get("why", ""),
            messages=_prompt_of(state, c),
            fresh=bool(c.get("fresh")),
            focused=bool(c.get("focused")),
            completion=c["completion"],
            prompt_tokens=c.get("prompt_tokens", 0),
            completion_tokens=c.get("completion_tokens", 0),
            finish_reason=c.get("finish_reason"),
            extraction=c.get("extraction"),
            code=c.get("code", ""),
            restored=c.get("restored", []),
            status=c.get("status"),
            failure=c.get("failure", ""),
            check=c.get("check"),
            comparison=c.get("comparison"),
            measurement=c.get("measurement"),
            acceptable=c.get("acceptable", False),
            accepted=c["accepted"],
            outcome=classify_step(c),
            best_speedup=best_speedup,
        )


def _round_entry(state: OptimizerState, mine: list[dict], winner: dict | None, goal: str) -> dict:
    """The round as the next prompt's history shows it (the model's candidates only)."""
    correct = [c for c in mine if finite((c.get("comparison") or {}).get("speedup"))]
    top = max(correct, key=lambda c: _candidate_score(c, goal)) if correct else None
    return {
        "round": state["round"],
        "passed": sum(1 for c in mine if c.get("check") and c["check"]["status"] == "passed"),
        "total": len(mine),
        "unchanged": sum(1 for c in mine if c.get("status") == "unchanged"),
        "suggested": list(state.get("suggested", [])),
        "accepted": winner is not None and winner.get("origin", "model") == "model",
        "speedup": (top["comparison"].get("speedup") if top else None),
    }


def _failures(mine: list[dict]) -> list[dict]:
    """The round's distinct failures (at most MAX_FAILURES_SHOWN), for the next prompt."""
    failures: list[dict] = []
    for c in mine:
        if c.get("status") != "passed" and len(failures) < MAX_FAILURES_SHOWN:
            f = {"status": c.get("status", "?").replace("_", " "), "detail": _one_line(c.get("failure", ""))}
            if f not in failures:
                failures.append(f)
    return failures


def _winner_figures(ctx: RunContext, winner: dict, rnd: int) -> dict | None:
    """The new best's measurement: the B side of the comparison that accepted it (or its measurement,
    measured alone), measured again only when the feedback needs a profile those figures lack."""
    best = (winner.get("comparison") or {}).get("b") or winner.get("measurement")
    if best and (best.get("profile") or ctx.strategy.feedback != "profile"):
        return best
    where = _run_progress(ctx, "best", round=rnd)
    m = _measure_profiled(ctx, winner["code"], _check_of(winner.get("check")), **where)
    return m.to_dict() if m.ok else best


def _prompt_of(state: OptimizerState, c: dict) -> list[dict] | None:
    """The prompt a candidate answered (None for a mechanical rewrite: it answered none)."""
    if c.get("origin", "model") != "model":
        return None
    return state.get("fresh_conversation") if c.get("fresh") else state["conversation"]


def _stop_reason(ctx: RunContext, state: dict) -> str:
    s = ctx.settings
    if s.target_speedup and state.get("best_speedup", 1.0) >= s.target_speedup:
        return "target_speedup"
    if state["round"] >= s.rounds:
        return "max_rounds"
    if ctx.strategy.use_patience and s.patience and state.get("no_improve", 0) >= s.patience:
        return "patience"
    if s.time_budget_s is not None and state.get("elapsed_s", 0.0) >= s.time_budget_s:
        return "time_budget"
    if s.token_budget is not None and state.get("tokens_used", 0) >= s.token_budget:
        return "token_budget"
    return ""


def route(state: OptimizerState) -> str:
    """After select: stop (finish) or build the next prompt (refine)."""
    return "finish" if state.get("stop_reason") else "refine"


def _paper_feedback(c: dict | None) -> tuple[str, str]:
    """(code shown, one-line feedback) for the paper's strategy: the last candidate and its results."""
    if not c or not c.get("code"):
        return "", render(
            "afterburner_feedback",
            passed=False,
            time="N/A",
            memory="N/A",
            integral="N/A",
            error=_one_line((c or {}).get("failure", "no code in the completion"), 200),
        ).strip()
    b = (c.get("comparison") or {}).get("b") or c.get("measurement") or {}
    med = _median(b)
    mem = b.get("peak_memory_bytes")
    integral = b.get("integral")
    passed = c.get("status") == "passed"
    return c["code"], render(
        "afterburner_feedback",
        passed=passed,
        time=f"{1000 * med:.2f} ms" if med else "N/A",
        memory=f"{mem / 1024:.1f} KB" if mem is not None else "N/A",
        integral=f"{integral / 1024:.2f} KB*s" if integral is not None else "N/A",
        error="" if passed else _one_line(c.get("failure", ""), 200),
    ).strip()


def refine(state: OptimizerState, runtime: Any) -> dict:
    """Build the next round's prompt from measured feedback on the best code so far."""
    ctx = _ctx(runtime)
    task, s, strategy = ctx.task, ctx.settings, ctx.strategy
    best_code, best, baseline = state["best_code"], state.get("best") or {}, state.get("baseline")
    if strategy.feedback == "none":
        return {"conversation": initial_conversation(task, strategy, s.goal), "suggested": []}
    if strategy.feedback == "paper":
        mine = [c for c in state.get("candidates") or [] if c.get("origin", "model") == "model"]
        last = mine[-1] if mine else None
        code, line = _paper_feedback(last)
        conv = refine_conversation(task, code or best_code, strategy, s.goal, feedback=line)
        return {"conversation": conv, "suggested": []}
    return _profile_conversation(ctx, state, best_code, best, baseline)


def _profile_conversation(
    ctx: RunContext, state: dict, best_code: str, best: dict, baseline: dict | None
) -> dict:
    """The prompt with measured feedback on `best_code`: hot lines, remedies, failures, history."""
    task, s, strategy = ctx.task, ctx.settings, ctx.strategy
    profile = Profile.from_dict(best.get("profile"))
    remedies = find_remedies(best_code, profile.lines, use_ruff=True, calls=profile.calls) if profile else []
    mem_ratio = _ratio(best.get("peak_memory_bytes"), (baseline or {}).get("peak_memory_bytes"))
    conv = refine_conversation(
        task,
        best_code,
        strategy,
        s.goal,
        best_is_original=state.get("best_round", 0) == 0,
        cpu_ratio=_ratio(_median(best), _median(baseline)),
        memory_ratio=mem_ratio,
        profile_text=profile.text() if profile else "",
        remedies=[render_remedy(r, best_code) for r in remedies],
        failures=state.get("failures", []),
        history=state.get("history", [])[-MAX_HISTORY_SHOWN:],
    )
    return {"conversation": conv, "suggested": [r.rule for r in remedies]}


def finish(state: OptimizerState, runtime: Any) -> dict:
    """Original vs best in one interleaved comparison; never return something worse than the original."""
    ctx = _ctx(runtime)
    task, s = ctx.task, ctx.settings
    best_code = state["best_code"]
    update: dict[str, Any] = {"final": None}
    if task.code and best_code and best_code != task.code:
        progress = _run_progress(ctx, "final")
        cmp = ctx.sandbox.compare(
            task,
            task.code,
            best_code,
            repeats=s.repeats,
            min_gain=s.min_gain,
            checked_a=_check_of(state.get("original_check")),
            checked_b=_check_of(state.get("best_check")),
            **progress,
        )
        update["final"] = cmp.to_dict()
        worse = (
            not cmp.b.ok
            or (s.goal == "time" and not (cmp.speedup >= 1.0))
            or (s.goal == "memory" and (cmp.memory_ratio or 1.0) > 1.0)
            or (s.goal == "both" and not (score(cmp, "both") >= 1.0))
        )
        if worse:  # the gains did not hold up against the original: keep the original
            update.update(
                best_code=task.code,
                best=state.get("baseline"),
                best_check=state.get("original_check"),
                best_round=0,
                best_speedup=1.0,
            )
    final = update["final"] or {}
    ctx.emit(
        "finished",
        stop_reason=state.get("stop_reason", ""),
        rounds=state.get("round", 0),
        speedup=final.get("speedup"),
        speedup_ci=final.get("speedup_ci"),
        improved=final.get("improved"),
        kept="original" if update.get("best_code", best_code) == task.code else "best",
    )
    return update
