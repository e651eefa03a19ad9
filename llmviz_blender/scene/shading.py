"""The per-cell colour recipe, written once as nodes that work in a shader tree and in a
geometry-nodes tree alike (Math and Mix nodes only), so the Cycles/EEVEE material and the draft
(Workbench) colour attribute compute the same colour from the same inputs.
"""

from __future__ import annotations

from typing import Any

import bpy

from ..composition.theme import THEMES
from ..defaults import KIND_COLORS, THEME  # noqa: F401 (the recipe's colours, re-exported for materials)
from .compat import NodeBuilder

GREY = (0.2, 0.2, 0.2)             # shade 0
DARK = (0.012, 0.012, 0.016)       # shade -1
GHOST = THEMES[THEME].ghost        # state 0: not yet computed (set per theme: THEME_NODES)
DIM_COLOR = THEMES[THEME].dim      # llmviz_dim 1 (set per theme)
DIM_AMOUNT = 0.8
EMISSION = 0.25                    # base self-illumination, keeps colours readable in shadow
HIGHLIGHT_EMISSION = 1.0
NEUTRAL_TINT = 0.3                 # share of the kind colour in the shade-0 grey
DARK_TINT = 0.12                   # share of the kind colour in the shade -1 tone
GLOW_WHITE = 0.15                  # share of white in the glow of a cell being computed

Value = Any  # a NodeSocket or a constant


#: Labels of the Mix nodes holding the theme's tones (input A: ghost, B: dim); scene.environment
#: sets them when it applies a theme.
GHOST_NODE, DIM_NODE = "LLMViz Ghost", "LLMViz Dim"
THEME_NODES = {GHOST_NODE: ("A_Color", "ghost"), DIM_NODE: ("B_Color", "dim")}


def dim_mix(b: NodeBuilder, dim: Value, c: Value) -> bpy.types.NodeSocket:
    """`c` faded toward the dim tone by `dim` in [0, 1] (DIM_AMOUNT at most)."""
    out = b.mix_color(b.math("MULTIPLY", dim, DIM_AMOUNT), c, rgba(DIM_COLOR))
    out.node.label = DIM_NODE
    return out


def rgba(c: tuple[float, ...], a: float = 1.0) -> tuple[float, float, float, float]:
    return (c[0], c[1], c[2], a)


def cell_colour(b: NodeBuilder, kind: Value, shade: Value, state: Value, highlight: Value,
                dim: Value) -> tuple[bpy.types.NodeSocket, bpy.types.NodeSocket, bpy.types.NodeSocket]:
    """(base colour, emission colour, emission strength) of a cell.

    `kind` is the block's kind colour (RGBA), `shade` the value in [-1, 1] (> 0 toward the kind
    colour, < 0 toward a dark tone of it, 0 a tinted grey), `state` 1 once computed (0: ghost),
    `highlight` in [0, 1] the glow of a cell being computed, `dim` in [0, 1] the fade toward the
    background of blocks outside the focus.
    """
    pos = b.math("MAXIMUM", shade, 0.0, clamp=True)
    neg = b.math("MULTIPLY", shade, -1.0, clamp=True)
    c = b.mix_color(pos, b.mix_color(NEUTRAL_TINT, rgba(GREY), kind), kind)
    c = b.mix_color(neg, c, b.mix_color(DARK_TINT, rgba(DARK), kind))
    c = b.mix_color(state, rgba(GHOST), c)
    c.node.label = GHOST_NODE
    emit = b.mix_color(highlight, c, b.mix_color(GLOW_WHITE, kind, (1.0, 1.0, 1.0, 1.0)))
    strength = b.math("MULTIPLY_ADD", highlight, HIGHLIGHT_EMISSION, b.math("MULTIPLY", state, EMISSION))
    base = dim_mix(b, dim, c)
    strength = b.math("MULTIPLY", strength, b.math("SUBTRACT", 1.0, dim, clamp=True))
    return base, emit, strength
