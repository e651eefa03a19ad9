"""Add-on preferences: an extra presets folder and the default render engine and device.

The preferences class is registered under the add-on's own module name: the extension's root
package when installed as an extension (``bl_ext.<repo>.llmviz_blender``, whose inner package
is ``bl_ext.<repo>.llmviz_blender.llmviz_blender``), or ``llmviz_blender`` when the package is
imported and registered directly (scripts, tests).
"""

from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import EnumProperty, StringProperty

from ..defaults import DEVICE, DEVICES, ENGINES, QUALITY_DEFAULTS, QUALITY_ENGINES

_ENGINE_TEXT = {"cycles": ("Cycles", "Path tracing: best looking, slowest"),
                "eevee": ("EEVEE", "Real-time engine: fast on a GPU, slow without one"),
                "workbench": ("Workbench", "Flat viewport shading: fastest, for previews")}
_DEVICE_TEXT = {"cpu": ("CPU", "Render on the CPU"),
                "gpu": ("GPU", "Render on a GPU (an error when there is none)"),
                "auto": ("Auto", "A GPU when Cycles finds one, else the CPU")}
ENGINE_ITEMS = [(e.upper(), *_ENGINE_TEXT[e]) for e in ENGINES]
FINAL_ENGINE = str(QUALITY_DEFAULTS["final"]["engine"])  # final quality's engine unless the preferences say
FINAL_ENGINE_ITEMS = [i for i in ENGINE_ITEMS if i[0].lower() in QUALITY_ENGINES["final"]]
DEVICE_ITEMS = [(d.upper(), *_DEVICE_TEXT[d]) for d in DEVICES]


def addon_id(package: str) -> str:
    """The add-on's module name from the `llmviz_blender` package's own name."""
    parent = package.rpartition(".")[0]
    return parent or package


ADDON_ID = addon_id(__package__.rpartition(".")[0])  # this module lives in <package>.ui


class LLMVIZ_AddonPreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    presets_folder: StringProperty(
        name="Presets Folder", subtype="DIR_PATH", default="",
        description="Extra folder of model presets (TOML); Save Preset writes here. "
                    "Empty: the add-on's own user folder")
    render_engine: EnumProperty(name="Render Engine", default=FINAL_ENGINE.upper(),
                                items=FINAL_ENGINE_ITEMS,
                                description="Engine of the final quality when the panel's engine is 'Default'")
    render_device: EnumProperty(name="Render Device", items=DEVICE_ITEMS, default=DEVICE.upper(),
                                description="Cycles device used when the panel's device is 'Default'")

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "presets_folder")
        row = layout.row()
        row.prop(self, "render_engine")
        row.prop(self, "render_device")
        layout.label(text=f"User presets: {user_presets_dir(context)}")


def get(context=None) -> LLMVIZ_AddonPreferences | None:
    """Our preferences, or None when the package was registered directly (not as an add-on)."""
    context = context or bpy.context
    addon = context.preferences.addons.get(ADDON_ID)
    return None if addon is None else addon.preferences


def user_presets_dir(context=None, create: bool = False) -> Path:
    """Where user presets live: the preferences' folder, else the extension's user folder, else
    Blender's user config folder (``llmviz_blender/presets``)."""
    prefs = get(context)
    if prefs is not None and prefs.presets_folder:
        folder = Path(bpy.path.abspath(prefs.presets_folder)).expanduser()
    else:
        try:
            folder = Path(bpy.utils.extension_path_user(ADDON_ID, path="presets", create=create))
        except (ValueError, AttributeError):  # not installed as an extension
            folder = Path(bpy.utils.user_resource("CONFIG", path="llmviz_blender")) / "presets"
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def default_engine(context=None) -> str:
    prefs = get(context)
    return prefs.render_engine if prefs is not None else FINAL_ENGINE.upper()


def default_device(context=None) -> str:
    prefs = get(context)
    return prefs.render_device if prefs is not None else "AUTO"


CLASSES = (LLMVIZ_AddonPreferences,)
