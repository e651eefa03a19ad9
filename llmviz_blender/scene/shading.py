"""The per-cell colour recipe as nodes: layout.texels.cell_colour (the one formula, also run on
numpy arrays for the draft's value textures) built from Math and Mix nodes, which work in a shader
tree and in a geometry-nodes tree alike, so the Cycles/EEVEE materials and the draft (Workbench)
colours compute the same colour from the same inputs.
"""

from __future__ import annotations

from typing import Any

import bpy

from ..composition.theme import THEMES
from ..defaults import KIND_COLORS, THEME  # noqa: F401 (the recipe's colours, re-exported for materials)
from ..layout import texels
from ..layout.texels import (DARK, DARK_TINT, DIM_AMOUNT, EMISSION, GLOW_WHITE, GREY,  # noqa: F401 (re-exported)
                             HIGHLIGHT_EMISSION, NEUTRAL_TINT)
from .compat import NodeBuilder

GHOST = THEMES[THEME].ghost        # state 0: not yet computed (set per theme: THEME_NODES)
DIM_COLOR = THEMES[THEME].dim      # llmviz_dim 1 (set per theme)

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
    """(base colour, emission colour, emission strength) of a cell as nodes: layout.texels.cell_colour
    with the theme's ghost and dim tones on the Mix nodes labelled GHOST_NODE and DIM_NODE."""
    def label(value: bpy.types.NodeSocket, which: str) -> None:
        value.node.label = GHOST_NODE if which == "ghost" else DIM_NODE

    return texels.cell_colour(b, kind, shade, state, highlight, dim, rgba(GHOST), rgba(DIM_COLOR), label)
