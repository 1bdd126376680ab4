"""How the first-round prompt fares: sample replies to it for a few suite tasks, run each in the sandbox.

    HF_HUB_OFFLINE=1 python benchmarks/first_round.py --skip 10 --tasks 6 --n 2 --max-new-tokens 256
    HF_HUB_OFFLINE=1 python benchmarks/first_round.py --model runs/grpo-0.5b-cpu      # a trained adapter

For each task, `--n` replies to `afterburner.prompts.initial_conversation(task, strategy)` (one batched
call per task), each evaluated as the training reward does (`training.rewards.evaluate`: extract,
merge, check, measure against the starting code, confirm a significant difference interleaved). Prints
one line per reply (tokens, why generation stopped, the sandbox status, the speedup) and the totals:
how many replies were correct, significantly faster, the starting code again, cut off by the token
limit. This is the quick check for a prompt change; the benchmark proper is `afterburner bench`.

    HF_HUB_OFFLINE=1 nice -n 10 python benchmarks/first_round.py --suite benchmarks/suites/real --skip 0 \
        --tasks 10 --n 2 --max-new-tokens 512 --before d681240 --format-only

    HF_HUB_OFFLINE=1 python benchmarks/first_round.py --suite benchmarks/suites/real --split test --skip 0 \
        --tasks 1000 --n 4 --model runs/two-stage/stage1-sft --json runs/two-stage/first_round_stage1.json

`--split test` takes the test half of a suite in halves (the tasks training never sees). Each reply
gets one verdict (`training.rewards.Outcome.verdict`): format error, the code again, wrong, correct
(not significantly faster), significantly faster; `--json FILE` writes their counts and one line per
reply, for the tables of docs/training.md. It is resumable: each finished task's replies are appended to
`FILE.part.jsonl`, and a run with the same `--json`, `--model`, `--n` and `--max-new-tokens` skips
those tasks.

`--before REV` samples the same tasks twice in one run: with the prompt templates of commit REV and the
reply prefilled as that commit's `reply_start.j2` starts it (none before it had one: no prefill;
"before"), then with today's templates and prefill ("after", as the optimizer does), and prints the
share of format errors (no function named like the target could be taken out of the reply and merged
into its module) of each. `--format-only` skips the sandbox: extraction, merge, and whether the code is
the starting code again (`afterburner.program.same_program`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import jinja2

import afterburner.prompts as prompts
from afterburner.agent.strategies import get_strategy
from afterburner.llm import Sampling, extract_code, get_backend, merge_into_module
from afterburner.llm.base import DEFAULT_MODEL
from afterburner.program import same_program
from afterburner.prompts import initial_conversation, reply_start
from training.data import load_tasks
from training.rewards import VERDICTS, evaluate, get_sandbox

VERDICT_LABELS = {
    "format_error": "format error",
    "unchanged": "the code again",
    "wrong": "wrong",
    "correct": "correct",
    "faster": "significantly faster",
}


@contextlib.contextmanager
def templates_of(rev: str) -> Iterator[None]:
    """Render prompts with the templates of commit `rev` (read with git show) while inside."""
    root = Path(__file__).resolve().parents[1]
    names = subprocess.run(
        ["git", "ls-tree", "--name-only", rev, "prompts/"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    with tempfile.TemporaryDirectory() as d:
        for name in names:
            text = subprocess.run(["git", "show", f"{rev}:{name}"], cwd=root, capture_output=True, text=True)
            (Path(d) / Path(name).name).write_text(text.stdout)
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(d), undefined=jinja2.StrictUndefined, autoescape=False
        )
        real = prompts._env
        prompts._env = lambda: env
        try:
            yield
        finally:
            prompts._env = real


def format_outcome(task, text: str) -> str:
    """format_error, unchanged or new: what the optimizer's evaluate node decides before the sandbox."""
    ext = extract_code(text, task.entry_point)
    if not ext.ok:
        return "format_error"
    try:
        code = merge_into_module(task.code, ext.code, task.entry_point) if task.code else ext.code
    except (SyntaxError, ValueError):
        return "format_error"
    return "unchanged" if task.code and same_program(code, task.code) else "new"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="benchmarks/suites/dev")
    ap.add_argument(
        "--split",
        choices=("train", "test"),
        default=None,
        help="only this half of a suite in halves (the real suite's test half: held out from training)",
    )
    ap.add_argument(
        "--skip", type=int, default=10, help="leave out the first N tasks (default: the held-out 10)"
    )
    ap.add_argument("--tasks", type=int, default=6)
    ap.add_argument("--n", type=int, default=2, help="replies per task")
    ap.add_argument("--strategy", default="default")
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--temperature", type=float, default=0.9)
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument(
        "--from-description",
        action="store_true",
        help="leave the starting code out of the prompt: the model writes the function from the problem text",
    )
    ap.add_argument("--show-failures", action="store_true", help="print the start of every failed reply")
    ap.add_argument(
        "--before",
        metavar="REV",
        help="also sample with the prompts of commit REV and no prefill, and compare",
    )
    ap.add_argument("--format-only", action="store_true", help="no sandbox: extraction, merge, echo only")
    ap.add_argument("--json", metavar="FILE", help="also write the verdicts' counts and the replies as JSON")
    args = ap.parse_args()
    if args.before or args.format_only:
        return compare_formats(args)

    tasks = _tasks(args)
    backend = get_backend("transformers", model=args.model)
    sandbox = get_sandbox(2, {"timeout_s": 10.0})
    sampling = Sampling(temperature=args.temperature, max_new_tokens=args.max_new_tokens)
    settings = {"model": args.model, "n": args.n, "max_new_tokens": args.max_new_tokens}
    done = _done_lines(args.json, settings)
    lines = [x for t in tasks for x in done.get(t.name, [])]
    t0 = time.perf_counter()
    for i, task in enumerate(tasks, 1):
        if task.name in done:
            print(f"[{i}/{len(tasks)}] {task.name}: done before ({_part(args.json)})")
            continue
        start = task.with_code("") if args.from_description else task
        t1 = time.perf_counter()
        (completions,) = backend.generate(
            [initial_conversation(start, args.strategy)], n=args.n, sampling=sampling
        )
        gen = time.perf_counter() - t1
        rows = []
        for c in completions:
            o = evaluate(sandbox, task, c.text, repeats=3)
            speedup = f"{o.speedup:.2f}x{' significant' if o.improved else ''}" if o.speedup else "-"
            print(
                f"{task.name:45} {c.completion_tokens:4d} tok  {c.finish_reason:6}  {o.status:14} {speedup}"
            )
            rows.append(
                {"task": task.name, "tokens": c.completion_tokens, "finish_reason": c.finish_reason,
                 "status": o.status, "verdict": o.verdict, "speedup": o.speedup}
            )  # fmt: skip
            if args.show_failures and not o.passed:
                print("    " + c.text[:600].replace("\n", "\n    "))
        lines += rows
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            with open(_part(args.json), "a") as f:
                f.write(json.dumps({"task": task.name, **settings, "lines": rows}) + "\n")
        print(
            f"[{i}/{len(tasks)}] {task.name}: generation {gen:.0f} s, {time.perf_counter() - t0:.0f} s so far"
        )
    total = len(lines)
    verdicts = {v: sum(x["verdict"] == v for x in lines) for v in VERDICTS}
    cut = sum(x["finish_reason"] == "length" for x in lines)
    print(
        f"{verdicts['correct'] + verdicts['faster']}/{total} correct and new, {verdicts['faster']}/{total} "
        f"significantly faster, {verdicts['unchanged']}/{total} the starting code again "
        f"(afterburner.program.same_program), {cut}/{total} cut off at the limit"
    )
    print("verdicts: " + ", ".join(f"{VERDICT_LABELS[v]} {verdicts[v]}/{total}" for v in VERDICTS))
    if args.json:
        summary = {
            "model": args.model, "suite": args.suite, "split": args.split, "tasks": [t.name for t in tasks],
            "n": args.n, "max_new_tokens": args.max_new_tokens, "temperature": args.temperature,
            "replies": total, "verdicts": verdicts, "cut_off": cut, "lines": lines,
        }  # fmt: skip
        Path(args.json).write_text(json.dumps(summary, indent=1))


def _part(json_file: str | None) -> Path:
    """Where the replies of finished tasks are kept while a `--json` run goes on (one line per task)."""
    return Path(f"{json_file}.part.jsonl")


def _done_lines(json_file: str | None, settings: dict) -> dict[str, list[dict]]:
    """The replies of the tasks an interrupted run with the same `--json` and `settings` finished:
    task -> lines."""
    if not json_file:
        return {}
    part = _part(json_file)
    done = {}
    for line in part.read_text().splitlines() if part.is_file() else []:
        with contextlib.suppress(json.JSONDecodeError):  # a line cut by the interruption
            rec = json.loads(line)
            if all(rec.get(k, v) == v for k, v in settings.items()):
                done[rec["task"]] = rec["lines"]
    return done


def _tasks(args: argparse.Namespace) -> list:
    """The tasks to sample: of `--suite` (its `--split` half), from `--skip`, at most `--tasks`."""
    tasks = load_tasks([args.suite], split=args.split)
    if args.split and not any(t.metadata.get("split") for t in tasks):
        raise SystemExit(f"{args.suite} has no train/test split (no task has metadata.split)")
    return tasks[args.skip : args.skip + args.tasks]


def _prefilled(tasks: list, strategy, starts: list[str]) -> tuple[list, list[str]]:
    """Each task's first-round conversation, its reply started with `starts` (where not "")."""
    convs = [initial_conversation(t, strategy) for t in tasks]
    return [
        [*c, {"role": "assistant", "content": p}] if p else c for c, p in zip(convs, starts, strict=True)
    ], starts


def compare_formats(args: argparse.Namespace) -> None:
    tasks = _tasks(args)
    backend = get_backend("transformers", model=args.model)
    strategy = get_strategy(args.strategy)
    sampling = Sampling(temperature=args.temperature, max_new_tokens=args.max_new_tokens, stop=strategy.stop)
    variants: dict[str, tuple[list, list[str]]] = {}
    if args.before:
        with templates_of(args.before):
            try:  # the reply's start as that commit prefilled it; none before it had reply_start.j2
                starts = [reply_start(t, strategy) for t in tasks]
            except jinja2.TemplateNotFound:
                starts = [""] * len(tasks)
            label = f"before ({args.before}{'' if any(starts) else ', no prefill'})"
            variants[label] = _prefilled(tasks, strategy, starts)
    variants["after (prefilled)"] = _prefilled(tasks, strategy, [reply_start(t, strategy) for t in tasks])
    totals = {}
    for label, (conversations, prefills) in variants.items():
        t0 = time.perf_counter()
        counts = {"format_error": 0, "unchanged": 0, "new": 0}
        cut = tokens = 0
        rows = backend.generate(conversations, n=args.n, sampling=sampling)  # one batched call
        for task, row, prefill in zip(tasks, rows, prefills, strict=True):
            for c in row:
                text = prefill + c.text + ((c.extra or {}).get("stopped_by") or "")
                outcome = format_outcome(task, text)
                counts[outcome] += 1
                cut += c.finish_reason == "length"
                tokens += c.completion_tokens
                print(
                    f"{label[:6]:6} {task.name:32} {c.completion_tokens:4d} tok  {c.finish_reason:6}  {outcome}"
                )
                if args.show_failures and outcome == "format_error":
                    print("    " + text[:400].replace("\n", "\n    "))
        n = sum(counts.values())
        totals[label] = (counts, n, cut, tokens, time.perf_counter() - t0)
    for label, (counts, n, cut, tokens, secs) in totals.items():
        print(
            f"{label}: {counts['format_error']}/{n} format errors ({100 * counts['format_error'] / n:.0f}%), "
            f"{counts['unchanged']}/{n} the starting code again, {counts['new']}/{n} new code; "
            f"{cut}/{n} cut off at {args.max_new_tokens} tokens; {tokens / n:.0f} tokens per reply; "
            f"{secs / 60:.1f} min"
        )


if __name__ == "__main__":
    main()
