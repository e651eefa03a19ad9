"""Per-cell reveal frames: when each cell of a block is computed.

A block is computed unit by unit: column by column for blocks with tokens across (activations,
LN and logits aggregates), row by row otherwise (the causal attention matrices, softmax max and
sum-exp). Inside a unit the cells follow quickly, top to bottom (or left to right), within the
first half of the unit's slot.
"""

from __future__ import annotations

import numpy as np

from ..layout import Block

_INSIDE_UNIT = 0.5  # share of a unit's slot its cells take


def by_columns(block: Block) -> bool:
    """True when the block is computed column by column, False when row by row."""
    return block.cols.label == "T" and not block.triangle


def n_units(block: Block) -> int:
    """Number of columns (or rows) the block is computed in."""
    return block.cols.size if by_columns(block) else block.rows.size


def schedule(block: Block, reveal: np.ndarray, u0: int, u1: int, start: float, end: float) -> None:
    """Write reveal frames of units u0..u1-1 of `block` into `reveal` (cells() order), spread
    evenly over [start, end); every frame written is < end - half a unit slot."""
    rows, cols = block.cells()
    unit, inner = (cols, rows) if by_columns(block) else (rows, cols)
    inner_size = block.rows.size if by_columns(block) else block.cols.size
    slot = (end - start) / (u1 - u0)
    sel = (unit >= u0) & (unit < u1)
    frames = start + (unit[sel] - u0 + _INSIDE_UNIT * inner[sel] / inner_size) * slot
    reveal[sel] = frames.astype(np.float32)
