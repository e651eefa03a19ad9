"""The forward pass in numpy, recording every intermediate the visualization draws."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from .config import ModelConfig
from .errors import ModelError
from .weights import Weights

LN_EPS = 1e-5
_GELU_C = np.float32(np.sqrt(2.0 / np.pi))


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
    c, h, a, v = config.n_embd, config.n_head, config.head_size, config.vocab_size
    shapes: dict[str, tuple[int, ...]] = {"tokens": (t,), "tok_emb": (t, c), "pos_emb": (t, c), "x": (t, c)}

    def ln(p: str) -> None:
        shapes.update({f"{p}.mean": (t,), f"{p}.std": (t,), p: (t, c)})

    for i in range(config.n_layer):
        p = f"h{i}"
        ln(f"{p}.ln1")
        shapes.update({f"{p}.q": (h, t, a), f"{p}.k": (h, t, a), f"{p}.v": (h, t, a), f"{p}.att": (h, t, t),
                       f"{p}.att.max": (h, t), f"{p}.att.sumexp": (h, t), f"{p}.att_sm": (h, t, t),
                       f"{p}.y": (t, c), f"{p}.attn_proj": (t, c), f"{p}.attn_resid": (t, c)})
        ln(f"{p}.ln2")
        shapes.update({f"{p}.fc": (t, 4 * c), f"{p}.gelu": (t, 4 * c), f"{p}.mlp": (t, c),
                       f"{p}.mlp_resid": (t, c)})
    ln("ln_f")
    shapes.update({"logits": (t, v), "logits.max": (t,), "logits.sumexp": (t,), "probs": (t, v)})
    return shapes


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


def _linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """x @ weight.T + bias for an nn.Linear weight [out, in], the bias added in place."""
    y = x @ weight.T
    y += bias
    return y


def _layer_norm(out: dict, name: str, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1)
    centred = x - mean[:, None]
    std = np.sqrt((centred * centred).mean(axis=-1) + np.float32(LN_EPS))
    y = centred / std[:, None] * gamma + beta
    out[f"{name}.mean"], out[f"{name}.std"], out[name] = mean, std, y
    return y


def _softmax(out: dict, name: str, z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, recording its max and sum-exp aggregates under name.max/.sumexp."""
    zmax = z.max(axis=-1)
    e = z - zmax[..., None]
    np.exp(e, out=e)  # in place: the logits softmax is the largest array of the pass
    sumexp = e.sum(axis=-1)
    out[f"{name}.max"], out[f"{name}.sumexp"] = zmax, sumexp
    e /= sumexp[..., None]
    return e


def forward(weights: Weights, tokens: Sequence[int] | np.ndarray) -> Trace:
    """Run the model on one token sequence (len <= block_size) and return the full Trace."""
    cfg = weights.config
    idx = check_tokens(cfg, tokens)
    w = weights.params
    t, c, nh, a = idx.size, cfg.n_embd, cfg.n_head, cfg.head_size
    out: dict[str, np.ndarray] = {"tokens": idx}
    out["tok_emb"] = w["transformer.wte.weight"][idx]
    out["pos_emb"] = w["transformer.wpe.weight"][:t].copy()  # a copy: traces never alias weights
    x = out["x"] = out["tok_emb"] + out["pos_emb"]
    mask = np.triu(np.full((t, t), -np.inf, np.float32), k=1)  # added to the scores: -inf above the diagonal
    scale = np.float32(1.0 / np.sqrt(a))
    for i in range(cfg.n_layer):
        p, q = f"h{i}", f"transformer.h.{i}."
        h = _layer_norm(out, f"{p}.ln1", x, w[q + "ln_1.weight"], w[q + "ln_1.bias"])
        qkv = _linear(h, w[q + "attn.c_attn.weight"], w[q + "attn.c_attn.bias"])
        heads = qkv.reshape(t, 3, nh, a).transpose(1, 2, 0, 3)  # (3, nh, t, a)
        qh, kh, vh = (np.ascontiguousarray(m) for m in heads)
        out[f"{p}.q"], out[f"{p}.k"], out[f"{p}.v"] = qh, kh, vh
        att = qh @ kh.transpose(0, 2, 1)
        att *= scale
        att += mask
        out[f"{p}.att"] = att
        att_sm = out[f"{p}.att_sm"] = _softmax(out, f"{p}.att", att)
        y = out[f"{p}.y"] = (att_sm @ vh).transpose(1, 0, 2).reshape(t, c)
        proj = out[f"{p}.attn_proj"] = _linear(y, w[q + "attn.c_proj.weight"], w[q + "attn.c_proj.bias"])
        x = out[f"{p}.attn_resid"] = x + proj
        h = _layer_norm(out, f"{p}.ln2", x, w[q + "ln_2.weight"], w[q + "ln_2.bias"])
        fc = out[f"{p}.fc"] = _linear(h, w[q + "mlp.c_fc.weight"], w[q + "mlp.c_fc.bias"])
        g = out[f"{p}.gelu"] = gelu(fc)
        m = out[f"{p}.mlp"] = _linear(g, w[q + "mlp.c_proj.weight"], w[q + "mlp.c_proj.bias"])
        x = out[f"{p}.mlp_resid"] = x + m
    h = _layer_norm(out, "ln_f", x, w["transformer.ln_f.weight"], w["transformer.ln_f.bias"])
    logits = out["logits"] = h @ w["lm_head.weight"].T
    out["probs"] = _softmax(out, "logits", logits)
    return Trace(cfg, out)
