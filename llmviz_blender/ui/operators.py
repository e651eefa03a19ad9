"""Operators: thin wrappers over the scripted API (``scene.build`` / ``animate`` / ``clear``, the
render helper; the inspector's operator is in ``ui.inspector``). Each reads ``context.scene.llmviz``;
errors are reported in one line (``self.report``) and also kept in ``llmviz.last_error`` for the
panel, and the operator returns CANCELLED with the file as it was (everything is validated before
anything changes)."""

from __future__ import annotations

import traceback
from pathlib import Path

import bpy
from bpy.props import StringProperty

from .. import i18n
from .. import scene as scene_api
from ..layout import LayoutError
from ..model import ModelError
from ..scene import render
from ..scene.walkthrough import STEPS, steps_of, tellable
from ..timeline import TimelineError
from . import preferences, presets
from .properties import AUTO_LANGUAGE, SHAPE_FIELDS, model_collection

#: Errors of bad input: reported as they are. Anything else is reported too, with its type name,
#: and its traceback goes to the console.
EXPECTED = (ModelError, LayoutError, TimelineError, render.RenderError, OSError)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    if isinstance(exc, EXPECTED):
        return line or type(exc).__name__
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__


def fail(op: bpy.types.Operator, context, exc: BaseException) -> set[str]:
    """Report `exc` in one line, remember it for the panel, and cancel."""
    if not isinstance(exc, EXPECTED):
        traceback.print_exc()
    message = one_line(exc)
    op.report({"ERROR"}, message)
    settings = getattr(context.scene, "llmviz", None)
    if settings is not None:
        settings.last_error = message
    return {"CANCELLED"}


def succeed(op: bpy.types.Operator, context, message: str) -> set[str]:
    context.scene.llmviz.last_error = ""
    op.report({"INFO"}, message)
    return {"FINISHED"}


# ------------------------------------------------------------------------------ requests

def current_config(settings, context):
    """The preset chosen in the panel, with the custom shape applied when it is on."""
    config = presets.load(settings.preset, preferences.user_presets_dir(context))
    if settings.edit_shape:
        shape = {f: int(getattr(settings, f)) for f in SHAPE_FIELDS}
        if any(shape[f] != getattr(config, f) for f in SHAPE_FIELDS):
            extra = {} if shape["vocab_size"] == config.vocab_size else {"vocab": None, "default_input": None}
            # the preset's weights file no longer fits the shape
            config = config.replace(weights=None, **shape, **extra).validate(f"custom shape of {config.name}")
    return config


def weights_path(settings) -> Path:
    if not settings.weights_path.strip():
        raise ModelError("weights: choose a .safetensors file (or another weights source)")
    return Path(bpy.path.abspath(settings.weights_path)).expanduser()


def build_request(settings, context) -> dict:
    """The arguments of ``scene.build`` the panel's settings stand for (loads the preset)."""
    config = current_config(settings, context)
    source = settings.weights_source
    weights = None
    if source == "FILE":
        weights = weights_path(settings)
    elif source == "RANDOM":
        weights = "random"
    elif source == "NONE":
        config = config.replace(weights=None)
    prompt = settings.prompt.strip() or None
    tokenizer = None
    if settings.tokenizer_path.strip():
        tokenizer = Path(bpy.path.abspath(settings.tokenizer_path)).expanduser()
    tokens = None if prompt else settings.tokens.strip() or None
    return {"preset_or_config": config, "weights": weights, "tokens": tokens, "prompt": prompt,
            "tokenizer": tokenizer, "lod": settings.lod, "max_cells": settings.max_cells,
            "budget": int(settings.budget_gb * 2**30) or None, "labels": settings.labels, "card": settings.card,
            "top_k": settings.top_k, "logit_lens": settings.logit_lens, "theme": settings.theme,
            "value_budget": round(settings.value_budget_gb * 2**30), "language": language(settings)}


def language(settings) -> str:
    """The i18n code the Language option stands for (its default: Blender's interface language when a
    catalog exists for it, else English)."""
    if settings.language != AUTO_LANGUAGE:
        return settings.language
    return i18n.for_blender_locale(bpy.app.translations.locale).code


def sampling(settings) -> dict:
    """The generation's sampling settings (``scene.animate``'s temperature, top_k, top_p, seed)."""
    return {"temperature": settings.temperature, "top_k": settings.top_k, "top_p": settings.top_p,
            "seed": settings.seed}


def render_options(settings, context) -> dict:
    """``render.configure`` arguments: the quality picks the engine (final: the preferences' engine
    unless the panel names one) and the samples (unless the panel gives them); Workbench is always
    the draft quality, as on the command line."""
    quality = "draft" if settings.engine == "WORKBENCH" else settings.quality
    engine = settings.engine.lower() if settings.engine != "DEFAULT" else (
        preferences.default_engine(context).lower() if quality == "final" else None)
    device = settings.device if settings.device != "DEFAULT" else preferences.default_device(context)
    return {"quality": quality, "engine": engine, "device": device.lower(),
            "samples": settings.samples or None, "resolution": (settings.resolution_x, settings.resolution_y)}


def the_model(context) -> bpy.types.Collection:
    coll = model_collection(context.scene)
    if coll is None:
        raise ModelError("no llmviz model in this scene: press Generate first")
    return coll


# ------------------------------------------------------------------------------ operators

class _ProgressOperator:
    """Work inside window-manager progress: one-line errors, the file unchanged on failure;
    subclasses say how many steps and what they do (`work` returns the report)."""

    def steps(self, scn) -> tuple[int, int]:
        return 0, 1

    def work(self, context, settings, progress) -> str:
        raise NotImplementedError

    def execute(self, context):
        wm = context.window_manager
        wm.progress_begin(*self.steps(context.scene))
        try:
            done = self.work(context, context.scene.llmviz, wm.progress_update)
        except Exception as exc:  # noqa: BLE001 - reported in one line, file unchanged
            return fail(self, context, exc)
        finally:
            wm.progress_end()
        return succeed(self, context, done)


class LLMVIZ_OT_generate(_ProgressOperator, bpy.types.Operator):
    """Build the chosen model's forward pass as cubes (replaces earlier llmviz content)"""

    bl_idname = "llmviz.generate"
    bl_label = "Generate"
    bl_options = {"REGISTER", "UNDO"}

    def steps(self, scn) -> tuple[int, int]:
        return 0, 2

    def work(self, context, settings, progress) -> str:
        request = build_request(settings, context)
        progress(1)
        coll = scene_api.build(**request, scene=context.scene)
        progress(2)
        settings.readout = ""
        n = sum(1 for o in coll.all_objects if "llmviz_key" in o)
        return f"{coll['llmviz_preset']}: {len(coll['llmviz_tokens'])} tokens, {n} per-cell blocks"


class LLMVIZ_OT_animate(_ProgressOperator, bpy.types.Operator):
    """Keyframe the walkthrough of the generated model (chapters, captions, camera)"""

    bl_idname = "llmviz.animate"
    bl_label = "Animate"
    bl_options = {"REGISTER", "UNDO"}

    def work(self, context, settings, progress) -> str:
        coll = the_model(context)
        told = tellable(scene_api.model_of(coll), settings.start_layer)  # ticked chapters it cannot tell drop out
        chosen = [c for c in told if c in settings.chapters]
        if not chosen:
            raise TimelineError(f"chapters: choose at least one chapter ({', '.join(told)})")
        timing = Path(bpy.path.abspath(settings.timing_path)).expanduser() if settings.timing_path.strip() else None
        start, end = scene_api.animate(coll, fps=settings.fps, speed=settings.speed,
                                       reading_speed=settings.reading_speed or None, timing=timing,
                                       language=language(settings),
                                       chapters=None if chosen == told else chosen,
                                       start_layer=settings.start_layer, **sampling(settings))
        return f"walkthrough keyed: frames {start}-{end} at {settings.fps} fps"


class LLMVIZ_OT_zoom_to(_ProgressOperator, bpy.types.Operator):
    """Key a camera flight from the whole model down to one cell, ending on its value and formula
    (replaces the walkthrough's keys)"""

    bl_idname = "llmviz.zoom_to"
    bl_label = "Zoom to Cell"
    bl_options = {"REGISTER", "UNDO"}

    target: StringProperty(name="Cell", default="", options={"SKIP_SAVE"},
                           description="BLOCK:ROW,COL, e.g. h0.fc:3,1 (empty: the inspector's block, row and column)")

    def work(self, context, settings, progress) -> str:
        target = self.target or f"{settings.inspect_block.strip()}:{settings.inspect_row},{settings.inspect_col}"
        start, end = scene_api.zoom_to(the_model(context), target, seconds=settings.zoom_seconds, fps=settings.fps,
                                       scene=context.scene)
        return f"zoom to {target} keyed: frames {start}-{end} at {settings.fps} fps"


class LLMVIZ_OT_clear(bpy.types.Operator):
    """Remove everything llmviz made in this file (your own data is left alone)"""

    bl_idname = "llmviz.clear"
    bl_label = "Clear"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        try:
            n = scene_api.clear()
        except Exception as exc:  # noqa: BLE001
            return fail(self, context, exc)
        context.scene.llmviz.readout = ""
        return succeed(self, context, f"removed {n} llmviz data-blocks")


class _RenderOperator(_ProgressOperator):
    """Render with the panel's render settings; subclasses say what."""

    bl_options = {"REGISTER"}

    def render(self, context, settings, progress) -> str:
        raise NotImplementedError

    def work(self, context, settings, progress) -> str:
        render.configure(context.scene, **render_options(settings, context))
        return self.render(context, settings, progress)


def _output_path(description: str):
    """The render operators' file argument (not remembered between calls)."""
    return StringProperty(name="File", subtype="FILE_PATH", default="", options={"SKIP_SAVE"}, description=description)


class LLMVIZ_OT_render_still(_RenderOperator, bpy.types.Operator):
    """Render the current frame to the still path with the panel's render settings"""

    bl_idname = "llmviz.render_still"
    bl_label = "Render Still"

    filepath: _output_path("PNG to write (empty: the panel's still path)")

    def render(self, context, settings, progress) -> str:
        path = render.still(context.scene, self.filepath or settings.still_path)
        progress(1)
        return f"wrote {path}"


class LLMVIZ_OT_render_animation(_RenderOperator, bpy.types.Operator):
    """Render the scene's frame range to the animation path (video or PNG folder); a walkthrough's
    captions and chapters go beside it (NAME.srt, NAME.vtt, NAME.chapters.txt)"""

    bl_idname = "llmviz.render_animation"
    bl_label = "Render Animation"

    filepath: _output_path("Video or folder to write (empty: the panel's animation path)")

    def render(self, context, settings, progress) -> str:
        scn = context.scene
        path = render.animation(scn, self.filepath or settings.animation_path, progress=progress)
        done = f"wrote {path} (frames {scn.frame_start}-{scn.frame_end})"
        coll = model_collection(scn)
        if coll is None or STEPS not in coll:  # no walkthrough keyed: no captions
            return done
        written = scene_api.write_subtitles(coll, path, frames=(scn.frame_start, scn.frame_end), scene=scn)
        return f"{done} and {', '.join(p.name for p in written)}"

    def steps(self, scn) -> tuple[int, int]:
        return scn.frame_start, scn.frame_end


class LLMVIZ_OT_render_storyboard(_RenderOperator, bpy.types.Operator):
    """Render one small frame per walkthrough step into a grid, each with its chapter and caption"""

    bl_idname = "llmviz.render_storyboard"
    bl_label = "Render Storyboard"

    filepath: _output_path("PNG to write (empty: the panel's storyboard path)")

    def steps(self, scn) -> tuple[int, int]:
        coll = model_collection(scn)
        try:
            return 0, len(steps_of(coll)) if coll is not None else 1
        except TimelineError:
            return 0, 1

    def render(self, context, settings, progress) -> str:
        path = scene_api.storyboard(the_model(context), self.filepath or settings.storyboard_path,
                                    width=settings.storyboard_width, scene=context.scene, progress=progress)
        return f"wrote {path}"


class LLMVIZ_OT_save_preset(bpy.types.Operator):
    """Save the current model shape (and weights file) as a preset in the user presets folder"""

    bl_idname = "llmviz.save_preset"
    bl_label = "Save Preset"
    bl_options = {"REGISTER"}

    name: StringProperty(name="Name", default="", description="Preset name (file name without .toml)")

    def invoke(self, context, event):
        if not self.name:
            self.name = f"{context.scene.llmviz.preset}-custom"
        return context.window_manager.invoke_props_dialog(self)

    def execute(self, context):
        settings = context.scene.llmviz
        try:
            config = current_config(settings, context)
            if settings.weights_source == "FILE":
                config = config.replace(weights=weights_path(settings))
            elif settings.weights_source in ("RANDOM", "NONE"):
                config = config.replace(weights=None)
            path = presets.save(config, preferences.user_presets_dir(context, create=True), self.name)
        except Exception as exc:  # noqa: BLE001
            return fail(self, context, exc)
        settings.preset = path.stem
        return succeed(self, context, f"saved preset {path}")


class LLMVIZ_OT_pick_weights(bpy.types.Operator):
    """Choose a .safetensors weights file"""

    bl_idname = "llmviz.pick_weights"
    bl_label = "Choose Weights"
    bl_options = {"REGISTER", "INTERNAL"}

    filepath: StringProperty(subtype="FILE_PATH", options={"SKIP_SAVE"})
    filter_glob: StringProperty(default="*.safetensors", options={"HIDDEN"})

    def invoke(self, context, event):
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        settings = context.scene.llmviz
        settings.weights_path = self.filepath
        settings.weights_source = "FILE"
        return {"FINISHED"}


CLASSES = (LLMVIZ_OT_generate, LLMVIZ_OT_animate, LLMVIZ_OT_zoom_to, LLMVIZ_OT_clear, LLMVIZ_OT_render_still,
           LLMVIZ_OT_render_animation, LLMVIZ_OT_render_storyboard, LLMVIZ_OT_save_preset,
           LLMVIZ_OT_pick_weights)
