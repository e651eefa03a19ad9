"""Formulas with their numbers, written once for the cell readout, the close-ups and the captions:
how numbers are written (`num`, `precise`) and the text of each operation that more than one of
them shows (dot products, sums, GELU)."""

from __future__ import annotations

import math

import numpy as np

from .. import i18n

TERMS = 3  # terms written out in a sum or a dot product

#: GELU (the tanh approximation) and SiLU as formulas.
GELU = "GELU(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))"
SILU = "SiLU(x) = x / (1 + exp(-x))"


def num(value: float, digits: int = 2) -> str:
    """A number for a caption: `digits` decimals, more for small values (two significant digits,
    up to 6 decimals), '-inf' for masked scores, never '-0.00'."""
    value = float(value)
    if math.isinf(value):
        return "-inf" if value < 0 else "inf"
    if value != 0:
        digits = min(max(digits, 1 - math.floor(math.log10(abs(value)))), 6)
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def precise(value: float) -> str:
    """A number of a short formula: five significant digits (up to 6 decimals), so the printed
    numbers recompute the value closely."""
    value = float(value)
    if value == 0 or not math.isfinite(value) or abs(value) >= 1:
        return num(value, 4)
    return num(value, min(6, 4 - math.floor(math.log10(abs(value)))))


def _more(n: int) -> str:
    return i18n.current().tr(" + ... {n} more", n=n - TERMS) if n > TERMS else ""


def products(a: np.ndarray, b: np.ndarray) -> str:
    """a0*b0 + a1*b1 + a2*b2 + ... N more: the first TERMS products written out."""
    return " + ".join(f"{num(x, 3)}*{num(y, 3)}" for x, y in zip(a[:TERMS], b[:TERMS])) + _more(len(a))


def sum_terms(values: np.ndarray) -> str:
    """(v0 + v1 + v2 + ... N more): the first TERMS values of a sum written out."""
    return f"({' + '.join(num(v, 3) for v in values[:TERMS])}{_more(len(values))})"


def dot(w: np.ndarray, x: np.ndarray, result: float, bias: float | None = None) -> str:
    """bias + (w0*x0 + w1*x1 + ... N more) = result (without 'bias + ' when there is no bias)."""
    start = "" if bias is None else f"{num(bias, 3)} + "
    return f"{start}({products(w, x)}) = {num(result, 3)}"


def add(a: float, b: float, result: float) -> str:
    """a + b = result: an embedding sum or a residual add."""
    return f"{precise(a)} + {precise(b)} = {precise(result)}"


def gelu(x: float, result: float) -> str:
    """GELU(x) = result, with the numbers."""
    return f"GELU({precise(x)}) = {precise(result)}"


def silu(x: float, result: float) -> str:
    """SiLU(x) = x * sigmoid(x) = result, with the numbers."""
    return f"SiLU({precise(x)}) = {precise(result)}"


def product(a: float, b: float, result: float) -> str:
    """a * b = result: the gated MLP's elementwise product."""
    return f"{precise(a)} * {precise(b)} = {precise(result)}"


def rotation(pair: np.ndarray, angle: float, result: np.ndarray) -> str:
    """A rotary pair (a, b) turned by `angle`: (a cos - b sin, b cos + a sin) = result (a negative term
    written after its sign: '- 0.5*0.7', not '+ -0.5*0.7')."""
    a, b = (precise(v) for v in pair)
    c, s = precise(math.cos(angle)), precise(math.sin(angle))
    text = f"({a}*{c} - {b}*{s}, {b}*{c} + {a}*{s})".replace("+ -", "- ").replace("- -", "+ ")
    return f"cos {c}, sin {s}: {text} = ({precise(result[0])}, {precise(result[1])})"


def rope_angle(position: int, pair: int, head_size: int, theta: float, freq: float, result: float,
               scaled: object = None) -> str:
    """The rotary angle of `pair` at `position`: position * theta^(-2 pair / head_size)."""
    L = i18n.current()
    rate = f"{theta:g}^(-{2 * pair}/{head_size})" + (L.tr(" rescaled") if scaled else "")
    return L.tr("angle = position x {rate} = {position} x {freq} = {angle} rad", rate=rate, position=position,
                freq=precise(freq), angle=precise(result))
