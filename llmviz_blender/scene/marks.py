"""Referents on screen: while a step is on, what its caption names (timeline.referents) is outlined
in the theme's referent colour and labelled with its index or value, in front of the blocks. The
label takes part in the label placement first (label_keys: kind "referent")."""

from __future__ import annotations

import bpy

from ..layout import CELL, Layout
from ..timeline import Timeline
from ..timeline import referents as marks
from ..timeline.referents import Referent
from ..timeline.zoom import frame_quads
from .keys import set_visibility
from .labels import add_text, quads_mesh

COLOR = "referent"  # theme role
KIND = "referent"  # label kind (label_keys.KIND_PRIORITY)
ID = "llmviz_referent"  # on outlines and labels: the referent they mark (`ident`)


def ident(ref: Referent) -> str:
    """A referent's id: block:rows,cols ("h1.gelu:39-40,5-6")."""
    return f"{ref.key}:{ref.rows[0]}-{ref.rows[1]},{ref.cols[0]}-{ref.cols[1]}"


def _outline(name: str, box, width: float, anim: bpy.types.Collection) -> bpy.types.Object:
    """A flat frame `width` wide round the world box, just in front of it (seen from -Y)."""
    (x0, y, z0), (x1, _, z1) = box[0], box[1]
    return quads_mesh(name, frame_quads(x0 - width, z0 - width, x1 + width, z1 + width, width, y - CELL), COLOR, anim)


def key_referents(tl: Timeline, layout: Layout, anim: bpy.types.Collection) -> dict[str, list[tuple[float, float]]]:
    """Outline and label every step's referents while the step is on (consecutive steps naming the
    same ones share them); returns the labels' spans by object name (for the label placement)."""
    runs: list[tuple[list[Referent], float, int, int]] = []
    for step in tl.steps:
        if not step.referents:
            continue
        if runs and runs[-1][0] == step.referents and runs[-1][1] == step.mark and runs[-1][3] == step.frame_start - 1:
            runs[-1] = (*runs[-1][:3], step.frame_end)
        else:
            runs.append((step.referents, step.mark, step.frame_start, step.frame_end))
    spans: dict[str, list[tuple[float, float]]] = {}
    for i, (refs, size, start, end) in enumerate(runs):
        for j, (ref, box) in enumerate(zip(refs, marks.label_boxes(refs, layout, size))):
            name = f"{anim.name} Referent {i}.{j}"
            outline = _outline(name, ref.box(layout), marks.outline_width(size), anim)
            text = add_text(f"{name} label", ref.label, [box[0][0], box[0][1], (box[0][2] + box[1][2]) / 2], size,
                            COLOR, anim, label=KIND)
            outline[ID] = text[ID] = ident(ref)
            set_visibility(outline, [(start, end)], tl.frame_start)
            spans[text.name] = [(start, end)]
    return spans


def shown(collection: bpy.types.Collection, ref: Referent) -> tuple[bpy.types.Object | None, bpy.types.Object | None]:
    """The outline and the label marking `ref` that are visible in the current frame (None: none is)."""
    found = [o for o in collection.all_objects if o.get(ID) == ident(ref) and not o.hide_render]
    outline = next((o for o in found if o.type == "MESH"), None)
    label = next((o for o in found if o.type == "FONT"), None)
    return outline, label

