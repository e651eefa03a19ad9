"""Keyframes written in bulk (keyframe_points.add + foreach_set), on Blender 4.2 to 5.0.

4.4 made actions layered (an action slot must be assigned) and 5.0 removed `Action.fcurves`
(F-curves live in the slot's channel bag); `fcurve` hides both.
"""

from __future__ import annotations

from collections.abc import Sequence

import bpy
import numpy as np

from . import datablocks


def fcurve(id_: bpy.types.ID, data_path: str, index: int = 0) -> bpy.types.FCurve:
    """The F-curve animating `data_path[index]` of `id_`, in an action of ours (made if needed)."""
    anim = id_.animation_data or id_.animation_data_create()
    if anim.action is None:
        anim.action = datablocks.tag(bpy.data.actions.new(f"LLMViz {id_.name} Action"))
    action = anim.action
    if hasattr(action, "slots") and anim.action_slot is None:
        anim.action_slot = action.slots.new(id_.id_type, id_.name)
    if hasattr(action, "fcurves"):
        curves = action.fcurves
    else:
        from bpy_extras import anim_utils
        curves = anim_utils.action_ensure_channelbag_for_slot(action, anim.action_slot).fcurves
    return curves.find(data_path, index=index) or curves.new(data_path, index=index)


def set_keys(id_: bpy.types.ID, data_path: str, frames: Sequence[float], values: Sequence[float] | np.ndarray,
             index: int = 0, interpolation: str = "BEZIER") -> int:
    """Key `data_path[index]` at `frames` with `values` (replacing its keys); returns the key count.
    BEZIER keys get auto-clamped handles: eased starts and stops."""
    frames = np.asarray(frames, np.float32)
    values = np.asarray(values, np.float32)
    curve = fcurve(id_, data_path, index)
    points = curve.keyframe_points
    points.clear()
    points.add(len(frames))
    points.foreach_set("co", np.column_stack([frames, values]).ravel())
    for point in points:
        point.interpolation = interpolation
        point.handle_left_type = point.handle_right_type = "AUTO_CLAMPED"
    curve.update()
    return len(frames)


def set_vector_keys(id_: bpy.types.ID, data_path: str, frames: Sequence[float], vectors: np.ndarray,
                    interpolation: str = "BEZIER") -> int:
    """Key every component of a vector property (e.g. "location") at `frames`."""
    vectors = np.asarray(vectors, np.float32).reshape(len(frames), -1)
    return sum(set_keys(id_, data_path, frames, vectors[:, i], i, interpolation) for i in range(vectors.shape[1]))


def find_fcurve(id_: bpy.types.ID, data_path: str, index: int = 0) -> bpy.types.FCurve | None:
    """The F-curve animating `data_path[index]` of `id_`, or None (nothing is made)."""
    anim = id_.animation_data
    if anim is None or anim.action is None:
        return None
    if hasattr(anim.action, "fcurves"):
        return anim.action.fcurves.find(data_path, index=index)
    from bpy_extras import anim_utils
    bag = anim_utils.action_get_channelbag_for_slot(anim.action, anim.action_slot)
    return bag.fcurves.find(data_path, index=index) if bag is not None else None


def drop_keys(id_: bpy.types.ID, data_path: str, count: int = 1) -> None:
    """Remove the keys of `data_path[0..count)` of `id_`, if it has any."""
    for index in range(count):
        curve = find_fcurve(id_, data_path, index)
        if curve is not None:
            curve.keyframe_points.clear()


def set_visibility(obj: bpy.types.Object, spans: Sequence[tuple[float, float]], first: float) -> int:
    """Show `obj` only during the frame spans [start, end] (inclusive); hidden from `first` on."""
    state = {float(first): 1.0}
    for start, end in spans:
        if end < first:
            continue
        start = max(start, first)  # shown from before the first frame: shown from the first
        state[float(start)] = 0.0
        state.setdefault(float(end) + 1, 1.0)
    frames = sorted(state)
    hidden = [state[f] for f in frames]
    obj.hide_render = obj.hide_viewport = True
    return sum(set_keys(obj, path, frames, hidden, interpolation="CONSTANT") for path in ("hide_render",
                                                                                       "hide_viewport"))


def count_keys(ids: Sequence[bpy.types.ID]) -> int:
    """Keyframe points on the given data-blocks' actions."""
    total = 0
    for id_ in ids:
        anim = getattr(id_, "animation_data", None)
        if anim is None or anim.action is None:
            continue
        action = anim.action
        if hasattr(action, "fcurves"):
            curves = list(action.fcurves)
        else:
            curves = [c for layer in action.layers for strip in layer.strips
                      for bag in strip.channelbags for c in bag.fcurves]
        total += sum(len(c.keyframe_points) for c in curves)
    return total
