"""The operations the families' forward passes are made of, in numpy float32: linear layers, the two
norms, softmax, GELU, SiLU and rotary positions. Each records its aggregates as the pictures draw them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np

_GELU_C = np.float32(np.sqrt(2.0 / np.pi))

Record = Callable[[str, np.ndarray], np.ndarray]


class Affine(NamedTuple):
    """An nn.Linear (weight [out, in]) or norm (weight = gain) parameter pair; bias None when absent."""

    weight: np.ndarray
    bias: np.ndarray | None


def bind(params: Mapping[str, np.ndarray], prefix: str) -> Affine:
    """The `prefix`.weight / `prefix`.bias pair (no bias when the file has none)."""
    return Affine(params[prefix + ".weight"], params.get(prefix + ".bias"))


def linear(x: np.ndarray, p: Affine) -> np.ndarray:
    """x @ weight.T (+ bias, added in place)."""
    y = x @ p.weight.T  # (T, out)
    if p.bias is not None:
        y += p.bias
    return y


def layer_norm(record: Record, name: str, x: np.ndarray, p: Affine, eps: float) -> np.ndarray:
    """LayerNorm over the last axis, recording name.mean, name.std = sqrt(var + eps) and the result."""
    mean = record(f"{name}.mean", x.mean(axis=-1))  # (T,)
    centred = x - mean[:, None]  # (T, C)
    std = record(f"{name}.std", np.sqrt((centred * centred).mean(axis=-1) + np.float32(eps)))  # (T,)
    y = centred / std[:, None]  # (T, C)
    y *= p.weight
    y += p.bias
    return record(name, y)


def rms_norm(record: Record, name: str, x: np.ndarray, p: Affine, eps: float) -> np.ndarray:
    """RMSNorm over the last axis (no mean taken away, no bias), recording name.rms = sqrt(mean(x^2) + eps)
    and the result x / rms * gain."""
    rms = record(f"{name}.rms", np.sqrt((x * x).mean(axis=-1) + np.float32(eps)))  # (T,)
    y = x / rms[:, None]  # (T, C)
    y *= p.weight
    return record(name, y)


def softmax(record: Record, name: str, z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, recording its max and sum-exp aggregates under name.max/.sumexp."""
    zmax = record(f"{name}.max", z.max(axis=-1))  # (nh, T) or (T,)
    e = z - zmax[..., None]  # (nh, T, T) or (T, V)
    np.exp(e, out=e)  # in place: the logits softmax is the largest array of the pass
    sumexp = record(f"{name}.sumexp", e.sum(axis=-1))  # (nh, T) or (T,)
    e /= sumexp[..., None]
    return e


def lm_head(record: Record, h: np.ndarray, weight: np.ndarray) -> None:
    """The LM head on the final norm's output h (T, C): logits = h @ weight.T (T, V), recorded with their
    softmax (probs) and its aggregates."""
    logits = record("logits", h @ weight.T)  # (T, V)
    record("probs", softmax(record, "logits", logits))  # (T, V)


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


def silu(x: np.ndarray) -> np.ndarray:
    """SiLU (swish): x * sigmoid(x) = x / (1 + exp(-x)) (a scalar in, a scalar out)."""
    x = np.asarray(x, np.float32)
    with np.errstate(over="ignore"):  # exp(-x) overflows to inf for very negative x: the result is -0
        y = x / (np.float32(1.0) + np.exp(-x))
    return y[()] if y.ndim == 0 else y


def attention(record: Record, p: str, q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Causal attention of q (nh, T, A) over k, v (n_kv, T, A): query head h reads K/V head
    h // (nh / n_kv) (grouped-query attention; n_kv = nh is GPT-2's). Records p+att (masked scores),
    its softmax aggregates and p+att_sm; returns the heads' outputs side by side (T, nh * A)."""
    nh, T, A = q.shape
    group = nh // k.shape[0]
    kh, vh = (k, v) if group == 1 else (np.repeat(k, group, axis=0), np.repeat(v, group, axis=0))  # (nh, T, A)
    att = q @ kh.transpose(0, 2, 1)  # (nh, T, T)
    att *= np.float32(1.0 / np.sqrt(A))
    att += np.triu(np.full((T, T), -np.inf, np.float32), k=1)  # -inf above the diagonal
    record(p + "att", att)
    att_sm = record(p + "att_sm", softmax(record, p + "att", att))  # (nh, T, T)
    return (att_sm @ vh).transpose(1, 0, 2).reshape(T, nh * A)  # (T, C) heads side by side


def rotate_half(x: np.ndarray) -> np.ndarray:
    """cat(-x[d/2:], x[:d/2]) on the last axis: element j pairs with j + d/2, as transformers rotates."""
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def rotate(x: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotary positions: x (heads, T, A) rotated pairwise by angle (T, A/2):
    x * cos(cat(angle, angle)) + rotate_half(x) * sin(cat(angle, angle))."""
    full = np.concatenate([angle, angle], axis=-1)  # (T, A)
    return x * np.cos(full) + rotate_half(x) * np.sin(full)


def inv_freq(head_size: int, theta: float, scaling: Mapping[str, object] | None = None) -> np.ndarray:
    """The rotation speed of each pair (A/2,): theta^(-2j/A), rescaled as `scaling` says (rope types
    "default", "linear" and Llama 3's "llama3", as transformers computes them)."""
    freq = 1.0 / theta ** (np.arange(0, head_size, 2, dtype=np.float64) / head_size)
    kind = (scaling or {}).get("rope_type", (scaling or {}).get("type", "default"))
    if kind == "linear":
        freq = freq / float(scaling["factor"])
    elif kind == "llama3":
        factor, low, high = (float(scaling[k]) for k in ("factor", "low_freq_factor", "high_freq_factor"))
        old = float(scaling["original_max_position_embeddings"])
        wavelen = 2 * np.pi / freq
        scaled = np.where(wavelen > old / low, freq / factor, freq)
        smooth = (old / wavelen - low) / (high - low)
        medium = (wavelen >= old / high) & (wavelen <= old / low)
        freq = np.where(medium, (1 - smooth) * scaled / factor + smooth * scaled, scaled)
    return freq.astype(np.float32)


ROPE_TYPES = ("default", "linear", "llama3")  # the rope_scaling types inv_freq computes
