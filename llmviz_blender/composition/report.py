"""How well a walkthrough is composed, step by step: how much of the free region the step's focus
fills (its screen box's share of the region's area, and of the binding side), and whether it lies
wholly inside the free region."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .camera import Pose, corners, screen_box
from .frame import Frame


@dataclass(frozen=True)
class Fill:
    """The focus's screen box in the free region: `area` share, `span` share of the binding side,
    and whether it is wholly `inside`."""

    area: float
    span: float
    inside: bool


def focus_fill(boxes, pose: Pose, frame: Frame) -> Fill:
    """How the world boxes (lo, hi) fill the free region of `frame` seen from `pose`."""
    region = frame.free()
    box = screen_box(np.concatenate([corners(lo, hi) for lo, hi in boxes]), pose, frame.aspect)
    if box is None:
        return Fill(0.0, 0.0, False)
    seen = box.intersection(region)
    span = max(max(seen.width, 0.0) / region.width, max(seen.height, 0.0) / region.height)
    return Fill(seen.area / region.area, span, region.contains(box, tol=1e-6))
