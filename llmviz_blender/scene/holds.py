"""Holds: frames whose picture equals the frame before it, found from the file's data, not by rendering.

A frame's animated state is everything in the file that changes with the frame:

- the value of every F-curve of every animated data-block (objects, object data such as cameras and
  text curves, materials and their node trees, node groups, worlds, the scene...; the actions' channel
  bags on 4.4+, ``Action.fcurves`` before): keyed visibility, the camera path, ``llmviz_dim`` and
  the draft ``Dim`` input (scene.quality), the value boxes' ``llmviz_progress`` (scene.value_boxes);
- per cell of a block that uses the instancer group (scene.nodes), the ``state`` and ``highlight`` its
  Scene Time node computes from the ``reveal`` attribute and the modifier's Highlight Frames;
- the camera that a timeline marker binds.

Frame f holds (repeats f - 1) when none of these differs: F-curve values within :data:`TOLERANCE`
(relative; an ease's tiny steps are changes), the cells' values exactly as the node tree computes
them (float32). Whatever else could change a picture with the frame (drivers, NLA strips, frame
handlers, other Scene Time or simulation nodes, image sequences, physics, motion blur, stamps, an
animated Cycles seed, sequencer strips, grease pencil...) is not modelled: :func:`unaccounted` names
it and every frame is then its own source.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import bpy
import numpy as np

from . import compat, datablocks, nodes

TOLERANCE = 1e-6  # relative difference of two F-curve values that still counts as the same
#: Node types that read the frame (besides the instancer group's own Scene Time node).
TIME_NODES = frozenset({"GeometryNodeInputSceneTime", "GeometryNodeSimulationInput", "GeometryNodeSimulationOutput",
                        "CompositorNodeTime", "CompositorNodeSceneTime", "CompositorNodeMovieClip",
                        "TextureNodeCurveTime"})
#: Modifier types whose result depends on the frame by themselves.
TIME_MODIFIERS = frozenset({"BUILD", "WAVE", "OCEAN", "EXPLODE", "PARTICLE_SYSTEM", "PARTICLE_INSTANCE", "CLOTH",
                            "SOFT_BODY", "FLUID", "DYNAMIC_PAINT", "MESH_CACHE", "MESH_SEQUENCE_CACHE", "COLLISION",
                            "SURFACE"})
_COMPUTED = np.float32(-1e-4)  # the instancer's "frame >= reveal": frame - reveal > -1e-4


def sources(scene: bpy.types.Scene, first: int, last: int) -> dict[int, int]:
    """Each frame of first..last -> its source: the first frame of its run of identical states."""
    if unaccounted(scene) is not None:
        return {f: f for f in range(first, last + 1)}
    return sources_of(first, last, changes(scene, first, last))


def sources_of(first: int, last: int, changed: Iterable[int]) -> dict[int, int]:
    """Frames first..last -> source frame, given the frames whose state differs from the frame before."""
    changed = set(changed)
    out: dict[int, int] = {}
    for f in range(first, last + 1):
        out[f] = f if f == first or f in changed else out[f - 1]
    return out


def changes(scene: bpy.types.Scene, first: int, last: int) -> set[int]:
    """Frames in first+1..last whose animated state differs from the frame before (the file must have
    nothing :func:`unaccounted` names)."""
    out: set[int] = set()
    for curve in _fcurves():
        out |= curve_changes(curve, first, last)
    for obj, mod in _cell_blocks():
        reveal = obj.data.attributes.get("reveal")
        if reveal is None or reveal.domain != "POINT" or reveal.data_type != "FLOAT":
            continue  # no reveal: every cell shown, the same on every frame
        values = np.empty(len(reveal.data), np.float32)
        reveal.data.foreach_get("value", values)
        glow = float(compat.get_modifier_input(mod, "Highlight Frames"))
        out.update(int(f) for f in cell_changes(values, glow, first, last))
    out.update(int(m.frame) for m in scene.timeline_markers if m.camera is not None and first < m.frame <= last)
    return out


def cell_changes(reveal: np.ndarray, highlight_frames: float, first: int, last: int) -> np.ndarray:
    """Frames in first+1..last where some cell's ``state`` or ``highlight`` differs from the frame
    before, as the instancer computes them (scene.nodes, in float32): state = frame - reveal > -1e-4,
    highlight = state * clamp(Highlight Frames - (frame - reveal), 0, 1). Sorted, unique."""
    r = np.asarray(reveal, np.float32).ravel()
    r = r[np.isfinite(r)]
    hl = np.float32(highlight_frames)
    reach = np.floor(r.astype(np.float64) - 1e-4).astype(np.int64) + 1  # first frame computed
    fade = np.ceil(r.astype(np.float64) + float(hl) - 1.0).astype(np.int64)  # the highlight ends about here
    candidates = np.concatenate([reach[:, None] + np.arange(-1, 2), fade[:, None] + np.arange(-1, 3)], axis=1)
    inside = (candidates > first) & (candidates <= last)

    def cell(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        since = frame.astype(np.float32) - r[:, None]
        state = (since > _COMPUTED).astype(np.float32)
        return state, state * np.clip(hl - since, np.float32(0), np.float32(1))

    (s1, h1), (s0, h0) = cell(candidates), cell(candidates - 1)
    return np.unique(candidates[inside & ((s1 != s0) | (h1 != h0))])


def curve_changes(curve: bpy.types.FCurve, first: int, last: int) -> set[int]:
    """Frames in first+1..last where `curve` differs from the frame before (beyond :data:`TOLERANCE`).
    Only frames where it can change are evaluated: inside segments that are not flat, and next to keys
    (constant interpolation jumps there); a curve with modifiers, sampled points or other than constant
    extrapolation is evaluated on every frame."""
    points = curve.keyframe_points
    n = len(points)
    co = np.empty(2 * n, np.float64)
    points.foreach_get("co", co)
    x, y = co[0::2], co[1::2]
    if curve.modifiers or curve.extrapolation != "CONSTANT" or n == 0 or np.any(np.diff(x) < 0):
        frames: Iterable[int] = range(first + 1, last + 1)
    else:
        left, right = np.empty(2 * n, np.float64), np.empty(2 * n, np.float64)
        points.foreach_get("handle_left", left)
        points.foreach_get("handle_right", right)
        candidates: set[int] = set()
        for k, point in enumerate(points):
            candidates.update((math.floor(x[k]), math.floor(x[k]) + 1))
            if k + 1 < n and not _flat(point.interpolation, y[k], y[k + 1], right[2 * k + 1], left[2 * k + 3]):
                candidates.update(range(math.floor(x[k]), math.ceil(x[k + 1]) + 1))
        frames = sorted(f for f in candidates if first < f <= last)
    out: set[int] = set()
    before: float | None = None
    previous = None
    for f in frames:
        before = curve.evaluate(f - 1) if previous != f - 1 else before
        now = curve.evaluate(f)
        if not math.isclose(now, before, rel_tol=TOLERANCE, abs_tol=0.0):
            out.add(f)
        before, previous = now, f
    return out


def _flat(interpolation: str, y0: float, y1: float, right_y: float, left_y: float) -> bool:
    """Whether a segment between two keys keeps one value (a constant one jumps only at its end)."""
    if interpolation == "CONSTANT":
        return True
    if interpolation == "BEZIER":
        return y0 == y1 == right_y == left_y
    return y0 == y1  # linear and the easings: start + change * f(t)


def unaccounted(scene: bpy.types.Scene) -> str | None:
    """What in the file could change a picture with the frame that :func:`changes` does not model, or None."""
    handlers = bpy.app.handlers
    if handlers.frame_change_pre or handlers.frame_change_post or handlers.render_pre:
        return "frame change or render handlers"
    r = scene.render
    if r.use_motion_blur:
        return "motion blur"
    if r.use_stamp:
        return "stamped frames (render metadata burned in)"
    if r.frame_map_old != r.frame_map_new:
        return "time remapping"
    if r.engine == "CYCLES" and scene.cycles.use_animated_seed:
        return "an animated Cycles seed"
    if scene.rigidbody_world is not None:
        return "a rigid body world"
    if scene.background_set is not None:
        return "a background scene"
    editor = scene.sequence_editor
    if r.use_sequencer and editor is not None and len(editor.strips_all if hasattr(editor, "strips_all")
                                                      else editor.sequences_all):
        return "sequencer strips"
    for id_ in _ids():
        anim = getattr(id_, "animation_data", None)
        if anim is not None and len(anim.drivers):
            return f"drivers on {id_.name}"
        if anim is not None and any(not t.mute and len(t.strips) for t in anim.nla_tracks):
            return f"NLA strips on {id_.name}"
    for image in bpy.data.images:
        if image.source in ("SEQUENCE", "MOVIE") and image.users:
            return f"image sequence {image.name}"
    if any(id_.users for id_ in (*bpy.data.movieclips, *bpy.data.cache_files)):
        return "movie clips or cache files"
    for obj in bpy.data.objects:
        if obj.type in ("GPENCIL", "GREASEPENCIL"):
            return f"grease pencil {obj.name}"
        if obj.particle_systems or any(m.type in TIME_MODIFIERS for m in obj.modifiers):
            return f"physics or time modifiers on {obj.name}"
    group = _instancer()
    for tree in _node_trees():
        for node in tree.nodes:
            if node.bl_idname in TIME_NODES and tree != group:
                return f"node {node.name} in {tree.name} reads the frame"
            if group is not None and getattr(node, "node_tree", None) == group:
                return f"node {node.name} in {tree.name} nests {group.name}"
    for obj, mod in _cell_blocks():
        if obj.type != "MESH":
            return f"{group.name} on {obj.name}, not a mesh"
        ident = compat.interface_identifier(mod.node_group, "Highlight Frames")
        path = f'modifiers["{mod.name}"]["{ident}"]'
        if mod.get(f"{ident}_use_attribute") or any(c.data_path == path for c in fcurves_of(obj)):
            return f"keyed or per-cell Highlight Frames on {obj.name}"
    return None


def _ids() -> Iterator[bpy.types.ID]:
    """Every data-block of the file, with the node trees embedded in materials, worlds, lights, scenes..."""
    for prop in bpy.types.BlendData.bl_rna.properties:
        kind = getattr(bpy.types, prop.fixed_type.identifier, None) if prop.type == "COLLECTION" else None
        if not (isinstance(kind, type) and issubclass(kind, bpy.types.ID)):
            continue
        for id_ in getattr(bpy.data, prop.identifier):
            yield id_
            tree = getattr(id_, "node_tree", None)
            if isinstance(tree, bpy.types.NodeTree) and tree.is_embedded_data:
                yield tree


def _node_trees() -> Iterator[bpy.types.NodeTree]:
    return (id_ for id_ in _ids() if isinstance(id_, bpy.types.NodeTree))


def fcurves_of(id_: bpy.types.ID) -> list[bpy.types.FCurve]:
    """The F-curves of `id_`'s action: every channel bag of a layered action (4.4+) and the legacy
    ``Action.fcurves`` (before 5.0), each curve once."""
    anim = getattr(id_, "animation_data", None)
    action = anim.action if anim is not None else None
    if action is None:
        return []
    found: dict[int, bpy.types.FCurve] = {}
    for layer in getattr(action, "layers", ()):
        for strip in layer.strips:
            for bag in strip.channelbags:
                found.update((c.as_pointer(), c) for c in bag.fcurves)
    for c in getattr(action, "fcurves", ()):
        found.setdefault(c.as_pointer(), c)
    return list(found.values())


def _fcurves() -> Iterator[bpy.types.FCurve]:
    for id_ in _ids():
        yield from fcurves_of(id_)


def _instancer() -> bpy.types.GeometryNodeTree | None:
    return datablocks.find_shared("node_groups", nodes.INSTANCER_GROUP)


def _cell_blocks() -> Iterator[tuple[bpy.types.Object, bpy.types.NodesModifier]]:
    """Objects whose modifiers use the instancer group, with that modifier (every object of the file:
    collection instances may show objects of no scene)."""
    group = _instancer()
    if group is None:
        return
    for obj in bpy.data.objects:
        for mod in obj.modifiers:
            if mod.type == "NODES" and mod.node_group == group:
                yield obj, mod
