"""The panel's settings: a PropertyGroup at ``context.scene.llmviz``."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from .. import model
from ..composition.theme import THEMES
from ..defaults import (FPS, FPS_RANGE, QUALITIES, QUALITY, QUALITY_DEFAULTS, RESOLUTION, RESOLUTION_RANGE,
                        SAMPLES_MAX, STORYBOARD_WIDTH, THEME)
from ..defaults import SEED, TEMPERATURE, TOP_K, TOP_P
from ..i18n import LANGUAGES
from ..layout.lod import AUTO_BUDGET, DEFAULT_BUDGET, DEFAULT_MAX_CELLS, LOD_MODES
from ..layout.texels import DEFAULT_VALUE_BUDGET
from ..scene import session
from ..timeline import CHAPTERS
from ..timeline.zoom import SECONDS as ZOOM_SECONDS
from . import preferences, presets

QUALITY_ITEMS = [(q, q.title(), f"{QUALITY_DEFAULTS[q]['engine']}, {QUALITY_DEFAULTS[q]['samples']} samples by "
                  "default") for q in QUALITIES]
AUTO_LANGUAGE = "AUTO"  # the Language option's default: Blender's interface language
SHAPE_FIELDS = ("n_layer", "n_head", "n_embd", "vocab_size", "block_size")

_items_cache: list[tuple[str, str, str]] = []  # Blender needs the enum strings kept alive


def _preset_items(self, context):
    global _items_cache
    found = presets.items(preferences.user_presets_dir(context))
    if found != _items_cache:
        _items_cache = found
    return _items_cache


def _preset_changed(self, context) -> None:
    """Show the chosen preset's shape in the shape fields (a broken file leaves them alone)."""
    try:
        config = presets.load(self.preset, preferences.user_presets_dir(context))
    except model.ModelError:
        return
    for field in SHAPE_FIELDS:
        setattr(self, field, getattr(config, field))
    self.edit_shape = False


def model_collection(scene: bpy.types.Scene | None) -> bpy.types.Collection | None:
    """The scene's llmviz model collection (the first one), or None."""
    if scene is None:
        return None
    for coll in scene.collection.children_recursive:
        if "llmviz_config" in coll or "llmviz_preset" in coll:
            return coll
    return None


def _block_search(self, context, edit_text):
    """Block keys of the scene's model, for the inspector's block field."""
    coll = model_collection(context.scene)
    if coll is None:
        return []
    try:
        keys = [b.key for b in session.model_of(coll).layout.blocks]
    except (ValueError, KeyError):
        return []
    text = edit_text.lower()
    return [k for k in keys if text in k.lower()]


class LLMVizSettings(bpy.types.PropertyGroup):
    # --- model -------------------------------------------------------------------------
    preset: EnumProperty(name="Preset", items=_preset_items, update=_preset_changed,
                         description="Model preset: the shipped ones, then TOML files in the user presets folder")
    edit_shape: BoolProperty(name="Custom Shape", default=False,
                             description="Use the shape fields below instead of the preset's own")
    n_layer: IntProperty(name="Layers", default=3, min=1, max=256)
    n_head: IntProperty(name="Heads", default=3, min=1, max=256)
    n_embd: IntProperty(name="Embedding (C)", default=48, min=1, max=65536)
    vocab_size: IntProperty(name="Vocabulary", default=3, min=1, max=1_000_000)
    block_size: IntProperty(name="Block Size", default=11, min=1, max=1_000_000)
    weights_source: EnumProperty(name="Weights", default="PRESET", items=[
        ("PRESET", "Preset", "The preset's own weights file when it has one, else shape only"),
        ("FILE", "File", "A .safetensors file (minGPT/nanoGPT or Hugging Face GPT-2 names)"),
        ("RANDOM", "Random", "Seeded GPT-2 style initialisation"),
        ("NONE", "Shape Only", "No numbers: blocks in their kind colours"),
    ])
    weights_path: StringProperty(name="Weights File", subtype="FILE_PATH", default="",
                                 description=".safetensors weights file")
    tokens: StringProperty(name="Tokens", default="",
                           description="Input: letters for a letter vocabulary ('CBABBC') or token ids "
                                       "('15 42 7'); empty: the preset's default input")
    prompt: StringProperty(name="Prompt", default="",
                           description="Input text read by the model's tokenizer (used instead of Tokens when set)")
    tokenizer_path: StringProperty(name="Tokenizer", subtype="FILE_PATH", default="",
                                   description="A tokenizer.json (or vocab.json beside merges.txt) replacing the "
                                               "model's own; empty: the model's own")

    # --- options -----------------------------------------------------------------------
    lod: EnumProperty(name="Level of Detail", default="auto",
                      items=[(m, m.title(), d) for m, d in zip(LOD_MODES, (
                          "Cubes for blocks that fit the budget, boxes for the rest",
                          "One cube per cell for every block (refused over the budget)",
                          "One box per block"))])
    max_cells: IntProperty(name="Max Cells per Block", default=DEFAULT_MAX_CELLS, min=1,
                           description="Auto: larger blocks are drawn as boxes")
    budget_gb: FloatProperty(name="Memory Budget (GiB)", default=0.0, min=0.0, soft_max=64.0,
                             description=f"Render memory allowed for per-cell cubes (0: {AUTO_BUDGET / 2**30:g} GiB "
                                         f"in auto mode, {DEFAULT_BUDGET / 2**30:g} GiB for cells)")
    value_budget_gb: FloatProperty(name="Value Budget (GiB)", default=DEFAULT_VALUE_BUDGET / 2**30, min=0.01,
                                   soft_max=64.0, description="Memory a model with weights may need, shown by "
                                   "value: weights, value textures and cubes (larger models are refused)")
    labels: BoolProperty(name="Labels", default=True, description="Block names and dimension labels")
    card: BoolProperty(name="Card", default=True, description="Title card with the parameter count")
    theme: EnumProperty(name="Theme", default=THEME, items=[(n, n.title(), t.purpose) for n, t in THEMES.items()])
    top_k: IntProperty(name="Top-k", default=TOP_K, min=1,
                       description="Next tokens listed under the output; when sampling, the most likely tokens kept")
    logit_lens: BoolProperty(name="Logit Lens", default=False,
                             description="A table per layer and stage beside the residual stream: what it predicts")

    # --- animation ---------------------------------------------------------------------
    fps: IntProperty(name="FPS", default=FPS, min=FPS_RANGE[0], max=FPS_RANGE[1])
    speed: FloatProperty(name="Speed", default=1.0, min=0.01, soft_max=8.0,
                         description="2 plays the walkthrough twice as fast")
    language: EnumProperty(name="Language", default=AUTO_LANGUAGE,
                           items=[(AUTO_LANGUAGE, "Interface Language", "The Blender interface language when a "
                                   "catalog exists for it, else English"),
                                  *((code, lang.native, lang.name) for code, lang in LANGUAGES.items())],
                           description="Language of captions, titles, labels and subtitles")
    reading_speed: FloatProperty(name="Reading Speed", default=0.0, min=0.0, soft_max=30.0,
                                 description="Characters a second a viewer reads: each step holds until its caption "
                                             "(and formula) is read; 0: the language's subtitle reading speed")
    timing_path: StringProperty(name="Narrator Timing", subtype="FILE_PATH", default="",
                                description="A TOML file of a narrator's seconds per chapter ([chapters]) or step "
                                            "([steps.<chapter>]); empty: every step paced for reading")
    chapters: EnumProperty(name="Chapters", options={"ENUM_FLAG"}, default=set(CHAPTERS),
                           items=[(k, v, f"Chapter: {v}") for k, v in CHAPTERS.items()])
    start_layer: IntProperty(name="Start Layer", default=0, min=0,
                             description="Layer the layer chapters show in detail")
    temperature: FloatProperty(name="Temperature", default=TEMPERATURE, min=0.0, soft_max=2.0,
                               description="Generation: 0 picks the most likely token, above 0 samples")
    top_p: FloatProperty(name="Top-p", default=TOP_P, min=0.001, max=1.0,
                         description="Generation: sample from the smallest set of tokens reaching this probability")
    seed: IntProperty(name="Seed", default=SEED, min=0, description="Generation: the sampling seed")

    # --- render ------------------------------------------------------------------------
    engine: EnumProperty(name="Engine", default="DEFAULT", items=[
        ("DEFAULT", "Default", "The add-on preferences' engine"), *preferences.ENGINE_ITEMS])
    device: EnumProperty(name="Device", default="DEFAULT", items=[
        ("DEFAULT", "Default", "The add-on preferences' device"), *preferences.DEVICE_ITEMS])
    quality: EnumProperty(name="Quality", default=QUALITY, items=QUALITY_ITEMS,
                          description="Draft: Workbench with every cell's colour, fast on a CPU; final: Cycles "
                                      "denoised (or EEVEE). The Workbench engine is always draft")
    samples: IntProperty(name="Samples", default=0, min=0, max=SAMPLES_MAX,
                         description="Samples per pixel (Workbench: anti-aliasing passes); 0: the quality's "
                                     "default")
    resolution_x: IntProperty(name="Width", default=RESOLUTION[0], min=RESOLUTION_RANGE[0],
                              max=RESOLUTION_RANGE[1], subtype="PIXEL")
    resolution_y: IntProperty(name="Height", default=RESOLUTION[1], min=RESOLUTION_RANGE[0],
                              max=RESOLUTION_RANGE[1], subtype="PIXEL")
    still_path: StringProperty(name="Still", subtype="FILE_PATH", default="//llmviz.png",
                               description="PNG file for Render Still")
    animation_path: StringProperty(name="Animation", subtype="FILE_PATH", default="//llmviz.mp4",
                                   description="Video (.mp4/.mkv/.mov) or a folder for PNG frames")
    storyboard_path: StringProperty(name="Storyboard", subtype="FILE_PATH", default="//storyboard.png",
                                    description="PNG for Render Storyboard: one frame per walkthrough step")
    storyboard_width: IntProperty(name="Storyboard Frame Width", default=STORYBOARD_WIDTH, min=RESOLUTION_RANGE[0],
                                  max=RESOLUTION_RANGE[1], subtype="PIXEL",
                                  description="Width of each step's frame on the storyboard")

    # --- inspector ---------------------------------------------------------------------
    inspect_block: StringProperty(name="Block", default="x", search=_block_search,
                                  description="Block key, e.g. x, h0.head1.q, h0.fc, logits")
    inspect_row: IntProperty(name="Row", default=0, min=0)
    inspect_col: IntProperty(name="Column", default=0, min=0)
    readout: StringProperty(name="Readout", default="", description="Last inspector readout")
    zoom_seconds: FloatProperty(name="Zoom Seconds", default=ZOOM_SECONDS, min=0.1, soft_max=30.0,
                                description="Zoom to Cell: the flight from the whole model to the cell (then it "
                                            "holds on the cell with its value and formula)")
    last_error: StringProperty(name="Last Error", default="", description="Last operator error")


CLASSES = (LLMVizSettings,)
