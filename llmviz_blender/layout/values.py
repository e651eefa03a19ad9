"""The numbers a block shows: its cells' values from the trace or the weights, and their shading."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..model import Weights
from .blocks import Block
from .place import Layout


def source_array(source: str, trace: Mapping[str, np.ndarray] | None, weights: Weights | None) -> np.ndarray | None:
    """The array a block's `source` names, or None when the trace/weights are not given."""
    if source.startswith("param:"):
        return None if weights is None else weights.params[source[len("param:"):]]
    return None if trace is None else trace[source]


def block_values(block: Block, trace: Mapping[str, np.ndarray] | None, weights: Weights | None,
                 rows: np.ndarray | None = None, cols: np.ndarray | None = None) -> np.ndarray | None:
    """float32 value of each cell (all cells in `block.cells()` order unless rows/cols are given)."""
    array = source_array(block.source, trace, weights)
    if array is None:
        return None
    if rows is None or cols is None:
        rows, cols = block.cells()
    return np.ascontiguousarray(array.reshape(-1)[block.src_index(rows, cols)], dtype=np.float32)


@dataclass
class CellReader:
    """float64 values of a layout's cells, read from the trace / weights (either may be None)."""

    layout: Layout
    trace: Mapping[str, np.ndarray] | None
    weights: Weights | None = None

    def has_values(self, key: str) -> bool:
        """Whether block `key`'s numbers are given (its trace entry or its weights)."""
        source = self.layout[key].source
        return (self.weights if source.startswith("param:") else self.trace) is not None

    def cells(self, key: str, rows: Sequence[int] | np.ndarray, cols: Sequence[int] | np.ndarray) -> np.ndarray:
        """Values of cells (rows[i], cols[i]) of block `key` (broadcast); ValueError when the
        block's trace entry or weights are not given."""
        block = self.layout[key]
        array = source_array(block.source, self.trace, self.weights)
        if array is None:
            raise ValueError(f"{key}: needs the {'weights' if block.source.startswith('param:') else 'trace'}")
        r, c = np.broadcast_arrays(np.asarray(rows, np.int64), np.asarray(cols, np.int64))
        flat = np.asarray(array).reshape(-1)[block.src_index(r.ravel(), c.ravel())]
        return flat.astype(np.float64).reshape(r.shape)

    def cell(self, key: str, row: int, col: int) -> float:
        return float(self.cells(key, [row], [col])[0])


SHADE_PERCENTILE = 98.0


def shade_scale(values: np.ndarray) -> float:
    """A block's shade scale: the 98th percentile of its finite magnitudes (their maximum when
    that is 0; 0 for a block of zeros)."""
    finite_mask = np.isfinite(values)
    finite = np.abs(values if finite_mask.all() else values[finite_mask]).ravel(order="K")  # a copy either way
    if not finite.size:
        return 0.0
    k = int(round(SHADE_PERCENTILE / 100 * (finite.size - 1)))
    finite.partition(k)
    scale = float(finite[k])
    return scale if scale != 0.0 else float(finite.max())


def shade(values: np.ndarray) -> np.ndarray:
    """Values scaled into [-1, 1] per block (0 stays 0, signs kept): divided by the block's
    `shade_scale` (so a few outliers do not leave every other cell grey), clipped, then a signed
    square root, so small values still show a tint."""
    scale = shade_scale(values)
    if scale == 0.0:
        return np.zeros(values.shape, np.float32)
    scaled = np.clip(values / scale, -1.0, 1.0)
    if np.isnan(scaled).any():
        scaled = np.nan_to_num(scaled, nan=0.0)
    return (np.sign(scaled) * np.sqrt(np.abs(scaled))).astype(np.float32)
