"""The Blender side (needs bpy): objects, instancer node group, materials, labels, camera, keyframes."""

from .walkthrough import animate
from .builder import build, build_comparison, clear, prepare
from .session import Model, model_of

__all__ = ["Model", "animate", "build", "build_comparison", "clear", "model_of", "prepare"]
