"""A viewer's audit of a built scene, read back from Blender: at a frame, does the subject lie inside
the free region and how much of it does it fill, is every visible label legible (a line at least
MIN_LABEL of the frame height), wholly inside the picture, clear of the overlays and of every other
visible label, and is every referent the caption names inside the free region, outlined and
labelled (scene.marks)? Projections are Blender's own (world_to_camera_view), independent of the pure plan.
Used by the composition report (scripts/bench.py compose) and the tests."""

from __future__ import annotations

from dataclasses import dataclass, field

import bpy
import numpy as np
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Vector

from ..composition import Frame, Rect
from ..composition.camera import corners
from ..composition.frame import MIN_LABEL
from ..layout import Layout
from ..timeline.referents import Referent
from . import marks

TOL = 1e-3  # frame heights: rounding in Blender's projection


@dataclass
class Audit:
    """One picture: the focus's fill of the free region (area share, binding-side share), whether
    it is inside, the visible labels, and every problem found (empty: a clean frame)."""

    frame: int
    area: float
    span: float
    inside: bool
    labels: int
    referents: int = 0  # referents inside the free region, outlined and labelled
    problems: list[str] = field(default_factory=list)


def _screen(scene: bpy.types.Scene, points, aspect: float) -> Rect:
    xy = np.array([tuple(world_to_camera_view(scene, scene.camera, Vector(p)))[:2] for p in points])
    xy *= [aspect, 1.0]
    return Rect(*xy.min(axis=0), *xy.max(axis=0))


def audit(collection: bpy.types.Collection, scene: bpy.types.Scene, frame_number: int, picture: Frame,
          focus: list[tuple[np.ndarray, np.ndarray]], referents: list[Referent] = (),
          layout: Layout | None = None) -> Audit:
    """Audit the picture of `scene` at `frame_number` (regions of `picture`) for the world boxes
    `focus`, the model's labels (its unparented text objects) and the `referents` of `layout`."""
    scene.frame_set(frame_number)
    free, whole = picture.free(), picture.whole
    boxes = [_screen(scene, corners(lo, hi), picture.aspect) for lo, hi in focus]
    box = Rect(min(b.x0 for b in boxes), min(b.y0 for b in boxes), max(b.x1 for b in boxes), max(b.y1 for b in boxes))
    seen = box.intersection(free)
    span = max(max(seen.width, 0.0) / free.width, max(seen.height, 0.0) / free.height)
    out = Audit(frame_number, seen.area / free.area, span, free.contains(box, tol=TOL), 0)
    if not out.inside:
        out.problems.append(f"frame {frame_number}: the focus is cropped ({box} outside {free})")
    placed: list[tuple[str, Rect]] = []
    for obj in collection.all_objects:
        if obj.type != "FONT" or obj.parent is not None or obj.hide_render:
            continue
        rect = _screen(scene, [obj.matrix_world @ Vector(c) for c in obj.bound_box], picture.aspect)
        what = f"frame {frame_number}: label {obj.name!r}"
        if rect.height / (obj.data.body.count("\n") + 1) < MIN_LABEL - TOL / 10:
            out.problems.append(f"{what} is too small to read")
        if not whole.contains(rect, tol=TOL):
            out.problems.append(f"{what} is cut by the frame edge")
        for name, region in picture.reserved().items():
            if rect.intersection(region).area > TOL ** 2:
                out.problems.append(f"{what} is under the {name}")
        for other, other_rect in placed:
            if rect.intersection(other_rect).area > TOL ** 2:
                out.problems.append(f"{what} overlaps {other!r}")
        placed.append((obj.name, rect))
    out.labels = len(placed)
    for ref in referents:
        what = f"frame {frame_number}: referent {marks.ident(ref)} ({ref.label!r})"
        outline, label = marks.shown(collection, ref)
        rect = _screen(scene, corners(*ref.box(layout)), picture.aspect)
        problems = [f"{what} is outside the picture's free region" if not free.contains(rect, tol=TOL) else "",
                    f"{what} is not outlined" if outline is None else "",
                    f"{what} is not labelled" if label is None else ""]
        out.problems += [p for p in problems if p]
        out.referents += not any(problems)
    return out
