"""Autoregressive generation: greedy, or seeded sampling with temperature, top-k and top-p (nucleus)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Real

import numpy as np

from .errors import ModelError
from .forward import Trace, check_tokens, forward
from .weights import Weights

#: how many of the most likely tokens a Choice lists
CANDIDATES = 10


@dataclass(frozen=True)
class Choice:
    """One step's pick: the distribution it was drawn from and the token chosen.

    `probs` (V,) float64 is softmax(logits / temperature) (temperature 1 when greedy) with the tokens
    top-k / top-p drop set to 0 and the rest renormalised to sum 1. `candidates` are the most likely
    kept tokens, best first, as (id, probability). Sampling walks all kept tokens in that order,
    adding up their probabilities, and picks the first whose running total passes `draw` (uniform in
    [0, 1)); greedy picks the most likely token and has no draw.
    """

    token: int
    probability: float
    probs: np.ndarray
    candidates: list[tuple[int, float]]
    kept: int
    draw: float | None = None


@dataclass
class Generation:
    """`tokens`: input + generated ids; `traces`: the forward pass of each step, in order;
    `choices`: how each step's token was picked."""

    tokens: list[int]
    traces: list[Trace]
    choices: list[Choice] = field(default_factory=list)

    @property
    def generated(self) -> list[int]:
        return self.tokens[len(self.tokens) - len(self.traces):]


def _check(steps, temperature, top_k, top_p, seed) -> None:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ModelError(f"steps: must be a non-negative integer, got {steps!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, Real) or not np.isfinite(temperature) \
            or temperature < 0:
        raise ModelError(f"temperature: must be a number >= 0, got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ModelError(f"top_k: must be a positive integer or None, got {top_k!r}")
    if top_p is not None and (isinstance(top_p, bool) or not isinstance(top_p, Real) or not 0 < top_p <= 1):
        raise ModelError(f"top_p: must be a number in (0, 1] or None, got {top_p!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ModelError(f"seed: must be a non-negative integer or None, got {seed!r}")


def choose(logits: np.ndarray, temperature: float = 0.0, top_k: int | None = None, top_p: float | None = None,
           rng: np.random.Generator | None = None) -> Choice:
    """Pick the next token from one row of logits (V,); `rng` draws when temperature > 0."""
    z = np.asarray(logits, np.float64)
    if temperature > 0:
        z = z / temperature
    order = np.argsort(-z, kind="stable")  # best first; ties keep the lower id first
    if top_k is not None:
        order = order[:top_k]
    p = np.exp(z[order] - z[order[0]])
    p /= p.sum()
    if top_p is not None:
        keep = int(np.searchsorted(np.cumsum(p), top_p, side="left")) + 1  # smallest set reaching top_p
        order, p = order[:keep], p[:keep] / p[:keep].sum()
    probs = np.zeros(z.size)
    probs[order] = p
    draw, pick = None, 0
    if temperature > 0:
        draw = float((rng or np.random.default_rng()).random())
        pick = min(int(np.searchsorted(np.cumsum(p), draw, side="right")), p.size - 1)
    candidates = [(int(i), float(q)) for i, q in zip(order[:CANDIDATES], p[:CANDIDATES])]
    return Choice(int(order[pick]), float(p[pick]), probs, candidates, int(order.size), draw)


def generate(weights: Weights, tokens: Sequence[int], steps: int, temperature: float = 0.0,
             top_k: int | None = None, top_p: float | None = None, seed: int | None = None) -> Generation:
    """Append `steps` tokens, one forward pass each (context cropped to block_size).

    temperature 0 picks the most likely token; above 0 samples softmax(logits / temperature), kept
    to the `top_k` most likely tokens and then to the smallest set whose probability reaches `top_p`,
    with numpy's generator seeded by `seed`.
    """
    cfg = weights.config
    seq = [int(t) for t in check_tokens(cfg, tokens)]
    _check(steps, temperature, top_k, top_p, seed)
    rng = np.random.default_rng(seed)
    traces: list[Trace] = []
    choices: list[Choice] = []
    for _ in range(steps):
        trace = forward(weights, seq[-cfg.block_size:])
        choice = choose(trace["logits"][-1], temperature, top_k, top_p, rng)
        traces.append(trace)
        choices.append(choice)
        seq.append(choice.token)
    return Generation(seq, traces, choices)
