"""Camera placement: fit a box into the view, and easing between keys."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..defaults import ASPECT

#: From the target toward the camera: in front (-Y), a little right (+X) and above (+Z).
DIRECTION = (0.35, -1.0, 0.25)
FOV_Y = math.radians(40.0)


def ease(t: float) -> float:
    """Smoothstep: 0 at t <= 0, 1 at t >= 1, zero slope at both ends."""
    t = min(max(float(t), 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


def basis(direction: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(forward, right, up) unit vectors of a camera looking along -direction with +Z up."""
    back = np.asarray(direction, float)
    back = back / np.linalg.norm(back)
    forward = -back
    world_up = np.array([0.0, 0.0, 1.0]) if abs(back[2]) < 0.999 else np.array([0.0, 1.0, 0.0])
    right = np.cross(forward, world_up)
    right /= np.linalg.norm(right)
    return forward, right, np.cross(right, forward)


def frame_box(lo: Sequence[float], hi: Sequence[float], fov_y: float = FOV_Y, aspect: float = ASPECT,
              direction: Sequence[float] = DIRECTION, margin: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """(location, target) of a camera aimed at the box centre from `direction` (target -> camera)
    at the distance where all 8 corners fit the view (vertical field of view `fov_y` radians,
    width / height `aspect`) with `margin` (a fraction of the half-view) to spare."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    target = (lo + hi) / 2
    forward, right, up = basis(direction)
    tan_y = math.tan(fov_y / 2) * (1.0 - margin)
    tan_x = math.tan(fov_y / 2) * aspect * (1.0 - margin)
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    rel = corners - target
    # corner depth = distance + rel.forward; it fits when |rel.right| <= tan_x * depth (same for up)
    need = np.maximum(np.abs(rel @ right) / tan_x, np.abs(rel @ up) / tan_y) - rel @ forward
    extent = float(np.linalg.norm(hi - lo))
    distance = max(float(need.max()), float(np.max(-(rel @ forward))) + 0.05 * extent, 1.0)
    return target - forward * distance, target
