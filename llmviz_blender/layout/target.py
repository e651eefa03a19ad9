"""Cell targets: one cell of one block named as text, ``BLOCK:ROW,COL`` (``h0.fc:3,1``), for the
camera, the zoom shot and the inspector. ROW and COL are the block's row and column as drawn (the
inspector's). A layer's group may stand in the key (``h5.mlp.fc`` is ``h5.fc``)."""

from __future__ import annotations

import re

from .lod import LayoutError
from .place import GROUPS, CellRef, Layout

SEPARATOR = ":"
EXAMPLE = "h0.fc:3,1"
_CELL = re.compile(r"\s*(-?\d+)\s*,\s*(-?\d+)\s*")


def is_cell_target(text: str) -> bool:
    """Whether `text` names a cell (rather than blocks, a chapter or the overview)."""
    return SEPARATOR in text


def parse(text: str, what: str = "camera") -> tuple[str, int, int]:
    """(block key, row, col) of ``BLOCK:ROW,COL``; LayoutError (one line) when malformed."""
    key, _, cell = text.strip().rpartition(SEPARATOR)
    m = _CELL.fullmatch(cell)
    if not key.strip() or m is None:
        raise LayoutError(f"{what}: cell target {text!r} must be BLOCK:ROW,COL with whole numbers, e.g. {EXAMPLE}")
    return key.strip(), int(m.group(1)), int(m.group(2))


def block_key(layout: Layout, key: str) -> str | None:
    """The layout's key for `key`: itself, or a group-qualified key (h5.mlp.fc -> h5.fc)."""
    if key in layout.by_key:
        return key
    layer, _, rest = key.partition(".")
    slug, _, tail = rest.partition(".")
    short = f"{layer}.{tail}"
    if slug in GROUPS and short in layout.by_key and layout[short].group == GROUPS[slug]:
        return short
    return None


def check_cell(layout: Layout, key: str, row: int, col: int, what: str = "camera") -> CellRef:
    """The cell (row, col) of block `key`; LayoutError (one line) naming the block and its shape
    when there is no such block or cell."""
    found = block_key(layout, key)
    if found is None:
        raise LayoutError(f"{what}: no block '{key}' in {layout.config.name}")
    block = layout[found]
    r, c = block.shape
    if not (0 <= row < r and 0 <= col < c):
        raise LayoutError(f"{what}: {block.name} ({found}) has {r} rows x {c} columns, no cell ({row}, {col})")
    return CellRef(block, row, col)


def cell_target(layout: Layout, text: str, what: str = "camera") -> CellRef:
    """The cell ``BLOCK:ROW,COL`` names in `layout` (LayoutError, one line, when it names none)."""
    key, row, col = parse(text, what)
    return check_cell(layout, key, row, col, what)
