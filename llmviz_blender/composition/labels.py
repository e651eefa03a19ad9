"""Which labels a picture shows: each label's text box is projected through the camera; a label is
shown when a line of it is at least MIN_LABEL of the frame height (a resizable label is first
grown to legible, or shrunk to at most MAX_LABEL), it lies wholly inside the picture
and outside the reserved regions, and it overlaps no label already placed (placed in priority
order, larger first)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .camera import Pose, project, screen_box
from .frame import MAX_LABEL, MIN_LABEL, Frame, Rect

GAP = 0.15  # labels keep this many line heights apart
GROWN_LINE = 1.2  # an enlarged label's line: this many times the legible minimum
CLEARANCE = 0.004  # labels keep this far (frame heights) from the picture's edges and overlays


@dataclass(frozen=True)
class LabelBox:
    """A label to place: its `name`, the world `corners` (N, 3) of its text, how many `lines` it has
    and its `priority` (0 first). With `anchor` (the world point the text is scaled about) a label
    too small to read may be enlarged up to `grow` times to become legible."""

    name: str
    corners: np.ndarray
    lines: int = 1
    priority: int = 0
    anchor: np.ndarray | None = None
    grow: float = 1.0


@dataclass
class Placement:
    """Labels by outcome, and the screen rectangles of those shown."""

    shown: list[str] = field(default_factory=list)
    small: list[str] = field(default_factory=list)  # a line under MIN_LABEL of the frame height
    cut: list[str] = field(default_factory=list)  # partly outside the picture or under an overlay
    overlap: list[str] = field(default_factory=list)  # would overlap a label placed before it
    outside: list[str] = field(default_factory=list)  # not in the picture at all
    rects: dict[str, Rect] = field(default_factory=dict)
    scales: dict[str, float] = field(default_factory=dict)  # enlarged labels: by how much


def _screen_boxes(labels: Sequence[LabelBox], pose: Pose, aspect: float) -> list[Rect | None]:
    """Each label's screen rectangle (None when any corner is behind the camera), projected at once."""
    if not labels:
        return []
    counts = np.array([len(label.corners) for label in labels])
    xy, depth = project(np.concatenate([label.corners for label in labels]), pose, aspect)
    starts = np.cumsum(counts) - counts
    lo, hi = np.minimum.reduceat(xy, starts), np.maximum.reduceat(xy, starts)
    behind = np.minimum.reduceat(depth, starts) <= 0
    return [None if b else Rect(*a.tolist(), *c.tolist()) for a, c, b in zip(lo, hi, behind)]


def _grown(rect: Rect, d: float) -> Rect:
    return Rect(rect.x0 - d, rect.y0 - d, rect.x1 + d, rect.y1 + d)


def _resize(line: float, label: LabelBox) -> float:
    """How much a resizable label (one with an anchor and `grow` > 1) is scaled: a line too small
    to read (or barely: under GROWN_LINE times the minimum) grows to that if it may grow that much;
    a line over MAX_LABEL shrinks to it."""
    if label.anchor is None or label.grow <= 1.0:
        return 1.0
    if line < GROWN_LINE * MIN_LABEL and GROWN_LINE * MIN_LABEL / line <= label.grow:
        return GROWN_LINE * MIN_LABEL / line
    return MAX_LABEL / line if line > MAX_LABEL else 1.0


def place_labels(labels: Sequence[LabelBox], pose: Pose, frame: Frame) -> Placement:
    """Decide which labels the picture of `pose` in `frame` shows (see the module's docstring)."""
    out = Placement()
    whole, reserved = frame.whole, list(frame.reserved().values())
    candidates: list[tuple[int, float, str, Rect, float]] = []
    for label, box in zip(labels, _screen_boxes(labels, pose, frame.aspect)):
        if box is None or not box.overlaps(whole):
            out.outside.append(label.name)
            continue
        line = box.height / max(label.lines, 1)
        scale = _resize(line, label)
        if scale != 1.0:  # scaled about its anchor in the world, as the scene scales it
            anchor = np.asarray(label.anchor, float)
            box = screen_box(anchor + (np.asarray(label.corners, float) - anchor) * scale, pose, frame.aspect)
            if box is None:
                out.outside.append(label.name)
                continue
            line = box.height / max(label.lines, 1)
            out.scales[label.name] = scale
        if line < MIN_LABEL:
            out.small.append(label.name)
        elif not whole.contains(_grown(box, CLEARANCE)) or any(_grown(box, CLEARANCE).overlaps(r) for r in reserved):
            out.cut.append(label.name)
            out.scales.pop(label.name, None)
        else:
            candidates.append((label.priority, -box.area, label.name, box, line))
    for _, _, name, box, line in sorted(candidates, key=lambda c: c[:2]):
        grown = _grown(box, GAP * line / 2)
        if any(grown.overlaps(_grown(r, 0.0)) for r in out.rects.values()):
            out.overlap.append(name)
            out.scales.pop(name, None)
        else:
            out.shown.append(name)
            out.rects[name] = grown
    return out
