"""The Blender side (needs bpy): objects, instancer node group, materials, labels, camera, keyframes."""

from .animate import animate
from .build import build, build_comparison, clear, model_of, prepare

__all__ = ["animate", "build", "build_comparison", "clear", "model_of", "prepare"]
