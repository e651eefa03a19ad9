"""The Blender UI: preferences, the panel's settings (``Scene.llmviz``), operators, the sidebar
panels and the cell inspector. Everything here is a thin layer over the scripted API."""

from __future__ import annotations

import bpy

from . import inspector, operators, panel, preferences, properties

CLASSES = (*preferences.CLASSES, *properties.CLASSES, *operators.CLASSES, *inspector.CLASSES, *panel.CLASSES)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.llmviz = bpy.props.PointerProperty(type=properties.LLMVizSettings)


def unregister() -> None:
    inspector.stop_all()
    if hasattr(bpy.types.Scene, "llmviz"):
        del bpy.types.Scene.llmviz
    for cls in reversed(CLASSES):
        if getattr(cls, "is_registered", False):
            bpy.utils.unregister_class(cls)
