"""Text in the scene: block names, dimension labels, section labels, input tokens, predictions, cards."""

from __future__ import annotations

import math

import bpy
import numpy as np

from .. import i18n
from ..composition.theme import THEMES
from ..defaults import CHAR_WIDTH, DIM_COLORS, THEME, TOP_K
from ..layout import CELL, PITCH, Block, Layout, label_size, margin, token_size
from ..layout.compare import RING, parameters
from ..layout.pieces import Pieces, place_pieces
from ..layout.place import heading_size, output_text_anchor
from ..model import token_text, top_k
from . import compat, datablocks

TEXT_COLOR, SECTION_COLOR, MUTED_COLOR = "text", "section", "muted"  # theme roles (composition.theme)
LABEL = "llmviz_label"  # what a label is: name, dim, section, group, card (see label_keys)
LABEL_BLOCK = "llmviz_label_block"  # the block a name or dimension label belongs to
FITS = "llmviz_fits"  # the largest world size a label fits at (a picture enlarges it no further)
ROLE = "llmviz_role"  # what a text object is, for the code that keys it
PREDICTION = "prediction"  # shown once the probabilities are computed
TOKEN_GAP = 0.4  # token letters stand this many of their heights above the Tokens row
MAX_LABELLED_BLOCKS = 1000  # above this many blocks, only layer 0, the ends and the sections get names


def _linear(hex_color: str) -> tuple[float, float, float, float]:
    """sRGB hex -> linear RGBA (Blender colours are linear)."""
    rgb = [int(hex_color[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return (*lin, 1.0)


def flat_material(color: str) -> bpy.types.Material:
    """Shared emissive material for text and overlays (the same in every engine), of one colour:
    an sRGB hex, or a theme role ("text", "section", ...) coloured by the current theme."""
    def make(name: str) -> bpy.types.Material:
        mat = bpy.data.materials.new(name)
        tree = compat.ensure_node_tree(mat)
        tree.nodes.clear()
        emit = tree.nodes.new("ShaderNodeEmission")
        compat.socket(emit.inputs, "Strength").default_value = 1.0
        out = tree.nodes.new("ShaderNodeOutputMaterial")
        tree.links.new(compat.socket(emit.outputs, "Emission"), compat.socket(out.inputs, "Surface"))
        _colour(mat, color if color.startswith("#") else THEMES[THEME].roles[color])
        return mat

    return datablocks.get_or_create("materials", f"LLMViz Flat {color}", make)


def _colour(mat: bpy.types.Material, hex_color: str) -> None:
    compat.socket(mat.node_tree.nodes["Emission"].inputs, "Color").default_value = _linear(hex_color)
    mat.diffuse_color = _linear(hex_color)


def set_flat_color(role: str, hex_color: str) -> None:
    """Recolour the theme role's material (when it exists)."""
    mat = bpy.data.materials.get(f"LLMViz Flat {role}")
    if mat is not None and datablocks.is_owned(mat):
        _colour(mat, hex_color)


def add_text(name: str, body: str, location, size: float, color: str, collection: bpy.types.Collection,
             align_x: str = "LEFT", align_y: str = "CENTER", label: str = "", block: str = "") -> bpy.types.Object:
    """A flat text object facing the camera side (-Y), `size` world units tall. The object is
    scaled (a text curve's own size stops at 10,000 units, too small beside GPT-3). `label` says what
    kind of label it is and `block` which block it names (for the label placement, label_keys)."""
    curve = datablocks.tag(bpy.data.curves.new(name, "FONT"))
    curve.body = body
    curve.align_x, curve.align_y = align_x, align_y
    curve.materials.append(flat_material(color))
    obj = datablocks.tag(bpy.data.objects.new(name, curve))
    obj.location = tuple(float(v) for v in location)
    obj.scale = (size, size, size)
    obj.rotation_euler = (math.pi / 2, 0.0, 0.0)
    if label:
        obj[LABEL], obj[LABEL_BLOCK] = label, block
    collection.objects.link(obj)
    return obj


def _top_left(block: Block) -> np.ndarray:
    return np.add(block.origin, [-CELL / 2, 0.0, CELL / 2])


SHORT_NAMES = {"ln_mean": "μ", "ln_std": "σ", "softmax_max": "max", "softmax_sumexp": "Σexp"}


def short_name(block: Block, width: float, size: float) -> str:
    """The block's name (in the current language, i18n), or a short form when the name is wider
    than the block."""
    name = i18n.current().tr(block.name)
    if i18n.text_width(name) * size <= width + 2 * size:
        return name
    if block.op in SHORT_NAMES:
        return SHORT_NAMES[block.op]
    if block.key.endswith((".gamma", ".beta")):
        return "γ" if block.key.endswith(".gamma") else "β"
    if block.name.endswith("Bias"):
        return "b"
    return wrap(name, width, size)


def wrap(text: str, width: float, size: float) -> str:
    """Break `text` by its script's rules (i18n) so each line fits `width` where it can (one word
    or character at least)."""
    return "\n".join(i18n.current().wrap(text, (width + 2 * size) / size, cut=False, measure=i18n.text_width))


def _label_block(block: Block, prefix: str, size: float, collection: bpy.types.Collection) -> None:
    top_left = _top_left(block)
    r, c = block.shape
    width, height = (c - 1) * PITCH + CELL, (r - 1) * PITCH + CELL
    front = -CELL  # a little in front of the cubes
    if block.key == "tokens":  # the token letters stand above this row: name it on the left
        add_text(f"{prefix} {block.key} name", i18n.current().tr(block.name), top_left + [-size, front, -CELL / 2], size,
                 TEXT_COLOR,
                 collection, align_x="RIGHT", label="name", block=block.key)
        return
    name = short_name(block, width, size)
    narrow = max(i18n.text_width(line) for line in name.split("\n")) * size > width
    short = i18n.text_width(name) <= 4 * CHAR_WIDTH
    add_text(f"{prefix} {block.key} name", name, top_left + [width / 2 if narrow or short else 0, front,
                                                            0.9 * size + 1.2 * size * name.count("\n")],
             size, TEXT_COLOR, collection, align_x="CENTER" if narrow or short else "LEFT", align_y="BOTTOM",
             label="name", block=block.key)
    dim = 0.8 * size
    if block.cols.label != "1":
        add_text(f"{prefix} {block.key} cols", block.cols.label, top_left + [width / 2, front, -height - 0.8 * dim],
                 dim, DIM_COLORS.get(block.cols.label, TEXT_COLOR), collection, align_x="CENTER", align_y="TOP",
                 label="dim", block=block.key)
    if block.rows.label != "1":
        add_text(f"{prefix} {block.key} rows", block.rows.label, top_left + [-0.6 * dim, front, -height / 2],
                 dim, DIM_COLORS.get(block.rows.label, TEXT_COLOR), collection, align_x="RIGHT", label="dim",
                 block=block.key)


def _labelled(layout: Layout) -> list[Block]:
    """Blocks that get a name: all (first head only) for small models, else layer 0 and the ends."""
    blocks = [b for b in layout.blocks if b.head <= 0]
    if len(layout.blocks) > MAX_LABELLED_BLOCKS:
        blocks = [b for b in blocks if b.layer <= 0]
    return blocks


def _room(layout: Layout, text: str, x: float, top: float, size: float, gap: float) -> float:
    """The largest size at which `text` from x (its top at `top`, at most `size` tall) stops `gap`
    short of the next block to its right (a group label beside its column); inf where none is."""
    beside = (layout.lo[:, 0] > x) & (layout.hi[:, 2] > top - size) & (layout.lo[:, 2] < top)
    if not beside.any():
        return math.inf
    return (float(layout.lo[beside, 0].min()) - x - gap) / i18n.text_width(text)


def token_anchor(layout: Layout, t: int) -> np.ndarray:
    """Bottom centre of the text of token slot `t` above the Tokens row (slots past the input hold
    generated tokens)."""
    return layout.cell_position("tokens", 0, 0) + [t * PITCH, -CELL, CELL + TOKEN_GAP * token_size(layout.config)]


def label_model(layout: Layout, collection: bpy.types.Collection, prefix: str, trace=None, top_k: int = TOP_K,
                n_input: int | None = None) -> None:
    """Names and dimensions of blocks, section and group labels, tokens above, predictions below
    (the input: the first `n_input` columns, default all; later columns hold fed-back tokens)."""
    m, L = margin(layout.config), i18n.current()
    size = label_size(layout.config)
    for block in _labelled(layout):
        _label_block(block, prefix, size, collection)
    big = heading_size(layout)
    # sections above their residual stream (the first tokens-wide block), groups right of their region
    for name, (rlo, rhi) in layout.regions("section").items():
        lane = next(b for b in layout.blocks if b.section == name and b.cols.label == "T")
        x = lane.origin[0] + (lane.cols.size - 1) * PITCH / 2
        add_text(f"{prefix} section {name}", i18n.block_name(L, name, section=True), [x, -CELL, rhi[2] + 2.2 * big],
                 big, SECTION_COLOR,
                 collection, align_x="CENTER", align_y="BOTTOM", label="section")
    for key, (rlo, rhi) in layout.regions("group").items():
        section, group = key.split("/")
        if group in ("Self-attention", "Projection", "MLP"):
            text = L.tr(group)
            room = _room(layout, text, rhi[0] + m, rhi[2], 0.6 * big, m)
            obj = add_text(f"{prefix} group {key}", text, [rhi[0] + m, -CELL, rhi[2]], min(0.6 * big, room),
                           MUTED_COLOR, collection, align_y="TOP", label="group")
            obj[FITS] = room
    _label_tokens(layout, collection, prefix, trace, token_size(layout.config), top_k,
                  layout.n_tokens if n_input is None else n_input)


def next_tokens(config, probs: np.ndarray, k: int, fanned: bool) -> str:
    """The k most likely next tokens with their probabilities, as listed under the output (one a
    line for word pieces)."""
    best, L = top_k(config, probs, k), i18n.current()
    listed = [f"{w} {L.percent_of(p)}" for _, w, p in best]
    return L.tr("next token:") + ("\n" + "\n".join(listed) if fanned else " " + "  ".join(listed))


PREDICTED_DROP = 1.3  # token heights from the Probabilities down to each position's predicted token (below its T label)
POSITION = "llmviz_position"  # a prediction text's column: it shows once that column's probabilities are
NEXT = "llmviz_next"  # on a next-token list: how many tokens it lists
TEXT_SIZE = "llmviz_text_size"  # on a next-token list: its text height


def _label_tokens(layout: Layout, collection: bpy.types.Collection, prefix: str, trace, size: float,
                  k: int = TOP_K, n_input: int | None = None) -> None:
    """The input tokens above the Tokens row; below the Probabilities, each position's prediction
    (letters) and the k most likely next tokens after the input, with their probabilities."""
    config = layout.config
    probs_block = layout["probs"]
    if trace is None:
        return
    n_input = layout.n_tokens if n_input is None else n_input
    pieces = place_pieces(layout, [token_text(config, int(t), quoted=False) for t in trace["tokens"][:n_input]],
                          FAN_SHARE * heading_size(layout))
    for t, (piece, where) in enumerate(zip(pieces.texts, pieces.anchors)):
        add_text(f"{prefix} token {t}", piece, where, pieces.size, DIM_COLORS["T"], collection, align_x="CENTER",
                 align_y="BOTTOM")
    if pieces.fanned:
        _leaders(pieces, f"{prefix} token leaders", collection)
    add_next_tokens(layout, collection, f"{prefix} next", trace, n_input - 1, k, pieces.fanned, pieces.size)
    if pieces.fanned:  # word pieces: only the top-k list under the Probabilities
        return
    probs = trace["probs"]
    bottom = probs_block.origin[2] - (probs_block.rows.size - 1) * PITCH - CELL
    for t in range(probs.shape[0]):
        winner = int(np.argmax(probs[t]))
        x = layout.cell_position("probs", 0, t)[0]
        text = add_text(f"{prefix} predicted {t}", token_text(config, winner, quoted=False),
                        [x, -CELL, bottom - PREDICTED_DROP * size], size, DIM_COLORS["T"], collection, align_x="CENTER",
                        align_y="TOP")
        text[ROLE], text[POSITION] = PREDICTION, t


def add_next_tokens(layout: Layout, collection: bpy.types.Collection, name: str, trace, position: int, k: int,
                    fanned: bool, size: float) -> bpy.types.Object:
    """The list of the k most likely tokens after `position` under the Probabilities (word pieces:
    one a line, at the pieces' `size`; letters: one line, at the token size)."""
    body = next_tokens(layout.config, trace["probs"][position], k, fanned)
    if fanned:
        text = add_text(name, body, output_text_anchor(layout, 1.0), size, TEXT_COLOR, collection, align_y="TOP")
    else:
        text = add_text(name, body, output_text_anchor(layout, 3.0), token_size(layout.config), TEXT_COLOR,
                        collection, align_y="TOP")
    text[ROLE], text[POSITION], text[NEXT] = PREDICTION, position, k
    text[TEXT_SIZE] = size if fanned else token_size(layout.config)
    return text


FAN_SHARE = 0.8  # fanned-out token pieces: this share of the section headings' size
LEADER_WIDTH = 0.06  # leader lines: this share of the pieces' height wide
RING_WIDTH = 0.12  # and line width
RING_SEGMENTS = 48


def _leaders(pieces: Pieces, name: str, collection: bpy.types.Collection) -> bpy.types.Object:
    """Thin strips from each fanned piece down to its column (one mesh)."""
    half = LEADER_WIDTH * pieces.size / 2
    verts, faces = [], []
    for top, bottom in zip(pieces.anchors - [0.0, 0.0, 0.2 * pieces.size], pieces.columns):
        n = len(verts)
        verts += [tuple(top - [half, 0, 0]), tuple(top + [half, 0, 0]), tuple(bottom + [half, 0, 0]),
                  tuple(bottom - [half, 0, 0])]
        faces.append((n, n + 3, n + 2, n + 1))  # counter-clockwise seen from the front (-Y): faces the camera
    return flat_mesh(name, verts, faces, MUTED_COLOR, collection)


def flat_mesh(name: str, verts, faces, color: str, collection: bpy.types.Collection) -> bpy.types.Object:
    """A mesh object of `verts` and `faces` in the flat (emissive) material of `color`, in `collection`."""
    mesh = datablocks.tag(bpy.data.meshes.new(name))
    mesh.from_pydata([tuple(v) for v in verts], [], faces)
    mesh.materials.append(flat_material(color))
    obj = datablocks.tag(bpy.data.objects.new(name, mesh))
    collection.objects.link(obj)
    return obj


def quads_mesh(name: str, quads, color: str, collection: bpy.types.Collection) -> bpy.types.Object:
    """A flat mesh of quads (N, 4, 3), e.g. timeline.zoom.frame_quads."""
    quads = np.asarray(quads, float)
    return flat_mesh(name, quads.reshape(-1, 3), [tuple(range(4 * i, 4 * i + 4)) for i in range(len(quads))],
                     color, collection)


def add_card(layout: Layout, collection: bpy.types.Collection, prefix: str, size: float | None = None,
             location=None, pointer: bool = False, mark: bool = False) -> bpy.types.Object:
    """The model card above the model: its title and parameter count; with `pointer`, a triangle
    under it pointing down at the model; with `mark`, a ring round the model (a speck at the
    picture's scale) that the pointer points at."""
    config = layout.config
    lo, hi = layout.body()
    size = size or 1.4 * heading_size(layout)
    where = np.asarray(location if location is not None else [(lo[0] + hi[0]) / 2, -CELL, hi[2] + 3.5 * size], float)
    body = f"{config.title}\n{parameters(config)}"
    card = add_text(f"{prefix} card", body, where, size, SECTION_COLOR, collection, align_x="CENTER",
                    align_y="BOTTOM", label="card")
    if pointer or mark:
        x, y, z = where
        centre = (lo + hi) / 2
        radius = RING * size
        tip = centre[2] + radius if mark else hi[2] + 0.15 * size
        verts, faces = [], []
        if pointer:
            top = max(z - 0.3 * size, tip + 0.5 * size)
            verts += [(x - 0.2 * size, y, top), (x + 0.2 * size, y, top), (x, y, tip)]
            faces.append((0, 2, 1))  # facing -Y, the camera side (Workbench culls back faces)
        if mark:
            angles = np.linspace(0.0, 2 * math.pi, RING_SEGMENTS, endpoint=False)
            for r in (radius, radius - RING_WIDTH * size):
                verts += [(centre[0] + r * math.sin(a), y, centre[2] + r * math.cos(a)) for a in angles]
            n, k = len(verts) - 2 * RING_SEGMENTS, RING_SEGMENTS
            faces += [(n + i, n + k + i, n + k + (i + 1) % k, n + (i + 1) % k) for i in range(k)]
        mesh = datablocks.tag(bpy.data.meshes.new(f"{prefix} pointer"))
        mesh.from_pydata(verts, [], faces)
        mesh.materials.append(flat_material(SECTION_COLOR))
        obj = datablocks.tag(bpy.data.objects.new(f"{prefix} pointer", mesh))
        collection.objects.link(obj)
    return card
