"""Close-ups: one value being computed, with the cells it comes from and its numbers (data only;
the scene draws them)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..layout import formula
from ..layout.formula import TERMS, num, precise
from ..model.ops import inv_freq
from .facts import Facts

Cell = tuple[str, int, int]  # (block key, row, col)
KINDS = ("embedding_sum", "q_value", "attention_row", "mlp_value", "rotary_pair", "gated_value")


@dataclass
class CloseUp:
    """One value computed in close-up: `target` cell, the `sources` cells it reads, the numbers
    involved (`numbers`, float64 arrays by role), the resulting `value` and a `formula` text."""

    frame_start: int
    frame_end: int
    kind: str  # one of KINDS
    target: Cell
    sources: list[Cell]
    numbers: dict[str, np.ndarray]
    value: float
    formula: str


def _column(key: str, n: int, col: int) -> list[Cell]:
    return [(key, i, col) for i in range(n)]


def _row(key: str, row: int, n: int) -> list[Cell]:
    return [(key, row, j) for j in range(n)]


def embedding_sum(facts: Facts, t: int) -> CloseUp:
    """Input column t = token embedding column of token t + position embedding column t."""
    c = facts.config.n_embd
    tok = facts.tokens[t]
    te = facts.trace["tok_emb"][t].astype(np.float64)
    pe = facts.trace["pos_emb"][t].astype(np.float64)
    x = facts.cells("x", np.arange(c), t)
    rows = ", ".join(formula.add(a, b, s) for a, b, s in zip(te[:TERMS], pe[:TERMS], x))
    text = facts.lang.tr("x = token column + position column: {sums}", sums=rows + (", ..." if c > TERMS else ""))
    sources = [("tokens", 0, t), *_column("wte", c, tok), *_column("wpe", c, t)]
    return CloseUp(0, 0, "embedding_sum", ("x", 0, t), sources,
                   {"token_embedding": te, "position_embedding": pe, "sum": x}, float(x[0]), text)


def _matmul_cell(facts: Facts, weight: str, bias: str, inputs: str, out: str, row: int, t: int):
    """One cell of a matmul block (inputs are C tall): its weight row, input column, bias (None when
    the layout has no such block), value, and the cells it reads."""
    c = facts.config.n_embd
    w = facts.cells(weight, row, np.arange(c))
    x = facts.cells(inputs, np.arange(c), t)
    value = facts.cell(out, row, t)
    sources = [*_row(weight, row, c), *_column(inputs, c, t)]
    if bias not in facts.layout.by_key:
        return w, x, None, value, sources
    return w, x, facts.cell(bias, row, 0), value, [*sources, (bias, row, 0)]


def q_value(facts: Facts, layer: int, head: int, row: int, t: int) -> CloseUp:
    """Q[row, t] of one head = bias[row] + sum_i W[row, i] * ln1[i, t] (no bias where the model has none)."""
    p = f"h{layer}.head{head}."
    w, x, b, q, sources = _matmul_cell(facts, f"{p}q_weight", f"{p}q_bias", f"h{layer}.ln1", f"{p}q", row, t)
    numbers = {"weights": w, "inputs": x, "value": np.float64(q)}
    if b is not None:
        numbers["bias"] = np.float64(b)
    return CloseUp(0, 0, "q_value", (f"{p}q", row, t), sources, numbers, q,
                   f"q = {'' if b is None else 'b + '}sum w*x = {formula.dot(w, x, q, b)}")


def attention_row(facts: Facts, layer: int, head: int, row: int) -> CloseUp:
    """Row `row` of one head's attention: scores q.k / sqrt(A), the mask, max, sum-exp, softmax."""
    a, t = facts.config.head_size, facts.t
    p = f"h{layer}.head{head}."
    q_key, k_key = facts.layout[f"{p}att"].reads  # the query and the keys it reads (rotated; shared by a group)
    q = facts.cells(q_key, np.arange(a), row)
    keys = facts.cells(k_key, np.arange(a)[None, :], np.arange(row + 1)[:, None])  # (row+1, A)
    scores = np.full(t, -np.inf)
    scores[:row + 1] = facts.cells(f"{p}att", row, np.arange(row + 1))
    soft = np.zeros(t)
    soft[:row + 1] = facts.cells(f"{p}att_sm", row, np.arange(row + 1))
    top = int(np.argmax(soft))
    zmax, sumexp = facts.cell(f"{p}att.max", row, 0), facts.cell(f"{p}att.sumexp", row, 0)
    masked = facts.lang.tr("masked")
    shown = ", ".join(num(s) if j <= row else masked for j, s in enumerate(scores))
    weights = ", ".join(num(s) for s in soft)
    text = facts.lang.tr("scores = q.k / sqrt({a}) = [{scores}]; max {max}; sum of exp(score - max) {sumexp}; "
                         "softmax = [{weights}]", a=a, scores=shown, max=precise(zmax), sumexp=precise(sumexp),
                         weights=weights)
    sources = [*_column(q_key, a, row), *(cell for j in range(row + 1) for cell in _column(k_key, a, j)),
               *_row(f"{p}att", row, row + 1)]
    numbers = {"query": q, "keys": keys, "scale": np.float64(math.sqrt(a)), "scores": scores,
               "max": np.float64(zmax), "sumexp": np.float64(sumexp), "softmax": soft}
    return CloseUp(0, 0, "attention_row", (f"{p}att_sm", row, top), sources, numbers, float(soft[top]), text)


def mlp_value(facts: Facts, layer: int, row: int, t: int) -> CloseUp:
    """MLP[row, t] = bias + sum_i W[row, i] * ln2[i, t], then GELU of it."""
    p = f"h{layer}."
    w, x, b, fc, sources = _matmul_cell(facts, f"{p}fc_weight", f"{p}fc_bias", f"{p}ln2", f"{p}fc", row, t)
    sources.append((f"{p}fc", row, t))
    g = facts.cell(f"{p}gelu", row, t)
    numbers = {"bias": np.float64(b), "weights": w, "inputs": x, "fc": np.float64(fc), "gelu": np.float64(g)}
    text = f"b + sum w*x = {formula.dot(w, x, fc, b)}; {formula.gelu(fc, g)}"
    return CloseUp(0, 0, "mlp_value", (f"{p}gelu", row, t), sources, numbers, g, text)


def gelu_row(facts: Facts, layer: int, t: int) -> int:
    """The MLP row the close-up shows for column t: the first negative value (GELU bends it), else 0."""
    fc = facts.cells(f"h{layer}.fc", np.arange(facts.config.mlp_size), t)
    negative = np.flatnonzero(fc < 0)
    return int(negative[0]) if negative.size else 0



def rotary_pair(facts: Facts, layer: int, head: int, j: int, t: int) -> CloseUp:
    """One rotary pair of a query: elements j and j + A/2 of Q[:, t] turned by angle[t, j]:
    (q_j cos - q_j+A/2 sin, q_j+A/2 cos + q_j sin)."""
    p, half = f"h{layer}.head{head}.", facts.config.head_size // 2
    theta = facts.cell("rope", j, t)
    before = facts.cells(f"{p}q", [j, j + half], t)
    after = facts.cells(f"{p}q_rot", [j, j + half], t)
    sources = [(f"{p}q", j, t), (f"{p}q", j + half, t), ("rope", j, t)]
    cfg = facts.config
    freq = float(inv_freq(cfg.head_size, cfg.rope_theta, dict(cfg.rope_scaling or ()))[j])
    text = facts.lang.tr("{angle}; turned: {rotation}", angle=formula.rope_angle(
        t, j, cfg.head_size, cfg.rope_theta, freq, theta, cfg.rope_scaling), rotation=formula.rotation(before, theta, after))
    numbers = {"angle": np.float64(theta), "before": before, "after": after}
    return CloseUp(0, 0, "rotary_pair", (f"{p}q_rot", j, t), sources, numbers, float(after[0]), text)


def gated_value(facts: Facts, layer: int, row: int, t: int) -> CloseUp:
    """One cell of a gated (SwiGLU) MLP: gate = sum w*x, up = sum w*x, SiLU(gate) * up."""
    p = f"h{layer}."
    wg, x, _, gate, sources = _matmul_cell(facts, f"{p}gate_weight", "", f"{p}ln2", f"{p}gate", row, t)
    wu, _, _, up, up_sources = _matmul_cell(facts, f"{p}up_weight", "", f"{p}ln2", f"{p}up", row, t)
    act, value = facts.cell(f"{p}silu", row, t), facts.cell(f"{p}swiglu", row, t)
    sources += up_sources[:facts.config.n_embd] + [(f"{p}gate", row, t), (f"{p}up", row, t)]
    numbers = {"gate_weights": wg, "up_weights": wu, "inputs": x, "gate": np.float64(gate), "up": np.float64(up),
               "silu": np.float64(act), "value": np.float64(value)}
    text = (f"gate = {formula.dot(wg, x, gate)}; up = {formula.dot(wu, x, up)}; "
            f"{formula.silu(gate, act)}; {formula.product(act, up, value)}")
    return CloseUp(0, 0, "gated_value", (f"{p}swiglu", row, t), sources, numbers, value, text)


def gated_row(facts: Facts, layer: int, t: int) -> int:
    """The gated MLP row the close-up shows for column t: the strongest product (the gate most open)."""
    prod = facts.cells(f"h{layer}.swiglu", np.arange(facts.config.mlp_size), t)
    return int(np.argmax(np.abs(prod)))
