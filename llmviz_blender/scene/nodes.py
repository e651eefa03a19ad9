"""Geometry: the shared cell cube, the "LLMViz Cells" instancer node group, and block objects.

A per-cell block is one MESH object whose vertices are the cell centres, carrying point
attributes (see :data:`POINT_ATTRIBUTES`). The node group instances a cube on every point and
stores two attributes the materials read through INSTANCER Attribute nodes:

- ``state``: 1 once the scene frame reaches the cell's ``reveal`` frame (frame >= reveal), else 0;
  cells without ``reveal`` are always 1;
- ``highlight``: 1 for ``reveal <= frame < reveal + Highlight Frames``, else 0.

Not-yet-computed cells are drawn at :data:`GHOST_SCALE`. Everything is evaluated from the Scene
Time node: no drivers or handlers, so a saved .blend animates without the add-on.

Draft quality (Workbench, see scene.quality): when the group's Boolean node ``LLMViz Draft`` is
on, the instances are realised and each face corner gets the UV map ``llmviz_draft_uv``: the texel
of the draft palette (layout.texels.palette_uv; the image the kind materials' active Image Texture
node shows in Workbench's Texture colour mode) nearest to the cell's colour (shading.cell_colour
from ``shade``, state, highlight, the modifier inputs Colour and Dim) times a per-face light
factor baked from the scene's sun lights (the vector nodes ``LLMViz Light +`` / ``LLMViz Light -``:
irradiance on faces facing +X+Y+Z / -X-Y-Z), plus its emission. Renders draw only the three faces
of a cube that can face the scene camera (the +X+Y+Z faces mirrored per cell toward the camera:
half the corners to realise and draw; the draft turns backface culling off, as mirrored faces wind
the other way); the viewport, seen from anywhere, keeps whole cubes.

LOD boxes (one box per big block) carry the corner attribute ``cell_uv`` = (column, row) in cell
units; the grid material draws the cell lines from it.
"""

from __future__ import annotations

from typing import Mapping

import bpy
import numpy as np

from ..defaults import HIGHLIGHT_FRAMES
from ..layout import texels
from . import compat, datablocks
from .compat import NodeBuilder, socket
from .shading import GREY, cell_colour, rgba

INSTANCER_GROUP = "LLMViz Cells"
INSTANCER_VERSION = 6
MODIFIER_NAME = "LLMViz Cells"
GHOST_SCALE = 0.6

#: Point attributes the node group and materials understand (name -> Blender type).
POINT_ATTRIBUTES: dict[str, str] = {
    "value": "FLOAT",      # the number the cell shows
    "src_index": "INT",    # flat index into the source array
    "shade": "FLOAT",      # value / block scale, in [-1, 1]
    "reveal": "FLOAT",     # frame at which the cell is computed (ALWAYS for weights)
    "col": "INT",          # optional: column index (animation grouping)
}
#: Attributes the node group stores on the points for the materials.
STORED_ATTRIBUTES = ("state", "highlight")
#: Draft quality: the UV map into the draft palette Workbench shows, and the group's switch and light nodes.
DRAFT_UV = "llmviz_draft_uv"
DRAFT_NODE = "LLMViz Draft"
LIGHT_NODES = ("LLMViz Light +", "LLMViz Light -")

# Object custom properties read by the materials (Attribute node, type OBJECT).
DIM_PROP = "llmviz_dim"
PITCH_PROP = "llmviz_pitch"
GAP_PROP = "llmviz_gap"


# --- instancer node group ------------------------------------------------------------------

def _build_instancer(tree: bpy.types.GeometryNodeTree) -> None:
    """(Re)build the contents of the instancer group in place."""
    tree.nodes.clear()
    tree.interface.clear()
    iface = tree.interface
    iface.new_socket("Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    iface.new_socket("Material", in_out="INPUT", socket_type="NodeSocketMaterial")
    size = iface.new_socket("Cell Size", in_out="INPUT", socket_type="NodeSocketFloat")
    size.default_value, size.min_value = 1.0, 0.0
    hl = iface.new_socket("Highlight Frames", in_out="INPUT", socket_type="NodeSocketFloat")
    hl.default_value, hl.min_value = HIGHLIGHT_FRAMES, 0.0
    colour = iface.new_socket("Colour", in_out="INPUT", socket_type="NodeSocketColor")
    colour.default_value = rgba(GREY)
    dim = iface.new_socket("Dim", in_out="INPUT", socket_type="NodeSocketFloat")
    dim.default_value, dim.min_value, dim.max_value = 0.0, 0.0, 1.0
    iface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    if hasattr(tree, "is_modifier"):
        tree.is_modifier = True

    b = NodeBuilder(tree)
    gin = b.node("NodeGroupInput")
    time = b.node("GeometryNodeInputSceneTime")
    reveal = b.node("GeometryNodeInputNamedAttribute", data_type="FLOAT")
    socket(reveal.inputs, "Name").default_value = "reveal"
    frame = socket(time.outputs, "Frame")
    rv = socket(reveal.outputs, "Attribute")
    missing = b.math("SUBTRACT", 1.0, socket(reveal.outputs, "Exists"))

    since = b.math("SUBTRACT", frame, rv)                              # frames since reveal
    computed = b.math("GREATER_THAN", since, -1e-4)                     # frame >= reveal
    state = b.math("MAXIMUM", computed, missing)
    before_end = b.math("SUBTRACT", socket(gin.outputs, "Highlight Frames"), since, clamp=True)
    highlight = b.math("MULTIPLY", computed, before_end)
    highlight = b.math("MULTIPLY", highlight, b.math("SUBTRACT", 1.0, missing))
    scale = b.math("MULTIPLY", b.math("MULTIPLY_ADD", state, 1.0 - GHOST_SCALE, GHOST_SCALE),
                   socket(gin.outputs, "Cell Size"))

    geo = socket(gin.outputs, "Geometry")
    for name, field in (("state", state), ("highlight", highlight)):
        geo = _store(b, geo, name, field, "FLOAT", "POINT")

    cube = b.node("GeometryNodeMeshCube")
    socket(cube.inputs, "Size").default_value = (1.0, 1.0, 1.0)
    setmat = b.node("GeometryNodeSetMaterial")
    b.feed(socket(setmat.inputs, "Geometry"), socket(cube.outputs, "Mesh"))
    b.feed(socket(setmat.inputs, "Material"), socket(gin.outputs, "Material"))
    cube = socket(setmat.outputs, "Geometry")

    instances = _instance(b, geo, cube, scale)
    draft = _draft_branch(b, gin, geo, cube, scale, state, highlight)
    switch = b.node("GeometryNodeSwitch", input_type="GEOMETRY")
    b.feed(socket(switch.inputs, "Switch"), socket(b.node("FunctionNodeInputBool", name=DRAFT_NODE,
                                                          label=DRAFT_NODE).outputs, "Boolean"))
    b.feed(socket(switch.inputs, "False"), instances)
    b.feed(socket(switch.inputs, "True"), draft)
    gout = b.node("NodeGroupOutput")
    b.feed(socket(gout.inputs, "Geometry"), socket(switch.outputs, "Output"))


def _instance(b: NodeBuilder, points, cube, scale) -> bpy.types.NodeSocket:
    inst = b.node("GeometryNodeInstanceOnPoints")
    b.feed(socket(inst.inputs, "Points"), points)
    b.feed(socket(inst.inputs, "Instance"), cube)
    b.feed(socket(inst.inputs, "Scale"), scale)
    return socket(inst.outputs, "Instances")


def _store(b: NodeBuilder, geo, name: str, value, data_type: str, domain: str) -> bpy.types.NodeSocket:
    store = b.node("GeometryNodeStoreNamedAttribute", data_type=data_type, domain=domain)
    b.feed(socket(store.inputs, "Geometry"), geo)
    socket(store.inputs, "Name").default_value = name
    b.feed(socket(store.inputs, "Value"), value)
    return socket(store.outputs, "Geometry")


def _vector(b: NodeBuilder, op: str, a, b_=None) -> bpy.types.NodeSocket:
    n = b.node("ShaderNodeVectorMath", operation=op)
    b.feed(n.inputs[0], a)
    b.feed(socket(n.inputs, "Scale") if op == "SCALE" else n.inputs[1], b_)
    return socket(n.outputs, "Value" if op == "DOT_PRODUCT" else "Vector")


def _draft_branch(b: NodeBuilder, gin, points, cube, scale, state, highlight) -> bpy.types.NodeSocket:
    """Realised cubes with the corner UV map into the draft palette Workbench shows (see the module docstring)."""
    shade = b.node("GeometryNodeInputNamedAttribute", data_type="FLOAT")
    socket(shade.inputs, "Name").default_value = "shade"
    base, emit, strength = cell_colour(b, socket(gin.outputs, "Colour"), socket(shade.outputs, "Attribute"),
                                       state, highlight, socket(gin.outputs, "Dim"))
    viewport = socket(b.node("GeometryNodeIsViewport").outputs, "Is Viewport")
    side = _switch(b, "VECTOR", viewport, (1.0, 1.0, 1.0), _camera_side(b))
    points = _store(b, points, "llmviz_base", base, "FLOAT_COLOR", "POINT")
    points = _store(b, points, "llmviz_emit", _vector(b, "MULTIPLY", emit, strength), "FLOAT_COLOR",
                    "POINT")
    points = _store(b, points, "llmviz_side", side, "FLOAT_VECTOR", "POINT")
    # renders draw the three faces toward +X+Y+Z, mirrored per cell (scale * side) onto the faces
    # that look at the camera; the viewport, seen from anywhere, keeps the whole cube
    normal = socket(b.node("GeometryNodeInputNormal").outputs, "Normal")
    back = b.node("GeometryNodeDeleteGeometry", domain="FACE")
    b.feed(socket(back.inputs, "Geometry"), cube)
    b.feed(socket(back.inputs, "Selection"), b.math("LESS_THAN", _vector(b, "DOT_PRODUCT", normal, (1.0, 1.0, 1.0)),
                                                    0.0))
    template = _switch(b, "GEOMETRY", viewport, cube, socket(back.outputs, "Geometry"))
    template = _store(b, template, "llmviz_axis", normal, "FLOAT_VECTOR", "FACE")
    # attributes the output does not need are dropped from the instances (the scale field has read
    # them) before realising would copy them to every corner of every cube
    cells = _instance(b, points, template, _vector(b, "SCALE", side, scale))
    real = b.node("GeometryNodeRealizeInstances")
    b.feed(socket(real.inputs, "Geometry"), _drop(b, cells))

    def named(name: str, data_type: str) -> bpy.types.NodeSocket:
        n = b.node("GeometryNodeInputNamedAttribute", data_type=data_type)
        socket(n.inputs, "Name").default_value = name
        return socket(n.outputs, "Attribute")

    # the face's world normal: the template's axis turned by the cell's mirroring
    facing = _vector(b, "MULTIPLY", named("llmviz_axis", "FLOAT_VECTOR"), named("llmviz_side", "FLOAT_VECTOR"))
    light = None
    for sign, name in zip((1.0, -1.0), LIGHT_NODES):
        lit_by = _vector(b, "MAXIMUM", _vector(b, "MULTIPLY", facing, (sign, sign, sign)), (0.0, 0.0, 0.0))
        vec = socket(b.node("FunctionNodeInputVector", name=name, label=name).outputs, "Vector")
        term = _vector(b, "DOT_PRODUCT", lit_by, vec)
        light = term if light is None else b.math("ADD", light, term)
    lit = _store(b, socket(real.outputs, "Geometry"), "llmviz_light", light, "FLOAT", "FACE")  # 4x fewer than corners
    colour = _vector(b, "ADD", _vector(b, "SCALE", named("llmviz_base", "FLOAT_COLOR"), named("llmviz_light", "FLOAT")),
                     named("llmviz_emit", "FLOAT_COLOR"))
    rgb = b.node("ShaderNodeSeparateXYZ")
    b.feed(rgb.inputs[0], colour)
    uv = b.node("ShaderNodeCombineXYZ")
    for axis, value in zip("XY", texels.palette_uv(b, *(socket(rgb.outputs, a) for a in "XYZ"))):
        b.feed(socket(uv.inputs, axis), value)
    return _store(b, lit, DRAFT_UV, socket(uv.outputs, "Vector"), "FLOAT2", "CORNER")


def _camera_side(b: NodeBuilder) -> bpy.types.NodeSocket:
    """Per point, +1 or -1 on each axis: the side of the cell the scene camera is on (+1 level with it)."""
    camera = b.node("GeometryNodeObjectInfo", transform_space="RELATIVE")
    b.links.new(socket(b.node("GeometryNodeInputActiveCamera").outputs, "Active Camera"),
                socket(camera.inputs, "Object"))
    position = socket(b.node("GeometryNodeInputPosition").outputs, "Position")
    split = b.node("ShaderNodeSeparateXYZ")
    b.feed(split.inputs[0], _vector(b, "SUBTRACT", socket(camera.outputs, "Location"), position))
    side = b.node("ShaderNodeCombineXYZ")
    for axis in "XYZ":
        ahead = b.math("GREATER_THAN", socket(split.outputs, axis), -1e-6)
        b.feed(socket(side.inputs, axis), b.math("MULTIPLY_ADD", ahead, 2.0, -1.0))
    return socket(side.outputs, "Vector")


def _switch(b: NodeBuilder, input_type: str, condition, true, false) -> bpy.types.NodeSocket:
    n = b.node("GeometryNodeSwitch", input_type=input_type)
    b.feed(socket(n.inputs, "Switch"), condition)
    b.feed(socket(n.inputs, "True", input_type), true)
    b.feed(socket(n.inputs, "False", input_type), false)
    return socket(n.outputs, "Output", input_type)


def _drop(b: NodeBuilder, geo) -> bpy.types.NodeSocket:
    """`geo` without the block attributes (the draft output needs only its own)."""
    for name in (*POINT_ATTRIBUTES, *STORED_ATTRIBUTES):
        drop = b.node("GeometryNodeRemoveAttribute")
        b.feed(socket(drop.inputs, "Geometry"), geo)
        socket(drop.inputs, "Name").default_value = name
        geo = socket(drop.outputs, "Geometry")
    return geo


def instancer_group() -> bpy.types.GeometryNodeTree:
    """The shared geometry-nodes group ``LLMViz Cells`` (built once, rebuilt if outdated).

    Inputs: Geometry, Material, Cell Size (float, 1), Highlight Frames (float, 6), Colour (the kind
    colour; draft only), Dim (0..1; draft only, the keyed copy of the object's ``llmviz_dim``).
    """
    def make(name: str) -> bpy.types.GeometryNodeTree:
        tree = bpy.data.node_groups.new(name, "GeometryNodeTree")
        _build_instancer(tree)
        return tree

    return datablocks.get_or_create("node_groups", INSTANCER_GROUP, make,
                                    version=INSTANCER_VERSION, update=_build_instancer)


# --- block objects -------------------------------------------------------------------------

def _attr_array(arr: np.ndarray, n: int, name: str) -> tuple[str, np.ndarray]:
    """Blender attribute type and a contiguous array of the exact dtype for it."""
    a = np.asarray(arr)
    if a.shape != (n,):
        a = a.reshape(-1)
        if a.shape != (n,):
            raise ValueError(f"attribute {name!r}: expected {n} values, got shape {np.shape(arr)}")
    if a.dtype.kind in "iub":
        return "INT", np.ascontiguousarray(a, dtype=np.int32)
    return "FLOAT", np.ascontiguousarray(a, dtype=np.float32)


def _new_object(name: str, data: bpy.types.ID, collection: bpy.types.Collection) -> bpy.types.Object:
    obj = datablocks.tag(bpy.data.objects.new(name, data))
    obj[DIM_PROP] = 0.0
    collection.objects.link(obj)
    return obj


def add_cell_object(name: str, positions: np.ndarray, attrs: Mapping[str, np.ndarray],
                    material: bpy.types.Material | None, collection: bpy.types.Collection, *,
                    cell_size: float = 1.0,
                    highlight_frames: float = HIGHLIGHT_FRAMES) -> bpy.types.Object:
    """A per-cell block: N vertices at ``positions`` (N, 3) with point attributes ``attrs``.

    Integer arrays become INT attributes, others FLOAT. ``shade`` defaults to
    ``value / max|value|`` when only ``value`` is given. The object gets the instancer modifier
    with ``material`` (its ``diffuse_color``, the kind colour, as the Colour input) and the custom
    property ``llmviz_dim = 0``.
    """
    pos = np.ascontiguousarray(positions, dtype=np.float32).reshape(-1, 3)
    n = len(pos)
    attrs = dict(attrs)
    if "shade" not in attrs and "value" in attrs:
        v = np.asarray(attrs["value"], dtype=np.float32)
        m = float(np.abs(v).max()) if n else 0.0
        attrs["shade"] = v / m if m > 0 else np.zeros(n, np.float32)

    mesh = datablocks.tag(bpy.data.meshes.new(name))
    mesh.vertices.add(n)
    # the generic attribute path is ~80x faster than vertices.foreach_set("co") (0.003 s vs 0.23 s
    # for 1M points on 4.5); both take the same contiguous float32 buffer
    mesh.attributes["position"].data.foreach_set("vector", pos.ravel())
    for key, arr in attrs.items():
        kind, data = _attr_array(arr, n, key)
        mesh.attributes.new(key, kind, "POINT").data.foreach_set("value", data)
    mesh.update()

    obj = _new_object(name, mesh, collection)
    mod = obj.modifiers.new(MODIFIER_NAME, "NODES")
    mod.node_group = instancer_group()
    compat.set_modifier_input(mod, "Material", material)
    compat.set_modifier_input(mod, "Cell Size", float(cell_size))
    compat.set_modifier_input(mod, "Highlight Frames", float(highlight_frames))
    if material is not None:
        compat.set_modifier_input(mod, "Colour", tuple(material.diffuse_color))
    return obj
