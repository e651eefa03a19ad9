"""Benchmarks for the README table: `python scripts/bench.py forward|scene|animate|render|all`.

Each benchmark measures against its baseline in the same run and prints the ratio, since the
machines are noisy. Figures are best-of-N wall times.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """Smallest wall time of `repeat` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def row(name: str, seconds: float, goal: str = "", extra: str = "") -> None:
    print(f"| {name} | {seconds:.3f} s | {goal} | {extra} |", flush=True)


def bench_forward(repeat: int) -> None:
    """numpy forward with the full trace vs torch forward, GPT-2 small shapes, T=128, random weights."""
    import numpy as np
    import torch
    from torch_gpt import GPT

    from llmviz_blender import model

    config = model.load_preset("gpt2-small")
    weights = model.random_weights(config, seed=0)
    tokens = np.random.default_rng(0).integers(0, config.vocab_size, 128)
    gpt = GPT.from_weights(weights).eval()
    idx = torch.from_numpy(tokens)[None]

    def torch_forward() -> None:
        with torch.inference_mode():
            gpt(idx)

    t_numpy = best_of(lambda: model.forward(weights, tokens), repeat)
    t_torch = best_of(torch_forward, repeat)
    row("forward: numpy, full trace (GPT-2 small, T=128)", t_numpy)
    row("forward: torch, no trace (same weights)", t_torch)
    print(f"ratio numpy/torch: {t_numpy / t_torch:.2f}x (goal <= 1.5x); threads: torch {torch.get_num_threads()}",
          flush=True)


BENCHES = {"forward": bench_forward}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", choices=[*BENCHES, "all"])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per measurement (best is kept)")
    args = parser.parse_args(argv)
    print("| measurement | time | goal | note |\n|---|---|---|---|", flush=True)
    for name, bench in BENCHES.items():
        if args.which in (name, "all"):
            bench(args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
