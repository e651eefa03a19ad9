"""Numbers as formulas show them: the text of values and of dot products (captions, close-ups, inspector)."""

from __future__ import annotations

import math

import numpy as np

TERMS = 3  # dot-product terms written out in a formula


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


def dot_text(bias: float, w: np.ndarray, x: np.ndarray, total: float) -> str:
    """bias + (w0*x0 + w1*x1 + ... N more) = total, the first TERMS products written out."""
    terms = " + ".join(f"{num(a, 3)}*{num(b, 3)}" for a, b in zip(w[:TERMS], x[:TERMS]))
    more = f" + ... {len(w) - TERMS} more" if len(w) > TERMS else ""
    return f"{num(bias, 3)} + ({terms}{more}) = {num(total, 3)}"
