"""How the first-round prompt fares: sample replies to it for a few suite tasks, run each in the sandbox.

    HF_HUB_OFFLINE=1 python benchmarks/first_round.py --skip 10 --tasks 6 --n 2 --max-new-tokens 256
    HF_HUB_OFFLINE=1 python benchmarks/first_round.py --model runs/grpo-0.5b-cpu      # a trained adapter

For each task, `--n` replies to `afterburner.prompts.initial_conversation(task, strategy)` (one batched
call for all tasks), each evaluated as the training reward does (`training.rewards.evaluate`: extract,
merge, check, measure against the starting code, confirm a significant difference interleaved). Prints
one line per reply (tokens, why generation stopped, the sandbox status, the speedup) and the totals:
how many replies were correct, significantly faster, the starting code again, cut off by the token
limit. This is the quick check for a prompt change; the benchmark proper is `afterburner bench`.
"""

from __future__ import annotations

import argparse
import time

from afterburner.llm import Sampling, get_backend
from afterburner.llm.base import DEFAULT_MODEL
from afterburner.prompts import initial_conversation
from training.data import load_tasks
from training.rewards import evaluate, get_sandbox


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="benchmarks/suites/dev")
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
    args = ap.parse_args()

    tasks = load_tasks([args.suite])[args.skip : args.skip + args.tasks]
    backend = get_backend("transformers", model=args.model)
    sandbox = get_sandbox(2, {"timeout_s": 10.0})
    t0 = time.perf_counter()
    replies = backend.generate(
        [initial_conversation(t.with_code("") if args.from_description else t, args.strategy) for t in tasks],
        n=args.n,
        sampling=Sampling(temperature=args.temperature, max_new_tokens=args.max_new_tokens),
    )
    print(f"generation: {time.perf_counter() - t0:.1f} s for {len(tasks)} tasks x {args.n}")
    correct = faster = cut = unchanged = 0
    for task, completions in zip(tasks, replies, strict=True):
        for c in completions:
            o = evaluate(sandbox, task, c.text, repeats=3)
            correct += o.passed
            faster += o.improved
            unchanged += o.status == "unchanged"
            cut += c.finish_reason == "length"
            speedup = f"{o.speedup:.2f}x{' significant' if o.improved else ''}" if o.speedup else "-"
            print(
                f"{task.name:45} {c.completion_tokens:4d} tok  {c.finish_reason:6}  {o.status:14} {speedup}"
            )
            if args.show_failures and not o.passed:
                print("    " + c.text[:600].replace("\n", "\n    "))
    total = sum(len(c) for c in replies)
    print(
        f"{correct}/{total} correct, {faster}/{total} significantly faster, {unchanged}/{total} the starting "
        f"code again (afterburner.program.same_program), {cut}/{total} cut off at the limit"
    )


if __name__ == "__main__":
    main()
