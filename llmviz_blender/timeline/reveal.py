"""Per-cell reveal frames: when each cell of a block is computed.

A block is computed unit by unit: column by column for blocks with tokens across (activations,
LN and logits aggregates), row by row otherwise (the causal attention matrices, softmax max and
sum-exp). Inside a unit the cells follow quickly, top to bottom (or left to right), within the
first half of the unit's slot.
"""

from __future__ import annotations

import numpy as np

from ..defaults import ALWAYS, NEVER
from ..layout import Block

_INSIDE_UNIT = 0.5  # share of a unit's slot its cells take


def by_columns(block: Block) -> bool:
    """True when the block is computed column by column, False when row by row."""
    return block.cols.label == "T" and not block.triangle


def units(block: Block) -> np.ndarray:
    """The unit (column, or row) of each cell, in cells() order."""
    rows, cols = block.cells()
    return cols if by_columns(block) else rows


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


def cell_order(block: Block, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Each cell's place in the block's computation, in units: unit + 0.5 * inner / inner size
    (a cell's reveal frame is linear in it within one `schedule` call)."""
    unit, inner = (cols, rows) if by_columns(block) else (rows, cols)
    inner_size = block.rows.size if by_columns(block) else block.cols.size
    return unit + _INSIDE_UNIT * np.asarray(inner, np.float64) / inner_size


def progress_keys(block: Block, reveal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frames, orders): keys of a piecewise-linear "progress" such that a cell is computed at
    frame f exactly when progress(f) >= its `cell_order` (linear interpolation between keys),
    for reveal frames (cells() order) written by `schedule`. A key at each unit's first and last
    cell, one holding the last's order until LEAD before the next unit's first (no creep through
    a hold), one before the first (progress -1); cells shown always or never get no keys."""
    rows, cols = block.cells()
    order = cell_order(block, rows, cols)
    ok = (reveal > ALWAYS / 2) & (reveal < NEVER / 2)
    if not ok.any():
        return np.empty(0, np.float64), np.empty(0, np.float64)
    unit = (cols if by_columns(block) else rows)[ok]
    frame, order = np.asarray(reveal, np.float64)[ok], order[ok]
    idx = np.lexsort((order, unit))
    unit, frame, order = unit[idx], frame[idx], order[idx]
    first = np.r_[0, np.flatnonzero(np.diff(unit)) + 1]
    last = np.r_[first[1:] - 1, len(unit) - 1]
    frames = np.column_stack([frame[first], frame[last]]).ravel()
    orders = np.column_stack([order[first], order[last]]).ravel()
    by_frame = np.lexsort((orders, frames))
    frames, orders = frames[by_frame], np.maximum.accumulate(orders[by_frame])
    keep = np.r_[frames[1:] != frames[:-1], True]  # one key per frame: the furthest order
    frames, orders = frames[keep], orders[keep]
    # between one unit's last cell and the next unit's first, progress holds (no creep through a
    # step's hold, which would also make every held frame differ) and rises just before it
    cross = np.flatnonzero((orders[1:] >= np.floor(orders[:-1]) + 1) & (np.diff(frames) > 2 * LEAD))
    frames = np.insert(frames, cross + 1, frames[cross + 1] - LEAD)
    orders = np.insert(orders, cross + 1, orders[cross])
    return np.r_[frames[0] - 1, frames], np.r_[-1.0, orders]


LEAD = 0.1  # frames: progress rises from one unit to the next this long before the next begins (Blender
#            merges keys closer than 0.01 frames)
