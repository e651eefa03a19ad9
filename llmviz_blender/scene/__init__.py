"""The Blender side (needs bpy): objects, instancer node group, materials, labels, camera, keyframes."""

from .walkthrough import animate
from .builder import build, build_comparison, clear, model_of, prepare

__all__ = ["animate", "build", "build_comparison", "clear", "model_of", "prepare"]
