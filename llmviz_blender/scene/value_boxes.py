"""Value boxes: a big block drawn as one box whose material shows every cell's own value shade.

The block's shades are packed into 8-bit images (layout.texels: one cell per texel channel, the
block's own scale, tiles where a block exceeds the texture size limit), one image per tile and one
sub-box per tile in the block's object, each tile's faces using its own material:

    [LLMViz Value Texel] -> Image Texture (Closest) -> [LLMViz Value Box] -> Material Output

The two shared node groups read the box's GEOMETRY ``cell_uv`` (column, row in cells): the first
turns it into the tile's texel coordinate, the second picks the cell's channel, decodes its shade
and colours it with shading.cell_colour (the cubes' recipe: kind colour, shade, state, no glow,
OBJECT ``llmviz_dim``), darkened by the grid lines of the grid material (materials.grid_lines).

Reveal: a block is computed unit by unit (timeline.reveal). The shader computes each cell's order
(timeline.reveal.cell_order) from (row, col); the object property ``llmviz_progress`` (keyed by
:func:`key_reveal`, plain F-curve keys) says how far the computation has come: a cell is computed
once progress >= its order. No drivers or handlers: a saved .blend plays without the add-on.

Draft quality (Workbench draws the material's active Image Texture node as it is): each tile's
material holds an unconnected, active Image Texture node ``Draft``; :func:`make_draft_images`
(scene.quality, only for draft renders) gives it the tile's cells pre-shaded by the same formula
(layout.texels.draft_texels: one sRGB texel per cell, computed, lit like a front face), read
through the box's active UV map ``llmviz_draft_uv`` (the tile's cells over [0, 1]). A static
texture shows neither the reveal nor the dimming: in draft a value box shows its values from the
start, undimmed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import bpy
import numpy as np

from ..defaults import CELL, NEVER, PITCH
from ..layout import Block, Dim, texels
from ..model import Weights
from ..timeline import reveal as reveal_order
from . import datablocks
from .boxes import boxes_mesh
from .compat import NodeBuilder, ensure_node_tree, socket
from .keys import set_keys
from .materials import DRAFT_NODE, LINE_DARKEN, attribute, bsdf, draft_node, grid_fill, grid_lines, srgb_image
from .nodes import DIM_PROP, DRAFT_UV, GAP_PROP, PITCH_PROP
from .shading import DARK, KIND_COLORS, cell_colour, rgba

TEXEL_GROUP = "LLMViz Value Texel"
BOX_GROUP = "LLMViz Value Box"
TEMPLATE = "LLMViz Value Tile"
GROUP_VERSION = 2
PROP = "llmviz_value_box"  # object property: 1 on value-box objects
PROGRESS = "llmviz_progress"  # object property: reveal progress in cell-order units (keyed)
DONE = 1.0e9  # progress of a block shown whole (weights, no walkthrough)
EPSILON = 1.0e-4  # progress within this of a cell's order reveals it
DRAFT_KEY = "llmviz_draft_key"  # tile material property: the (light, ghost) its draft image was made for
DRAFT_IMAGE = "llmviz_draft"  # image property: 1 on draft images


# --- node groups ---------------------------------------------------------------------------

def _interface(tree: bpy.types.NodeTree, inputs: list[tuple[str, str]], outputs: list[tuple[str, str]]) -> None:
    tree.nodes.clear()
    tree.interface.clear()
    for in_out, sockets in (("INPUT", inputs), ("OUTPUT", outputs)):
        for name, type_ in sockets:
            tree.interface.new_socket(name, in_out=in_out, socket_type=type_)


def _floor_uv(b: NodeBuilder, u, v) -> tuple[bpy.types.NodeSocket, bpy.types.NodeSocket]:
    return b.math("FLOOR", u), b.math("FLOOR", v)


def _build_texel(tree: bpy.types.ShaderNodeTree) -> None:
    """cell_uv -> the texel centre of the cell in a tile's image (texels.texel_of)."""
    _interface(tree, [("Tile", "NodeSocketVector"), ("Texels", "NodeSocketVector")], [("Vector", "NodeSocketVector")])
    b = NodeBuilder(tree)
    gin = b.node("NodeGroupInput")
    uv = b.node("ShaderNodeSeparateXYZ")
    b.feed(socket(uv.inputs, "Vector"), socket(attribute(b, "cell_uv", "GEOMETRY").outputs, "Vector"))
    col, row = _floor_uv(b, socket(uv.outputs, "X"), socket(uv.outputs, "Y"))
    tile = b.node("ShaderNodeSeparateXYZ")
    b.feed(socket(tile.inputs, "Vector"), socket(gin.outputs, "Tile"))
    size = b.node("ShaderNodeSeparateXYZ")
    b.feed(socket(size.inputs, "Vector"), socket(gin.outputs, "Texels"))
    x = b.math("FLOOR", b.math("DIVIDE", b.math("SUBTRACT", col, socket(tile.outputs, "X")), texels.CHANNELS))
    y = b.math("SUBTRACT", row, socket(tile.outputs, "Y"))
    out = b.node("ShaderNodeCombineXYZ")
    b.feed(socket(out.inputs, "X"), b.math("DIVIDE", b.math("ADD", x, 0.5), socket(size.outputs, "X")))
    b.feed(socket(out.inputs, "Y"), b.math("DIVIDE", b.math("ADD", y, 0.5), socket(size.outputs, "Y")))
    b.feed(socket(b.node("NodeGroupOutput").inputs, "Vector"), socket(out.outputs, "Vector"))


def _build_box(tree: bpy.types.ShaderNodeTree) -> None:
    """The texel's channel -> shade -> cell colour (+ state from the progress, grid lines, dim)."""
    _interface(tree, [("Color", "NodeSocketColor"), ("Alpha", "NodeSocketFloat"), ("Kind", "NodeSocketColor"),
                      ("By Columns", "NodeSocketFloat"), ("Inner Size", "NodeSocketFloat")],
               [("Shader", "NodeSocketShader")])
    b = NodeBuilder(tree)
    gin = b.node("NodeGroupInput")
    u, v, darkness = grid_lines(b)
    col, row = _floor_uv(b, u, v)
    channel = b.math("MODULO", col, texels.CHANNELS)
    rgb = b.node("ShaderNodeSeparateColor")
    b.feed(socket(rgb.inputs, "Color"), socket(gin.outputs, "Color"))
    byte = None
    for k, value in enumerate([*(socket(rgb.outputs, n) for n in ("Red", "Green", "Blue")), socket(gin.outputs, "Alpha")]):
        term = b.math("MULTIPLY", b.math("COMPARE", channel, float(k), 0.5), value)
        byte = term if byte is None else b.math("ADD", byte, term)
    exists = b.math("GREATER_THAN", byte, 0.5 / 255)
    shade = b.math("MULTIPLY_ADD", byte, 255.0 / texels.LEVELS, -texels.ZERO / texels.LEVELS)
    # cell order (timeline.reveal.cell_order): unit + 0.5 * inner / inner size
    by_cols = socket(gin.outputs, "By Columns")
    unit = b.math("MULTIPLY_ADD", by_cols, b.math("SUBTRACT", col, row), row)
    inner = b.math("SUBTRACT", b.math("ADD", col, row), unit)
    order = b.math("ADD", unit, b.math("DIVIDE", b.math("MULTIPLY", inner, 0.5), socket(gin.outputs, "Inner Size")))
    progress = socket(attribute(b, PROGRESS, "OBJECT").outputs, "Fac")
    state = b.math("MULTIPLY", b.math("GREATER_THAN", b.math("ADD", progress, EPSILON), order), exists)
    dim = socket(attribute(b, DIM_PROP, "OBJECT").outputs, "Fac")
    base, emit, strength = cell_colour(b, socket(gin.outputs, "Kind"), shade, state, 0.0, dim)
    line = b.math("MULTIPLY", darkness, LINE_DARKEN)
    base, emit = b.mix_color(line, base, rgba(DARK)), b.mix_color(line, emit, rgba(DARK))
    b.feed(socket(b.node("NodeGroupOutput").inputs, "Shader"), bsdf(b, base, emit, strength))


def _group(name: str, build) -> bpy.types.ShaderNodeTree:
    def make(key: str) -> bpy.types.ShaderNodeTree:
        tree = bpy.data.node_groups.new(key, "ShaderNodeTree")
        build(tree)
        return tree

    return datablocks.get_or_create("node_groups", name, make, version=GROUP_VERSION, update=build)


# --- images and materials ------------------------------------------------------------------

def tile_image(name: str, data: np.ndarray) -> bpy.types.Image:
    """An 8-bit, non-colour, channel-packed image of (height, width, 4) uint8 texels."""
    h, w, _ = data.shape
    img = datablocks.tag(bpy.data.images.new(name, w, h, alpha=True, float_buffer=False, is_data=True))
    img.alpha_mode = "CHANNEL_PACKED"
    img.pixels.foreach_set(np.multiply(data.reshape(-1), np.float32(1 / 255), dtype=np.float32))
    return img


def _build_template(mat: bpy.types.Material) -> None:
    tree = ensure_node_tree(mat)
    tree.nodes.clear()
    b = NodeBuilder(tree)
    texel = b.node("ShaderNodeGroup", node_tree=_group(TEXEL_GROUP, _build_texel), name="Texel")
    tex = b.node("ShaderNodeTexImage", interpolation="Closest", extension="EXTEND", name="Values")
    b.feed(socket(tex.inputs, "Vector"), socket(texel.outputs, "Vector"))
    box = b.node("ShaderNodeGroup", node_tree=_group(BOX_GROUP, _build_box), name="Box")
    b.feed(socket(box.inputs, "Color"), socket(tex.outputs, "Color"))
    b.feed(socket(box.inputs, "Alpha"), socket(tex.outputs, "Alpha"))
    out = b.node("ShaderNodeOutputMaterial", target="ALL")
    b.feed(socket(out.inputs, "Surface"), socket(box.outputs, "Shader"))
    draft_node(b, None)  # make_draft_images fills it
    if hasattr(mat, "cycles"):  # the glow is self-illumination: no light source to sample (thousands of faces)
        mat.cycles.emission_sampling = "NONE"


def _template() -> bpy.types.Material:
    """The shared material every tile's material is copied from (copying is ~10x faster than
    building nodes)."""
    def make(name: str) -> bpy.types.Material:
        mat = bpy.data.materials.new(name)
        _build_template(mat)
        return mat

    return datablocks.get_or_create("materials", TEMPLATE, make, version=GROUP_VERSION, update=_build_template)


def tile_material(name: str, block: Block, tile: texels.Tile, image: bpy.types.Image) -> bpy.types.Material:
    """The material of one tile: the two groups around an Image Texture node (Closest) of `image`."""
    mat = _template().copy()
    mat.name = name
    for key in (datablocks.KEY, datablocks.VERSION_KEY):
        del mat[key]  # a copy, not the shared template
    mat["llmviz_kind"] = block.kind
    mat["llmviz_tile_cols"] = tile.cols
    mat.diffuse_color = rgba(grid_fill(block.kind))  # what the draft (Workbench) shows
    nodes = mat.node_tree.nodes
    w, h = tile.texels
    socket(nodes["Texel"].inputs, "Tile").default_value = (tile.col0, tile.row0, 0.0)
    socket(nodes["Texel"].inputs, "Texels").default_value = (w, h, 1.0)
    nodes["Values"].image = image
    box = nodes["Box"].inputs
    socket(box, "Kind").default_value = rgba(KIND_COLORS[block.kind])
    by_cols = reveal_order.by_columns(block)
    socket(box, "By Columns").default_value = float(by_cols)
    socket(box, "Inner Size").default_value = float(block.rows.size if by_cols else block.cols.size)
    return mat


# --- objects -------------------------------------------------------------------------------

def _tile_block(block: Block, tile: texels.Tile, whole: bool) -> Block:
    x, y, z = block.origin
    return replace(block, rows=Dim(block.rows.label, tile.rows), cols=Dim(block.cols.label, tile.cols),
                   origin=(x + tile.col0 * PITCH, y, z - tile.row0 * PITCH), triangle=block.triangle and whole)


def add_value_box(name: str, block: Block, trace: Mapping[str, np.ndarray] | None, weights: Weights | None,
                  collection: bpy.types.Collection, max_texture: int = texels.MAX_TEXTURE) -> bpy.types.Object | None:
    """The block as a value box (one sub-box, image and material per tile), or None without numbers."""
    data = texels.block_bytes(block, trace, weights)
    if data is None:
        return None
    tiles = [t for t in texels.tiles(block.shape, max_texture)
             if not block.triangle or t.col0 <= t.row0 + t.rows - 1]  # tiles wholly above a causal diagonal: no cells
    whole = len(tiles) == 1
    rows, cols = block.shape
    joined = np.array([(t.col0 > 0, t.col0 + t.cols < cols, t.row0 > 0, t.row0 + t.rows < rows) for t in tiles])
    mesh = boxes_mesh(name, [_tile_block(block, t, whole) for t in tiles],
                      first=np.array([(t.row0, t.col0) for t in tiles], np.float64), cell_faces=True, joined=joined)
    for i, tile in enumerate(tiles):
        image = tile_image(f"{name} {i}", texels.tile_texels(data, tile))
        mesh.materials.append(tile_material(f"{name} {i}", block, tile, image))
    mesh.polygons.foreach_set("material_index", np.repeat(np.arange(len(tiles), dtype=np.int32), 6))
    _draft_uv(mesh, tiles)
    mesh.update()
    obj = datablocks.tag(bpy.data.objects.new(name, mesh))
    obj[DIM_PROP] = 0.0
    obj[PITCH_PROP] = PITCH
    obj[GAP_PROP] = 1.0 - CELL / PITCH
    obj[PROGRESS] = DONE
    obj[PROP] = 1
    obj["llmviz_tiles"] = len(tiles)
    collection.objects.link(obj)
    return obj


def _draft_uv(mesh: bpy.types.Mesh, tiles: list[texels.Tile]) -> None:
    """The active UV map DRAFT_UV: ``cell_uv`` over each tile's cells in [0, 1] (24 corners a tile)."""
    uv = np.empty(2 * len(mesh.loops), np.float32)
    mesh.uv_layers["cell_uv"].data.foreach_get("uv", uv)
    uv = uv.reshape(len(tiles), 24, 2)
    first = np.array([(t.col0, t.row0) for t in tiles], np.float32)[:, None]
    size = np.array([(t.cols, t.rows) for t in tiles], np.float32)[:, None]
    layer = mesh.uv_layers.new(name=DRAFT_UV)
    layer.data.foreach_set("uv", ((uv - first) / size).ravel())
    mesh.uv_layers.active = layer


def make_draft_images(obj: bpy.types.Object, light: float, ghost: tuple[float, ...]) -> int:
    """Give each tile material of value box `obj` its draft image (see the module docstring): the
    cells computed, lit by `light` (light reaching a front face, a factor on the base colour),
    cells that do not exist in the `ghost` tone. Kept while (light, ghost) stay the same; returns
    how many images were made."""
    key = [round(float(light), 6), *(round(float(c), 6) for c in ghost[:3])]
    made = 0
    for slot in obj.material_slots:
        mat = slot.material
        node = mat.node_tree.nodes.get(DRAFT_NODE) if mat is not None and mat.node_tree else None
        if node is None or (node.image is not None and list(mat.get(DRAFT_KEY, [])) == key):
            continue
        values = mat.node_tree.nodes["Values"].image
        w, h = values.size
        packed = np.empty(4 * w * h, np.float32)
        values.pixels.foreach_get(packed)
        packed = np.rint(packed * 255).astype(np.uint8).reshape(h, w, 4)
        kind = tuple(socket(mat.node_tree.nodes["Box"].inputs, "Kind").default_value)
        palette = texels.draft_palette(kind, light, ghost)
        if node.image is not None:
            bpy.data.images.remove(node.image)
        image = datablocks.tag(srgb_image(f"{mat.name} draft", texels.draft_texels(packed, mat["llmviz_tile_cols"],
                                                                                        palette)))
        image[DRAFT_IMAGE] = 1
        node.image = image
        mat[DRAFT_KEY] = key
        made += 1
    return made


def drop_draft_images() -> int:
    """Remove every draft image (renders other than draft do not need them); returns how many."""
    todo = [img for img in datablocks.owned("images") if img.get(DRAFT_IMAGE)]
    if todo:
        bpy.data.batch_remove(todo)
    return len(todo)


def is_value_box(obj: bpy.types.Object) -> bool:
    return bool(obj.get(PROP, 0))


def images_of(obj: bpy.types.Object) -> list[bpy.types.Image]:
    """The value images a value box's materials read, tile by tile."""
    out = []
    for slot in obj.material_slots:
        tree = slot.material.node_tree if slot.material is not None else None
        out += [n.image for n in (tree.nodes if tree else ()) if n.type == "TEX_IMAGE" and n.image is not None]
    return out


def key_reveal(obj: bpy.types.Object, block: Block, reveal: np.ndarray) -> None:
    """Key the box's ``llmviz_progress`` so its cells appear at their reveal frames (cells() order);
    a block never computed in the walkthrough stays a ghost, one shown always stays whole."""
    frames, orders = reveal_order.progress_keys(block, reveal)
    if len(frames):
        set_keys(obj, f'["{PROGRESS}"]', frames, orders, interpolation="LINEAR")
    obj[PROGRESS] = float(orders[0]) if len(frames) else -1.0 if np.all(reveal >= NEVER) else DONE


def pack_images() -> int:
    """Pack our generated value images into the open file (PNG, lossless), so a saved .blend shows
    the values without the add-on; returns how many were packed."""
    todo = [img for img in datablocks.owned("images") if img.packed_file is None]
    for img in todo:
        img.pack()
    return len(todo)
