"""Throughput of the LLM backends on the default model: tokens/s for n=1 and n=8, and time to load.

    HF_HUB_OFFLINE=1 python benchmarks/llm.py                         # transformers + openai (transformers serve)
    HF_HUB_OFFLINE=1 python benchmarks/llm.py --backend transformers --max-new-tokens 128
    VLLM_CPU_KVCACHE_SPACE=2 OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 \\
        /work/vllm-venv/bin/python benchmarks/llm.py --backend vllm

For each backend: the time from nothing to a loaded model (openai: starting `transformers serve` on
127.0.0.1 until it answers /health), then one warm-up call, then `--repeats` rounds of, for each n,
one call of ``generate([conversation], n)`` timed by the wall clock; tokens/s = completion tokens
(as the backend counts them) / seconds, the best of the rounds (the machine is shared: the best run
is the one least disturbed). Prints a table and, with --json, writes every run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from afterburner.llm import Sampling, get_backend

MODEL = "Qwen/Qwen2.5-Coder-0.5B-Instruct"
PROMPT = [
    {"role": "system", "content": "You are an expert Python programmer."},
    {
        "role": "user",
        "content": "Write an efficient Python implementation of merge sort, with a docstring and comments.",
    },
]


def _available(name: str) -> bool:
    module = {"transformers": "transformers", "vllm": "vllm", "openai": "transformers"}[name]
    try:
        __import__(module)
    except ImportError:
        return False
    return name != "openai" or Path(sys.executable).with_name("transformers").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_transformers_serve(model: str, continuous_batching: bool) -> tuple[subprocess.Popen, str]:
    import httpx

    port = _free_port()
    cmd = [str(Path(sys.executable).with_name("transformers")), "serve", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), model]
    if continuous_batching:
        cmd.append("--continuous-batching")
    proc = subprocess.Popen(
        cmd,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"transformers serve exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc, f"http://127.0.0.1:{port}/v1"
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    _stop(proc)
    raise SystemExit("transformers serve did not become ready in 300 s")


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def bench(name: str, args: argparse.Namespace) -> dict:
    proc = None
    t0 = time.perf_counter()
    if name == "openai":
        proc, url = _start_transformers_serve(args.model, args.continuous_batching)
        backend = get_backend("openai", model=args.model, base_url=url, api_key="none", concurrency=8)
    elif name == "vllm":
        backend = get_backend("vllm", model=args.model)
    else:
        backend = get_backend(name, model=args.model, dtype=args.dtype)
    try:
        backend.generate([PROMPT], n=1, sampling=Sampling(max_new_tokens=4, seed=0))  # warm-up
        load_s = time.perf_counter() - t0
        row: dict = {"backend": name, "model": args.model, "load_s": round(load_s, 1)}
        runs: dict[int, list[dict]] = {n: [] for n in args.n}
        for r in range(args.repeats):  # interleaved, so that a burst of load hits both settings alike
            for n in args.n:
                sampling = Sampling(temperature=0.7, top_p=0.95, max_new_tokens=args.max_new_tokens, seed=r)
                t = time.perf_counter()
                [completions] = backend.generate([PROMPT], n=n, sampling=sampling)
                dt = time.perf_counter() - t
                tokens = sum(c.completion_tokens for c in completions)
                runs[n].append(
                    {"seconds": round(dt, 2), "tokens": tokens, "tok_per_s": round(tokens / dt, 1)}
                )
                print(f"  {name} n={n}: {tokens} tokens in {dt:.1f} s = {tokens / dt:.1f} tok/s", flush=True)
        for n in args.n:
            best = max(runs[n], key=lambda x: x["tok_per_s"])
            row[f"n{n}"] = {**best, "runs": runs[n]}
        if len(args.n) >= 2:
            lo, hi = row[f"n{args.n[0]}"]["tok_per_s"], row[f"n{args.n[-1]}"]["tok_per_s"]
            row["speedup"] = round(hi / lo, 2) if lo else None
        return row
    finally:
        if proc is not None:
            _stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", choices=["transformers", "openai", "vllm"])
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--n", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3, help="runs per n; the best is reported")
    parser.add_argument("--dtype", default="auto", help="transformers backend only")
    parser.add_argument("--threads", type=int, help="torch threads for the transformers backend")
    parser.add_argument("--continuous-batching", action="store_true", help="for transformers serve")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    names = args.backend or [b for b in ("transformers", "openai", "vllm") if _available(b)]
    load = os.getloadavg()[0]
    print(f"model {args.model}, max_new_tokens {args.max_new_tokens}, cpus {os.cpu_count()}, load {load:.1f}")
    rows = []
    for name in names:
        print(f"{name}:", flush=True)
        rows.append(bench(name, args))
    print(
        f"\n{'backend':<14}{'load s':>8}"
        + "".join(f"{'n=' + str(n) + ' tok/s':>14}" for n in args.n)
        + "  ratio"
    )
    for r in rows:
        cells = "".join(f"{r[f'n{n}']['tok_per_s']:>14}" for n in args.n)
        print(f"{r['backend']:<14}{r['load_s']:>8}{cells}  {r.get('speedup', '')}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":  # vLLM starts its engine in a child process
    main()
