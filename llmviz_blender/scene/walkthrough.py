"""`animate`: keyframe the walkthrough of a built model from its timeline.

Per-cell state comes from the `reveal` point attribute compared with the scene time inside the
node group (value boxes: a keyed progress compared with each cell's order in the shader), so
keyframes scale with blocks and steps, not cells. Only native data is used (keys,
a Track To constraint, geometry nodes): the animation plays in a .blend opened without the add-on.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence

import bpy
import numpy as np

from .. import i18n, model, timeline
from ..i18n import narrow_chars
from ..defaults import FPS, SEED, TEMPERATURE, THEME, TOP_K, TOP_P
from ..layout import CELL, PITCH, token_size
from ..layout.place import SEQUENCE_DROP, SEQUENCE_SCALE, output_text_anchor
from ..timeline import CloseUp, Timeline, Timing, TimelineError
from ..timeline.reveal import by_columns, units
from ..composition import Frame
from ..composition.camera import FOV_Y
from ..composition.frame import (BAR, CAPTION_SIZE, FORMULA_BAR, FORMULA_WIDTH, PANEL, PANEL_PAD, TALL_BAR,
                                 TEXT_WIDTH, TITLE_BAND, TITLE_SCALE, CAPTION_TOP, PanelText, caption_size, formula_size,
                                 panel_text)
from . import datablocks, environment, label_keys, marks, materials, value_boxes
from .builder import LANGUAGE_PROP, ROOT, THEME_PROP, relayout, with_fed
from .session import Model, model_of
from .keys import set_keys, set_vector_keys, set_visibility
from .labels import (DIM_COLORS, NEXT, POSITION, PREDICTION, ROLE, SECTION_COLOR, TEXT_COLOR, TEXT_SIZE,
                     add_next_tokens, add_text, flat_material, token_anchor)
from .nodes import add_cell_object

DIM = 0.7  # llmviz_dim of blocks outside the step's focus
FADE_FRAMES = 6
BAR_COLOR, FORMULA_COLOR = "bar", "formula"  # theme roles (composition.theme)
TITLE_LEFT = 0.04  # chapter titles: left edge this share of the width from the frame's left edge
OVERLAY_DEPTH = 4.0  # overlays stand this many clip-start distances in front of the camera (at least 1)
PLATE_BEHIND = 1.01  # plates stand this much farther than the text on them
ARRIVE = 0.55  # close-up copies reach the computed cell at this share of the close-up's motion
LIFT = 2 * CELL  # close-up copies fly this far in front of the blocks
TARGET = "LLMViz Camera Target"
STEPS = "llmviz_steps"  # the keyed steps, saved on the model's collection


def animation_collection(coll: bpy.types.Collection, prefix: str) -> bpy.types.Collection:
    """A fresh child collection for the animation's own objects (the previous one is removed)."""
    name = f"{prefix} Animation"
    old = next((c for c in coll.children if c.name == name or c.get("llmviz_animation")), None)
    if old is not None:
        ids = [old, *old.all_objects, *(o.data for o in old.all_objects if o.data is not None)]
        ids += [o.animation_data.action for o in old.all_objects if o.animation_data and o.animation_data.action]
        bpy.data.batch_remove([i for i in ids if datablocks.is_owned(i)])
    anim = datablocks.tag(bpy.data.collections.new(name))
    anim["llmviz_animation"] = 1
    coll.children.link(anim)
    return anim


def clear_keys(ids) -> None:
    actions = []
    for id_ in ids:
        anim = getattr(id_, "animation_data", None)
        if anim is not None and anim.action is not None and datablocks.is_owned(anim.action):
            actions.append(anim.action)
        if anim is not None:
            id_.animation_data_clear()
    if actions:
        bpy.data.batch_remove(actions)


def scene_camera(scene: bpy.types.Scene, coll: bpy.types.Collection) -> bpy.types.Object:
    """Our camera, its lens back at the house field of view (a still may have narrowed it:
    still_view): walkthroughs and flights pose it through that lens."""
    cam = scene.camera
    if cam is None or not datablocks.is_owned(cam):
        cam = next((o for o in coll.all_objects if o.type == "CAMERA" and datablocks.is_owned(o)), None)
    if cam is None:
        raise TimelineError(f"animate: '{coll.name}' has no llmviz camera; build the model again")
    cam.data.angle_y = FOV_Y
    materials.sync_grid_pixel_angle(scene)
    return cam


def key_camera(cam: bpy.types.Object, tl: Timeline, anim: bpy.types.Collection, rig: bpy.types.Object,
                height: float) -> None:
    """Camera location, the point it tracks and its lens shift at every camera key; the overlay rig
    follows the shift, so captions keep their place in the picture."""
    target = datablocks.tag(bpy.data.objects.new(TARGET, None))
    anim.objects.link(target)
    for c in [c for c in cam.constraints if c.name == TARGET]:
        cam.constraints.remove(c)
    track = cam.constraints.new("TRACK_TO")
    track.name = TARGET
    track.target = target
    track.track_axis, track.up_axis = "TRACK_NEGATIVE_Z", "UP_Y"
    frames = [k.frame for k in tl.camera_keys]
    poses = [k.pose for k in tl.camera_keys]
    set_vector_keys(cam, "location", frames, np.array([p.location for p in poses]))
    set_vector_keys(target, "location", frames, np.array([p.target for p in poses]))
    shifts = np.array([p.blender_shift() for p in poses])  # the view window's offset, in frame heights
    for axis, path in enumerate(("shift_x", "shift_y")):
        set_keys(cam.data, path, frames, shifts[:, axis])
        set_keys(rig, "location", frames, shifts[:, axis] * height, index=axis)


def _key_dimming(objects: dict[str, bpy.types.Object], tl: Timeline) -> None:
    """Blocks outside a step's focus (and the blocks it reads) fade back, within the step's motion;
    overview steps show all."""
    for key, obj in objects.items():
        frames, values = [float(tl.frame_start)], [0.0]
        for step in tl.steps:
            wanted = 0.0 if not step.focus or key in step.focus or key in step.sources else DIM
            if wanted != values[-1]:
                start = max(float(step.frame_start), frames[-1] + 1)
                frames += [start, start + min(FADE_FRAMES, step.motion_end - start)]
                values += [values[-1], wanted]
        if len(frames) > 1:
            set_keys(obj, '["llmviz_dim"]', frames, values, interpolation="LINEAR")


def overlay_rig(cam: bpy.types.Object, scene: bpy.types.Scene,
                 anim: bpy.types.Collection) -> tuple[bpy.types.Object, float, float, float]:
    """An empty under the camera that carries the overlays (keyed with the lens shift), the distance
    in front of the camera where they stand, and the picture's height and width there."""
    d = max(1.0, OVERLAY_DEPTH * cam.data.clip_start)
    height = 2 * d * math.tan(cam.data.angle_y / 2)
    rig = datablocks.tag(bpy.data.objects.new(f"{ROOT} Overlays", None))
    anim.objects.link(rig)
    rig.parent = cam
    return rig, d, height, height * environment.aspect(scene)


def overlay_plate(name: str, rig: bpy.types.Object, anim: bpy.types.Collection, d: float, width: float, bottom: float,
                  top: float, left: float | None = None) -> bpy.types.Object:
    """A dark strip across the picture behind overlay text (between heights bottom and top from the
    picture's middle; from `left` to past the right edge when given)."""
    x0 = -width if left is None else left
    mesh = datablocks.tag(bpy.data.meshes.new(name))
    mesh.from_pydata([(x0, bottom, 0), (width, bottom, 0), (width, top, 0), (x0, top, 0)], [], [(0, 1, 2, 3)])
    mesh.materials.append(flat_material(BAR_COLOR))
    plate = datablocks.tag(bpy.data.objects.new(name, mesh))
    anim.objects.link(plate)
    plate.parent = rig
    plate.location = (0.0, 0.0, -d * PLATE_BEHIND)
    return plate


def overlay_text(name, body, rig, anim, location, size, color, width=None, align_x="CENTER",
                  align_y="CENTER") -> bpy.types.Object:
    if width is not None:
        body = i18n.current().text_box(body, width / size)
    obj = add_text(name, body, location, size, color, anim, align_x=align_x, align_y=align_y)
    obj.rotation_euler = (0.0, 0.0, 0.0)
    obj.parent = rig
    if width is not None:
        obj.data.text_boxes[0].width = width / size  # in the text's own units (the object is scaled)
        obj.data.text_boxes[0].x = -width / size / 2
    return obj


def _spans(steps) -> list[tuple[int, int]]:
    """The frames of `steps` as spans, consecutive steps joined."""
    out: list[tuple[int, int]] = []
    for s in steps:
        if out and out[-1][1] == s.frame_start - 1:
            out[-1] = (out[-1][0], s.frame_end)
        else:
            out.append((s.frame_start, s.frame_end))
    return out


def _panel(tl: Timeline, aspect: float) -> PanelText:
    return panel_text(aspect, max(narrow_chars(s.caption) for s in tl.steps),
                      max(narrow_chars(c.title) for c in tl.chapters))


def _key_captions(tl: Timeline, rig: bpy.types.Object, d: float, height: float, width: float,
                  anim: bpy.types.Collection) -> None:
    """The caption bar along the bottom of the picture, or the side panel along its right edge
    (the step's `side`), each shown during the steps that use it; each step's caption and each
    chapter's title in it."""
    aspect, bottom = width / height, -height / 2

    def at(x: float, y: float) -> tuple[float, float, float]:  # frame heights -> the rig's space
        return (x - aspect / 2) * height, (y - 0.5) * height, -d

    panel = _panel(tl, aspect)
    layouts = {"band": [s for s in tl.steps if not s.side and not s.tall], "tall": [s for s in tl.steps if s.tall],
               "side": [s for s in tl.steps if s.side]}
    plates = {"band": lambda: overlay_plate(f"{ROOT} Caption Bar", rig, anim, d, width, bottom - height,
                                            bottom + BAR * height),
              "tall": lambda: overlay_plate(f"{ROOT} Caption Bar Tall", rig, anim, d, width, bottom - height,
                                            bottom + TALL_BAR * height),
              "side": lambda: overlay_plate(f"{ROOT} Caption Panel", rig, anim, d, width, -height, height,
                                            left=at(aspect * (1.0 - PANEL), 0.0)[0])}
    used = [k for k, steps in layouts.items() if steps]
    for k in used:
        plate = plates[k]()
        if len(used) > 1:
            set_visibility(plate, _spans(layouts[k]), tl.frame_start)
    longest = max(narrow_chars(s.caption) for s in tl.steps)
    sizes = {bar: caption_size(aspect, longest, bar) * height for bar in (BAR, TALL_BAR)}
    for i, step in enumerate(tl.steps):
        if step.side:
            text = overlay_text(f"{ROOT} Caption {i:03d}", step.caption, rig, anim,
                                 at(panel.left + panel.width / 2, panel.top), panel.caption * height, TEXT_COLOR,
                                 width=panel.width * height, align_x="LEFT", align_y="TOP")
        else:
            bar = TALL_BAR if step.tall else BAR
            text = overlay_text(f"{ROOT} Caption {i:03d}", step.caption, rig, anim,
                                 (0.0, bottom + CAPTION_TOP * bar * height, -d), sizes[bar], TEXT_COLOR,
                                 width=TEXT_WIDTH * width, align_y="TOP")
        set_visibility(text, [(step.frame_start, step.frame_end)], tl.frame_start)
    for chapter in tl.chapters:
        spans = _spans(s for s in chapter.steps if not s.side)
        if spans:
            title = overlay_text(f"{ROOT} Chapter {chapter.id}", chapter.title, rig, anim,
                                  ((TITLE_LEFT - 0.5) * width, (0.5 - TITLE_BAND / 2) * height, -d),
                                  TITLE_SCALE * CAPTION_SIZE * height, SECTION_COLOR, align_x="LEFT")
            set_visibility(title, spans, tl.frame_start)
        spans = _spans(s for s in chapter.steps if s.side)
        if spans:
            title = overlay_text(f"{ROOT} Chapter {chapter.id} panel", chapter.title, rig, anim,
                                  at(panel.left, 1.0 - PANEL_PAD - panel.title / 2), panel.title * height,
                                  SECTION_COLOR, align_x="LEFT")
            set_visibility(title, spans, tl.frame_start)


def _key_closeup(i: int, cu: CloseUp, tl: Timeline, m: Model, anim: bpy.types.Collection, first: int,
                 rig: bpy.types.Object, d: float, height: float, width: float) -> None:
    """Copies of the source cells fly to the cell being computed; the formula with its numbers
    stands on a plate over the caption bar, or at the bottom of the side panel."""
    step = next(s for s in tl.steps if s.frame_start == cu.frame_start)
    layout, trace, weights = m.layout, m.trace, m.weights
    target = layout.cell_position(*cu.target)
    span = step.motion_end - cu.frame_start  # the flight and the copies' glow; then they hold
    arrive = cu.frame_start + ARRIVE * span
    by_block: dict[str, list[tuple[int, int]]] = {}
    for key, row, col in cu.sources:
        by_block.setdefault(key, []).append((row, col))
    for j, (key, cells) in enumerate(by_block.items()):
        block = layout[key]
        rows = np.array([r for r, _ in cells])
        cols = np.array([c for _, c in cells])
        from ..layout import block_values, shade
        values = block_values(block, trace, weights, rows, cols)
        pos = block.positions(rows, cols) + [0.0, -LIFT, 0.0]
        attrs = {"value": values, "shade": shade(values), "src_index": block.src_index(rows, cols).astype(np.int32),
                 "reveal": np.full(len(rows), float(cu.frame_start), np.float32)}
        obj = add_cell_object(f"{ROOT} Close-up {i} {key}", pos, attrs, materials.kind_material(block.kind), anim,
                              highlight_frames=float(span))
        centre = pos.mean(axis=0)
        delta = target + [0.0, -LIFT * (j + 2), 0.0] - centre
        set_vector_keys(obj, "location", [cu.frame_start, arrive], np.array([[0.0, 0.0, 0.0], delta]))
        set_visibility(obj, [(cu.frame_start, cu.frame_end)], first)
    shown = [(cu.frame_start, cu.frame_end)]
    if step.side:  # at the bottom of the side panel, under the caption
        panel = _panel(tl, width / height)
        size = panel.formula(width / height, narrow_chars(cu.formula), narrow_chars(step.caption))
        formula = overlay_text(f"{ROOT} Close-up {i} formula", cu.formula, rig, anim,
                                ((panel.left + panel.width / 2 - width / height / 2) * height,
                                 (PANEL_PAD - 0.5) * height, -d), size * height, FORMULA_COLOR,
                                width=panel.width * height, align_x="LEFT", align_y="BOTTOM")
        set_visibility(formula, shown, first)
        return
    size = formula_size(width / height, narrow_chars(cu.formula)) * height
    top = -height / 2 + ((TALL_BAR if step.tall else BAR) + FORMULA_BAR) * height
    plate = overlay_plate(f"{ROOT} Close-up {i} plate", rig, anim, d, width, top - FORMULA_BAR * height, top)
    set_visibility(plate, shown, first)
    formula = overlay_text(f"{ROOT} Close-up {i} formula", cu.formula, rig, anim,
                            (0.0, top - 0.5 * FORMULA_BAR * height, -d), size, FORMULA_COLOR,
                            width=FORMULA_WIDTH * width)
    set_visibility(formula, shown, first)


Spans = dict[str, list[tuple[float, float]]]


def _outputs(tl: Timeline, m: Model, coll: bpy.types.Collection, anim: bpy.types.Collection) -> Spans:
    """When output texts may show: each prediction under the model once its column's probabilities
    are computed, each pass's next-token list until the next pass's replaces it; the generated
    tokens join the input row, and the sequence so far stands under the probabilities, where the
    camera looks. Returns the spans by object name (the label placement keys them)."""
    layout, end = m.layout, float(tl.frame_end)
    n_in = len(m.tokens)
    probs = layout["probs"]
    column = units(probs)

    def done(position: int) -> float:  # the frame its probabilities are all computed, or after the end
        if "probs" not in tl.reveal:
            return end + 1
        frame = float(np.max(tl.reveal["probs"][column == position]))
        return frame if frame < timeline.NEVER else end + 1

    outputs = [o for o in coll.all_objects if o.get(ROLE) == PREDICTION]
    lists = {int(o[POSITION]): o for o in outputs if o.get(NEXT)}
    first = lists.get(n_in - 1)
    if first is not None:  # a list per later pass, like the first pass's
        fanned = "\n" in first.data.body  # word pieces are listed one a line
        for position in range(n_in, layout.n_tokens):
            lists[position] = add_next_tokens(layout, anim, f"{ROOT} Next {position}", m.trace, position,
                                              int(first[NEXT]), fanned, float(first[TEXT_SIZE]))
    spans: Spans = {o.name: [(done(int(o[POSITION])), end)] for o in outputs}
    shown = sorted((done(p), o) for p, o in lists.items())
    for (start, obj), (later, _) in zip(shown, [*shown[1:], (end + 1, None)]):
        spans[obj.name] = [(start, max(start, later - 1))]
    size = token_size(layout.config)
    for k, p in enumerate(tl.predictions):
        text = add_text(f"{ROOT} Generated {k}", p.text, token_anchor(layout, n_in + k), size,
                        DIM_COLORS["T"], anim, align_x="CENTER", align_y="BOTTOM")
        spans[text.name] = [(p.frame_start, end)]
        generated = [q.token for q in tl.predictions[:k + 1]]
        line = model.sequence_text(layout.config, m.tokens, generated)
        seq = add_text(f"{ROOT} Sequence {k}", line, output_text_anchor(layout, SEQUENCE_DROP), SEQUENCE_SCALE * size,
                       DIM_COLORS["T"], anim, align_y="TOP", label="sequence")
        last = k == len(tl.predictions) - 1
        spans[seq.name] = [(p.frame_start, end if last else tl.predictions[k + 1].frame_start - 1)]
    return spans


MARK_SHARE = 0.012  # the pass markers: this share of the model's height wide (legible in the whole view)


def _key_pass_columns(tl: Timeline, m: Model, anim: bpy.types.Collection) -> None:
    """While a generation pass computes its column, a marker points at that column in every block
    it computes (from above a block of columns, from the left of an attention matrix's row), in
    front of the blocks: a path down the stack that shows which numbers the pass computes."""
    n_in = len(m.tokens)
    blocks = [b for b in m.layout.blocks if b.kind != "weight"]
    lo, hi = m.layout.body()
    w = max(2 * PITCH, MARK_SHARE * float(hi[2] - lo[2]))
    for k, p in enumerate(tl.predictions):
        c = n_in + k
        if c >= m.layout.n_tokens:
            break
        verts, faces = [], []
        for b in blocks:
            rows, cols = b.cells()
            sel = units(b) == c
            if not sel.any():
                continue
            pos = b.positions(rows[sel], cols[sel])
            first, last = pos.min(axis=0), pos.max(axis=0)
            y = first[1] - CELL  # in front of the cells, seen from the camera's side (-Y)
            if by_columns(b):  # above the column, pointing down at it
                tip = np.array([first[0], y, last[2] + CELL])
                tri = [tip + [-w / 2, 0, w], tip + [w / 2, 0, w], tip]
            else:  # left of the row, pointing right at it
                tip = np.array([first[0] - CELL, y, first[2]])
                tri = [tip + [-w, 0, -w / 2], tip + [-w, 0, w / 2], tip]
            n = len(verts)
            verts += [tuple(v) for v in tri]
            faces.append((n, n + 1, n + 2))
        mesh = datablocks.tag(bpy.data.meshes.new(f"{ROOT} Pass column {c}"))
        mesh.from_pydata(verts, [], faces)
        mesh.materials.append(flat_material(DIM_COLORS["T"]))
        obj = datablocks.tag(bpy.data.objects.new(f"{ROOT} Pass column {c}", mesh))
        anim.objects.link(obj)
        arrived = next((k.frame for k in tl.camera_keys if k.frame >= p.frame_start), p.frame_start)
        set_visibility(obj, [(arrived, p.frame_end)], tl.frame_start)  # sized for the whole view: once there


Narration = str | os.PathLike | Mapping  # a narrator's timing: a TOML file or the same dict (Timing.narrated)


def plan(m: Model, scene: bpy.types.Scene, fps: int = FPS, speed: float = 1.0, chapters: Sequence[str] | None = None,
         start_layer: int = 0, durations: dict[str, float] | None = None,
         generate_steps: int | None = None, captions: bool = True, temperature: float = TEMPERATURE,
         top_k: int | None = TOP_K, top_p: float | None = TOP_P, seed: int | None = SEED,
         reading_speed: float | None = None, timing: Narration | None = None) -> Timeline:
    """The timeline for a built model (validation only: raises TimelineError / ModelError, touches
    nothing), laid out as `walk` lays it out (in the current language, i18n.using)."""
    return walk(m, scene, fps, speed, chapters, start_layer, durations, generate_steps, captions, temperature, top_k,
                top_p, seed, reading_speed, timing)[0]


def walk(m: Model, scene: bpy.types.Scene, fps: int = FPS, speed: float = 1.0, chapters: Sequence[str] | None = None,
         start_layer: int = 0, durations: dict[str, float] | None = None,
         generate_steps: int | None = None, captions: bool = True, temperature: float = TEMPERATURE,
         top_k: int | None = TOP_K, top_p: float | None = TOP_P, seed: int | None = SEED,
         reading_speed: float | None = None, timing: Narration | None = None) -> tuple[Timeline, Model]:
    """The timeline for a built model and the model as the walkthrough shows it: with a column for
    every generated token fed back when the generation chapter is told (`builder.with_fed`).
    Validation only: raises TimelineError / ModelError, touches nothing. With captions, each step
    is framed in the part of the picture above the caption bar. The generation samples with
    temperature, top_k, top_p and seed (temperature 0: greedy). Steps last until their text is
    read at reading_speed (characters a second; None: the language's, i18n.current()); durations
    (chapter -> seconds) and timing (a narrator's TOML file or dict: Timing.narrated) set seconds instead."""
    options = {"fps": fps, "speed": speed, "durations": dict(durations or {}), "reading_speed": reading_speed}
    clock = Timing.narrated(timing, **options) if timing is not None else Timing(**options)
    if m.trace is None or m.weights is None:
        raise TimelineError(f"animate: {m.config.name} was built without weights; build it with a weights "
                            f"file or weights='random' to animate")
    steps = generate_steps if generate_steps is not None else default_steps(m)
    room = m.config.block_size - len(m.tokens) + 1
    if steps > room:
        raise TimelineError(f"generate_steps: {steps} tokens after {len(m.tokens)} need {len(m.tokens) + steps - 1} "
                            f"columns; {m.config.name}'s block size {m.config.block_size} allows at most {room}")
    told = chapters is None or "generation" in chapters  # generation passes run only when told
    top_p = None if top_p is not None and top_p >= 1 else top_p
    generation = model.generate(m.weights, m.tokens, steps, temperature, top_k, top_p, seed) \
        if steps > 0 and told else None
    L = i18n.current()
    sampling = L.join([L.tr("temperature {t}", t=L.num(f"{temperature:g}")), *([f"top-k {top_k}"] if top_k else []),
                       *([f"top-p {L.num(f'{top_p:g}')}"] if top_p else [])]) if temperature > 0 else ""
    if generation is None and chapters is not None and "generation" in chapters:
        raise TimelineError("chapters: 'generation' needs generate_steps > 0")
    shown = with_fed(m, generation.generated[:-1], generation.traces[-1]) if generation is not None else with_fed(m, [])
    tl = timeline.build_timeline(shown.layout, shown.trace, clock, chapters=list(chapters) if chapters else None,
                                 start_layer=start_layer, generation=generation, weights=shown.weights,
                                 frame=Frame(environment.aspect(scene), caption=captions, title=captions),
                                 sampling=sampling)
    return tl, shown


GENERATED_WORDS = 3  # tokens a text model generates by default


def tellable(m: Model, start_layer: int = 0) -> list[str]:
    """The chapters `m`'s walkthrough can tell (generation when it generates by default)."""
    why = timeline.build.available(m.config, start_layer, default_steps(m) > 0, m.weights is not None)
    return [c for c, reason in why.items() if reason is None]


def default_steps(m: Model) -> int:
    """Tokens generated when not told: as many as the input for a letter vocabulary, a few words
    for a model with a tokenizer, none for a model read as bare ids; at most what the block size
    leaves room for (each generated token but the last is fed back as a column)."""
    wanted = len(m.tokens) if m.config.letters else GENERATED_WORDS if timeline.build.reads_text(m.config) else 0
    return min(wanted, m.config.block_size - len(m.tokens) + 1)


def animate(collection: bpy.types.Collection, *, fps: int = FPS, speed: float = 1.0,
            chapters: Sequence[str] | None = None, start_layer: int = 0, durations: dict[str, float] | None = None,
            generate_steps: int | None = None, captions: bool = True, closeups: bool = True,
            temperature: float = TEMPERATURE, top_k: int | None = TOP_K, top_p: float | None = TOP_P,
            seed: int | None = SEED, reading_speed: float | None = None, timing: Narration | None = None,
            scene: bpy.types.Scene | None = None, language: str | None = None) -> tuple[int, int]:
    """Keyframe the forward-pass walkthrough of a built model; returns (frame_start, frame_end).
    The generation chapter samples with temperature, top_k, top_p and seed (temperature 0: greedy).
    Captions, titles and labels are in `language` (an i18n code; None: the one the model was built
    in). Each step moves, then holds until its caption (and formula) is read at reading_speed characters
    a second (None: the language's); durations {chapter: seconds} or timing (a narrator's TOML file or dict, see
    Timing.narrated) give chapters or steps their seconds. With the generation chapter, the
    collection's objects are made again with a column for every generated token fed back (each
    later pass computes only its own column); without it, with the input's columns alone.

    Raises TimelineError (or ModelError) on bad options before anything changes.
    """
    lang = i18n.language(language if language is not None else collection.get(LANGUAGE_PROP))
    with i18n.using(lang):
        scene = scene or bpy.context.scene
        tl, m = walk(model_of(collection), scene, fps, speed, chapters, start_layer, durations, generate_steps, captions,
                     temperature, top_k, top_p, seed, reading_speed, timing)
        if m is not model_of(collection) or lang.code != collection.get(LANGUAGE_PROP, "en"):
            collection[LANGUAGE_PROP] = lang.code  # room for the generated columns (or none), or another language
            relayout(collection, m, scene)
        cam = scene_camera(scene, collection)

        prefix = f"{ROOT} {m.config.name}"
        objects = {o["llmviz_key"]: o for o in collection.all_objects if "llmviz_key" in o}
        clear_keys([cam, cam.data, *objects.values(), *(o for o in collection.all_objects if o.type == "FONT")])
        anim = animation_collection(collection, prefix)
        for key, obj in objects.items():
            reveal = tl.reveal.get(key)
            if reveal is not None and value_boxes.is_value_box(obj):
                value_boxes.key_reveal(obj, m.layout[key], reveal)
            elif reveal is not None:
                obj.data.attributes["reveal"].data.foreach_set("value", np.ascontiguousarray(reveal, np.float32))
                obj.data.update()
        rig, d, height, width = overlay_rig(cam, scene, anim)
        key_camera(cam, tl, anim, rig, height)
        _key_dimming(objects, tl)
        if captions:
            _key_captions(tl, rig, d, height, width, anim)
        if closeups:
            for i, cu in enumerate(tl.closeups):
                _key_closeup(i, cu, tl, m, anim, tl.frame_start, rig, d, height, width)
        available = {**_outputs(tl, m, collection, anim), **marks.key_referents(tl, m.layout, anim)}
        _key_pass_columns(tl, m, anim)
        frame = Frame(width / height, caption=captions, title=captions)
        label_keys.key_steps(collection, tl.steps, [key_frame(s) for s in tl.steps], tl.camera_at, frame, tl.frame_start,
                             available)
        environment.apply_theme(scene, collection.get(THEME_PROP, THEME))  # the overlays' new materials too
        scene.render.fps = tl.fps
        scene.frame_start, scene.frame_end = tl.frame_start, tl.frame_end
        scene.frame_set(tl.frame_start)
        collection["llmviz_frames"] = [tl.frame_start, tl.frame_end]
        collection["llmviz_chapters"] = [c.id for c in tl.chapters]
        collection[LANGUAGE_PROP] = lang.code
        collection[STEPS] = json.dumps([{"chapter": c.id, "title": c.title, "caption": s.caption, "frames": [
            s.frame_start, s.frame_end], "key": key_frame(s)} for c in tl.chapters for s in c.steps])
        return tl.frame_start, tl.frame_end


def key_frame(step) -> int:
    """The frame that shows a step best: its motion's end (the camera has arrived, the work is done,
    the picture holds from there)."""
    return step.motion_end


def middle_key_frame(collection: bpy.types.Collection) -> int:
    """The key frame of the walkthrough's middle step: a still's frame when none is given."""
    steps = steps_of(collection)
    return steps[len(steps) // 2]["key"]


def steps_of(collection: bpy.types.Collection) -> list[dict]:
    """The keyed walkthrough's steps (chapter, title, caption, frames, key frame), saved on the
    collection; TimelineError when it has not been animated."""
    if STEPS not in collection:
        raise TimelineError(f"'{collection.name}' has no walkthrough: animate it first")
    return json.loads(collection[STEPS])
