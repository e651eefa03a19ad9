"""Operators: thin wrappers over the scripted API (``scene.build`` / ``animate`` / ``clear``, the
render helper, the pure inspector). Each reads ``context.scene.llmviz``; errors are reported in
one line (``self.report``) and also kept in ``llmviz.last_error`` for the panel, and the operator
returns CANCELLED with the file as it was (everything is validated before anything changes)."""

from __future__ import annotations

import traceback
from pathlib import Path

import bpy
from bpy.props import BoolProperty, IntProperty, StringProperty

from .. import scene as scene_api
from ..layout import LayoutError
from ..layout import readout as inspector
from ..model import ModelError
from ..scene import render
from ..timeline import CHAPTERS, TimelineError
from . import preferences, presets
from .properties import SHAPE_FIELDS, model_collection

#: Errors of bad input: reported as they are. Anything else is reported too, with its type name,
#: and its traceback goes to the console.
EXPECTED = (ModelError, LayoutError, TimelineError, render.RenderError, OSError)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    if isinstance(exc, EXPECTED):
        return line or type(exc).__name__
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__


def fail(op: bpy.types.Operator, context, exc: BaseException) -> set[str]:
    """Report `exc` in one line, remember it for the panel, and cancel."""
    if not isinstance(exc, EXPECTED):
        traceback.print_exc()
    message = one_line(exc)
    op.report({"ERROR"}, message)
    settings = getattr(context.scene, "llmviz", None)
    if settings is not None:
        settings.last_error = message
    return {"CANCELLED"}


def succeed(op: bpy.types.Operator, context, message: str) -> set[str]:
    context.scene.llmviz.last_error = ""
    op.report({"INFO"}, message)
    return {"FINISHED"}


# ------------------------------------------------------------------------------ requests

def current_config(settings, context):
    """The preset chosen in the panel, with the custom shape applied when it is on."""
    config = presets.load(settings.preset, preferences.user_presets_dir(context))
    if settings.edit_shape:
        shape = {f: int(getattr(settings, f)) for f in SHAPE_FIELDS}
        if any(shape[f] != getattr(config, f) for f in SHAPE_FIELDS):
            extra = {} if shape["vocab_size"] == config.vocab_size else {"vocab": None, "default_input": None}
            # the preset's weights file no longer fits the shape
            config = config.replace(weights=None, **shape, **extra).validate(f"custom shape of {config.name}")
    return config


def weights_path(settings) -> Path:
    if not settings.weights_path.strip():
        raise ModelError("weights: choose a .safetensors file (or another weights source)")
    return Path(bpy.path.abspath(settings.weights_path)).expanduser()


def build_request(settings, context) -> dict:
    """The arguments of ``scene.build`` the panel's settings stand for (loads the preset)."""
    config = current_config(settings, context)
    source = settings.weights_source
    weights = None
    if source == "FILE":
        weights = weights_path(settings)
    elif source == "RANDOM":
        weights = "random"
    elif source == "NONE":
        config = config.replace(weights=None)
    return {"preset_or_config": config, "weights": weights, "tokens": settings.tokens.strip() or None,
            "lod": settings.lod, "max_cells": settings.max_cells, "budget": int(settings.budget_gb * 2**30) or None,
            "labels": settings.labels, "card": settings.card}


def render_options(settings, context) -> dict:
    engine = settings.engine if settings.engine != "DEFAULT" else preferences.default_engine(context)
    device = settings.device if settings.device != "DEFAULT" else preferences.default_device(context)
    return {"engine": engine.lower(), "device": device.lower(), "samples": settings.samples,
            "resolution": (settings.resolution_x, settings.resolution_y)}


def the_model(context) -> bpy.types.Collection:
    coll = model_collection(context.scene)
    if coll is None:
        raise ModelError("no llmviz model in this scene: press Generate first")
    return coll


_models: dict = {}  # one cached model (trace and layout) for repeated readouts of the same scene


def model_for(coll: bpy.types.Collection):
    """``scene.model_of(coll)``, cached by the collection's model properties."""
    key = (coll.get("llmviz_config"), coll.get("llmviz_weights"), tuple(coll.get("llmviz_tokens", ())),
           coll.get("llmviz_layers_per_column"))
    if _models.get("key") != key:
        _models.clear()
        _models.update(key=key, model=scene_api.model_of(coll))
    return _models["model"]


# ------------------------------------------------------------------------------ operators

class LLMVIZ_OT_generate(bpy.types.Operator):
    """Build the chosen model's forward pass as cubes (replaces earlier llmviz content)"""

    bl_idname = "llmviz.generate"
    bl_label = "Generate"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        settings = context.scene.llmviz
        wm = context.window_manager
        wm.progress_begin(0, 2)
        try:
            request = build_request(settings, context)
            wm.progress_update(1)
            coll = scene_api.build(**request, scene=context.scene)
            wm.progress_update(2)
        except Exception as exc:  # noqa: BLE001 - reported in one line, file unchanged
            return fail(self, context, exc)
        finally:
            wm.progress_end()
        settings.readout = ""
        n = sum(1 for o in coll.all_objects if "llmviz_key" in o)
        return succeed(self, context, f"{coll['llmviz_preset']}: {len(coll['llmviz_tokens'])} tokens, "
                                      f"{n} per-cell blocks")


class LLMVIZ_OT_animate(bpy.types.Operator):
    """Keyframe the walkthrough of the generated model (chapters, captions, camera)"""

    bl_idname = "llmviz.animate"
    bl_label = "Animate"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        settings = context.scene.llmviz
        chosen = [c for c in CHAPTERS if c in settings.chapters]
        wm = context.window_manager
        wm.progress_begin(0, 1)
        try:
            if not chosen:
                raise TimelineError("chapters: choose at least one chapter")
            coll = the_model(context)
            start, end = scene_api.animate(coll, fps=settings.fps, speed=settings.speed,
                                           chapters=None if len(chosen) == len(CHAPTERS) else chosen,
                                           start_layer=settings.start_layer)
        except Exception as exc:  # noqa: BLE001
            return fail(self, context, exc)
        finally:
            wm.progress_end()
        return succeed(self, context, f"walkthrough keyed: frames {start}-{end} at {settings.fps} fps")


class LLMVIZ_OT_clear(bpy.types.Operator):
    """Remove everything llmviz made in this file (your own data is left alone)"""

    bl_idname = "llmviz.clear"
    bl_label = "Clear"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        try:
            n = scene_api.clear()
        except Exception as exc:  # noqa: BLE001
            return fail(self, context, exc)
        context.scene.llmviz.readout = ""
        return succeed(self, context, f"removed {n} llmviz data-blocks")


class _RenderOperator:
    """Render with the panel's settings inside window-manager progress; subclasses say what."""

    bl_options = {"REGISTER"}

    def frames(self, scn) -> tuple[int, int]:
        return 0, 1

    def render(self, context, settings, progress) -> str:
        raise NotImplementedError

    def execute(self, context):
        settings = context.scene.llmviz
        wm = context.window_manager
        wm.progress_begin(*self.frames(context.scene))
        try:
            render.configure(context.scene, **render_options(settings, context))
            done = self.render(context, settings, wm.progress_update)
        except Exception as exc:  # noqa: BLE001
            return fail(self, context, exc)
        finally:
            wm.progress_end()
        return succeed(self, context, done)


class LLMVIZ_OT_render_still(_RenderOperator, bpy.types.Operator):
    """Render the current frame to the still path with the panel's render settings"""

    bl_idname = "llmviz.render_still"
    bl_label = "Render Still"

    filepath: StringProperty(name="File", subtype="FILE_PATH", default="", options={"SKIP_SAVE"},
                             description="PNG to write (empty: the panel's still path)")

    def render(self, context, settings, progress) -> str:
        path = render.still(context.scene, self.filepath or settings.still_path)
        progress(1)
        return f"wrote {path}"


class LLMVIZ_OT_render_animation(_RenderOperator, bpy.types.Operator):
    """Render the scene's frame range to the animation path (video or PNG folder)"""

    bl_idname = "llmviz.render_animation"
    bl_label = "Render Animation"

    filepath: StringProperty(name="File", subtype="FILE_PATH", default="", options={"SKIP_SAVE"},
                             description="Video or folder to write (empty: the panel's animation path)")

    def frames(self, scn) -> tuple[int, int]:
        return scn.frame_start, scn.frame_end

    def render(self, context, settings, progress) -> str:
        scn = context.scene
        path = render.animation(scn, self.filepath or settings.animation_path, progress=progress)
        return f"wrote {path} (frames {scn.frame_start}-{scn.frame_end})"


class LLMVIZ_OT_save_preset(bpy.types.Operator):
    """Save the current model shape (and weights file) as a preset in the user presets folder"""

    bl_idname = "llmviz.save_preset"
    bl_label = "Save Preset"
    bl_options = {"REGISTER"}

    name: StringProperty(name="Name", default="", description="Preset name (file name without .toml)")

    def invoke(self, context, event):
        if not self.name:
            self.name = f"{context.scene.llmviz.preset}-custom"
        return context.window_manager.invoke_props_dialog(self)

    def execute(self, context):
        settings = context.scene.llmviz
        try:
            config = current_config(settings, context)
            if settings.weights_source == "FILE":
                config = config.replace(weights=weights_path(settings))
            elif settings.weights_source in ("RANDOM", "NONE"):
                config = config.replace(weights=None)
            path = presets.save(config, preferences.user_presets_dir(context, create=True), self.name)
        except Exception as exc:  # noqa: BLE001
            return fail(self, context, exc)
        settings.preset = path.stem
        return succeed(self, context, f"saved preset {path}")


class LLMVIZ_OT_pick_weights(bpy.types.Operator):
    """Choose a .safetensors weights file"""

    bl_idname = "llmviz.pick_weights"
    bl_label = "Choose Weights"
    bl_options = {"REGISTER", "INTERNAL"}

    filepath: StringProperty(subtype="FILE_PATH", options={"SKIP_SAVE"})
    filter_glob: StringProperty(default="*.safetensors", options={"HIDDEN"})

    def invoke(self, context, event):
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        settings = context.scene.llmviz
        settings.weights_path = self.filepath
        settings.weights_source = "FILE"
        return {"FINISHED"}


# ------------------------------------------------------------------------------ inspector

class _Hover:
    """State of one running modal inspector: the model, the ray transform, the highlight."""

    def __init__(self, coll: bpy.types.Collection):
        m = model_for(coll)
        self.inspector = inspector.Inspector(m.layout, m.trace, m.weights)
        obj = next((o for o in coll.all_objects if "llmviz_key" in o), None)
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
        state.batches = [(batch_for_shader(shader, "LINES", {"pos": segs}), inspector.COLORS[role])
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
            m = model_for(the_model(context))
            readout = inspector.explain(m.layout, m.trace, m.weights, key.strip(), row, col)
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


CLASSES = (LLMVIZ_OT_generate, LLMVIZ_OT_animate, LLMVIZ_OT_clear, LLMVIZ_OT_render_still,
           LLMVIZ_OT_render_animation, LLMVIZ_OT_save_preset, LLMVIZ_OT_pick_weights, LLMVIZ_OT_inspect)
