"""Autoregressive generation (greedy or seeded sampling)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import ModelError
from .forward import Trace, check_tokens, forward
from .weights import Weights


@dataclass
class Generation:
    """`tokens`: input + generated ids; `traces`: the forward pass of each step, in order."""

    tokens: list[int]
    traces: list[Trace]

    @property
    def generated(self) -> list[int]:
        return self.tokens[len(self.tokens) - len(self.traces):]


def generate(weights: Weights, tokens: Sequence[int], steps: int, temperature: float = 0.0,
             seed: int | None = None) -> Generation:
    """Append `steps` tokens, one forward pass each (context cropped to block_size).

    temperature 0 picks the most likely token; above 0 samples softmax(logits / temperature)
    with numpy's generator seeded by `seed`.
    """
    cfg = weights.config
    seq = [int(t) for t in check_tokens(cfg, tokens)]
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ModelError(f"steps: must be a non-negative integer, got {steps!r}")
    if not np.isfinite(temperature) or temperature < 0:
        raise ModelError(f"temperature: must be >= 0, got {temperature!r}")
    rng = np.random.default_rng(seed)
    traces: list[Trace] = []
    for _ in range(steps):
        trace = forward(weights, seq[-cfg.block_size:])
        traces.append(trace)
        logits = trace["logits"][-1].astype(np.float64)
        if temperature == 0:
            nxt = int(np.argmax(logits))
        else:
            z = logits / temperature
            p = np.exp(z - z.max())
            nxt = int(rng.choice(p.size, p=p / p.sum()))
        seq.append(nxt)
    return Generation(seq, traces)
