"""The forward pass in numpy, recording every intermediate the visualization draws."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from .config import ModelConfig
from .errors import ModelError
from .families import family_of, trace_dims
from .ops import gelu  # noqa: F401  (public: model.gelu)
from .weights import Weights

LN_EPS = 1e-5  # GPT-2's LayerNorm eps (ModelConfig.norm_eps's default)


class Trace(Mapping):
    """Every tensor one forward pass computes, by DESIGN.md trace name (see `trace_shapes`)."""

    def __init__(self, config: ModelConfig, values: dict[str, np.ndarray]):
        self.config = config
        self._values = values

    def __getitem__(self, name: str) -> np.ndarray:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    @property
    def tokens(self) -> np.ndarray:
        return self._values["tokens"]


def trace_shapes(config: ModelConfig, t: int) -> dict[str, tuple[int, ...]]:
    """Name and shape of every Trace entry for `t` tokens, in computation order (the family's trace)."""
    dims = family_of(config).dims(config, t)
    return {name: tuple(dims[d] for d in dim.split()) for name, dim in trace_dims(config)}


def check_tokens(config: ModelConfig, tokens: Sequence[int] | np.ndarray) -> np.ndarray:
    """Tokens as an int64 array, or ModelError if empty, too long or outside the vocabulary."""
    arr = np.asarray(tokens)
    if arr.ndim != 1 or arr.size == 0:
        raise ModelError(f"tokens: expected a non-empty sequence of token ids, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ModelError(f"tokens: token ids must be integers, got {arr.dtype}")
    if arr.size > config.block_size:
        raise ModelError(f"tokens: {arr.size} tokens exceed block_size {config.block_size} of {config.name}")
    check_vocab(config, arr)
    return arr.astype(np.int64)


def check_vocab(config: ModelConfig, ids: Sequence[int] | np.ndarray) -> None:
    """ModelError naming the first id outside the vocabulary."""
    arr = np.asarray(ids)
    bad = arr[(arr < 0) | (arr >= config.vocab_size)]
    if bad.size:
        raise ModelError(f"tokens: id {int(bad[0])} is outside the vocabulary 0..{config.vocab_size - 1} "
                         f"of {config.name}")


def forward(weights: Weights, tokens: Sequence[int] | np.ndarray) -> Trace:
    """Run the model on one token sequence (len <= block_size) and return the full Trace."""
    cfg = weights.config
    idx = check_tokens(cfg, tokens)  # (T,)
    values: dict[str, np.ndarray] = {"tokens": idx}

    def record(name: str, value: np.ndarray) -> np.ndarray:
        values[name] = value
        return value

    family_of(cfg).forward(weights.params, cfg, idx, record)
    return Trace(cfg, values)
