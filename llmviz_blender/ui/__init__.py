"""The Blender UI: preferences, the panel's settings (``Scene.llmviz``), operators, the sidebar
panels and the cell inspector. Everything here is a thin layer over the scripted API."""

from __future__ import annotations

import bpy
from bpy.app.handlers import persistent

from ..scene import session
from . import inspector, operators, panel, preferences, properties, translations

CLASSES = (*preferences.CLASSES, *properties.CLASSES, *operators.CLASSES, *inspector.CLASSES, *panel.CLASSES)


@persistent
def _forget_live_models(*_args) -> None:
    """Another file is loading: the live models of this one are no longer shown."""
    session.forget_all()


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.llmviz = bpy.props.PointerProperty(type=properties.LLMVizSettings)
    bpy.app.handlers.load_pre.append(_forget_live_models)
    translations.register()


def unregister() -> None:
    translations.unregister()
    inspector.stop_all()
    if _forget_live_models in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(_forget_live_models)
    if hasattr(bpy.types.Scene, "llmviz"):
        del bpy.types.Scene.llmviz
    for cls in reversed(CLASSES):
        if getattr(cls, "is_registered", False):
            bpy.utils.unregister_class(cls)
