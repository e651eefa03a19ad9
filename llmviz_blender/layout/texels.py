"""Value textures: a box block's cell shades packed into 8-bit image texels (pure numpy, no bpy).

Cell -> texel mapping (the one place it is defined; the value-box shader reads it back):

    cell (row, col)  ->  texel (x = col // 4, y = row), channel col % 4 (R, G, B, A)

so a block of R rows and C columns is an image of ceil(C / 4) x R texels, image row y = block row
(Blender stores pixel rows bottom-up: the block's row 0 is the image's first row). Where that
exceeds `MAX_TEXTURE` texels on a side the image is cut into tiles of at most MAX_TEXTURE x
MAX_TEXTURE texels, tile (i, j) holding rows [i * M, (i + 1) * M) and columns [4 j M, 4 (j + 1) M).

A byte holds the cell's shade (`layout.shade`: value over the block's own scale, in [-1, 1]):
byte = ZERO + round(shade * LEVELS), 1..255; shade = (byte - ZERO) / LEVELS, a step of 1 / 127
(2 / 254 of the shade range); byte 0 marks "no cell" (the masked half of a causal block, padding).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..model import ModelConfig, Weights
from .blocks import Block
from .lod import MEMORY_PER_INSTANCE, LayoutError, _gb
from .place import Layout
from .values import shade_scale, source_array

MAX_TEXTURE = 16384  # texels per image side (GPU renderers' common limit)
CHANNELS = 4  # cells per texel (RGBA)
ZERO = 128  # the byte of shade 0
LEVELS = 127  # bytes per unit of shade
NO_CELL = 0
STEP = 1.0 / LEVELS  # shade quantisation step
#: Bytes of memory a value box costs per cell: the 8-bit image, its float upload and shading
#: temporaries, its copy in the renderer (calibrated: GPT-2 small and medium builds peak within the estimate).
BYTES_PER_CELL = 3
BYTES_PER_PARAM = 4  # the weights themselves, float32 in memory
BASE_BYTES = 400 * 2**20  # Blender, the trace, labels
DEFAULT_VALUE_BUDGET = 4 * 2**30  # memory a model with values may need (weights, value textures, cubes)


@dataclass(frozen=True)
class Tile:
    """One image of a block: cells rows [row0, row0 + rows) x cols [col0, col0 + cols)."""

    row0: int
    col0: int
    rows: int
    cols: int

    @property
    def texels(self) -> tuple[int, int]:
        """(width, height) of the tile's image in texels."""
        return -(-self.cols // CHANNELS), self.rows


def tiles(shape: tuple[int, int], max_size: int = MAX_TEXTURE) -> list[Tile]:
    """The tiles of a block of `shape` (rows, cols), row-major."""
    rows, cols = shape
    if max_size < 1:
        raise LayoutError(f"texture size limit must be positive, got {max_size}")
    span = CHANNELS * max_size
    return [Tile(r, c, min(max_size, rows - r), min(span, cols - c))
            for r in range(0, rows, max_size) for c in range(0, cols, span)]


def texel_of(row: np.ndarray | int, col: np.ndarray | int, tile: Tile) -> tuple:
    """(x, y, channel) of cells (row, col) in `tile`'s image."""
    return (np.asarray(col) - tile.col0) // CHANNELS, np.asarray(row) - tile.row0, np.asarray(col) % CHANNELS


def block_matrix(block: Block, trace: Mapping[str, np.ndarray] | None, weights: Weights | None) -> np.ndarray | None:
    """The block's values as a (rows, cols) view of its source (no copy; None without numbers)."""
    array = source_array(block.source, trace, weights)
    if array is None:
        return None
    flat = np.ascontiguousarray(array).reshape(-1)
    item = flat.itemsize
    return np.lib.stride_tricks.as_strided(flat[block.offset:], shape=block.shape,
                                           strides=(block.row_stride * item, block.col_stride * item), writeable=False)


def block_bytes(block: Block, trace: Mapping[str, np.ndarray] | None, weights: Weights | None) -> np.ndarray | None:
    """(rows, cols) uint8 bytes of the block's cells: `encode(layout.shade(values))` of the cells
    `block.cells()` lists (the masked half of a causal block is NO_CELL); None without numbers."""
    values = block_matrix(block, trace, weights)
    if values is None:
        return None
    if not block.triangle:
        return shade_bytes(values if values.dtype == np.float32 else values.astype(np.float32))
    out = np.full(block.shape, NO_CELL, np.uint8)
    rows, cols = block.cells()
    out[rows, cols] = shade_bytes(np.asarray(values[rows, cols], np.float32))
    return out


def shade_bytes(values: np.ndarray) -> np.ndarray:
    """`encode(layout.shade(values))` in fewer passes over memory (the same float32 operations,
    in the memory order of `values`: a transposed view is not copied)."""
    scale = shade_scale(values)
    if scale == 0.0:
        return np.full(values.shape, ZERO, np.uint8)
    a = np.abs(values)
    a /= np.float32(scale)
    np.minimum(a, 1.0, out=a)
    np.sqrt(a, out=a)
    a *= LEVELS
    np.copysign(a, values, out=a)
    np.rint(a, out=a)
    a += ZERO
    nan = np.isnan(a)
    if nan.any():
        a[nan] = ZERO  # NaN reads as shade 0
    return a.astype(np.uint8)


def encode(shades: np.ndarray) -> np.ndarray:
    """uint8 bytes of shades in [-1, 1] (NaN -> NO_CELL)."""
    q = np.rint(np.clip(np.nan_to_num(shades, nan=0.0), -1.0, 1.0) * LEVELS).astype(np.int16) + ZERO
    q[np.isnan(shades)] = NO_CELL
    return q.astype(np.uint8)


def decode(data: np.ndarray) -> np.ndarray:
    """Shades of bytes (NO_CELL -> NaN)."""
    data = np.asarray(data)
    out = (data.astype(np.float32) - ZERO) / LEVELS
    out[data == NO_CELL] = np.nan
    return out


def unshade(shades: np.ndarray, scale: float) -> np.ndarray:
    """Values back from shades of a block with scale `scale` (`layout.shade`'s signed square root undone)."""
    return np.sign(shades) * shades.astype(np.float64) ** 2 * scale


def tile_texels(data: np.ndarray, tile: Tile) -> np.ndarray:
    """The (height, width, 4) uint8 texels of `tile` from a block's (rows, cols) bytes (padding NO_CELL)."""
    w, h = tile.texels
    out = np.zeros((h, w * CHANNELS), np.uint8)
    out[:, :tile.cols] = data[tile.row0:tile.row0 + tile.rows, tile.col0:tile.col0 + tile.cols]
    return out.reshape(h, w, CHANNELS)


def value_cells(layout: Layout, plan: Mapping[str, str]) -> int:
    """Cells drawn as value boxes (blocks planned "box")."""
    return sum(b.shape[0] * b.shape[1] for b in layout.blocks if plan[b.key] == "box")


def memory_estimate(config: ModelConfig, layout: Layout, plan: Mapping[str, str]) -> int:
    """Bytes a model with values needs: a base, its float32 weights, its value textures (in Blender
    and in the renderer) and its per-cell cubes' render memory."""
    from ..model import param_count

    cubes = sum(b.n_cells for b in layout.blocks if plan[b.key] == "cells")
    return (BASE_BYTES + BYTES_PER_PARAM * param_count(config, include_lm_head=False)
            + BYTES_PER_CELL * value_cells(layout, plan) + MEMORY_PER_INSTANCE * cubes)


def check_budget(config: ModelConfig, layout: Layout, plan: Mapping[str, str], budget: int | None = None) -> int:
    """The memory estimate of a model shown with values; LayoutError (one line) over `budget`."""
    budget = DEFAULT_VALUE_BUDGET if budget is None else budget
    need = memory_estimate(config, layout, plan)
    if need > budget:
        raise LayoutError(f"{config.title or config.name} with values needs ~{_gb(need)} of memory (weights, value "
                          f"textures, cubes), over the {_gb(budget)} value budget: raise it with --value-budget GB "
                          f"(value_budget= in scene.build, Value Budget in the panel)")
    return need
