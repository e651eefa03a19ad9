"""Level-of-detail blocks: many blocks drawn as boxes in one mesh, the cell grid left to the shader."""

from __future__ import annotations

import bpy
import numpy as np

from ..layout import CELL, PITCH, Block
from . import datablocks
from .nodes import DIM_PROP, GAP_PROP, PITCH_PROP

# 6 quads over the 8 corners of a box, corner index = 4 * ix + 2 * iy + iz
_FACES = np.array([(1, 5, 4, 0), (6, 7, 3, 2), (4, 6, 2, 0), (3, 7, 5, 1), (2, 3, 1, 0), (5, 7, 6, 4)], np.int32)
_CORNER = np.array([((i >> 2) & 1, (i >> 1) & 1, i & 1) for i in range(8)], np.float64)  # (ix, iy, iz)


def boxes_mesh(name: str, blocks: list[Block], first: np.ndarray | None = None,
               cell_faces: bool = False, joined: np.ndarray | None = None) -> bpy.types.Mesh:
    """One mesh holding a box per block; UV map `cell_uv` gives (column, row) in cells on the front
    and back faces, (column, depth) on top and bottom, (depth, row) on the sides, with integer
    values mid-gap between the cubes the box stands for (as the grid material expects). A causal
    block's box narrows to its first cell at the top: its front shows the lower triangle.
    `first` (n, 2): each box's first (row, column), added to its coordinates (a tile of a larger
    block); `cell_faces`: top, bottom and sides take the first / last row's or column's cell
    coordinates across their depth (they show those cells' faces); `joined` (n, 4) bool: the box's
    left, right, top, bottom side meets a neighbour tile there, mid-gap (no seam between tiles)."""
    n = len(blocks)
    origin = np.array([b.origin for b in blocks], np.float64).reshape(n, 3)
    shape = np.array([b.shape for b in blocks], np.float64).reshape(n, 2)  # rows, cols
    h = CELL / 2
    lo = origin + [-h, -h, 0.0]
    span = np.stack([(shape[:, 1] - 1) * PITCH + CELL, np.full(n, CELL), np.zeros(n)], axis=1)
    verts = lo[:, None, :] + _CORNER[None] * span[:, None, :]
    # z: corner iz=0 is the top (origin z + h), iz=1 the bottom
    verts[:, :, 2] = origin[:, None, 2] + h - _CORNER[None, :, 2] * ((shape[:, None, 0] - 1) * PITCH + CELL)
    edge = 0.5 - h / PITCH
    col = np.where(_CORNER[None, :, 0] > 0, shape[:, None, 1] - edge, edge)  # (n, 8)
    row = np.where(_CORNER[None, :, 2] > 0, shape[:, None, 0] - edge, edge)
    top_right = (_CORNER[:, 0] > 0) & (_CORNER[:, 2] == 0)
    triangle = np.array([b.triangle for b in blocks], bool)
    verts[np.ix_(triangle, top_right, [0])] = lo[triangle, None, :1] + CELL
    col[np.ix_(triangle, top_right)] = 1 - edge
    if joined is not None:  # half a gap (edge cells) further on each joined side
        reach = joined.astype(np.float64) * edge
        dc = np.where(_CORNER[None, :, 0] > 0, reach[:, 1:2], -reach[:, 0:1])
        dr = np.where(_CORNER[None, :, 2] > 0, reach[:, 3:4], -reach[:, 2:3])
        col, row = col + dc, row + dr
        verts[:, :, 0] += dc * PITCH
        verts[:, :, 2] -= dr * PITCH
    depth = np.broadcast_to(_CORNER[None, :, 1], (n, 8))
    corner = _FACES.ravel()  # the corner of each loop of one box (24)
    face = np.repeat(np.arange(6), 4)
    if cell_faces:  # depth spans the cube of the first (iz / ix = 0) or last cell
        across = edge + depth * (1 - 2 * edge)
        depth_u = across + _CORNER[None, :, 0] * (shape[:, None, 1] - 1)
        depth_v = across + _CORNER[None, :, 2] * (shape[:, None, 0] - 1)
    else:
        depth_u = depth_v = depth
    u = np.where(face < 4, col[:, corner], depth_u[:, corner])
    v = np.where((face < 2) | (face >= 4), row[:, corner], depth_v[:, corner])
    if first is not None:
        u = u + first[:, 1:2]
        v = v + first[:, 0:1]

    mesh = datablocks.tag(bpy.data.meshes.new(name))
    mesh.vertices.add(8 * n)
    mesh.loops.add(24 * n)
    mesh.polygons.add(6 * n)
    mesh.attributes["position"].data.foreach_set("vector", verts.astype(np.float32).ravel())
    vertex_index = (_FACES[None] + 8 * np.arange(n, dtype=np.int32)[:, None, None]).ravel()
    mesh.polygons.foreach_set("loop_start", np.arange(0, 24 * n, 4, dtype=np.int32))
    mesh.loops.foreach_set("vertex_index", vertex_index.astype(np.int32))
    mesh.polygons.foreach_set("use_smooth", np.zeros(6 * n, bool))  # flat: each face lit as one plane
    uv = mesh.uv_layers.new(name="cell_uv")
    uv.data.foreach_set("uv", np.stack([u, v], axis=-1).astype(np.float32).ravel())
    mesh.update(calc_edges=True)
    return mesh


def add_boxes_object(name: str, blocks: list[Block], material: bpy.types.Material | None,
                     collection: bpy.types.Collection) -> bpy.types.Object:
    """An object drawing `blocks` as boxes with the grid material (properties the shader reads set)."""
    mesh = boxes_mesh(name, blocks)
    if material is not None:
        mesh.materials.append(material)
    obj = datablocks.tag(bpy.data.objects.new(name, mesh))
    obj[DIM_PROP] = 0.0
    obj[PITCH_PROP] = PITCH
    obj[GAP_PROP] = 1.0 - CELL / PITCH
    collection.objects.link(obj)
    return obj
