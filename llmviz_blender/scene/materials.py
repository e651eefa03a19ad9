"""Shared materials: one per block kind for per-cell cubes, one per kind for LOD grid boxes.

Per-cell material ``LLMViz <Kind>`` reads (Attribute nodes):

- INSTANCER ``shade`` in [-1, 1]: > 0 mixes grey toward the kind colour, < 0 toward dark (the grey
  and the dark carry a hint of the kind colour);
- INSTANCER ``state`` (0 = not yet computed: dark desaturated ghost; missing counts as 1);
- INSTANCER ``highlight`` in [0, 1]: emissive glow for cells being computed or read;
- OBJECT ``llmviz_dim`` (object custom property, keyframable) in [0, 1]: fades toward the
  background.

Grid material ``LLMViz <Kind> Grid`` (for :func:`nodes.add_box_object`) reads GEOMETRY
``cell_uv`` (column, row in cells), OBJECT ``llmviz_pitch`` / ``llmviz_gap`` / ``llmviz_dim`` and
the Camera Data node's View Distance, and draws lines at every 1 / 16 / 256 / 4096 cells, each
level faded in once its spacing is a few pixels wide on screen.

Only Diffuse BSDF, Emission, Math, Mix and Map Range nodes: identical in Cycles and EEVEE. The per-cell
colour recipe is shading.cell_colour, shared with the draft quality's geometry nodes (Workbench);
``diffuse_color`` is the kind colour. The per-cell material's active node is an unconnected Image
Texture ``Draft`` of the draft palette (:func:`draft_palette`): what Workbench's Texture colour mode
draws, through the UV map the draft geometry points into it with (nodes.py).
"""

from __future__ import annotations

import bpy
import numpy as np

from . import compat, datablocks
from .compat import NodeBuilder, socket
from .nodes import DIM_PROP, GAP_PROP, PITCH_PROP
from ..defaults import KINDS  # noqa: F401 (re-exported)
from ..layout import texels
from .shading import (DARK, DIM_AMOUNT, DIM_COLOR, EMISSION, GHOST, GREY, KIND_COLORS,  # noqa: F401 (re-exported)
                      cell_colour, dim_mix, rgba)

DEFAULT_PITCH = 1.5
PIXEL_ANGLE = 1.0e-3               # until set_grid_pixel_angle: ~ one pixel (radians) of a 1080p frame
PIXEL_ANGLE_NODE = "LLMViz Pixel Angle"
GRID_LEVELS = ((1, 0.55), (16, 0.75), (256, 0.9), (4096, 1.0))   # (cells, line strength)
LINE_DARKEN = 0.7                  # a full-strength grid line: this share of the way to DARK
MATERIAL_VERSION = 6
DRAFT_NODE = "Draft"  # the active Image Texture node Workbench draws in draft quality
PALETTE = f"{datablocks.PREFIX} Draft Palette"
ROUGHNESS = 0.55


def _lerp(a: tuple[float, ...], b: tuple[float, ...], t: float) -> tuple[float, float, float]:
    return tuple(x + (y - x) * t for x, y in zip(a, b))[:3]  # type: ignore[return-value]


def attribute(b: NodeBuilder, name: str, type_: str) -> bpy.types.Node:
    return b.node("ShaderNodeAttribute", attribute_type=type_, attribute_name=name)


def _check_kind(kind: str) -> None:
    if kind not in KIND_COLORS:
        raise ValueError(f"unknown block kind {kind!r} (expected one of {', '.join(KINDS)})")


def bsdf(b: NodeBuilder, base: bpy.types.NodeSocket, emit_color: bpy.types.NodeSocket,
         emit_strength: bpy.types.NodeSocket | float) -> bpy.types.NodeSocket:
    """A diffuse surface of `base` plus emission (every llmviz surface's shader): the look is flat,
    and a diffuse BSDF costs Cycles less than a Principled one."""
    diffuse = b.node("ShaderNodeBsdfDiffuse")
    b.feed(socket(diffuse.inputs, "Color"), base)
    glow = b.node("ShaderNodeEmission")
    b.feed(socket(glow.inputs, "Color"), emit_color)
    b.feed(socket(glow.inputs, "Strength"), emit_strength)
    add = b.node("ShaderNodeAddShader")
    b.links.new(socket(diffuse.outputs, "BSDF"), add.inputs[0])
    b.links.new(socket(glow.outputs, "Emission"), add.inputs[1])
    return add.outputs[0]


def _output(b: NodeBuilder, base: bpy.types.NodeSocket, emit_color: bpy.types.NodeSocket,
            emit_strength: bpy.types.NodeSocket | float) -> None:
    """Feed `bsdf` with these colours into the material output."""
    out = b.node("ShaderNodeOutputMaterial", target="ALL")
    b.links.new(bsdf(b, base, emit_color, emit_strength), socket(out.inputs, "Surface"))


def _reset(mat: bpy.types.Material, kind: str) -> NodeBuilder:
    tree = compat.ensure_node_tree(mat)
    tree.nodes.clear()
    mat.diffuse_color = rgba(KIND_COLORS[kind])
    mat.roughness = ROUGHNESS
    mat["llmviz_kind"] = kind
    return NodeBuilder(tree)


def _build_kind(mat: bpy.types.Material) -> None:
    kind = mat["llmviz_kind"]
    b = _reset(mat, kind)
    shade = socket(attribute(b, "shade", "INSTANCER").outputs, "Fac")
    st = attribute(b, "state", "INSTANCER")
    hl = socket(attribute(b, "highlight", "INSTANCER").outputs, "Fac")
    # A missing attribute reads as 0 with Alpha 0; present float attributes have Alpha 1,
    # so state = Fac * Alpha + (1 - Alpha) treats "no state attribute" as computed.
    alpha = socket(st.outputs, "Alpha")
    state = b.math("MULTIPLY_ADD", socket(st.outputs, "Fac"), alpha, b.math("SUBTRACT", 1.0, alpha))
    dim = socket(attribute(b, DIM_PROP, "OBJECT").outputs, "Fac")
    base, emit, strength = cell_colour(b, rgba(KIND_COLORS[kind]), shade, state, hl, dim)
    _output(b, base, emit, strength)
    draft_node(b, draft_palette())


def draft_node(b: NodeBuilder, image: bpy.types.Image | None) -> bpy.types.Node:
    """The unconnected, active Image Texture node (Closest) Workbench draws in draft quality."""
    tex = b.node("ShaderNodeTexImage", interpolation="Closest", extension="EXTEND", name=DRAFT_NODE, label=DRAFT_NODE)
    tex.image = image
    b.tree.nodes.active = tex
    return tex


def srgb_image(name: str, data: np.ndarray) -> bpy.types.Image:
    """An 8-bit sRGB image of (height, width, 4) uint8 texels (bottom row first)."""
    h, w, _ = data.shape
    img = bpy.data.images.new(name, w, h, alpha=True, float_buffer=False)
    img.pixels.foreach_set(np.multiply(data.reshape(-1), np.float32(1 / 255), dtype=np.float32))
    return img


def draft_palette() -> bpy.types.Image:
    """The shared draft palette image (layout.texels.palette_image): every colour a draft cube can show."""
    return datablocks.get_or_create("images", PALETTE, lambda name: srgb_image(name, texels.palette_image()),
                                    version=1)


def grid_fill(kind: str) -> tuple[float, float, float]:
    """The colour of a LOD box between its grid lines."""
    return _lerp(GREY, KIND_COLORS[kind], 0.55)


def grid_lines(b: NodeBuilder) -> tuple[bpy.types.NodeSocket, bpy.types.NodeSocket, bpy.types.NodeSocket]:
    """(u, v, darkness) of a box's surface: GEOMETRY ``cell_uv`` (column, row in cells) and how
    strongly the cell grid's lines cover the point, in [0, 1] (the Value node PIXEL_ANGLE_NODE says
    how large one pixel is)."""
    uv = b.node("ShaderNodeSeparateXYZ")
    b.feed(socket(uv.inputs, "Vector"), socket(attribute(b, "cell_uv", "GEOMETRY").outputs, "Vector"))
    u, v = socket(uv.outputs, "X"), socket(uv.outputs, "Y")
    pitch = socket(attribute(b, PITCH_PROP, "OBJECT").outputs, "Fac")
    pitch = b.math("MULTIPLY_ADD", b.math("LESS_THAN", pitch, 1e-6), DEFAULT_PITCH, pitch)
    gap = socket(attribute(b, GAP_PROP, "OBJECT").outputs, "Fac")
    dist = socket(b.node("ShaderNodeCameraData").outputs, "View Distance")
    angle = b.node("ShaderNodeValue", name=PIXEL_ANGLE_NODE, label="Pixel Angle")
    socket(angle.outputs, "Value").default_value = PIXEL_ANGLE
    px = b.math("DIVIDE", b.math("MULTIPLY", dist, socket(angle.outputs, "Value")), pitch)  # 1 px in cells

    darkness: bpy.types.NodeSocket | float = 0.0
    for level, (n, strength) in enumerate(GRID_LEVELS):
        # distance (in cells) to the nearest multiple of n, along either axis
        d = b.math("MINIMUM", b.math("PINGPONG", u, 0.5 * n), b.math("PINGPONG", v, 0.5 * n))
        # half width: ~1 px, never thinner than half the gap between cubes (wider per level)
        half = b.math("MAXIMUM", b.math("MULTIPLY", px, 0.6 + 0.3 * level),
                      b.math("MULTIPLY", gap, 0.5 + 0.25 * level))
        on = b.math("LESS_THAN", d, half)
        fade = b.map_range(b.math("DIVIDE", n, px), 4.0, 12.0, 0.0, strength)  # spacing in px
        darkness = b.math("MAXIMUM", darkness, b.math("MULTIPLY", on, fade))
    return u, v, darkness


def _build_grid(mat: bpy.types.Material) -> None:
    kind = mat["llmviz_kind"]
    b = _reset(mat, kind)
    fill = grid_fill(kind)
    _, _, darkness = grid_lines(b)
    c = b.mix_color(b.math("MULTIPLY", darkness, LINE_DARKEN), rgba(fill), rgba(DARK))
    dim = socket(attribute(b, DIM_PROP, "OBJECT").outputs, "Fac")
    c = dim_mix(b, dim, c)
    _output(b, c, c, b.math("MULTIPLY", EMISSION, b.math("SUBTRACT", 1.0, dim, clamp=True)))


def _material(key: str, kind: str, build) -> bpy.types.Material:
    def make(name: str) -> bpy.types.Material:
        mat = bpy.data.materials.new(name)
        mat["llmviz_kind"] = kind
        build(mat)
        return mat

    return datablocks.get_or_create("materials", key, make, version=MATERIAL_VERSION, update=build)


def kind_material(kind: str) -> bpy.types.Material:
    """The shared per-cell material of a block kind (``weight`` | ``intermediate`` | ``aggregate``)."""
    _check_kind(kind)
    return _material(f"{datablocks.PREFIX} {kind.capitalize()}", kind, _build_kind)


def grid_material(kind: str) -> bpy.types.Material:
    """The shared LOD-box material of a block kind: procedural cell grid from ``cell_uv``."""
    _check_kind(kind)
    return _material(f"{datablocks.PREFIX} {kind.capitalize()} Grid", kind, _build_grid)


def set_grid_pixel_angle(angle: float) -> None:
    """Tell every grid material the angle (radians) one pixel covers (see `pixel_angle`): grid
    levels fade in by their on-screen spacing."""
    trees = [m.node_tree for m in datablocks.owned("materials")] + datablocks.owned("node_groups")
    for tree in trees:
        node = tree.nodes.get(PIXEL_ANGLE_NODE) if tree is not None else None
        if node is not None:
            node.outputs[0].default_value = float(angle)


def pixel_angle(scene: bpy.types.Scene) -> float | None:
    """The angle (radians) one pixel of `scene`'s render covers through its camera, or None
    without a camera."""
    cam = scene.camera
    if cam is None or cam.type != "CAMERA":
        return None
    r = scene.render
    return cam.data.angle_y / max(1, r.resolution_y * r.resolution_percentage // 100)


def sync_grid_pixel_angle(scene: bpy.types.Scene) -> None:
    """Make the grid materials follow `scene`'s render resolution and camera (called whenever the
    resolution or the camera is set)."""
    angle = pixel_angle(scene)
    if angle is not None:
        set_grid_pixel_angle(angle)
