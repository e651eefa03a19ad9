"""The zoom shot (pure, no bpy): a camera flying from the whole model down to one cell, then
holding on it with the cell's value and formula on screen.

The distance to the aim shrinks geometrically (its logarithm moves at constant speed, with short
ramps at both ends), so the zoom reads at one speed from millions of numbers to one. The aim
leaves the model's centre for the cell in proportion to the distance still to go: the cell keeps
its place in the picture while the camera is far and slides to the centre of the free region as it
arrives (a dolly toward the cell, not a pan then a push). The view direction turns from the
overview's to the house view. One camera key per frame: the .blend plays it without the add-on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from .. import i18n

from ..composition import Frame, Pose, compose
from ..composition.camera import DIRECTION
from ..defaults import CELL, FPS, PITCH
from ..layout import CellRef, Layout
from ..layout.readout import Readout, explain
from ..layout.target import cell_target
from ..model import Weights
from .build import CameraKey
from .story import Box
from .timing import TimelineError

SECONDS = 6.0  # the flight
HOLD = 2.0  # seconds on the cell at the end
CONTEXT = 6  # the end frame shows this many cells on each side of the target
RAMP = 0.15  # share of the flight spent speeding up (and slowing down) at each end
SEGMENT_FRAMES = 4  # the flight's labels are placed anew every this many frames (the view changes fast)
MARKER_PAD = 0.2  # the marker round the cell: this far outside the cube (cell edges)
MARKER_WIDTH = 0.2  # and its bars this wide
#: Overlays (caption band, formula plate) stand this share of the way from the camera to the aim:
#: far enough that their glyphs stay crisp in single precision however far out the camera is, and
#: in front of everything the camera looks at.
OVERLAY_SHARE = 0.3


def zoom_frame(aspect: float) -> Frame:
    """The picture of a zoom or a cell still: the caption band and the formula plate reserved."""
    return Frame(aspect, caption=True, title=False, formula=True)


def cell_box(ref: CellRef, context: int = CONTEXT) -> Box:
    """World box of the cell and `context` cells round it (in its block's plane)."""
    centre = ref.block.positions(np.array([ref.row]), np.array([ref.col]))[0]
    reach = np.array([context * PITCH + CELL / 2, CELL / 2, context * PITCH + CELL / 2])
    return centre - reach, centre + reach


def cell_pose(ref: CellRef, aspect: float) -> Pose:
    """The house view of the cell and its neighbours, filling the free region of `zoom_frame`."""
    return compose([cell_box(ref)], zoom_frame(aspect), direction=DIRECTION)


def progress(u: float) -> float:
    """Share of the flight done at time share `u`: constant speed between ramps of RAMP at each end
    (speed rising and falling linearly), 0 at u <= 0, 1 at u >= 1."""
    u = min(max(float(u), 0.0), 1.0)
    top = 1.0 / (1.0 - RAMP)
    if u < RAMP:
        return top * u * u / (2 * RAMP)
    if u > 1.0 - RAMP:
        return 1.0 - top * (1.0 - u) ** 2 / (2 * RAMP)
    return top * (u - RAMP / 2)


def _slerp(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    angle = math.acos(float(np.clip(np.dot(a, b), -1.0, 1.0)))
    if angle < 1e-9:
        return a
    return (math.sin((1 - w) * angle) * a + math.sin(w * angle) * b) / math.sin(angle)


def path(start: Pose, end: Pose, count: int) -> list[Pose]:
    """`count` poses (count >= 2) from `start` to `end` at equal time steps (see the module)."""
    a0, a1 = np.asarray(start.target, float), np.asarray(end.target, float)
    back0, back1 = np.subtract(start.location, a0), np.subtract(end.location, a1)
    d0, d1 = float(np.linalg.norm(back0)), float(np.linalg.norm(back1))
    u0, u1 = back0 / d0, back1 / d1
    out = []
    for u in np.linspace(0.0, 1.0, count):
        e = progress(u)
        d = math.exp((1 - e) * math.log(d0) + e * math.log(d1))
        w = (d - d1) / (d0 - d1) if abs(d0 - d1) > 1e-9 * d0 else 1.0 - e  # aim's share still to go
        aim = a1 + (a0 - a1) * w
        loc = aim + _slerp(u0, u1, e) * d
        shift = tuple(np.add(start.shift, e * np.subtract(end.shift, start.shift)).tolist())
        out.append(Pose(tuple(loc.tolist()), tuple(aim.tolist()), end.fov_y, shift))
    return out


def occluders(layout: Layout, ref: CellRef, poses: list[Pose]) -> list[set[str]]:
    """Per pose, the blocks standing between the camera and the cell's centre (boxes crossed by
    the line of sight, the cell's own block left out)."""
    cell = ref.block.positions(np.array([ref.row]), np.array([ref.col]))[0]
    others = np.array([b.key != ref.block.key for b in layout.blocks])
    out = []
    for pose in poses:
        o = np.asarray(pose.location, float)
        d = cell - o
        length = float(np.linalg.norm(d))
        d /= length
        with np.errstate(divide="ignore", invalid="ignore"):
            t1, t2 = (layout.lo - o) / d, (layout.hi - o) / d
        t1 = np.where(np.isnan(t1), -np.inf, t1)
        t2 = np.where(np.isnan(t2), np.inf, t2)
        near = np.maximum(np.minimum(t1, t2).max(axis=1), 0.0)
        far = np.minimum(np.maximum(t1, t2).min(axis=1), length - CELL)
        out.append({layout.blocks[i].key for i in np.flatnonzero((near <= far) & others)})
    return out


def caption(readout: Readout) -> str:
    """The caption on arrival (and in a cell still): the cell and its value (current language, i18n)."""
    L = i18n.current()
    return L.tr("{name} ({key}), {where} = {value}", name=L.tr(readout.name), key=readout.key, where=readout.where,
                value=readout.value_text())


def flight_caption(readout: Readout, total: int) -> str:
    """The caption during the flight: where it goes, out of how many numbers."""
    L = i18n.current()
    return L.tr("{name} ({key}), {where}: one of {total} numbers", name=L.tr(readout.name), key=readout.key,
                where=readout.where, total=L.count(total))


@dataclass(frozen=True)
class Segment:
    """A stretch of the shot whose labels are placed once, for the picture at `key`."""

    frame_start: int
    frame_end: int
    key: int
    focus: tuple[str, ...]
    sources: tuple[str, ...] = ()
    formula: bool = True

    def framing(self, picture: Frame) -> Frame:
        """The segment's frame in `picture`: the zoom's caption band and formula plate."""
        return replace(picture, formula=self.formula)


@dataclass
class Zoom:
    """The shot: the flight from frame_start to `arrive` (one camera key per frame), then the hold
    to frame_end; the camera's distance to its aim per key, the blocks hiding the cell and when,
    and the texts on screen."""

    cell: CellRef
    readout: Readout
    frame_start: int
    arrive: int
    frame_end: int
    fps: int
    camera_keys: list[CameraKey]
    distance: np.ndarray
    hidden: dict[str, list[tuple[int, int]]]
    flying: str
    arrived: str

    @property
    def marker(self) -> np.ndarray:
        """The marker's scale per key: it keeps its size in the picture until the camera arrives."""
        return self.distance / self.distance[-1]

    def pose_at(self, frame: float) -> Pose:
        i = int(round(frame)) - self.frame_start
        return self.camera_keys[min(max(i, 0), len(self.camera_keys) - 1)].pose

    def segments(self) -> list[Segment]:
        """The flight in stretches of SEGMENT_FRAMES, then the hold."""
        edges = [*range(self.frame_start, self.arrive, SEGMENT_FRAMES), self.arrive]
        focus = (self.cell.block.key,)
        out = [Segment(a, b - 1, (a + b) // 2, focus) for a, b in zip(edges[:-1], edges[1:])]
        out.append(Segment(self.arrive, self.frame_end, self.arrive, focus))
        return out


def _spans(frames: list[int]) -> list[tuple[int, int]]:
    """Runs of consecutive frames as (first, last)."""
    out: list[tuple[int, int]] = []
    for f in frames:
        if out and out[-1][1] == f - 1:
            out[-1] = (out[-1][0], f)
        else:
            out.append((f, f))
    return out


def plan_zoom(layout: Layout, trace: Mapping[str, np.ndarray] | None, weights: Weights | None, target: str,
              overview: Box, aspect: float, fps: int = FPS, seconds: float = SECONDS, hold: float = HOLD,
              frame_start: int = 1) -> Zoom:
    """The zoom from the `overview` box (the whole picture) to the cell `target` (BLOCK:ROW,COL) in
    a picture of `aspect`. Raises LayoutError / TimelineError (one line) on a bad target or timing."""
    ref = cell_target(layout, target, "zoom")
    for name, value, least in (("seconds", seconds, 1.0 / fps), ("hold", hold, 0.0)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not least <= value < math.inf:
            raise TimelineError(f"zoom: {name} must be a number >= {least:g}, got {value!r}")
    readout = explain(layout, trace, weights, ref.block.key, ref.row, ref.col)
    frame = zoom_frame(aspect)
    start = compose([overview], frame)
    end = cell_pose(ref, aspect)
    count = max(2, int(round(seconds * fps)) + 1)
    poses = path(start, end, count)
    keys = [CameraKey(frame_start + i, p) for i, p in enumerate(poses)]
    distance = np.array([np.linalg.norm(np.subtract(p.location, p.target)) for p in poses])
    hiding: dict[str, list[int]] = {}
    for key, blocks in zip(keys, occluders(layout, ref, poses)):
        for b in blocks:
            hiding.setdefault(b, []).append(key.frame)
    arrive = keys[-1].frame
    frame_end = arrive + int(round(hold * fps))
    hidden = {b: [(a, frame_end if z == arrive else z) for a, z in _spans(f)] for b, f in hiding.items()}
    flying = flight_caption(readout, sum(b.n_cells for b in layout.blocks))
    return Zoom(ref, readout, frame_start, arrive, frame_end, fps, keys, distance, hidden, flying, caption(readout))


def marker_quads() -> np.ndarray:
    """The marker round a cell, about its centre in the block's front plane: four bars (4, 4, 3)
    facing -Y (the camera side), in world units at scale 1."""
    a = CELL / 2 + MARKER_PAD
    return frame_quads(-a, -a, a, a, MARKER_WIDTH)


def frame_quads(x0: float, z0: float, x1: float, z1: float, width: float, y: float = 0.0) -> np.ndarray:
    """A flat frame: four bars (4, 4, 3) `width` wide just inside the rectangle x0..x1, z0..z1 at
    depth y, facing -Y (the camera side)."""
    a, b = (x0, z0), (x1, z1)
    bars = [(a[0], a[1], b[0], a[1] + width), (a[0], b[1] - width, b[0], b[1]),
            (a[0], a[1] + width, a[0] + width, b[1] - width), (b[0] - width, a[1] + width, b[0], b[1] - width)]
    return np.array([[(p0, y, q0), (p1, y, q0), (p1, y, q1), (p0, y, q1)] for p0, q0, p1, q1 in bars])
