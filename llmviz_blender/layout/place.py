"""Where every block sits: bands stacked downward, layers wrapped into columns, heads in depth,
and several models side by side for comparisons."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ..defaults import ASPECT, CHAR_WIDTH
from ..model import ModelConfig
from .blocks import CELL, PITCH, Band, Block, bands

#: Camera targets naming a layer's group of blocks: h{i}.<slug>.
GROUPS = {"ln1": "Layer Norm 1", "attention": "Self-attention", "projection": "Projection", "ln2": "Layer Norm 2",
          "mlp": "MLP"}
HEADING_ROOM = 3.5  # a section below another in its column stands this many heading sizes lower
ROOM_ROUNDS = 5  # the room grows the picture and the headings with it: these rounds settle it (within 1%)
GROUP_ROOM = 5.5  # columns stand at least this many heading sizes apart: room for the group labels beside them
DWARF = 8  # vocabulary-wide blocks dwarf a model whose vocabulary is more than this many times its width C
LAYERS_PER_COLUMN = 12  # deep models wrap into columns of this many layers
COLUMN_SPACING = 10  # margins between columns: room for the group labels beside each column


def dwarfed(config: ModelConfig) -> bool:
    """Whether vocabulary-wide blocks dwarf the model: its vocabulary is more than DWARF times C."""
    return config.vocab_size > DWARF * config.n_embd


def margin(config: ModelConfig) -> float:
    """Gap between blocks, world units: max(12, C / 10)."""
    return max(12.0, config.n_embd / 10)


LABEL_SHARE = 0.22  # block labels: this share of the margin between blocks
TOKEN_SCALE = 1.2  # tokens and predictions: this many times the block labels
TOKEN_FILL = 0.8  # a token letter is at most this share of the cell pitch wide
LABEL_ROOM = (2.5, 2.0)  # a block's labels reach this many label heights beside it and above / below
SEQUENCE_DROP = 6.0  # the sequence so far stands this many token heights under the Probabilities
SEQUENCE_SCALE = 2.0  # and is this many token heights tall


def label_size(config: ModelConfig) -> float:
    """Height of block names and dimension labels (world units)."""
    return LABEL_SHARE * margin(config)


def token_size(config: ModelConfig) -> float:
    """Height of token letters above the model and predictions below it: a little larger than the
    block labels, but narrow enough that neighbouring letters never touch."""
    return min(TOKEN_SCALE * label_size(config), TOKEN_FILL * PITCH / CHAR_WIDTH)


def output_text_anchor(layout: "Layout", drop: float) -> np.ndarray:
    """Top-left of text that stands `drop` token heights under the Probabilities (predictions, the
    sequence so far)."""
    probs = layout["probs"]
    bottom = probs.origin[2] - (probs.rows.size - 1) * PITCH - CELL
    return np.array([probs.origin[0] - CELL / 2, -CELL, bottom - drop * token_size(layout.config)])


def sequence_box(layout: "Layout", chars: int) -> tuple[np.ndarray, np.ndarray]:
    """World box of the sequence so far (`chars` long) under the Probabilities, with them."""
    size = SEQUENCE_SCALE * token_size(layout.config)
    top_left = output_text_anchor(layout, SEQUENCE_DROP)
    lo, hi = layout.bounds([layout["probs"]])
    text_lo = top_left - [0.0, 0.0, size]
    text_hi = top_left + [chars * CHAR_WIDTH * size, 0.0, 0.0]
    return np.minimum(lo, text_lo), np.maximum(hi, text_hi)


LAYERS = "layers"  # the camera target naming every transformer layer


def label_room(config: ModelConfig) -> np.ndarray:
    """How far a block's labels reach beyond it (x, y, z): a view of the block pads it by this."""
    size = label_size(config)
    return np.array([LABEL_ROOM[0] * size, 0.0, LABEL_ROOM[1] * size])


@dataclass(frozen=True)
class CellRef:
    """One cell of one block."""

    block: Block
    row: int
    col: int

    @property
    def src_index(self) -> int:
        return int(self.block.src_index(np.int64(self.row), np.int64(self.col)))


class Layout:
    """A placed model: its blocks in computation order, with lookups between cells and world space."""

    def __init__(self, config: ModelConfig, n_tokens: int, blocks: list[Block]):
        self.config, self.n_tokens, self.blocks = config, n_tokens, blocks
        self.layers_per_column = LAYERS_PER_COLUMN
        self.by_key = {b.key: b for b in blocks}
        self.index = {b.key: i for i, b in enumerate(blocks)}
        if len(self.by_key) != len(blocks):
            raise ValueError("duplicate block keys")
        origin = np.array([b.origin for b in blocks], float).reshape(-1, 3)
        shape = np.array([b.shape for b in blocks], float).reshape(-1, 2)
        self.lo = origin - [CELL / 2, CELL / 2, CELL / 2]
        self.lo[:, 2] -= (shape[:, 0] - 1) * PITCH
        self.hi = origin + [CELL / 2, CELL / 2, CELL / 2]
        self.hi[:, 0] += (shape[:, 1] - 1) * PITCH

    def __getitem__(self, key: str) -> Block:
        return self.by_key[key]

    def bounds(self, blocks: list[Block] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Box enclosing all blocks (or the given ones)."""
        if blocks is None:
            return self.lo.min(axis=0), self.hi.max(axis=0)
        idx = [self.index[b.key] for b in blocks]
        return self.lo[idx].min(axis=0), self.hi[idx].max(axis=0)

    def dwarfing(self) -> list[Block]:
        """The vocabulary-wide blocks, where the vocabulary is more than DWARF times the width C
        (GPT-2's 50,257 rows beside its 768-wide stack), else none."""
        if not dwarfed(self.config):
            return []
        return [b for b in self.blocks if "n_vocab" in (b.rows.label, b.cols.label)]

    def body(self) -> tuple[np.ndarray, np.ndarray]:
        """The box a picture of the whole model frames: every block, but the `dwarfing` ones (and
        the rows below them: the softmax's) run off its edges."""
        dwarfs = self.dwarfing()
        if not dwarfs:
            return self.bounds()
        floor = self.bounds([b for b in self.blocks if b.layer >= 0])[0][2]
        kept = [b for b in self.blocks if b not in dwarfs and self.hi[self.index[b.key]][2] >= floor]
        return self.bounds(kept)

    def under(self, target: str) -> list[Block]:
        """The blocks a camera target names: every transformer layer (LAYERS), a layer's group
        ("h0.mlp": layer 0's whole MLP, see GROUPS), else the blocks whose key is `target` or starts
        with `target` + "." (h0.head0: its Q, K, V, ...)."""
        if target == LAYERS:
            return [b for b in self.blocks if b.layer >= 0]
        layer, _, slug = target.partition(".")
        if slug in GROUPS and layer[:1] == "h" and layer[1:].isdigit():
            return [b for b in self.blocks if b.layer == int(layer[1:]) and b.group == GROUPS[slug]]
        return [b for b in self.blocks if b.key == target or b.key.startswith(target + ".")]

    def regions(self, attr: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Bounding box of each section (attr='section') or each (section, group) (attr='group')."""
        members: dict[str, list[int]] = defaultdict(list)
        for i, b in enumerate(self.blocks):
            members[b.section if attr == "section" else f"{b.section}/{b.group}"].append(i)
        return {k: (self.lo[v].min(axis=0), self.hi[v].max(axis=0)) for k, v in members.items()}

    def translate(self, delta) -> None:
        delta = np.asarray(delta, float)
        dx, dy, dz = (float(v) for v in delta)
        for b in self.blocks:
            x, y, z = b.origin
            b.origin = (x + dx, y + dy, z + dz)
        self.lo += delta
        self.hi += delta

    def cell_position(self, key: str, row: int, col: int) -> np.ndarray:
        block = self.by_key[key]
        if not block.has_cell(row, col):
            raise IndexError(f"{key} has no cell ({row}, {col})")
        return block.positions(np.array([row]), np.array([col]))[0]

    def cell_at(self, point, tolerance: float = 1e-6) -> CellRef | None:
        """The cell whose cube contains `point`, or None (gaps between cells count as outside)."""
        p = np.asarray(point, float)
        inside = np.flatnonzero(np.all((self.lo - tolerance <= p) & (p <= self.hi + tolerance), axis=1))
        for i in inside:
            block = self.blocks[i]
            col = int(round((p[0] - block.origin[0]) / PITCH))
            row = int(round((block.origin[2] - p[2]) / PITCH))
            centre = np.add(block.origin, [col * PITCH, 0.0, -row * PITCH])
            if block.has_cell(row, col) and np.all(np.abs(p - centre) <= CELL / 2 + tolerance):
                return CellRef(block, row, col)
        return None

    def pick(self, origin, direction) -> CellRef | None:
        """The first cell cube a ray hits: the ray against the block boxes, then, in each box hit
        (nearest first), the first cell it enters, computed from the columns and rows it crosses
        (no per-cell arrays: a hover over a block of millions of cells costs what a small one does)."""
        o = np.asarray(origin, float)
        d = np.asarray(direction, float)
        d = d / np.linalg.norm(d)
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / d
            t1, t2 = (self.lo - o) * inv, (self.hi - o) * inv
        t1 = np.where(np.isnan(t1), -np.inf, t1)
        t2 = np.where(np.isnan(t2), np.inf, t2)
        near = np.maximum(np.minimum(t1, t2).max(axis=1), 0.0)
        far = np.maximum(t1, t2).min(axis=1)
        hits = np.flatnonzero(near <= far)
        for i in hits[np.argsort(near[hits])]:
            cell = _first_cell(self.blocks[i], o, d, near[i], far[i])
            if cell is not None:
                return CellRef(self.blocks[i], *cell)
        return None


_EPS = 1e-9


def _crossings(o: float, d: float, first: float, pitch: float, n: int, t0: float, t1: float):
    """The cell slabs along one axis (centres first + k * pitch, k < n, CELL wide) that the ray
    o + t d crosses within t0..t1: their indices and the t at which it enters and leaves each,
    in the order it meets them."""
    h = CELL / 2
    if abs(d) < _EPS:
        k = int(round((o - first) / pitch))
        inside = 0 <= k < n and abs(o - (first + k * pitch)) <= h + _EPS
        return (np.array([k] if inside else [], np.int64), np.array([t0] if inside else []),
                np.array([t1] if inside else []))
    u0, u1 = sorted(((o + d * t0 - first) / pitch, (o + d * t1 - first) / pitch))
    ks = np.arange(max(int(np.floor(u0 - h / pitch)), 0), min(int(np.ceil(u1 + h / pitch)), n - 1) + 1)
    centres = first + ks * pitch
    ta, tb = (centres - h - o) / d, (centres + h - o) / d
    enter, leave = np.maximum(np.minimum(ta, tb), t0), np.minimum(np.maximum(ta, tb), t1)
    keep = enter <= leave + _EPS
    order = np.argsort(enter[keep])
    return ks[keep][order], enter[keep][order], leave[keep][order]


def _first_cell(block: Block, o: np.ndarray, d: np.ndarray, t0: float, t1: float) -> tuple[int, int] | None:
    """(row, col) of the first cell of `block` the ray enters between t0 and t1 (inside the
    block's box), or None: the first overlap of a column slab with a row slab whose cell exists."""
    x0, _, z0 = block.origin
    cols, cs, ce = _crossings(o[0], d[0], x0, PITCH, block.cols.size, t0, t1)
    rows, rs, re = _crossings(o[2], d[2], z0, -PITCH, block.rows.size, t0, t1)
    if not len(cols) or not len(rows):
        return None
    # the row slabs overlapping each column slab (both lists are ordered and disjoint)
    first = np.searchsorted(re, cs - _EPS, "left")
    counts = np.maximum(np.searchsorted(rs, ce + _EPS, "right") - first, 0)
    i = np.repeat(np.arange(len(cols)), counts)
    j = first[i] + np.arange(len(i)) - np.repeat(np.cumsum(counts) - counts, counts)
    if block.triangle:
        exists = cols[i] <= rows[j]
        i, j = i[exists], j[exists]
    if not len(i):
        return None
    k = int(np.argmin(np.maximum(cs[i], rs[j])))
    return int(rows[j[k]]), int(cols[i[k]])


def _width(b: Block) -> float:
    return (b.cols.size - 1) * PITCH + CELL


def _height(b: Block) -> float:
    return (b.rows.size - 1) * PITCH + CELL


def _place_band(band: Band, cx: float, top: float, gap: float, head_gap: float, t: int) -> float:
    """Place one band with its centre lane centred on x = cx and its top at z = top; return its height."""
    centre_left = cx - ((t - 1) * PITCH + CELL) / 2
    centre_right = centre_left + (t - 1) * PITCH + CELL
    for blocks, side in ((band.centre, 0), (band.left, -1), (band.right, 1)):
        by_head: dict[int, list[Block]] = defaultdict(list)
        for b in blocks:
            by_head[b.head].append(b)
        for head, seq in by_head.items():
            x = {0: centre_left, -1: centre_left - gap, 1: centre_right + gap}[side]
            for b in seq:
                w = _width(b)
                left = x - w if side < 0 else x
                b.origin = (left + CELL / 2, (max(head, 0) + (b.span - 1) / 2) * head_gap, top - CELL / 2)
                x = left - gap if side < 0 else left + w + gap
    return max(_height(b) for b in band.blocks())


def _extent(band: Band, gap: float, t: int) -> tuple[float, float]:
    """Width of a band left and right of its centre lane's centre."""
    half = ((t - 1) * PITCH + CELL) / 2
    def side(blocks: list[Block]) -> float:
        first = min((b.head for b in blocks), default=None)
        return sum(_width(b) + gap for b in blocks if b.head == first)
    return half + side(band.left), half + side(band.right)


def _stack_height(bs: list[Band], gap: float) -> float:
    return sum(max(_height(b) for b in band.blocks()) + gap for band in bs)


def _columns(groups, per_column: int, n_layer: int) -> list[list[tuple[str, int, list[Band]]]]:
    """Groups (section, layer, bands) split into columns: layers `per_column` at a time; when the
    layers wrap, the embedding and the output stand in columns of their own, first and last."""
    embed = [g for g in groups if g[1] < 0 and g[0] != "Output"]
    output = [g for g in groups if g[0] == "Output"]
    layers = [g for g in groups if g[1] >= 0]
    columns = [layers[i:i + per_column] for i in range(0, len(layers), per_column)] or [[]]
    if per_column >= n_layer:
        return [embed + columns[0] + output]
    return [embed, *columns, output]


def _column_extent(column, gap: float, t: int) -> tuple[float, float]:
    extents = [_extent(b, gap, t) for _, _, bs in column for b in bs]
    return max(e[0] for e in extents), max(e[1] for e in extents)


def auto_layers_per_column(config: ModelConfig, n_tokens: int, aspect: float = ASPECT, fit: str = "overview") -> int:
    """Layers per column: LAYERS_PER_COLUMN for deep models; for up to that many layers, the count
    whose whole picture (`fit` LAYERS: the transformer layers alone, for their still; so too where
    the vocabulary-wide blocks run off the picture's edges: Layout.body) comes closest to the
    `aspect` of a frame (nano-gpt: one layer per column)."""
    if config.n_layer > LAYERS_PER_COLUMN:
        return LAYERS_PER_COLUMN
    gap = margin(config)
    groups = bands(config, n_tokens)

    def misfit(k: int) -> float:
        columns = _columns(groups, k, config.n_layer)
        if fit == LAYERS or dwarfed(config):
            columns = [c for c in ([g for g in c if g[1] >= 0] for c in columns) if c]
        extents = [_column_extent(c, gap, n_tokens) for c in columns]
        width = sum(left + right for left, right in extents) + COLUMN_SPACING * gap * (len(columns) - 1)
        height = max(sum(_stack_height(bs, gap) for _, _, bs in c) for c in columns)
        return abs(np.log(width / height / aspect))

    return min(range(config.n_layer, 0, -1), key=misfit)


def _placed(config: ModelConfig, n_tokens: int, columns, extents, gap: float, room: float,
            spacing: float) -> Layout:
    """The blocks of `columns` (of `extents`: _column_extent) placed left to right, `spacing` apart,
    each column's bands top down; a section below another in its column stands `room` lower (its
    heading goes there)."""
    blocks: list[Block] = []
    cx = 0.0
    previous_right = None
    for column, (left, right) in zip(columns, extents):
        if previous_right is not None:
            cx += previous_right + left + spacing
        z, section = 0.0, None
        for name, _, bs in column:
            if section is not None and name != section:
                z -= room
            section = name
            for band in bs:
                z -= _place_band(band, cx, z, gap, gap, n_tokens) + gap
                blocks += band.blocks()
        previous_right = right
    return Layout(config, n_tokens, blocks)


def heading_size(layout: Layout) -> float:
    """Section headings: legible in a picture of the whole model (its body), never smaller than
    the margin allows."""
    lo, hi = layout.body()
    return max(0.8 * margin(layout.config), 0.012 * float(max(hi[0] - lo[0], hi[2] - lo[2])))


def model_layout(config: ModelConfig, n_tokens: int, origin=(0.0, 0.0, 0.0),
                 layers_per_column: int | None = None, aspect: float = ASPECT, fit: str = "overview",
                 headings: bool = True) -> Layout:
    """Place every block of `config` for `n_tokens` tokens; the top centre of the first column sits
    at `origin`. Layers wrap into columns of `layers_per_column` (None: auto_layers_per_column for a
    frame of `aspect`, fitting `fit`); then the embedding and the output get columns of their own.
    Columns read left to right. Sections stacked in a column stand apart by room for their headings
    and group labels unless `headings` is False (a comparison's models, seen from afar)."""
    if not 1 <= n_tokens <= config.block_size:
        raise ValueError(f"n_tokens must be in 1..{config.block_size}, got {n_tokens}")
    per_column = layers_per_column or auto_layers_per_column(config, n_tokens, aspect, fit)
    if per_column < 1:
        raise ValueError(f"layers_per_column must be positive, got {per_column}")
    gap = margin(config)
    columns = _columns(bands(config, n_tokens), per_column, config.n_layer)
    extents = [_column_extent(c, gap, n_tokens) for c in columns]
    layout = _placed(config, n_tokens, columns, extents, gap, 0.0, COLUMN_SPACING * gap)
    if headings and any(len({name for name, _, _ in column}) > 1 for column in columns):  # stacked sections:
        for _ in range(ROOM_ROUNDS):  # room for their headings and group labels, sized for the picture it makes
            heading = heading_size(layout)
            layout = _placed(config, n_tokens, columns, extents, gap, HEADING_ROOM * heading,
                             max(COLUMN_SPACING * gap, GROUP_ROOM * heading))
    layout.layers_per_column = per_column
    layout.translate(np.asarray(origin, float))
    return layout


def comparison_layout(configs: list[ModelConfig], n_tokens: list[int] | int,
                      reserve: list[float] | None = None) -> list[Layout]:
    """Several models side by side at one cell scale (see `side_by_side`), their layers wrapped alike
    (`comparison_columns`), so their heights compare."""
    counts = [n_tokens] * len(configs) if isinstance(n_tokens, int) else list(n_tokens)
    per_column = comparison_columns(configs, counts)
    layouts = [model_layout(c, n, layers_per_column=per_column, headings=False) for c, n in zip(configs, counts)]
    return side_by_side(layouts, reserve)


def comparison_columns(configs: list[ModelConfig], n_tokens: list[int], aspect: float = ASPECT) -> int:
    """Layers per column shared by the models of a comparison: LAYERS_PER_COLUMN; when none is deeper
    than that, the count that best fills the deepest one's share of the frame (two small models stand
    like two stills)."""
    if any(c.n_layer > LAYERS_PER_COLUMN for c in configs):
        return LAYERS_PER_COLUMN
    deepest = max(range(len(configs)), key=lambda i: configs[i].n_layer)
    return auto_layers_per_column(configs[deepest], n_tokens[deepest], aspect / len(configs))


def side_by_side(layouts: list[Layout], reserve: list[float] | None = None) -> list[Layout]:
    """Move `layouts` (in place) to stand left to right, tops aligned at z = 0. `reserve` gives a
    width to keep free around each model's centre line (e.g. for its card), whatever its size."""
    reserve = reserve or [0.0] * len(layouts)
    x = 0.0
    for layout, wide in zip(layouts, reserve):
        lo, hi = layout.bounds()
        width = hi[0] - lo[0]
        span = max(width + 0.1 * width + 8 * margin(layout.config), wide)
        layout.translate([x + (span - width) / 2 - lo[0], 0.0, -hi[2]])
        x += span
    return layouts
