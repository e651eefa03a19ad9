"""llmviz-blender: every number of a GPT forward pass as cubes in Blender.

`model`, `layout` and `timeline` are pure Python/numpy; `scene` and `ui` need bpy and are
imported only when used, so the pure layers work outside Blender.
"""

__version__ = "0.1.0"


def register() -> None:
    from . import ui
    ui.register()


def unregister() -> None:
    from . import ui
    ui.unregister()
