"""Still views of a built model: the overview, the main step of a chapter, or blocks by key prefix
(the CLI's --camera, the API)."""

from __future__ import annotations

import bpy

from ..layout import Layout, LayoutError, label_room, label_size
from ..layout.place import GROUPS, LAYERS
from ..layout.target import EXAMPLE, cell_target, is_cell_target
from ..timeline import CHAPTERS
from . import environment, zoom
from .session import model_of
from .walkthrough import plan

OVERVIEW = "overview"


def check_target(layout: Layout, target: str) -> None:
    """LayoutError (one line) unless `target` is overview, a chapter id, layers (every transformer
    layer), a layer's group (h0.mlp), a block key prefix (h0.head0) or a cell (BLOCK:ROW,COL, e.g.
    h0.fc:3,1)."""
    if is_cell_target(target):
        cell_target(layout, target, "camera")
        return
    if target == OVERVIEW or target in CHAPTERS or layout.under(target):
        return
    raise LayoutError(f"camera: unknown target {target!r}: use {OVERVIEW}, a chapter id ({', '.join(CHAPTERS)}), "
                      f"{LAYERS} (every transformer layer), a layer's group (h0.{', h0.'.join(GROUPS)}), a block key prefix such as h0.head0, ln_f "
                      f"or a cell such as {EXAMPLE}")


def frame_target(collection: bpy.types.Collection, target: str, scene: bpy.types.Scene | None = None) -> str:
    """Aim the scene camera at `target` (see check_target); returns what it frames. A cell is
    framed with its neighbours, its value and formula on screen (scene.zoom.frame_cell)."""
    scene = scene or bpy.context.scene
    m = model_of(collection)
    check_target(m.layout, target)
    if is_cell_target(target):
        return zoom.frame_cell(collection, target, scene)
    zoom.drop(collection, scene)
    room = {}
    if target == OVERVIEW:
        lo, hi = environment.overview_box([m.layout], collection)  # its labels and cards as built
        what = "the whole model"
    elif target in CHAPTERS:
        steps = [s for s in plan(m, scene, chapters=[target]).chapter(target).steps if not s.catch_up]
        lo, hi = max(steps, key=lambda s: s.frame_end - s.frame_start).target  # framed with its room
        what = f"chapter {target}"
    else:
        blocks = m.layout.under(target)
        lo, hi = m.layout.bounds(blocks)
        room = {"room": label_room(m.config), "label": label_size(m.config)}  # as a walkthrough step's
        what = f"{len(blocks)} block(s) {target}"
    environment.frame(scene, scene.camera, lo, hi, labels=collection, **room)
    return what
