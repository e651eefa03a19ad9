"""The block inventory of a GPT: one Block per drawn tensor (or per-head slice), with its cell grid.

A block is a 2-D grid of cells, `rows` going down (-Z) and `cols` going right (+X), one cell deep
(Y). Each cell shows one number of a source array: a trace entry or a parameter (`param:<key>`, the
family's parameter name). Which blocks a model has is its family's: see model/families.
The cell -> source mapping is affine: src_index = offset + row * row_stride + col * col_stride.
Visual grammar: activations have tokens (T) across and features down; a weight matrix sits left of
the output it produces with its rows (output features) aligned to the output's rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..defaults import CELL, PITCH
from ..model import ModelConfig, family_of


@dataclass(frozen=True)
class Dim:
    """One axis of a block: its label (T, C, A, 4C, n_vocab, 1) and size."""

    label: str
    size: int


@dataclass(slots=True)
class Block:
    """One drawn tensor (or one head's slice of it) and where its cells sit."""

    key: str  # unique id within a model, e.g. "h0.head1.q"
    name: str  # display name, e.g. "Q Vectors"
    kind: str  # weight | intermediate | aggregate
    source: str  # trace name or "param:<parameter key>"
    op: str  # how it is computed: param, token, lookup, add, ln_mean, ln_std, layernorm, matmul, ...
    rows: Dim
    cols: Dim
    offset: int
    row_stride: int
    col_stride: int
    triangle: bool = False  # only cells with col <= row exist (causal attention)
    section: str = ""  # Embedding, Transformer 1, ..., Output
    group: str = ""  # Layer Norm 1, Self-attention, Projection, Layer Norm 2, MLP, ...
    layer: int = -1
    head: int = -1
    span: int = 1  # query heads it serves (a shared K/V head: its group), drawn in the middle of their depths
    reads: tuple[str, ...] = ()  # keys of the blocks this one is computed from
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)  # world centre of cell (0, 0)

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows.size, self.cols.size

    @property
    def n_cells(self) -> int:
        r, c = self.shape
        return r * (r + 1) // 2 if self.triangle else r * c

    def cells(self) -> tuple[np.ndarray, np.ndarray]:
        """(row, col) of every cell, row-major; only the lower triangle for causal blocks."""
        r, c = self.shape
        if self.triangle:
            rows, cols = np.tril_indices(r, 0, c)
            return rows.astype(np.int64), cols.astype(np.int64)
        rows, cols = np.divmod(np.arange(r * c, dtype=np.int64), c)
        return rows, cols

    def src_index(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return self.offset + rows * self.row_stride + cols * self.col_stride

    def positions(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """World centres (N, 3) of the given cells."""
        out = np.empty((len(rows), 3), np.float64)
        out[:, 0] = self.origin[0] + cols * PITCH
        out[:, 1] = self.origin[1]
        out[:, 2] = self.origin[2] - rows * PITCH
        return out

    def size(self) -> np.ndarray:
        """Extent of the block's box (x, y, z)."""
        r, c = self.shape
        return np.array([(c - 1) * PITCH + CELL, CELL, (r - 1) * PITCH + CELL])

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned box enclosing every cell cube."""
        x, y, z = self.origin
        lo = np.array([x - CELL / 2, y - CELL / 2, z - (self.rows.size - 1) * PITCH - CELL / 2])
        return lo, lo + self.size()

    def has_cell(self, row: int, col: int) -> bool:
        r, c = self.shape
        return 0 <= row < r and 0 <= col < c and (not self.triangle or col <= row)


@dataclass
class Band:
    """One horizontal strip of the picture: the centre-lane block (T wide) with blocks to its left
    and right (nearest first). In per-head bands each list holds every head's blocks, head-major;
    heads are placed alike and stacked in depth."""

    centre: list[Block]
    left: list[Block] = field(default_factory=list)
    right: list[Block] = field(default_factory=list)

    def blocks(self) -> list[Block]:
        """The band's blocks in computation order (every block after the blocks it reads)."""
        return [*self.left, *(b for b in self.right if b.kind == "weight"), *self.centre,
                *(b for b in self.right if b.kind != "weight")]


class Kit:
    """Shorthands a family's `bands` builds its Blocks with, for `config` at `t` tokens."""

    Band = Band

    def __init__(self, config: ModelConfig, t: int):
        a = config.head_size
        self.sizes = {"T": t, "C": config.n_embd, "A": a, "A/2": a // 2, "4C": config.mlp_size, "F": config.mlp_size,
                      "n_vocab": config.vocab_size, "block_size": config.block_size, "1": 1}
        self.dim = {label: Dim(label, size) for label, size in self.sizes.items()}
        self.t = t

    def block(self, key, name, kind, source, op, rows, cols, offset=0, row_stride=0, col_stride=0, **kw) -> Block:
        return Block(key, name, kind, source, op, self.dim[rows], self.dim[cols], offset, row_stride, col_stride, **kw)

    def act(self, key, name, source, op, feat="C", kind="intermediate", **kw) -> Block:
        """A (T, feat) trace array drawn feat down, tokens across."""
        return self.block(key, name, kind, source, op, feat, "T", 0, 1, self.sizes[feat], **kw)

    def vec(self, key, name, source, feat="C", offset=0, **kw) -> Block:
        """A 1-D parameter drawn as one column."""
        return self.block(key, name, "weight", source, "param", feat, "1", offset, 1, 0, **kw)

    def row(self, key, name, source, op, kind="aggregate", **kw) -> Block:
        """A (T,) array drawn as one row."""
        return self.block(key, name, kind, source, op, "1", "T", 0, 0, 1, **kw)

    def mat(self, key, name, source, out, inp, offset=0, **kw) -> Block:
        """An nn.Linear weight [out, in] drawn out down, in across."""
        return self.block(key, name, "weight", source, "param", out, inp, offset, self.sizes[inp], 1, **kw)

    def attention(self, key: str, trace: str, head: int, slot: int, q: str, k: str | None = None,
                  **kw) -> tuple[Band, Block]:
        """One query head's attention: its scores (q.k, causal), their softmax max and sum-exp, the
        softmax; `trace` is the layer's trace prefix (h0.), `slot` the head's index in it, `k` the K
        block it reads (default: the head's own). Returns the band and the softmax block."""
        t = self.t
        k = k or f"{key}k"
        score = self.block(f"{key}att", "Attention Matrix", "intermediate", f"{trace}att", "attention", "T", "T",
                           slot * t * t, t, 1, triangle=True, head=head, reads=(q, k), **kw)
        amax = self.block(f"{key}att.max", "Softmax Max", "aggregate", f"{trace}att.max", "softmax_max", "T", "1",
                          slot * t, 1, 0, head=head, reads=(score.key,), **kw)
        asum = self.block(f"{key}att.sumexp", "Softmax Sum-Exp", "aggregate", f"{trace}att.sumexp", "softmax_sumexp",
                          "T", "1", slot * t, 1, 0, head=head, reads=(score.key, amax.key), **kw)
        soft = self.block(f"{key}att_sm", "Attention Softmax", "intermediate", f"{trace}att_sm", "softmax", "T", "T",
                          slot * t * t, t, 1, triangle=True, head=head, reads=(score.key, amax.key, asum.key), **kw)
        return Band([score], right=[amax, asum, soft]), soft

    def output(self, norm: str, lm_head: str, name: str | None = None) -> list[Band]:
        """The LM head, logits, their softmax aggregates and the probabilities, after the final norm."""
        fin = {"section": "Output", "group": "Output"}
        lm = self.mat("lm_head", name or "LM Head Weights", lm_head, "n_vocab", "C", **fin)
        logits = self.act("logits", "Logits", "logits", "matmul", "n_vocab", reads=(norm, lm.key), **fin)
        lmax = self.row("logits.max", "Logits Max", "logits.max", "softmax_max", reads=(logits.key,), **fin)
        lsum = self.row("logits.sumexp", "Logits Sum-Exp", "logits.sumexp", "softmax_sumexp",
                        reads=(logits.key, lmax.key), **fin)
        probs = self.act("probs", "Probabilities", "probs", "softmax", "n_vocab", reads=(logits.key, lmax.key, lsum.key),
                         **fin)
        return [Band([logits], left=[lm]), Band([lmax], right=[lsum]), Band([probs])]

    @staticmethod
    def merge_heads(per_head: list[Band], per: int) -> list[Band]:
        """Per-head bands (head-major, `per` bands per head) -> bands holding every head's blocks."""
        n = len(per_head) // per
        return [Band([b for h in range(n) for b in per_head[h * per + j].centre],
                     [b for h in range(n) for b in per_head[h * per + j].left],
                     [b for h in range(n) for b in per_head[h * per + j].right]) for j in range(per)]


def bands(config: ModelConfig, t: int) -> list[tuple[str, int, list[Band]]]:
    """The model as bands, grouped: (section, layer, bands) in computation order; the family says which."""
    return family_of(config).bands(Kit(config, t), config, t)
