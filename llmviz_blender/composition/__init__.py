"""Composition (pure, no bpy): the frame's reserved regions, camera poses that make a subject fill
the free region, and which labels a picture shows (legible, uncut, never overlapping)."""

from .camera import Pose, compose, project
from .frame import Frame, Rect
from .labels import LabelBox, Placement, place_labels

__all__ = ["Frame", "LabelBox", "Placement", "Pose", "Rect", "compose", "place_labels", "project"]
