"""Camera poses that make a subject fill the free region of a frame.

A pose is a location, a point looked at (+Z up) and a lens shift. Screen coordinates are frame
heights (see frame.py); the lens shift translates the picture, so a subject can be centred in the
free region above the captions without tilting the camera. The distance is the nearest at which the
subject's projection fits the free region; the view direction is chosen, from a few around the
house view, to make the subject fill the region best (a tall stack is seen from higher up, a wide
matrix more from the side), preferring the house view when it is nearly as good.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..defaults import PITCH
from .frame import MAX_LABEL, Frame, Rect

#: The house view, from the target toward the camera: in front (-Y), a little right (+X), above (+Z).
DIRECTION = (0.35, -1.0, 0.25)
FOV_Y = math.radians(25.0)
#: View directions tried (target -> camera, before normalising): sideways share x and height z.
SIDEWAYS = (0.15, 0.35, 0.6)
HEIGHTS = (0.12, 0.25, 0.45, 0.75)
PREFERENCE = 0.25  # fill a direction must gain over the house view to be chosen
MARGIN = 0.045  # kept free inside the free region: this share of its shorter side
NEAR = 1e-3  # corners must stay this share of the subject's size in front of the camera
#: A still's subject more than FLAT cells across is a wall of cells under a pixel each: a slanted view
#: only makes it recede into the distance, so it is seen square on (FRONT) through a long lens
#: (LONG_LENS, near-orthographic: its near and far ends are drawn at one scale).
FLAT = 5000
FRONT = (0.0, -1.0, 0.0)
LONG_LENS = math.radians(4.0)
SPLITS, BISECTION_ROUNDS = 64, 3  # the distance bracket shrinks 64-fold per round: within 64^-3 of the nearest


@dataclass(frozen=True)
class Pose:
    """A camera: `location` looking at `target`, vertical field of view `fov_y` (radians) and lens
    `shift` (x, y) in frame heights (how far the picture's optical centre sits from its middle)."""

    location: tuple[float, float, float]
    target: tuple[float, float, float]
    fov_y: float = FOV_Y
    shift: tuple[float, float] = (0.0, 0.0)

    def blender_shift(self) -> tuple[float, float]:
        """Blender's shift_x, shift_y for a camera with vertical sensor fit: in frame heights, and
        moving the view window (so the opposite of moving the picture)."""
        return -self.shift[0], -self.shift[1]


def basis(direction: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(forward, right, up) unit vectors of a camera looking along -direction with +Z up."""
    back = np.asarray(direction, float)
    back = back / np.linalg.norm(back)
    forward = -back
    world_up = (0.0, 0.0, 1.0) if abs(back[2]) < 0.999 else (0.0, 1.0, 0.0)
    right = _cross(forward, world_up)
    right /= np.linalg.norm(right)
    return forward, right, _cross(right, forward)


def _cross(a, b) -> np.ndarray:
    """The cross product of two 3-vectors (np.cross's general machinery is slow for one pair)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def _camera_space(points: np.ndarray, location: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(N, 3) points as (right, up, depth) of a camera at `location` looking at `target`."""
    forward, right, up = basis(np.subtract(location, target))
    rel = np.asarray(points, float) - location
    return np.stack([rel @ right, rel @ up, rel @ forward], axis=-1)


def project(points, pose: Pose, aspect: float) -> tuple[np.ndarray, np.ndarray]:
    """Screen positions (N, 2) in frame heights and depths (N,) of world points (behind the camera:
    depth <= 0, position meaningless)."""
    cam = _camera_space(np.atleast_2d(points), np.asarray(pose.location, float), np.asarray(pose.target, float))
    depth = cam[:, 2]
    scale = 1.0 / (2.0 * math.tan(pose.fov_y / 2) * np.where(depth > 0, depth, np.inf))
    xy = cam[:, :2] * scale[:, None]
    xy += [aspect / 2 + pose.shift[0], 0.5 + pose.shift[1]]
    return xy, depth


def corners(lo, hi) -> np.ndarray:
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])


def screen_box(points: np.ndarray, pose: Pose, aspect: float) -> Rect | None:
    """The screen rectangle around `points`, or None when any is behind the camera."""
    xy, depth = project(points, pose, aspect)
    if np.any(depth <= 0):
        return None
    return Rect(*xy.min(axis=0), *xy.max(axis=0))


def _fit(points: np.ndarray, direction: np.ndarray, region: Rect, fov_y: float, aspect: float) -> tuple[Pose, float]:
    """The nearest pose from `direction` whose view of `points` fits `region`, centred in it by the
    lens shift; and the share of the region's area the points' screen box then covers."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    target = (lo + hi) / 2
    size = float(np.linalg.norm(hi - lo)) or 1.0
    unit = direction / np.linalg.norm(direction)
    rel = _camera_space(points, target + unit, target) - [0.0, 0.0, 1.0]  # as seen from the target
    tan = 2.0 * math.tan(fov_y / 2)

    def fits(distances: np.ndarray) -> np.ndarray:
        """Which of the distances (D,) fit the region, all at once."""
        depth = distances[:, None] + rel[:, 2]  # (D, N)
        x, y = rel[:, 0] / depth / tan, rel[:, 1] / depth / tan
        return ((depth > NEAR * size).all(axis=1) & (np.ptp(x, axis=1) <= region.width)
                & (np.ptp(y, axis=1) <= region.height))

    near, far = 0.0, size
    while not fits(np.array([far]))[0]:
        near, far = far, far * 2
    for _ in range(BISECTION_ROUNDS):  # each round splits the bracket into SPLITS parts at once
        grid = np.linspace(near, far, SPLITS + 1)[1:]
        first = int(np.argmax(fits(grid)))  # the far end always fits
        near, far = (grid[first - 1] if first else near), grid[first]
    pose = Pose(tuple((target + unit * far).tolist()), tuple(target.tolist()), fov_y)
    box = screen_box(points, pose, aspect)
    (cx, cy), (rx, ry) = box.centre, region.centre
    return Pose(pose.location, pose.target, fov_y, (rx - cx, ry - cy)), box.area / region.area


def directions(house: Sequence[float] = DIRECTION) -> list[np.ndarray]:
    """The house view first, then the others tried."""
    return [np.asarray(house, float), *(np.array([x, -1.0, z]) for x in SIDEWAYS for z in HEIGHTS)]


def compose(boxes: Sequence[tuple[Sequence[float], Sequence[float]]], frame: Frame, fov_y: float = FOV_Y,
            direction: Sequence[float] | None = None) -> Pose:
    """The pose that puts the subject (world boxes lo, hi) wholly inside the frame's free region and
    makes it fill it: the binding side spans the region (less `MARGIN`). With `direction` given the
    view comes from there; else the best of `directions()` (see the module's docstring)."""
    points = np.concatenate([corners(lo, hi) for lo, hi in boxes])
    free = frame.free()
    region = free.inset(MARGIN * min(free.width, free.height))
    candidates = [np.asarray(direction, float)] if direction is not None else directions()
    best, best_score = None, -math.inf
    for i, d in enumerate(candidates):
        pose, fill = _fit(points, d, region, fov_y, frame.aspect)
        score = fill - (PREFERENCE if i > 0 else 0.0)
        if score > best_score:
            best, best_score = pose, score
    return best


FIT_ROUNDS = 3  # the room shrinks with the labels: these rounds of framing settle it
MIN_ROOM = 0.5  # labels stand off their blocks at their own size: the room keeps this share of it


def framed(subject, frame: Frame, room, label: float, **view) -> tuple[Pose, tuple[np.ndarray, np.ndarray]]:
    """The pose (`compose`, from `view`: direction, fov_y) that makes the world box `subject` fill
    the free region of `frame` with `room` (x, y, z) round it for the labels (world units, for
    labels `label` tall), and the box it frames: the room is sized by the labels as drawn, those
    over MAX_LABEL of the frame height shrunk to it (scene.label_keys), and the room with them
    (down to MIN_ROOM of it). Walkthrough steps and stills alike."""
    lo, hi = (np.asarray(v, float) for v in subject)
    room = np.asarray(room, float)
    share = 1.0
    for _ in range(FIT_ROUNDS):
        box = lo - room * share, hi + room * share
        pose = compose([box], frame, **view)
        distance = float(np.linalg.norm(np.subtract(pose.location, pose.target)))
        line = label / (2.0 * math.tan(pose.fov_y / 2) * distance)
        share = min(1.0, max(MIN_ROOM, MAX_LABEL / line)) if line > 0 else 1.0
    return pose, box


def still_view(boxes: Sequence[tuple[Sequence[float], Sequence[float]]]) -> dict:
    """`compose`'s view for a still of `boxes`: square on through LONG_LENS for a subject more than
    FLAT cells across, else the house lens (and `compose` picks the direction)."""
    points = np.concatenate([corners(lo, hi) for lo, hi in boxes])
    if float(np.ptp(points, axis=0).max()) > FLAT * PITCH:
        return {"direction": FRONT, "fov_y": LONG_LENS}
    return {}


def fill(boxes, pose: Pose, frame: Frame) -> tuple[float, bool]:
    """Share of the free region's area that the boxes' screen box covers, and whether it lies wholly
    inside the free region."""
    points = np.concatenate([corners(lo, hi) for lo, hi in boxes])
    box = screen_box(points, pose, frame.aspect)
    region = frame.free()
    if box is None:
        return 0.0, False
    return box.intersection(region).area / region.area, region.contains(box)
