"""The forward pass in numpy, recording every intermediate the visualization draws."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from .config import ModelConfig
from .errors import ModelError
from .weights import Weights

LN_EPS = 1e-5
_GELU_C = np.float32(np.sqrt(2.0 / np.pi))

# Every trace name with its shape, in computation order, declared once: `trace_shapes` derives from it,
# `forward`'s trace is tested against it and the torch reference records under it. Dims: T tokens,
# C n_embd, nh n_head, A head size, V vocab. The block's names repeat per layer as h{i}.<name>.
_EMBEDDING_TRACE = {"tokens": "T", "tok_emb": "T C", "pos_emb": "T C", "x": "T C"}
_BLOCK_TRACE = {
    "ln1.mean": "T", "ln1.std": "T", "ln1": "T C",
    "q": "nh T A", "k": "nh T A", "v": "nh T A",
    "att": "nh T T", "att.max": "nh T", "att.sumexp": "nh T", "att_sm": "nh T T",
    "y": "T C", "attn_proj": "T C", "attn_resid": "T C",
    "ln2.mean": "T", "ln2.std": "T", "ln2": "T C",
    "fc": "T 4C", "gelu": "T 4C", "mlp": "T C", "mlp_resid": "T C",
}
_HEAD_TRACE = {"ln_f.mean": "T", "ln_f.std": "T", "ln_f": "T C",
               "logits": "T V", "logits.max": "T", "logits.sumexp": "T", "probs": "T V"}

Record = Callable[[str, np.ndarray], np.ndarray]


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
    """Name and shape of every Trace entry for `t` tokens, in computation order."""
    c = config.n_embd
    dims = {"T": t, "C": c, "4C": 4 * c, "nh": config.n_head, "A": config.head_size, "V": config.vocab_size}
    named = [*_EMBEDDING_TRACE.items(),
             *((f"h{i}.{name}", dim) for i in range(config.n_layer) for name, dim in _BLOCK_TRACE.items()),
             *_HEAD_TRACE.items()]
    return {name: tuple(dims[d] for d in dim.split()) for name, dim in named}


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


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU, tanh approximation (GPT-2 / minGPT): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))),
    evaluated in place on one temporary (a scalar in, a scalar out)."""
    x = np.asarray(x, np.float32)
    y = np.multiply(x, x, out=np.empty_like(x))
    y *= x
    y *= np.float32(0.044715)
    y += x
    y *= _GELU_C
    np.tanh(y, out=y)
    y += np.float32(1.0)
    y *= x
    y *= np.float32(0.5)
    return y[()] if y.ndim == 0 else y


class _Affine(NamedTuple):
    """An nn.Linear (weight [out, in]) or nn.LayerNorm (weight = gain) parameter pair."""

    weight: np.ndarray
    bias: np.ndarray


class _Block(NamedTuple):
    """One transformer block's parameters, bound once per layer from the minGPT keys in `_BLOCK_KEYS`."""

    ln_1: _Affine  # (C,) (C,)
    c_attn: _Affine  # (3C, C) (3C,)
    attn_proj: _Affine  # (C, C) (C,)
    ln_2: _Affine  # (C,) (C,)
    c_fc: _Affine  # (4C, C) (4C,)
    mlp_proj: _Affine  # (C, 4C) (C,)


# the minGPT module of each _Block field, in field order
_BLOCK_KEYS = ("ln_1", "attn.c_attn", "attn.c_proj", "ln_2", "mlp.c_fc", "mlp.c_proj")


def _bind(params: Mapping[str, np.ndarray], prefix: str) -> _Affine:
    return _Affine(params[prefix + ".weight"], params[prefix + ".bias"])


def _bind_block(params: Mapping[str, np.ndarray], i: int) -> _Block:
    return _Block(*(_bind(params, f"transformer.h.{i}.{key}") for key in _BLOCK_KEYS))


def _linear(x: np.ndarray, p: _Affine) -> np.ndarray:
    """x @ weight.T + bias, the bias added in place."""
    y = x @ p.weight.T  # (T, out)
    y += p.bias
    return y


def _layer_norm(record: Record, name: str, x: np.ndarray, p: _Affine) -> np.ndarray:
    """LayerNorm over the last axis, recording name.mean, name.std and the result under name."""
    mean = record(f"{name}.mean", x.mean(axis=-1))  # (T,)
    centred = x - mean[:, None]  # (T, C)
    std = record(f"{name}.std", np.sqrt((centred * centred).mean(axis=-1) + np.float32(LN_EPS)))  # (T,)
    y = centred / std[:, None]  # (T, C)
    y *= p.weight
    y += p.bias
    return record(name, y)


def _softmax(record: Record, name: str, z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, recording its max and sum-exp aggregates under name.max/.sumexp."""
    zmax = record(f"{name}.max", z.max(axis=-1))  # (nh, T) or (T,)
    e = z - zmax[..., None]  # (nh, T, T) or (T, V)
    np.exp(e, out=e)  # in place: the logits softmax is the largest array of the pass
    sumexp = record(f"{name}.sumexp", e.sum(axis=-1))  # (nh, T) or (T,)
    e /= sumexp[..., None]
    return e


def forward(weights: Weights, tokens: Sequence[int] | np.ndarray) -> Trace:
    """Run the model on one token sequence (len <= block_size) and return the full Trace."""
    cfg = weights.config
    idx = check_tokens(cfg, tokens)  # (T,)
    w = weights.params
    T, C, nh, A = idx.size, cfg.n_embd, cfg.n_head, cfg.head_size
    values: dict[str, np.ndarray] = {}

    def record(name: str, value: np.ndarray) -> np.ndarray:
        values[name] = value
        return value

    record("tokens", idx)
    tok_emb = record("tok_emb", w["transformer.wte.weight"][idx])  # (T, C) gathered: a copy
    pos_emb = record("pos_emb", w["transformer.wpe.weight"][:T].copy())  # (T, C) a copy: traces never alias weights
    x = record("x", tok_emb + pos_emb)  # (T, C)
    mask = np.triu(np.full((T, T), -np.inf, np.float32), k=1)  # (T, T) -inf above the diagonal
    scale = np.float32(1.0 / np.sqrt(A))
    for i in range(cfg.n_layer):
        block, p = _bind_block(w, i), f"h{i}."
        # causal self-attention
        h = _layer_norm(record, p + "ln1", x, block.ln_1)  # (T, C)
        qkv = _linear(h, block.c_attn).reshape(T, 3, nh, A).transpose(1, 2, 0, 3)  # (3, nh, T, A) a view
        q = record(p + "q", np.ascontiguousarray(qkv[0]))  # (nh, T, A)
        k = record(p + "k", np.ascontiguousarray(qkv[1]))  # (nh, T, A)
        v = record(p + "v", np.ascontiguousarray(qkv[2]))  # (nh, T, A)
        att = q @ k.transpose(0, 2, 1)  # (nh, T, T)
        att *= scale
        att += mask
        record(p + "att", att)
        att_sm = record(p + "att_sm", _softmax(record, p + "att", att))  # (nh, T, T)
        y = record(p + "y", (att_sm @ v).transpose(1, 0, 2).reshape(T, C))  # (T, C) heads side by side
        proj = record(p + "attn_proj", _linear(y, block.attn_proj))  # (T, C)
        x = record(p + "attn_resid", x + proj)  # (T, C)
        # MLP
        h = _layer_norm(record, p + "ln2", x, block.ln_2)  # (T, C)
        fc = record(p + "fc", _linear(h, block.c_fc))  # (T, 4C)
        g = record(p + "gelu", gelu(fc))  # (T, 4C)
        m = record(p + "mlp", _linear(g, block.mlp_proj))  # (T, C)
        x = record(p + "mlp_resid", x + m)  # (T, C)
    h = _layer_norm(record, "ln_f", x, _bind(w, "transformer.ln_f"))  # (T, C)
    logits = record("logits", h @ w["lm_head.weight"].T)  # (T, V)
    record("probs", _softmax(record, "logits", logits))  # (T, V)
    return Trace(cfg, values)
