"""Value textures: a box block's cell shades packed into 8-bit image texels (pure numpy, no bpy).

Cell -> texel mapping (the one place it is defined; the value-box shader reads it back):

    cell (row, col)  ->  texel (x = col // 4, y = row), channel col % 4 (R, G, B, A)

so a block of R rows and C columns is an image of ceil(C / 4) x R texels, image row y = block row
(Blender stores pixel rows bottom-up: the block's row 0 is the image's first row). Where that
exceeds `MAX_TEXTURE` cells on a side the block is cut into tiles of at most MAX_TEXTURE x
MAX_TEXTURE cells, tile (i, j) holding rows [i * M, (i + 1) * M) and columns [j S, (j + 1) S), S = M
rounded down to a multiple of 4 (the draft's colour images hold one texel per cell, so a tile's
cells bound both images' sides; a tile starts on a texel's first channel).

A byte holds the cell's shade (`layout.shade`: value over the block's own scale, in [-1, 1]):
byte = ZERO + round(shade * LEVELS), 1..255; shade = (byte - ZERO) / LEVELS, a step of 1 / 127
(2 / 254 of the shade range); byte 0 marks "no cell" (the masked half of a causal block, padding).

The cell colour recipe (:func:`cell_colour`) lives here too, written once over an `ops` object
(numpy arrays here, shader or geometry nodes through scene.compat.NodeBuilder), with what the
draft quality (Workbench, which draws image textures as they are) needs: :func:`draft_texels`,
a value box's cells pre-shaded into sRGB colour texels (one texel per cell), and the colour
palette (:func:`palette_image`, :func:`palette_uv`) the per-cell cubes' draft colours are looked
up in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..model import ModelConfig, Weights
from .blocks import Block
from .lod import MEMORY_PER_INSTANCE, LayoutError, _gb
from .place import Layout
from .values import shade_scale, source_array

MAX_TEXTURE = 16384  # cells per tile side: texels per draft image side (GPU renderers' common limit)
CHANNELS = 4  # cells per texel (RGBA)
ZERO = 128  # the byte of shade 0
LEVELS = 127  # bytes per unit of shade
NO_CELL = 0
STEP = 1.0 / LEVELS  # shade quantisation step
#: Bytes of memory a value box costs per cell: the 8-bit image, its float upload and shading
#: temporaries, its copy in the renderer (calibrated: GPT-2 small and medium builds peak within the estimate).
BYTES_PER_CELL = 3
DRAFT_BYTES_PER_CELL = 16  # a draft render's colour images (scene.value_boxes): the image, the renderer's copy, mipmaps
BYTES_PER_PARAM = 4  # the weights themselves, float32 in memory
BASE_BYTES = 400 * 2**20  # Blender, the trace, labels
DEFAULT_VALUE_BUDGET = 4 * 2**30  # memory a model with values may need (weights, value textures, cubes)

# the cell colour recipe's tones (linear RGB)
GREY = (0.2, 0.2, 0.2)             # shade 0
DARK = (0.012, 0.012, 0.016)       # shade -1
NEUTRAL_TINT = 0.3                 # share of the kind colour in the shade-0 grey
DARK_TINT = 0.12                   # share of the kind colour in the shade -1 tone
GLOW_WHITE = 0.15                  # share of white in the glow of a cell being computed
EMISSION = 0.25                    # base self-illumination, keeps colours readable in shadow
HIGHLIGHT_EMISSION = 1.0
DIM_AMOUNT = 0.8
#: Draft palette: PALETTE_LEVELS steps per channel, spaced evenly in sqrt(linear) (fine in the darks).
PALETTE_LEVELS = 128
PALETTE_ROW = 16  # blue levels side by side in one row of the palette image


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
    span = max(CHANNELS, max_size - max_size % CHANNELS)
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


def memory_estimate(config: ModelConfig, layout: Layout, plan: Mapping[str, str], draft: bool = False) -> int:
    """Bytes a model with values needs: a base, its float32 weights, its value textures (in Blender
    and in the renderer), its per-cell cubes' render memory and, for a `draft` render, its value
    boxes' draft colour images."""
    from ..model import param_count

    cubes = sum(b.n_cells for b in layout.blocks if plan[b.key] == "cells")
    per_cell = BYTES_PER_CELL + (DRAFT_BYTES_PER_CELL if draft else 0)
    return (BASE_BYTES + BYTES_PER_PARAM * param_count(config, include_lm_head=False)
            + per_cell * value_cells(layout, plan) + MEMORY_PER_INSTANCE * cubes)


def check_budget(config: ModelConfig, layout: Layout, plan: Mapping[str, str], budget: int | None = None,
                 draft: bool = False) -> int:
    """The memory estimate of a model shown with values (in a `draft` render); LayoutError (one
    line) over `budget`."""
    budget = DEFAULT_VALUE_BUDGET if budget is None else budget
    need = memory_estimate(config, layout, plan, draft)
    if need > budget:
        what = "weights, value textures, cubes" + (", draft colour images" if draft else "")
        raise LayoutError(f"{config.title or config.name} with values needs ~{_gb(need)} of memory ({what}), over "
                          f"the {_gb(budget)} value budget: raise it with --value-budget GB (value_budget= in "
                          f"scene.build, Value Budget in the panel)")
    return need


# --- the cell colour recipe ------------------------------------------------------------------

def cell_colour(ops: Any, kind: Any, shade: Any, state: Any, highlight: Any, dim: Any, ghost: Any,
                dim_colour: Any, label: Any = None) -> tuple[Any, Any, Any]:
    """(base colour, emission colour, emission strength) of a cell: the one colour formula.

    `ops` offers ``math(op, a, b, c, clamp)`` and ``mix_color(fac, a, b)`` (scene.compat.NodeBuilder
    or :class:`NumpyOps`). `kind` is the block's kind colour (RGBA), `shade` the value in [-1, 1]
    (> 0 toward the kind colour, < 0 toward a dark tone of it, 0 a tinted grey), `state` 1 once
    computed (0: the `ghost` tone), `highlight` in [0, 1] the glow of a cell being computed, `dim`
    in [0, 1] the fade toward `dim_colour` of blocks outside the focus. `label(value, which)` names
    the ghost and dim mixes ("ghost", "dim") where the theme sets their tones.
    """
    pos = ops.math("MAXIMUM", shade, 0.0, clamp=True)
    neg = ops.math("MULTIPLY", shade, -1.0, clamp=True)
    c = ops.mix_color(pos, ops.mix_color(NEUTRAL_TINT, _rgba(GREY), kind), kind)
    c = ops.mix_color(neg, c, ops.mix_color(DARK_TINT, _rgba(DARK), kind))
    c = ops.mix_color(state, ghost, c)
    if label is not None:
        label(c, "ghost")
    emit = ops.mix_color(highlight, c, ops.mix_color(GLOW_WHITE, kind, (1.0, 1.0, 1.0, 1.0)))
    strength = ops.math("MULTIPLY_ADD", highlight, HIGHLIGHT_EMISSION, ops.math("MULTIPLY", state, EMISSION))
    base = ops.mix_color(ops.math("MULTIPLY", dim, DIM_AMOUNT), c, dim_colour)
    if label is not None:
        label(base, "dim")
    strength = ops.math("MULTIPLY", strength, ops.math("SUBTRACT", 1.0, dim, clamp=True))
    return base, emit, strength


def _rgba(c: tuple[float, ...]) -> tuple[float, float, float, float]:
    return (c[0], c[1], c[2], 1.0)


class NumpyOps:
    """:func:`cell_colour` on numpy arrays: floats of shape (n,), colours of shape (n, 4) or RGBA tuples."""

    _BINARY = {"MAXIMUM": np.maximum, "MINIMUM": np.minimum, "MULTIPLY": np.multiply, "SUBTRACT": np.subtract,
               "ADD": np.add}
    _UNARY = {"SQRT": np.sqrt, "ROUND": lambda a: np.floor(a + 0.5), "FLOOR": np.floor}

    def math(self, op: str, a: Any, b: Any = None, c: Any = None, clamp: bool = False) -> np.ndarray:
        a = np.asarray(a, np.float64)
        if op in self._UNARY:
            out = self._UNARY[op](a)
        elif op == "MULTIPLY_ADD":
            out = a * np.asarray(b, np.float64) + np.asarray(c, np.float64)
        else:
            out = self._BINARY[op](a, np.asarray(b, np.float64))
        return np.clip(out, 0.0, 1.0) if clamp else out

    def mix_color(self, fac: Any, a: Any, b: Any) -> np.ndarray:
        f = np.clip(np.asarray(fac, np.float64), 0.0, 1.0)[..., None]
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        return a + (b - a) * f


def srgb_bytes(linear: np.ndarray) -> np.ndarray:
    """uint8 sRGB of linear colour values (clipped to [0, 1])."""
    c = np.clip(linear, 0.0, 1.0)
    s = np.where(c <= 0.0031308, 12.92 * c, 1.055 * np.power(c, 1 / 2.4) - 0.055)
    return np.rint(s * 255).astype(np.uint8)


def draft_palette(kind: tuple[float, ...], light: float, ghost: tuple[float, ...]) -> np.ndarray:
    """(256, 4) uint8 sRGB colour of each shade byte of a computed cell, lit by `light` (the light
    reaching a box's front face, as a factor on the base colour) plus its glow; NO_CELL: `ghost`."""
    shades = (np.arange(256) - ZERO) / LEVELS
    n = len(shades)
    base, emit, strength = cell_colour(NumpyOps(), _rgba(kind), shades, np.ones(n), np.zeros(n), np.zeros(n),
                                       _rgba(ghost), _rgba(GREY))
    lit = base[:, :3] * light + emit[:, :3] * strength[:, None]
    lit[NO_CELL] = np.asarray(ghost[:3]) * light  # no cell: a ghost, which does not glow
    out = np.full((n, 4), 255, np.uint8)
    out[:, :3] = srgb_bytes(lit)
    return out


def draft_texels(packed: np.ndarray, cols: int, palette: np.ndarray) -> np.ndarray:
    """(height, cols, 4) uint8 sRGB texels, one per cell, of a tile's (height, width, 4) value
    texels (`tile_texels`), coloured by `palette` (:func:`draft_palette`)."""
    h = packed.shape[0]
    return palette[packed.reshape(h, -1)[:, :cols]]


def palette_image() -> np.ndarray:
    """(height, width, 4) uint8 sRGB image holding every colour :func:`palette_uv` can point at."""
    k = np.arange(PALETTE_LEVELS)
    level = srgb_bytes((k / (PALETTE_LEVELS - 1)) ** 2)  # sqrt spacing
    y, x = np.mgrid[0:PALETTE_LEVELS * (PALETTE_LEVELS // PALETTE_ROW), 0:PALETTE_LEVELS * PALETTE_ROW]
    r, g = x % PALETTE_LEVELS, y % PALETTE_LEVELS
    b = x // PALETTE_LEVELS + PALETTE_ROW * (y // PALETTE_LEVELS)
    out = np.full((*x.shape, 4), 255, np.uint8)
    out[..., 0], out[..., 1], out[..., 2] = level[r], level[g], level[b]
    return out


def palette_uv(ops: Any, r: Any, g: Any, b: Any) -> tuple[Any, Any]:
    """(u, v) of the palette texel nearest to linear colour (r, g, b) (`ops` as in :func:`cell_colour`;
    the palette image's texel (x, y) is texel coordinate ((x + 0.5) / width, (y + 0.5) / height))."""
    top = PALETTE_LEVELS - 1
    r, g, b = (ops.math("ROUND", ops.math("MULTIPLY", ops.math("SQRT", ops.math("MAXIMUM", c, 0.0)), top))
               for c in (r, g, b))
    b = ops.math("MINIMUM", b, top)
    width, height = PALETTE_LEVELS * PALETTE_ROW, PALETTE_LEVELS * PALETTE_LEVELS // PALETTE_ROW
    column = ops.math("FLOOR", ops.math("MULTIPLY", b, 1 / PALETTE_ROW + 1e-6))
    x = ops.math("ADD", ops.math("MINIMUM", r, top), ops.math("MULTIPLY", ops.math("SUBTRACT", b, ops.math(
        "MULTIPLY", column, PALETTE_ROW)), PALETTE_LEVELS))
    y = ops.math("ADD", ops.math("MINIMUM", g, top), ops.math("MULTIPLY", column, PALETTE_LEVELS))
    return (ops.math("MULTIPLY", ops.math("ADD", x, 0.5), 1 / width),
            ops.math("MULTIPLY", ops.math("ADD", y, 0.5), 1 / height))
