"""Blender extension entry point: the repository root is the extension source, which Blender
imports as a package. Loaded as a plain module (pytest does so when the checkout's folder name is
not a valid package name), there is no package to import from and nothing to register."""

if __package__:
    from .llmviz_blender import register, unregister  # noqa: F401
