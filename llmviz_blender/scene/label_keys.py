"""Which labels each picture shows, decided by the pure placement (composition.place_labels) and
written as plain visibility: keyed per walkthrough step, or set once for a still. A saved .blend
plays it without the add-on.

The labels are the model's unparented text objects (overlays ride on the camera and are placed by
the frame's regions instead). Priority: the marks of what the step's caption names (scene.marks)
first, then the step's focus blocks' names and dimensions, then the blocks they read and the
sequence so far, tokens and predictions, section headings, group labels, other blocks' labels,
cards last; far context yields first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import bpy
import numpy as np

from ..composition import Frame, LabelBox, Placement, Pose, place_labels
from .keys import drop_keys, set_vector_keys, set_visibility
from .labels import FITS, LABEL, LABEL_BLOCK

#: Priority (0 first) of each label kind that names no block of the step.
KIND_PRIORITY = {"referent": -1, "sequence": 1, "section": 3, "group": 4, "card": 6}
FOCUS, SOURCE, TEXT, OTHER = 0, 1, 2, 5
RESIZABLE = {"name", "dim", "section", "group"}  # label kinds sized on screen: block names, dimensions, headings
GROW = 4.0  # a picture may enlarge a resizable label up to this many times to make it legible
SIZE = "llmviz_size"  # a label's own size (its object scale when made)


@dataclass
class Label:
    """A text object with its world corners, line count and anchor (its origin)."""

    obj: bpy.types.Object
    corners: np.ndarray
    lines: int
    anchor: np.ndarray

    def priority(self, focus: set[str], sources: set[str]) -> int:
        kind, block = self.obj.get(LABEL, ""), self.obj.get(LABEL_BLOCK, "")
        if block:
            return FOCUS if block in focus else SOURCE if block in sources else OTHER
        return KIND_PRIORITY.get(kind, TEXT)


def labels_of(collection: bpy.types.Collection) -> list[Label]:
    """The model's labels at their own size: its text objects that do not ride on the camera."""
    texts = [o for o in collection.all_objects if o.type == "FONT" and o.parent is None]
    for obj in texts:  # a still may have enlarged some: back to the size they were made at
        if SIZE not in obj:
            obj[SIZE] = obj.scale[0]
        elif obj.scale[0] != obj[SIZE]:
            obj.scale = (obj[SIZE],) * 3
    bpy.context.view_layer.update()
    out = []
    for obj in texts:
        m = np.array(obj.matrix_world)  # (4, 4)
        corners = np.array(obj.bound_box) @ m[:3, :3].T + m[:3, 3]  # (8, 3)
        out.append(Label(obj, corners, obj.data.body.count("\n") + 1, m[:3, 3]))
    return out


def place(labels: Sequence[Label], pose: Pose, frame: Frame, focus: Sequence[str] = (),
          sources: Sequence[str] = (), grow: float = GROW) -> Placement:
    """The placement of `labels` in the picture of `pose` (labels naming blocks, and headings, are
    sized on screen: enlarged up to `grow` times to become legible, shrunk when large)."""
    f, s = set(focus), set(sources)
    boxes = [LabelBox(lab.obj.name, lab.corners, lab.lines, lab.priority(f, s), lab.anchor,
                      min(grow, lab.obj.get(FITS, math.inf) / lab.obj[SIZE]) if lab.obj.get(LABEL) in RESIZABLE
                      else 1.0) for lab in labels]
    return place_labels(boxes, pose, frame)


def show_still(collection: bpy.types.Collection, pose: Pose, frame: Frame) -> Placement:
    """Show, in a still, only the labels the picture of `pose` places, at the size it gives them
    (no keys)."""
    labels = labels_of(collection)
    placement = place(labels, pose, frame)
    shown = set(placement.shown)
    for lab in labels:
        lab.obj.hide_render = lab.obj.hide_viewport = lab.obj.name not in shown
        lab.obj.scale = (lab.obj[SIZE] * placement.scales.get(lab.obj.name, 1.0),) * 3
    return placement


def key_steps(collection: bpy.types.Collection, steps, key_frames: Sequence[int], pose_at, frame: Frame,
              first: int, available: dict[str, list[tuple[float, float]]] | None = None) -> list[Placement]:
    """Key every label's visibility and size step by step: shown during a step when the picture at
    its key frame (`pose_at(key frame)`) places it, at the size it gives it; labels in `available`
    take part only within their spans (and are shown only there)."""
    labels = labels_of(collection)
    available = available or {}

    def present(lab: Label, f: int) -> bool:
        spans = available.get(lab.obj.name)
        return spans is None or any(a <= f <= b for a, b in spans)

    placements = [place([lab for lab in labels if present(lab, f)], pose_at(f), s.framing(frame),
                        s.focus, s.sources) for s, f in zip(steps, key_frames)]
    for lab in labels:
        name = lab.obj.name
        spans: list[tuple[float, float]] = []
        for step, placement in zip(steps, placements):
            if name in placement.shown:
                if spans and spans[-1][1] == step.frame_start - 1:
                    spans[-1] = (spans[-1][0], step.frame_end)
                else:
                    spans.append((step.frame_start, step.frame_end))
        if name in available:
            spans = _intersect(spans, available[name])
        _apply(lab.obj, spans, steps[0].frame_start, steps[-1].frame_end, first)
        _key_size(lab.obj, [(max(s.frame_start, first), p.scales.get(name, 1.0))
                            for s, p in zip(steps, placements) if name in p.shown])
    return placements


def _key_size(obj: bpy.types.Object, sizes: list[tuple[int, float]]) -> None:
    """Key the label's scale to its own size times each (first frame, factor) while shown (held
    between); no keys when it never changes."""
    own = obj[SIZE]
    changes = [(f, k) for i, (f, k) in enumerate(sizes) if i == 0 or k != sizes[i - 1][1]]
    if all(k == 1.0 for _, k in changes):
        drop_keys(obj, "scale", 3)
        obj.scale = (own,) * 3
        return
    frames = [f for f, _ in changes]
    set_vector_keys(obj, "scale", frames, np.repeat([[own * k] for _, k in changes], 3, axis=1),
                    interpolation="CONSTANT")


def _intersect(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out = []
    for s0, e0 in a:
        for s1, e1 in b:
            lo, hi = max(s0, s1), min(e0, e1)
            if lo <= hi:
                out.append((lo, hi))
    return out


def _apply(obj: bpy.types.Object, spans: list[tuple[float, float]], start: int, end: int, first: int) -> None:
    """Visibility over start..end: no keys when a label is always or never shown."""
    if not spans:
        obj.hide_render = obj.hide_viewport = True
    elif spans == [(start, end)]:
        obj.hide_render = obj.hide_viewport = False
    else:
        set_visibility(obj, spans, first)
