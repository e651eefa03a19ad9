"""The cell inspector in the 3D view: the modal operator ``llmviz.inspect`` (hover a cell, or read
a typed one), the boxes around the hovered cell and the cells it reads, and their GPU overlay.
What a cell shows and how it is computed is the pure `layout.readout`."""

from __future__ import annotations

from collections.abc import Mapping

import bpy
import numpy as np
from bpy.props import BoolProperty, IntProperty, StringProperty

from .. import scene as scene_api
from ..layout import CELL, PITCH, Layout
from ..layout.readout import Readout, Span, explain, explain_ref
from ..model import ModelError, Weights
from .operators import fail, succeed, the_model

# ------------------------------------------------------------------------------ highlight

def span_box(layout: Layout, span: Span, pad: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """World box (lo, hi) around the cells of `span`, padded by `pad`."""
    block = layout[span.key]
    x0, y0, z0 = block.origin
    h = CELL / 2 + pad
    lo = np.array([x0 + span.cols[0] * PITCH - h, y0 - h, z0 - span.rows[1] * PITCH - h])
    hi = np.array([x0 + span.cols[1] * PITCH + h, y0 + h, z0 - span.rows[0] * PITCH + h])
    return lo, hi


def highlight_boxes(layout: Layout, readout: Readout) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(role, lo, hi) boxes: the inspected cell ("cell") and the cells it reads ("source")."""
    target = span_box(layout, Span(readout.key, (readout.row,) * 2, (readout.col,) * 2), pad=0.2)
    return [("cell", *target), *(("source", *span_box(layout, s)) for s in readout.sources)]


_EDGES = np.array([(0, 1), (2, 3), (4, 5), (6, 7), (0, 2), (1, 3), (4, 6), (5, 7), (0, 4), (1, 5), (2, 6), (3, 7)])


def box_segments(lo, hi) -> np.ndarray:
    """The 12 edges of box lo..hi as 24 points (pairs), float32, for a LINES batch."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    return corners[_EDGES.reshape(-1)].astype(np.float32)


#: Overlay colours (RGBA) of the inspected cell and of the cells it reads.
COLORS = {"source": (0.25, 0.85, 1.0, 1.0), "cell": (1.0, 0.95, 0.2, 1.0)}


class Inspector:
    """What the modal inspector keeps between mouse moves: the model's layout and numbers, the
    cell under the mouse (`current`) and the overlay line segments per role (`segments`)."""

    def __init__(self, layout: Layout, trace: Mapping[str, np.ndarray] | None, weights: Weights | None):
        self.layout, self.trace, self.weights = layout, trace, weights
        self.current: Readout | None = None
        self.segments: dict[str, np.ndarray] = {}

    def hover(self, origin, direction) -> Readout | None:
        """Pick along the ray; keeps the previous readout object when the cell is the same."""
        ref = self.layout.pick(origin, direction)
        if ref is None:
            self.current, self.segments = None, {}
            return None
        if self.current is not None and self.current.cell == (ref.block.key, ref.row, ref.col):
            return self.current
        self.current = explain_ref(self.layout, self.trace, self.weights, ref)
        boxes = highlight_boxes(self.layout, self.current)
        self.segments = {role: np.concatenate([box_segments(lo, hi) for r, lo, hi in boxes if r == role]
                                              or [np.zeros((0, 3), np.float32)])
                         for role in COLORS}
        return self.current


# ------------------------------------------------------------------------------ modal operator

class _Hover:
    """State of one running modal inspector: the model, the ray transform, the highlight."""

    def __init__(self, coll: bpy.types.Collection):
        m = scene_api.model_of(coll)
        self.inspector = Inspector(m.layout, m.trace, m.weights)
        obj = next((o for o in coll.all_objects if "llmviz_key" in o or "llmviz_blocks" in o), None)  # cells or boxes
        self.matrix = obj.matrix_world.copy() if obj is not None else None
        self.handle = None
        self.area = None
        self.batches = None


_running: list[_Hover] = []


def view_ray(region, rv3d, coord, matrix=None):
    """Ray (origin, direction) through pixel `coord` of a 3D view region, in the model's space
    (`matrix`: the model objects' world matrix, None for identity)."""
    from bpy_extras import view3d_utils
    origin = view3d_utils.region_2d_to_origin_3d(region, rv3d, coord)
    direction = view3d_utils.region_2d_to_vector_3d(region, rv3d, coord)
    if matrix is not None:
        inv = matrix.inverted()
        origin = inv @ origin
        direction = inv.to_3x3() @ direction
    return tuple(origin), tuple(direction)


def _region_under(area, x: int, y: int):
    for region in area.regions:
        if region.type == "WINDOW" and region.x <= x < region.x + region.width \
                and region.y <= y < region.y + region.height:
            return region
    return None


def _draw(state: _Hover) -> None:
    """POST_VIEW draw callback: outline the hovered cell and the cells it reads (wide lines through
    the polyline shader, which every GPU backend supports)."""
    if not state.inspector.segments:
        return
    import gpu
    from gpu_extras.batch import batch_for_shader
    shader = gpu.shader.from_builtin("POLYLINE_UNIFORM_COLOR")
    if state.batches is None:
        state.batches = [(batch_for_shader(shader, "LINES", {"pos": segs}), COLORS[role])
                         for role, segs in state.inspector.segments.items() if len(segs)]
    gpu.state.depth_test_set("NONE")
    gpu.state.blend_set("ALPHA")
    with gpu.matrix.push_pop():
        if state.matrix is not None:
            gpu.matrix.multiply_matrix(state.matrix)
        shader.bind()
        shader.uniform_float("viewportSize", gpu.state.viewport_get()[2:])
        shader.uniform_float("lineWidth", 2.0)
        for batch, color in state.batches:
            shader.uniform_float("color", color)
            batch.draw(shader)
    gpu.state.blend_set("NONE")


def _stop(state: _Hover, context=None) -> None:
    if state.handle is not None:
        bpy.types.SpaceView3D.draw_handler_remove(state.handle, "WINDOW")
        state.handle = None
    try:
        if state.area is not None:
            state.area.header_text_set(None)
            state.area.tag_redraw()
        if context is not None and context.workspace is not None:
            context.workspace.status_text_set(None)
    except (ReferenceError, AttributeError):  # the area or workspace is gone
        pass
    if state in _running:
        _running.remove(state)


def stop_all() -> None:
    """End every running inspector (on unregister): draw handlers and header texts go."""
    for state in list(_running):
        _stop(state, bpy.context)


class LLMVIZ_OT_inspect(bpy.types.Operator):
    """Hover cells in the 3D view to see their value and how it is computed (Esc or right-click
    ends; click keeps the cell in the panel). Run non-interactively (scripts, background mode) it
    reads the typed block / row / column instead"""

    bl_idname = "llmviz.inspect"
    bl_label = "Inspect Cells"
    bl_options = {"REGISTER"}

    typed: BoolProperty(name="Typed Cell", default=False, options={"SKIP_SAVE"},
                        description="Read the typed block/row/column instead of hovering")
    block: StringProperty(name="Block", default="", options={"SKIP_SAVE"},
                          description="Block key (empty: the panel's)")
    row: IntProperty(name="Row", default=-1, min=-1, options={"SKIP_SAVE"}, description="-1: the panel's")
    col: IntProperty(name="Column", default=-1, min=-1, options={"SKIP_SAVE"}, description="-1: the panel's")

    def execute(self, context):
        settings = context.scene.llmviz
        key = self.block or settings.inspect_block
        row = self.row if self.row >= 0 else settings.inspect_row
        col = self.col if self.col >= 0 else settings.inspect_col
        try:
            m = scene_api.model_of(the_model(context))
            readout = explain(m.layout, m.trace, m.weights, key.strip(), row, col)
        except Exception as exc:  # noqa: BLE001
            return fail(self, context, exc)
        settings.inspect_block, settings.inspect_row, settings.inspect_col = readout.key, readout.row, readout.col
        settings.readout = "\n".join(readout.lines())
        return succeed(self, context, readout.header())

    def invoke(self, context, event):
        area = context.area
        if self.typed or bpy.app.background or area is None or area.type != "VIEW_3D":
            return self.execute(context)
        try:
            coll = the_model(context)
            if any("llmviz_compare" in c for c in context.scene.collection.children_recursive):
                raise ModelError("hover inspection works on single-model scenes; use Read Cell in a comparison")
            state = _Hover(coll)
        except Exception as exc:  # noqa: BLE001
            return fail(self, context, exc)
        state.area = area
        state.handle = bpy.types.SpaceView3D.draw_handler_add(_draw, (state,), "WINDOW", "POST_VIEW")
        _running.append(state)
        self._state = state
        area.header_text_set("LLM Viz inspector: hover a cell; click keeps it in the panel; Esc or right-click ends")
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        state = self._state
        if state not in _running:  # stopped from outside (unregister)
            return {"CANCELLED"}
        if event.type in {"ESC", "RIGHTMOUSE"} and event.value == "PRESS":
            _stop(state, context)
            return {"FINISHED"}
        if event.type == "MOUSEMOVE":
            self._hover(context, event)
            return {"PASS_THROUGH"}
        if event.type == "LEFTMOUSE" and event.value == "PRESS" and state.inspector.current is not None:
            r = state.inspector.current
            settings = context.scene.llmviz
            settings.inspect_block, settings.inspect_row, settings.inspect_col = r.key, r.row, r.col
            settings.readout = "\n".join(r.lines())
            return {"RUNNING_MODAL"}
        return {"PASS_THROUGH"}

    def _hover(self, context, event) -> None:
        state = self._state
        region = _region_under(state.area, event.mouse_x, event.mouse_y)
        rv3d = None if region is None else (region.data or state.area.spaces.active.region_3d)
        if rv3d is None:
            return
        origin, direction = view_ray(region, rv3d, (event.mouse_x - region.x, event.mouse_y - region.y), state.matrix)
        before = state.inspector.current
        readout = state.inspector.hover(origin, direction)
        if readout is before or (readout is not None and before is not None and readout.cell == before.cell):
            return
        state.batches = None
        text = readout.header() if readout is not None else "LLM Viz inspector: no cell under the mouse"
        state.area.header_text_set(text)
        if context.workspace is not None:
            context.workspace.status_text_set(text)
        if readout is not None:
            context.scene.llmviz.readout = "\n".join(readout.lines())
        state.area.tag_redraw()


CLASSES = (LLMVIZ_OT_inspect,)
