"""Autoregressive generation (greedy or seeded sampling) and text <-> token ids."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .config import ModelConfig
from .errors import ModelError
from .forward import Trace, check_tokens, check_vocab, forward
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


def encode(config: ModelConfig, text: str) -> list[int]:
    """Text -> token ids: letters of the vocabulary (spaces ignored), or ids written as numbers."""
    if config.vocab is not None and not re.fullmatch(r"[\d\s,]+", text or ""):
        ids = []
        for ch in text:
            if ch.isspace():
                continue
            if ch not in config.vocab:
                raise ModelError(f"tokens: '{ch}' is not in the vocabulary {''.join(config.vocab)} of {config.name}")
            ids.append(config.vocab.index(ch))
        if not ids:
            raise ModelError("tokens: input is empty")
        return ids
    parts = [p for p in re.split(r"[\s,]+", text.strip()) if p]
    if not parts:
        raise ModelError("tokens: input is empty")
    ids = []
    for part in parts:
        if not part.isdigit():
            raise ModelError(f"tokens: '{part}' is not a token id (write ids as numbers separated by spaces)")
        ids.append(int(part))
    check_vocab(config, ids)
    return ids


def decode(config: ModelConfig, ids: Sequence[int]) -> str:
    """Token ids -> text: letters for a letter vocabulary, else ids separated by spaces."""
    ids = [int(i) for i in ids]
    check_vocab(config, ids)
    if config.vocab is not None:
        return "".join(config.vocab[i] for i in ids)
    return " ".join(str(i) for i in ids)
