"""The Blender side (needs bpy): objects, instancer node group, materials, labels, camera, keyframes."""

from .build import build, build_comparison, clear, prepare

__all__ = ["build", "build_comparison", "clear", "prepare"]
