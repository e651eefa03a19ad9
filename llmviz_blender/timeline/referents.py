"""What a step's caption names (pure): cells, rows and columns of blocks. Each is outlined on
screen and labelled with its index or value; the camera comes close enough that its cells are
not sub-pixel (timeline.build), and the composition report fails a step whose referent is off
screen or unmarked (scene.audit)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..defaults import CHAR_WIDTH
from ..i18n import columns
from ..layout import CELL, Layout

Box = tuple[np.ndarray, np.ndarray]

MIN_CELL = 0.0015  # a referent's cells are at least this share of the frame height (1.6 px at 1080 lines), else
#                   the camera comes closer
CLOSE_CELL = 0.012  # ... to a view about 1 / CLOSE_CELL cells across round the referents
LABEL_SIZE = 0.016  # referent labels: this share of the frame height tall where the step's camera arrives
LABEL_GAP = 0.6  # a label stands this many label heights right of what it marks
LABEL_PITCH = 1.3  # labels that would overlap move apart by this many label heights
OUTLINE = 0.12  # the outline's width: this share of a label's height (at least a third of a cell)


@dataclass(frozen=True)
class Referent:
    """Cells rows[0]..rows[1]-1 x cols[0]..cols[1]-1 of block `key` (a cell, a row or a column),
    marked with `label` (its index or value, as the caption writes it)."""

    key: str
    rows: tuple[int, int]
    cols: tuple[int, int]
    label: str

    def box(self, layout: Layout) -> Box:
        """The world box of its cells."""
        first = layout.cell_position(self.key, self.rows[0], self.cols[0])
        last = layout.cell_position(self.key, self.rows[1] - 1, self.cols[1] - 1)
        lo, hi = np.minimum(first, last), np.maximum(first, last)
        return lo - CELL / 2, hi + CELL / 2


def cell(key: str, row: int, col: int, label: str) -> Referent:
    return Referent(key, (row, row + 1), (col, col + 1), label)


def row(layout: Layout, key: str, r: int, label: str) -> Referent:
    """Row r of a block (of a causal block: up to its diagonal)."""
    block = layout[key]
    return Referent(key, (r, r + 1), (0, r + 1 if block.triangle else block.cols.size), label)


def column(layout: Layout, key: str, c: int, label: str) -> Referent:
    """Column c of a block (of a causal block: from its diagonal down)."""
    block = layout[key]
    return Referent(key, (c if block.triangle else 0, block.rows.size), (c, c + 1), label)


def label_boxes(referents: Sequence[Referent], layout: Layout, size: float) -> list[Box]:
    """Where each referent's label stands (world boxes, text `size` tall, in front of the blocks):
    above a column, right of a row or a cell at its middle height; a label that would overlap one
    placed before moves on (up above columns, down beside rows) until it does not."""
    out: list[Box] = []
    for ref in referents:
        lo, hi = ref.box(layout)
        width = columns(ref.label) * CHAR_WIDTH * size
        above = ref.rows[1] - ref.rows[0] > 1 and ref.cols[1] - ref.cols[0] == 1
        x, z = (lo[0], hi[2] + LABEL_GAP * size + size / 2) if above else (hi[0] + LABEL_GAP * size, (lo[2] + hi[2]) / 2)
        while True:
            box = (np.array([x, lo[1] - CELL, z - size / 2]), np.array([x + width, lo[1] - CELL, z + size / 2]))
            if not any(_overlap(box, other) for other in out):
                break
            z += (1 if above else -1) * LABEL_PITCH * size
        out.append(box)
    return out


def _overlap(a: Box, b: Box) -> bool:
    return bool(a[0][0] < b[1][0] and b[0][0] < a[1][0] and a[0][2] < b[1][2] and b[0][2] < a[1][2])


def outline_width(size: float) -> float:
    """World width of an outline beside labels `size` tall: visible, never thinner than a third of a cell."""
    return max(OUTLINE * size, CELL / 3)


def extent(referents: Sequence[Referent], layout: Layout, size: float) -> Box:
    """The world box round the referents, their outlines and their labels."""
    boxes = [r.box(layout) for r in referents] + label_boxes(referents, layout, size)
    pad = outline_width(size)
    return np.min([b[0] for b in boxes], axis=0) - pad, np.max([b[1] for b in boxes], axis=0) + pad

