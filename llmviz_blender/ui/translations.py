"""The panel's labels and tooltips in the user's interface language, through Blender's own
translation system (`bpy.app.translations`), from the i18n catalogs."""

from __future__ import annotations

import bpy

from ..i18n import LANGUAGES

#: Blender looks up property names and tooltips in the default context, operator labels in "Operator".
CONTEXTS = ("*", "Operator")


def translations() -> dict[str, dict[tuple[str, str], str]]:
    """Blender locale -> {(context, English): translation} for every language with a catalog."""
    out = {}
    for lang in LANGUAGES.values():
        panel = lang.panel()
        if panel:
            for locale in lang.blender:
                out[locale] = {(context, msgid): text for msgid, text in panel.items() for context in CONTEXTS}
    return out


def register() -> None:
    bpy.app.translations.register(__package__, translations())


def unregister() -> None:
    bpy.app.translations.unregister(__package__)
