"""Where token pieces stand above the Tokens row (pure). Letters stand one above each column; word
pieces wider than a cell pitch are fanned out into a line of text above the row, each joined to
its column by a leader line, at a size legible beside the whole model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..defaults import CHAR_WIDTH
from .blocks import CELL, PITCH
from .place import Layout, token_size

FAN_LIFT = 1.5  # fanned pieces stand this many of their heights above the Tokens row
FAN_GAP = 1.0  # characters between neighbouring fanned pieces
FAN_WIDTH = 0.3  # a fanned line is at most this share of the model's width


@dataclass(frozen=True)
class Pieces:
    """Token texts with their size, each piece's bottom centre, and whether they are fanned out
    (then `columns` are the tops of the columns the leader lines reach)."""

    texts: list[str]
    size: float
    anchors: np.ndarray  # (n, 3)
    fanned: bool
    columns: np.ndarray  # (n, 3)

    def box(self) -> tuple[np.ndarray, np.ndarray]:
        """World box of the pieces' text."""
        half = np.array([[len(t) * CHAR_WIDTH * self.size / 2, 0.0, 0.0] for t in self.texts])
        lo = (self.anchors - half).min(axis=0)
        hi = (self.anchors + half).max(axis=0) + [0.0, 0.0, self.size]
        return lo, hi


def fits(texts: list[str], size: float) -> bool:
    """Whether every piece is at most a cell pitch wide at `size`."""
    return all(len(t) * CHAR_WIDTH * size <= PITCH for t in texts)


def place_pieces(layout: Layout, texts: list[str], fan_size: float) -> Pieces:
    """Pieces above the Tokens row: over their columns when they fit, else fanned out at `fan_size`
    (at most FAN_WIDTH of the width of the model's body), centred over the row."""
    size = token_size(layout.config)
    columns = np.array([layout.cell_position("tokens", 0, t) + [0.0, -CELL, CELL / 2]
                        for t in range(len(texts))])
    if fits(texts, size):
        lift = np.array([0.0, 0.0, CELL / 2 + 0.4 * size])
        return Pieces(list(texts), size, columns + lift, False, columns)
    lo, hi = layout.body()
    chars = sum(len(t) for t in texts) + FAN_GAP * (len(texts) - 1)
    size = min(fan_size, FAN_WIDTH * (hi[0] - lo[0]) / (chars * CHAR_WIDTH))
    widths = np.array([len(t) * CHAR_WIDTH * size for t in texts])
    gap = FAN_GAP * CHAR_WIDTH * size
    left = np.concatenate([[0.0], np.cumsum(widths + gap)[:-1]])
    centre_x = left + widths / 2 - (widths.sum() + gap * (len(texts) - 1)) / 2 + columns[:, 0].mean()
    anchors = np.column_stack([centre_x, np.full(len(texts), -CELL), np.full(len(texts), columns[0, 2] + FAN_LIFT * size)])
    return Pieces(list(texts), size, anchors, True, columns)
