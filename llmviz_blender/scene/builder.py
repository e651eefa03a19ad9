"""Turn a model (config + weights + tokens) into Blender objects: `build`, `build_comparison`, `clear`.

Everything is validated before the file is touched; everything made lives in our own collections
and is tagged as ours, so `clear` removes exactly what we made.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import bpy
import numpy as np

from .. import i18n
from .. import layout as lay
from .. import model
from ..defaults import ALWAYS, ASPECT, PRESET, THEME, TOP_K
from ..layout import Block, texels
from ..composition.theme import THEMES
from ..model import ModelConfig, ModelError, Trace, Weights
from . import datablocks, environment, materials, session
from .boxes import add_boxes_object
from ..layout import compare as cmp
from .labels import RING_SEGMENTS, SECTION_COLOR, add_card, add_text, flat_material, label_model
from .lens import add_lens_strip
from .nodes import add_cell_object
from .value_boxes import add_value_box
from .session import Model, resolve_weights

ROOT = "LLMViz"
NO_VALUE_SHADE = 0.75  # blocks without numbers (shape-only presets) show their kind colour
DEFAULT_TOKENS = 6  # shape-only presets without a default input show this many tokens


def resolve_config(preset_or_config: str | Path | ModelConfig | None, weights=None) -> ModelConfig:
    """The config given, a preset's, or (None) that of the Weights given, else the default preset's."""
    if isinstance(preset_or_config, ModelConfig):
        return preset_or_config.validate(preset_or_config.name)
    if preset_or_config is None:
        if isinstance(weights, Weights):
            return weights.config
        preset_or_config = PRESET
    return model.load_preset(preset_or_config)


def with_tokenizer(config: ModelConfig, tokenizer: str | Path | None) -> ModelConfig:
    """`config` reading text with the tokenizer file given (checked against its vocab_size now)."""
    if tokenizer is None:
        return config
    config = config.replace(tokenizer=Path(tokenizer).expanduser().absolute(), vocab=None).validate(config.name)
    model.tokenizer_of(config)
    return config


def resolve_tokens(config: ModelConfig, tokens: Sequence[int] | str | None, prompt: str | None = None) -> list[int]:
    """Token ids from ids or text (`tokens`, numbers read as ids), a `prompt` (always text) or the
    config's default input."""
    if prompt is not None:
        if tokens is not None:
            raise ModelError("prompt: give either tokens or a prompt, not both")
        tokens = model.encode(config, prompt, as_ids=False)
    if tokens is None:
        if config.default_input:
            tokens = config.default_input
        else:
            return list(range(min(DEFAULT_TOKENS, config.block_size, config.vocab_size)))
    ids = model.encode(config, tokens) if isinstance(tokens, str) else [int(t) for t in tokens]
    return [int(t) for t in model.check_tokens(config, ids)]


def prepare(preset_or_config=None, weights=None, tokens=None, lod: str = "auto",
            max_cells: int = lay.lod.DEFAULT_MAX_CELLS, budget: int | None = None,
            layers_per_column: int | None = None, *, prompt: str | None = None,
            tokenizer: str | Path | None = None, aspect: float = ASPECT, value_budget: int | None = None,
            camera: str = "overview", draft: bool = False) -> Model:
    """Everything that can fail on bad input, done before the scene is touched. Without a preset,
    the model is the weights file's own (a Hugging Face GPT-2 folder brings its tokenizer);
    `tokenizer` replaces the model's tokenizer; `prompt` is text read by the tokenizer. A model
    with weights is refused when its memory estimate (layout.texels) exceeds `value_budget` bytes
    (None: texels.DEFAULT_VALUE_BUDGET; a `draft` render's colour images counted too). Layers wrap
    into columns that suit a frame of `aspect`: the whole model, or for `camera` "layers" (that
    still) the transformer layers."""
    if layers_per_column is not None and (isinstance(layers_per_column, bool) or not isinstance(
            layers_per_column, int) or layers_per_column < 1):
        raise lay.LayoutError(f"layers per column must be a positive integer, got {layers_per_column!r}")
    if preset_or_config is None and isinstance(weights, (str, Path)) and weights != "random":
        w, source = resolve_weights(None, weights)  # the file's own shapes, metadata and tokenizer
        config = with_tokenizer(w.config, tokenizer)
        w = Weights(config, w.params, w.source)
    else:
        config = with_tokenizer(resolve_config(preset_or_config, weights), tokenizer)
        if tokenizer is not None and isinstance(weights, Weights):
            weights = Weights(config, weights.params, weights.source)
        if weights is not None or config.weights is not None:  # refused before loading: one token's estimate
            one = lay.model_layout(config, 1, layers_per_column=layers_per_column, aspect=aspect)
            texels.check_budget(config, one, lay.plan_lod(one.blocks, lod, max_cells, budget), value_budget, draft)
        w, source = resolve_weights(config, weights)
        config = w.config if w is not None else config  # a weights file may bring the tokenizer beside it
    ids = resolve_tokens(config, tokens, prompt)
    layout = lay.model_layout(config, len(ids), layers_per_column=layers_per_column, aspect=aspect,
                              fit=lay.LAYERS if camera == lay.LAYERS else "overview")
    plan = lay.plan_lod(layout.blocks, lod, max_cells, budget)
    if w is not None:
        texels.check_budget(config, layout, plan, value_budget, draft)
    trace = model.forward(w, ids) if w is not None else None
    return Model(config, w, source, ids, trace, layout, plan)


def _block_attributes(block: Block, rows: np.ndarray, cols: np.ndarray, trace: Trace | None,
                      weights: Weights | None) -> dict[str, np.ndarray]:
    values = lay.block_values(block, trace, weights, rows, cols)
    n = len(rows)
    attrs: dict[str, np.ndarray] = {"src_index": block.src_index(rows, cols).astype(np.int32)}
    if values is None:
        attrs["value"] = np.full(n, np.nan, np.float32)
        attrs["shade"] = np.full(n, NO_VALUE_SHADE, np.float32)
    else:
        attrs["value"] = values
        attrs["shade"] = lay.shade(values)
    attrs["reveal"] = np.full(n, ALWAYS, np.float32)
    return attrs


def _tag_block(obj: bpy.types.Object, block: Block) -> None:
    obj["llmviz_block"] = block.name
    obj["llmviz_key"] = block.key
    obj["llmviz_kind"] = block.kind
    obj["llmviz_source"] = block.source


def _add_model(m: Model, parent: bpy.types.Collection, with_labels: bool, card: bool, top_k: int = TOP_K,
               logit_lens: bool = False, value_boxes: bool = True) -> bpy.types.Collection:
    """The model's collection under `parent`, filled (`_fill`)."""
    coll = _collection(f"{ROOT} {m.config.name}", parent)
    coll[OPTIONS] = json.dumps({"with_labels": with_labels, "card": card, "top_k": top_k, "logit_lens": logit_lens,
                                "value_boxes": value_boxes})
    _fill(coll, m, with_labels, card, top_k, logit_lens, value_boxes)
    return coll


OPTIONS = "llmviz_build_options"  # how the collection was built: `relayout` fills it again the same way


def _fill(coll: bpy.types.Collection, m: Model, with_labels: bool, card: bool, top_k: int = TOP_K,
          logit_lens: bool = False, value_boxes: bool = True) -> None:
    """The model's objects: per-cell blocks, value boxes (big blocks with numbers, unless
    `value_boxes` is off) and kind-colour grid boxes (big blocks without numbers), labels."""
    config = m.config
    prefix = f"{ROOT} {config.name}"
    session.register(coll, m)
    boxes: dict[str, list[Block]] = {k: [] for k in lay.KINDS}
    for block in m.layout.blocks:
        if m.plan[block.key] == "box":
            obj = add_value_box(f"{prefix} {block.key}", block, m.trace, m.weights, coll) if value_boxes else None
            if obj is None:
                boxes[block.kind].append(block)
            else:
                _tag_block(obj, block)
            continue
        rows, cols = block.cells()
        obj = add_cell_object(f"{prefix} {block.key}", block.positions(rows, cols),
                              _block_attributes(block, rows, cols, m.trace, m.weights),
                              materials.kind_material(block.kind), coll)
        _tag_block(obj, block)
    for kind, blocks in boxes.items():
        if blocks:
            obj = add_boxes_object(f"{prefix} {kind} boxes", blocks, materials.grid_material(kind), coll)
            obj["llmviz_kind"] = kind
            obj["llmviz_blocks"] = len(blocks)
    if with_labels or card or logit_lens:
        text = _collection(f"{prefix} Labels", coll)
        if with_labels:
            label_model(m.layout, text, prefix, m.trace, top_k=top_k, n_input=len(m.tokens))
        if card:
            add_card(m.layout, text, prefix)
        if logit_lens:
            add_lens_strip(m, text, prefix)


def with_fed(m: Model, fed: Sequence[int], trace: Trace | None = None) -> Model:
    """`m` laid out with the generated tokens `fed` fed back as columns after its input (the
    same blocks drawn the same way) and the trace of the whole sequence (`trace` when given: a
    generation's last pass). Pure: the scene is not touched."""
    fed = [int(t) for t in fed]
    if fed == m.fed:
        return m
    if m.weights is None:
        raise ModelError(f"{m.config.name}: generated columns need weights")
    sequence = [*m.tokens, *fed]
    if len(sequence) > m.config.block_size:
        raise ModelError(f"generation: {len(m.tokens)} input and {len(fed)} fed-back tokens need "
                         f"{len(sequence)} columns; {m.config.name}'s block size is {m.config.block_size}")
    model.check_tokens(m.config, sequence)
    layout = lay.model_layout(m.config, len(sequence), layers_per_column=m.layout.layers_per_column)
    if trace is None or [int(t) for t in trace["tokens"]] != sequence:
        trace = model.forward(m.weights, sequence)
    return Model(m.config, m.weights, m.source, list(m.tokens), trace, layout, dict(m.plan), fed)


def relayout(collection: bpy.types.Collection, m: Model, scene: bpy.types.Scene | None = None) -> None:
    """Show `m` (the collection's model with other fed-back columns: `with_fed`) in `collection`:
    its objects are made again the way the collection was built; the collection itself, its
    properties and everything outside it stay."""
    scene = scene or bpy.context.scene
    options = json.loads(collection[OPTIONS])
    ids = [*collection.children_recursive, *collection.all_objects]
    ids += [o.data for o in collection.all_objects if o.data is not None]
    ids += [o.animation_data.action for o in collection.all_objects if o.animation_data and o.animation_data.action]
    bpy.data.batch_remove([i for i in ids if datablocks.is_owned(i)])
    with i18n.using(collection.get(LANGUAGE_PROP)):
        _fill(collection, m, **options)
    environment.setup(scene, [m.layout], collection)
    environment.apply_theme(scene, collection.get(THEME_PROP, THEME))


def check_top_k(top_k: int) -> None:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ModelError(f"top_k: must be a positive integer, got {top_k!r}")


def _collection(name: str, parent: bpy.types.Collection) -> bpy.types.Collection:
    coll = datablocks.tag(bpy.data.collections.new(name))
    parent.children.link(coll)
    return coll


def clear() -> int:
    """Remove everything llmviz made (objects, data, materials, node groups, collections, orphans
    included); the user's own data is never touched. Returns the number of data-blocks removed."""
    session.forget_all()
    return datablocks.remove_all_owned()


def build(preset_or_config: str | Path | ModelConfig | Model | None = None,
          weights: Weights | str | Path | None = None, tokens: Sequence[int] | str | None = None, *,
          prompt: str | None = None, tokenizer: str | Path | None = None, lod: str = "auto",
          max_cells: int = lay.lod.DEFAULT_MAX_CELLS, budget: int | None = None,
          layers_per_column: int | None = None, labels: bool = True, card: bool = True, top_k: int = TOP_K,
          logit_lens: bool = False, theme: str = THEME, value_boxes: bool = True, value_budget: int | None = None,
          scene: bpy.types.Scene | None = None, language: str | None = None) -> bpy.types.Collection:
    """Build one model's scene (replacing any earlier llmviz content) and return its collection.

    Layers wrap into columns of `layers_per_column` (None: 12 for deep models, else what best
    fills the scene's frame). A `Model` from `prepare` is built as it is (see `prepare` for the preset,
    weights, prompt and tokenizer). `top_k` next tokens are listed under the output; `logit_lens`
    adds a table per layer and stage beside the residual stream. `theme`: dark (video) or light
    (slides, papers). Big blocks with numbers are value boxes (each cell's shade from an image;
    `value_boxes=False`: kind-colour grid boxes); `value_budget` bytes bound a model with values
    (see `prepare`). Labels, cards and tables are in `language` (an i18n code; None: English).
    Raises ModelError / LayoutError / LanguageError on bad input before anything changes.
    """
    check_theme(theme)
    lang = i18n.language(language)
    scene = scene or bpy.context.scene
    if isinstance(preset_or_config, Model):
        m = preset_or_config
    else:
        m = prepare(preset_or_config, weights, tokens, lod, max_cells, budget, layers_per_column, prompt=prompt,
                    tokenizer=tokenizer, aspect=environment.aspect(scene), value_budget=value_budget)
    check_top_k(top_k)
    if logit_lens and (m.weights is None or m.trace is None):
        raise ModelError(f"logit_lens: {m.config.name} was built without weights; give a weights file or "
                         f"weights='random'")
    clear()
    try:
        with i18n.using(lang):
            coll = _add_model(m, scene.collection, labels, card, top_k, logit_lens, value_boxes)
        environment.setup(scene, [m.layout], coll)
        environment.apply_theme(scene, theme)
        coll[THEME_PROP], coll[LANGUAGE_PROP] = theme, lang.code
    except Exception:
        clear()
        raise
    return coll


THEME_PROP = "llmviz_theme"
LANGUAGE_PROP = "llmviz_language"  # the language a model's text was made in (i18n code)


def in_its_language(fn):
    """Run `fn(collection, ...)` making text in the language the collection was built in."""
    @functools.wraps(fn)
    def run(collection, *args, **kwargs):
        with i18n.using(collection.get(LANGUAGE_PROP)):
            return fn(collection, *args, **kwargs)
    return run


def check_theme(name: str) -> None:
    """LayoutError (one line) unless `name` is a theme."""
    if name not in THEMES:
        raise lay.LayoutError(f"theme must be one of {', '.join(THEMES)}, got {name!r}")


def build_comparison(names: Sequence[str | ModelConfig], tokens: int | None = None, *,
                     weights: Mapping[str, Weights | str | Path] | None = None, labels: bool = False,
                     insets: bool = True, scene: bpy.types.Scene | None = None, budget: int | None = None,
                     value_budget: int | None = None, theme: str = THEME, language: str | None = None
                     ) -> bpy.types.Collection:
    """Several models side by side at one cell scale, tops aligned, each with its card and a pointer
    down to it (layout.compare). `weights` maps a model (its name as given, or its config's name)
    to its weights: a .safetensors file, a Hugging Face folder, "random" or a Weights; presets with
    a weights file of their own (nano-gpt) use it. Models with weights show their numbers (per-cell
    where small) for their own input; shape-only presets show kind colours as boxes at min(1024,
    block size) tokens, as the reference draws them. `tokens` sets every model's input length (at
    most its block size). A model too small to see is ringed and, with `insets`, shown magnified in
    an inset (a scaled instance of its collection) with its card, joined to its ring by a line.
    A model with weights over `value_budget` bytes (see `prepare`) is refused. Cards are in
    `language` (an i18n code; None: English)."""
    check_theme(theme)
    lang = i18n.language(language)
    if not names:
        raise ModelError("comparison: no models given")
    if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1):
        raise ModelError(f"comparison: tokens must be a positive integer, got {tokens!r}")
    configs = [resolve_config(n) for n in names]
    given = _weights_of(names, configs, weights or {})
    models = [_comparison_model(c, w, tokens, budget, value_budget) for c, w in zip(configs, given)]
    scene = scene or bpy.context.scene
    per_column = lay.comparison_columns([m.config for m in models], [len(m.tokens) for m in models],
                                        environment.aspect(scene))
    for m in models:
        if m.layout.layers_per_column != per_column:  # the same blocks, placed in other columns
            m.layout = lay.model_layout(m.config, len(m.tokens), layers_per_column=per_column, headings=False)
    with i18n.using(lang):  # the cards' text sizes the picture
        picture = cmp.arrange([m.layout for m in models], environment.aspect(scene), insets)
    for m, layout in zip(models, picture.layouts):
        m.layout = layout  # a speck's layers may stand in other columns, to fill its inset
    clear()
    try:
        with i18n.using(lang):
            root = _collection(f"{ROOT} Comparison", scene.collection)
            root["llmviz_compare"] = [m.config.name for m in models]
            for i, m in enumerate(models):
                coll = _add_model(m, root, labels, card=False)
                prefix = f"{ROOT} {m.config.name}"
                lo, hi = m.layout.bounds()
                inset = picture.insets[i]
                if inset is None:
                    text = _collection(f"{prefix} Card", coll)
                    add_card(m.layout, text, prefix, size=picture.card_size,
                             location=[(lo[0] + hi[0]) / 2, -1.0, hi[2] + cmp.CARD_LIFT * picture.card_size],
                             pointer=True, mark=picture.specks[i])
                else:
                    _add_inset(m, coll, root, inset, picture, i)
        environment.setup(scene, picture.layouts, root, direction=COMPARISON_VIEW, extra=picture.boxes())
        environment.apply_theme(scene, theme)
        root[THEME_PROP], root[LANGUAGE_PROP] = theme, lang.code
    except Exception:
        clear()
        raise
    return root


COMPARISON_TOKENS = 1024  # shape-only models in a comparison: the reference's input length
COMPARISON_VIEW = (0.12, -1.0, 0.08)  # nearly head-on, so sizes compare truly
INSET = "llmviz_inset"  # an inset's instance: its magnification
INSET_LINE = 0.12  # outline, ring and leader line width, in card text heights


def _weights_of(names: Sequence[str | ModelConfig], configs: list[ModelConfig],
                weights: Mapping[str, Weights | str | Path]) -> list[Weights | str | Path | None]:
    """Each model's weights from the mapping (keyed by the name given or the config's name)."""
    keys = [[n, c.name] if isinstance(n, str) else [c.name] for n, c in zip(names, configs)]
    unknown = [k for k in weights if not any(k in ks for ks in keys)]
    if unknown:
        raise ModelError(f"comparison: weights given for {unknown[0]!r}, which is not among the models "
                         f"({', '.join(c.name for c in configs)})")
    return [next((weights[k] for k in ks if k in weights), None) for ks in keys]


def _comparison_model(config: ModelConfig, given: Weights | str | Path | None, tokens: int | None,
                      budget: int | None, value_budget: int | None) -> Model:
    """A model of the comparison, its weights checked against its preset (one line naming both)."""
    try:
        if isinstance(given, Weights) and {k: v.shape for k, v in given.params.items()} != model.param_shapes(config):
            raise ModelError(f"the weights given ({given.config.name}) do not have its shapes")
        w, source = resolve_weights(config, given)
    except ModelError as exc:
        raise ModelError(f"comparison: {config.name}: {exc}") from None
    config = w.config if w is not None else config
    ids = comparison_input(config, w is not None, tokens)
    trace = model.forward(w, ids) if w is not None else None
    layout = lay.model_layout(config, len(ids), layers_per_column=lay.LAYERS_PER_COLUMN, headings=False)
    lod = "auto" if w is not None else "boxes"  # without numbers, cubes would only repeat the kind colour
    plan = lay.plan_lod(layout.blocks, lod, budget=budget)
    if w is not None:
        texels.check_budget(config, layout, plan, value_budget)
    return Model(config, w, source, ids, trace, layout, plan)


def _add_inset(m: Model, coll: bpy.types.Collection, root: bpy.types.Collection, inset: cmp.Inset,
               picture: cmp.Picture, i: int) -> None:
    """A speck's inset: an instance of its collection scaled up, an outline round it, its card under
    it, and a ring round the speck with a line to the outline."""
    prefix = f"{ROOT} {m.config.name}"
    parts = _collection(f"{prefix} Inset", root)
    lo, hi = m.layout.bounds()
    coll.instance_offset = tuple(float(v) for v in (lo + hi) / 2)
    copy = datablocks.tag(bpy.data.objects.new(f"{prefix} inset", None))
    copy.instance_type = "COLLECTION"
    copy.instance_collection = coll
    copy.location = tuple(float(v) for v in inset.centre)
    copy.scale = (inset.scale,) * 3
    copy[INSET] = inset.scale
    parts.objects.link(copy)
    size = picture.card_size
    width = INSET_LINE * size
    y = float(inset.lo[1]) - 1.0  # in front of the copy
    (x0, _, z0), (x1, _, z1) = inset.lo, inset.hi
    strips = [_polyline([(x0, z0), (x1, z0), (x1, z1), (x0, z1)], width, closed=True)]
    centre, radius = (lo + hi) / 2, cmp.RING * size
    angles = np.linspace(0.0, 2 * np.pi, RING_SEGMENTS, endpoint=False)
    strips.append(_polyline(list(zip(centre[0] + radius * np.sin(angles), centre[2] + radius * np.cos(angles))),
                            width, closed=True))
    near = np.clip([centre[0], centre[2]], [x0, z0], [x1, z1])  # the outline's point nearest the speck
    away = near - centre[[0, 2]]
    start = centre[[0, 2]] + away / max(np.linalg.norm(away), 1e-9) * radius
    strips.append(_polyline([tuple(start), tuple(near)], width))
    for name, (verts, faces) in (("inset frame", strips[0]), ("pointer", _join(strips[1:]))):
        mesh = datablocks.tag(bpy.data.meshes.new(f"{prefix} {name}"))
        mesh.from_pydata([(x, y, z) for x, z in verts], [], faces)
        mesh.materials.append(flat_material(SECTION_COLOR))
        obj = datablocks.tag(bpy.data.objects.new(f"{prefix} {name}", mesh))
        parts.objects.link(obj)
    add_text(f"{prefix} card", "\n".join(picture.card_lines(i)), inset.card + [0.0, -1.0, 0.0], size, SECTION_COLOR,
             parts, align_x="CENTER", align_y="TOP", label="card")


def _polyline(points: list[tuple[float, float]], width: float, closed: bool = False):
    """Quads (x, z) of a line `width` wide through `points`, facing -Y (the camera side)."""
    pts = np.asarray(points, float)
    ends = list(zip(pts, np.roll(pts, -1, axis=0))) if closed else list(zip(pts[:-1], pts[1:]))
    verts, faces = [], []
    for a, b in ends:
        d = (b - a) / max(np.linalg.norm(b - a), 1e-12)
        n = np.array([-d[1], d[0]]) * width / 2
        a, b = a - d * width / 2, b + d * width / 2  # overlap at the corners
        k = len(verts)
        verts += [tuple(a - n), tuple(b - n), tuple(b + n), tuple(a + n)]
        faces.append((k, k + 1, k + 2, k + 3))
    return verts, faces


def _join(parts):
    verts, faces = [], []
    for v, f in parts:
        faces += [tuple(len(verts) + i for i in face) for face in f]
        verts += v
    return verts, faces


def comparison_input(config: ModelConfig, has_weights: bool, tokens: int | None) -> list[int]:
    """Token ids a model shows in a comparison: with weights its own input, else ids 0, 1, ... of
    min(COMPARISON_TOKENS, block size) tokens; `tokens` sets the length (at most the block size;
    a model's own input repeats to fill it)."""
    own = resolve_tokens(config, None) if has_weights else range(config.vocab_size)
    count = min(tokens or (len(own) if has_weights else COMPARISON_TOKENS), config.block_size)
    return [own[i % len(own)] for i in range(count)]
