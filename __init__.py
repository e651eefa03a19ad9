"""Blender extension entry point: the repository root is the extension source."""

from .llmviz_blender import register, unregister  # noqa: F401
