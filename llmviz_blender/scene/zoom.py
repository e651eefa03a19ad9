"""The zoom shot and the cell still in the scene: `zoom_to` keys the camera's flight from the whole
model down to one cell (timeline.zoom plans it), `frame_cell` frames one cell for a still. Both put
the cell's readout (layout.readout) on screen as scene text on the walkthrough's caption band and
formula plate, and ring the cell with a marker. Only native data (keys, a Track To constraint):
the saved .blend plays without the add-on.
"""

from __future__ import annotations

import bpy
import numpy as np

from ..i18n import narrow_chars
from ..defaults import ALWAYS, CELL, FPS, THEME
from ..composition.frame import BAR, CAPTION_TOP, FORMULA_BAR, FORMULA_WIDTH, TEXT_WIDTH, caption_size, formula_size
from ..layout import CellRef
from ..layout.readout import explain
from ..layout.target import cell_target
from ..timeline.zoom import (HOLD, OVERLAY_SHARE, SECONDS, caption, cell_pose, marker_quads, occluders, plan_zoom,
                             zoom_frame)
from . import environment, label_keys
from .builder import ROOT, THEME_PROP, in_its_language
from .keys import set_keys, set_vector_keys, set_visibility
from .labels import TEXT_COLOR, quads_mesh
from .nodes import DIM_PROP
from .session import model_of
from .value_boxes import DONE, PROGRESS
from .walkthrough import (FORMULA_COLOR, STEPS, TARGET, animation_collection, scene_camera, clear_keys, key_camera,
                          overlay_rig, overlay_text, overlay_plate)

ZOOM = "llmviz_zoom"  # the cell a zoom or still shows, saved on the collection of its overlays
MARKER_FRONT = 0.05  # the marker stands this far in front of the cell


def _reset(collection: bpy.types.Collection, cam: bpy.types.Object, scene: bpy.types.Scene) -> None:
    """Undo what a walkthrough or an earlier zoom keyed: camera and label keys, the camera's
    tracking, cells' reveal (value boxes' progress too) and dimming, hidden blocks; the walkthrough's
    record."""
    if STEPS in collection:
        scene.frame_set(scene.frame_end)
    blocks = [o for o in collection.all_objects if "llmviz_key" in o]
    clear_keys([cam, cam.data, *blocks, *(o for o in collection.all_objects if o.type == "FONT")])
    for c in [c for c in cam.constraints if c.name == TARGET]:
        cam.constraints.remove(c)
    for obj in blocks:
        obj.hide_render = obj.hide_viewport = False
        obj[DIM_PROP] = 0.0
        if PROGRESS in obj:  # a value box: every cell shown
            obj[PROGRESS] = DONE
        reveal = obj.data.attributes.get("reveal")
        if reveal is not None:
            reveal.data.foreach_set("value", np.full(len(reveal.data), ALWAYS, np.float32))
            obj.data.update()
    for key in (STEPS, "llmviz_chapters", "llmviz_frames"):
        collection.pop(key, None)


def _marker(ref: CellRef, anim: bpy.types.Collection) -> bpy.types.Object:
    """A ring round the cell, in front of it, in the formula's colour."""
    obj = quads_mesh(f"{ROOT} Zoom Marker", marker_quads(), FORMULA_COLOR, anim)
    centre = ref.block.positions(np.array([ref.row]), np.array([ref.col]))[0]
    obj.location = tuple(centre - [0.0, CELL / 2 + MARKER_FRONT, 0.0])
    return obj


def _overlays(rig, anim, d: float, height: float, width: float, texts: list[str],
              formula: str) -> tuple[list[bpy.types.Object], list[bpy.types.Object]]:
    """The caption band with each of `texts` (all in one place: shown one at a time) and the formula
    plate with `formula`; returns (caption texts, [formula plate, formula text])."""
    aspect = width / height
    bottom = -height / 2
    overlay_plate(f"{ROOT} Zoom Caption Bar", rig, anim, d, width, bottom - height, bottom + BAR * height)
    size = caption_size(aspect, max(narrow_chars(t) for t in texts)) * height
    shown = [overlay_text(f"{ROOT} Zoom Caption {i}", text, rig, anim,
                           (0.0, bottom + CAPTION_TOP * BAR * height, -d), size, TEXT_COLOR,
                           width=TEXT_WIDTH * width, align_y="TOP") for i, text in enumerate(texts)]
    top = bottom + (BAR + FORMULA_BAR) * height
    plate = overlay_plate(f"{ROOT} Zoom Formula Plate", rig, anim, d, width, top - FORMULA_BAR * height, top)
    text = overlay_text(f"{ROOT} Zoom Formula", formula, rig, anim, (0.0, top - 0.5 * FORMULA_BAR * height, -d),
                         formula_size(aspect, narrow_chars(formula)) * height, FORMULA_COLOR,
                         width=FORMULA_WIDTH * width)
    return shown, [plate, text]


def _key_rig(rig: bpy.types.Object, shifts: np.ndarray, distance: np.ndarray, d: float, height: float,
             frames: list[int] | None = None) -> None:
    """Scale the overlay rig about the camera so its texts stand OVERLAY_SHARE of the way to the
    aim (the picture is unchanged); its lens-shift offset grows with it. Keyed at `frames`, or set
    (one pose: a still)."""
    scale = np.maximum(1.0, OVERLAY_SHARE * np.asarray(distance, float) / d)
    if frames is None:
        rig.scale = (float(scale[0]),) * 3
        rig.location = (*(shifts[0] * height * scale[0]), 0.0)
        return
    set_vector_keys(rig, "scale", frames, np.repeat(scale[:, None], 3, axis=1))
    for axis in (0, 1):
        set_keys(rig, "location", frames, shifts[:, axis] * height * scale, index=axis)


def _start(collection: bpy.types.Collection, scene: bpy.types.Scene, target: str):
    """The model, its camera reset and a fresh overlay collection (replacing a walkthrough's)."""
    m = model_of(collection)
    cam = scene_camera(scene, collection)
    _reset(collection, cam, scene)
    anim = animation_collection(collection, f"{ROOT} {m.config.name}")
    anim[ZOOM] = target
    return m, cam, anim


def _hide_blocks(collection: bpy.types.Collection, spans: dict[str, list[tuple[int, int]]], first: int, last: int):
    """Per-cell blocks that stand between the camera and the cell are hidden while they do."""
    for obj in list(collection.all_objects):  # hiding changes the collection's object cache
        hidden = spans.get(obj.get("llmviz_key", ""))
        if hidden:
            shown, at = [], first
            for a, b in hidden:
                if a > at:
                    shown.append((at, a - 1))
                at = b + 1
            if at <= last:
                shown.append((at, last))
            set_visibility(obj, shown, first)


@in_its_language
def zoom_to(collection: bpy.types.Collection, target: str, *, seconds: float = SECONDS, hold: float = HOLD,
            fps: int | None = None, scene: bpy.types.Scene | None = None) -> tuple[int, int]:
    """Key a camera flight from the whole model down to the cell `target` (BLOCK:ROW,COL, e.g.
    "h0.fc:3,1") over `seconds`, then `hold` seconds on it with its value and formula on screen;
    replaces a walkthrough's keys. Returns (frame_start, frame_end). LayoutError / TimelineError
    (one line) on a bad target or timing, before anything changes."""
    scene = scene or bpy.context.scene
    m = model_of(collection)
    overview = environment.overview_box([m.layout], collection)
    zoom = plan_zoom(m.layout, m.trace, m.weights, target, overview, environment.aspect(scene), fps or FPS,
                     seconds, hold)
    m, cam, anim = _start(collection, scene, target)
    rig, d, height, width = overlay_rig(cam, scene, anim)
    key_camera(cam, zoom, anim, rig, height)
    frames = [k.frame for k in zoom.camera_keys]
    _key_rig(rig, np.array([k.pose.blender_shift() for k in zoom.camera_keys]), zoom.distance, d, height, frames)
    (flying, arrived), formula = _overlays(rig, anim, d, height, width, [zoom.flying, zoom.arrived],
                                           zoom.readout.formula)
    first, last = zoom.frame_start, zoom.frame_end
    set_visibility(flying, [(first, zoom.arrive - 1)], first)
    for obj in (arrived, *formula):
        set_visibility(obj, [(zoom.arrive, last)], first)
    marker = _marker(zoom.cell, anim)
    for axis in (0, 2):
        set_keys(marker, "scale", frames, zoom.marker, index=axis)
    _hide_blocks(collection, zoom.hidden, first, last)
    segments = zoom.segments()
    label_keys.key_steps(collection, segments, [s.key for s in segments], zoom.pose_at, zoom_frame(width / height),
                         first)
    environment.apply_theme(scene, collection.get(THEME_PROP, THEME))  # the overlays' materials
    scene.render.fps = zoom.fps
    scene.frame_start, scene.frame_end = first, last
    scene.frame_set(first)
    collection["llmviz_frames"] = [first, last]
    return first, last


@in_its_language
def frame_cell(collection: bpy.types.Collection, target: str, scene: bpy.types.Scene | None = None) -> str:
    """Frame the cell `target` (BLOCK:ROW,COL) and its neighbours for a still, with its value and
    formula on screen and the blocks in front of it hidden; returns what it frames."""
    scene = scene or bpy.context.scene
    m = model_of(collection)
    ref = cell_target(m.layout, target, "camera")
    readout = explain(m.layout, m.trace, m.weights, ref.block.key, ref.row, ref.col)
    m, cam, anim = _start(collection, scene, target)
    aspect = environment.aspect(scene)
    pose = cell_pose(ref, aspect)
    environment.set_pose(cam, pose)
    rig, d, height, width = overlay_rig(cam, scene, anim)
    _key_rig(rig, np.array([pose.blender_shift()]), [np.linalg.norm(np.subtract(pose.location, pose.target))],
             d, height)
    _overlays(rig, anim, d, height, width, [caption(readout)], readout.formula)
    _marker(ref, anim)
    hiding = occluders(m.layout, ref, [pose])[0]
    for obj in list(collection.all_objects):  # hiding changes the collection's object cache
        if obj.get("llmviz_key") in hiding:
            obj.hide_render = obj.hide_viewport = True
    label_keys.show_still(collection, pose, zoom_frame(aspect))
    environment.apply_theme(scene, collection.get(THEME_PROP, THEME))
    return f"cell ({ref.row}, {ref.col}) of {ref.block.name} ({ref.block.key})"


def drop(collection: bpy.types.Collection, scene: bpy.types.Scene | None = None) -> None:
    """Remove a zoom's or cell still's keys, marker and texts (before another view is framed)."""
    if not any(ZOOM in c for c in collection.children):
        return
    scene = scene or bpy.context.scene
    _reset(collection, scene_camera(scene, collection), scene)
    empty = animation_collection(collection, f"{ROOT} {model_of(collection).config.name}")  # the old one goes
    bpy.data.collections.remove(empty)
