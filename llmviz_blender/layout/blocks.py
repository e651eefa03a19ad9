"""The block inventory of a GPT: one Block per drawn tensor (or per-head slice), with its cell grid.

A block is a 2-D grid of cells, `rows` going down (-Z) and `cols` going right (+X), one cell deep
(Y). Each cell shows one number of a source array: a trace entry or a parameter (`param:<minGPT key>`).
The cell -> source mapping is affine: src_index = offset + row * row_stride + col * col_stride.
Visual grammar: activations have tokens (T) across and features down; a weight matrix sits left of
the output it produces with its rows (output features) aligned to the output's rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..defaults import CELL, PITCH
from ..model import ModelConfig


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
    source: str  # trace name or "param:<minGPT key>"
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


def _maker(config: ModelConfig, t: int):
    """Shorthands that create Blocks for `config` at `t` tokens."""
    dims = {"T": t, "C": config.n_embd, "A": config.head_size, "4C": 4 * config.n_embd,
            "n_vocab": config.vocab_size, "block_size": config.block_size, "1": 1}

    dim = {label: Dim(label, size) for label, size in dims.items()}

    def block(key, name, kind, source, op, rows, cols, offset=0, row_stride=0, col_stride=0, **kw) -> Block:
        return Block(key, name, kind, source, op, dim[rows], dim[cols], offset, row_stride, col_stride, **kw)

    def act(key, name, source, op, feat="C", kind="intermediate", **kw) -> Block:
        """A (T, feat) trace array drawn feat down, tokens across."""
        return block(key, name, kind, source, op, feat, "T", 0, 1, dims[feat], **kw)

    def vec(key, name, source, feat="C", offset=0, **kw) -> Block:
        """A 1-D parameter drawn as one column."""
        return block(key, name, "weight", source, "param", feat, "1", offset, 1, 0, **kw)

    def row(key, name, source, op, kind="aggregate", **kw) -> Block:
        """A (T,) array drawn as one row."""
        return block(key, name, kind, source, op, "1", "T", 0, 0, 1, **kw)

    def mat(key, name, source, out, inp, offset=0, **kw) -> Block:
        """An nn.Linear weight [out, in] drawn out down, in across."""
        return block(key, name, "weight", source, "param", out, inp, offset, dims[inp], 1, **kw)

    return block, act, vec, row, mat


def _layer_norm(make, prefix: str, key: str, src: str, param: str, inp: str, label: str, **kw) -> list[Band]:
    block, act, vec, row, mat = make
    k = f"{prefix}{key}"
    mean = row(f"{k}.mean", f"{label} Mean", f"{src}.mean", "ln_mean", reads=(inp,), **kw)
    std = row(f"{k}.std", f"{label} Std", f"{src}.std", "ln_std", reads=(inp, mean.key), **kw)
    gamma = vec(f"{k}.gamma", f"{label} Gamma", f"{param}.weight", **kw)
    beta = vec(f"{k}.beta", f"{label} Beta", f"{param}.bias", **kw)
    out = act(k, label, src, "layernorm", reads=(inp, mean.key, std.key, gamma.key, beta.key), **kw)
    return [Band([mean], right=[std]), Band([out], left=[gamma, beta])]


def bands(config: ModelConfig, t: int) -> list[tuple[str, int, list[Band]]]:
    """The model as bands, grouped: (section, layer, bands) in computation order."""
    make = _maker(config, t)
    block, act, vec, row, mat = make
    c, a, nh = config.n_embd, config.head_size, config.n_head
    out: list[tuple[str, int, list[Band]]] = []

    emb = {"section": "Embedding", "group": "Embedding"}
    tokens = row("tokens", "Tokens", "tokens", "token", kind="intermediate", **emb)
    wte = block("wte", "Token Embed", "weight", "param:transformer.wte.weight", "param", "C", "n_vocab",
                0, 1, c, **emb)
    wpe = block("wpe", "Position Embed", "weight", "param:transformer.wpe.weight", "param", "C", "block_size",
                0, 1, c, **emb)
    x = act("x", "Input Embed", "x", "embed", reads=(tokens.key, wte.key, wpe.key), **emb)
    out.append(("Embedding", -1, [Band([tokens]), Band([x], left=[wte], right=[wpe])]))
    resid = x.key

    for i in range(config.n_layer):
        p, q = f"h{i}.", f"transformer.h.{i}."
        sec = {"section": f"Transformer {i}", "layer": i}
        layer = _layer_norm(make, p, "ln1", f"h{i}.ln1", f"param:{q}ln_1", resid, "Layer Norm 1",
                            group="Layer Norm 1", **sec)
        ln1 = f"{p}ln1"
        att = {"group": "Self-attention", **sec}
        qkv_bands: list[Band] = []
        att_bands: list[Band] = []
        y_bands: list[Band] = []
        for h in range(nh):
            hp = f"{p}head{h}."
            vecs = {}
            for j, name in enumerate("QKV"):
                lo = name.lower()
                w = mat(f"{hp}{lo}_weight", f"{name} Weights", f"param:{q}attn.c_attn.weight", "A", "C",
                        (j * c + h * a) * c, head=h, **att)
                b = vec(f"{hp}{lo}_bias", f"{name} Bias", f"param:{q}attn.c_attn.bias", "A", j * c + h * a,
                        head=h, **att)
                v = block(f"{hp}{lo}", f"{name} Vectors", "intermediate", f"h{i}.{lo}", "matmul", "A", "T",
                          h * t * a, 1, a, head=h, reads=(ln1, w.key, b.key), **att)
                vecs[lo] = v
                qkv_bands.append(Band([v], left=[b, w]))
            score = block(f"{hp}att", "Attention Matrix", "intermediate", f"h{i}.att", "attention", "T", "T",
                          h * t * t, t, 1, triangle=True, head=h, reads=(vecs["q"].key, vecs["k"].key), **att)
            amax = block(f"{hp}att.max", "Softmax Max", "aggregate", f"h{i}.att.max", "softmax_max", "T", "1",
                         h * t, 1, 0, head=h, reads=(score.key,), **att)
            asum = block(f"{hp}att.sumexp", "Softmax Sum-Exp", "aggregate", f"h{i}.att.sumexp", "softmax_sumexp",
                         "T", "1", h * t, 1, 0, head=h, reads=(score.key, amax.key), **att)
            soft = block(f"{hp}att_sm", "Attention Softmax", "intermediate", f"h{i}.att_sm", "softmax", "T", "T",
                         h * t * t, t, 1, triangle=True, head=h, reads=(score.key, amax.key, asum.key), **att)
            y = block(f"{hp}y", "V Output", "intermediate", f"h{i}.y", "attend", "A", "T", h * a, 1, c,
                      head=h, reads=(soft.key, vecs["v"].key), **att)
            att_bands.append(Band([score], right=[amax, asum, soft]))
            y_bands.append(Band([y]))
        layer += _merge_heads(qkv_bands, 3) + _merge_heads(att_bands, 1) + _merge_heads(y_bands, 1)

        proj = {"group": "Projection", **sec}
        pw = mat(f"{p}proj_weight", "Projection Weights", f"param:{q}attn.c_proj.weight", "C", "C", **proj)
        pb = vec(f"{p}proj_bias", "Projection Bias", f"param:{q}attn.c_proj.bias", **proj)
        heads_y = tuple(f"{p}head{h}.y" for h in range(nh))
        po = act(f"{p}attn_proj", "Attention Output", f"h{i}.attn_proj", "matmul", reads=(*heads_y, pw.key, pb.key),
                 **proj)
        pr = act(f"{p}attn_resid", "Attention Residual", f"h{i}.attn_resid", "residual", reads=(resid, po.key),
                 **proj)
        layer += [Band([po], left=[pb, pw]), Band([pr])]

        layer += _layer_norm(make, p, "ln2", f"h{i}.ln2", f"param:{q}ln_2", pr.key, "Layer Norm 2",
                             group="Layer Norm 2", **sec)
        mlp = {"group": "MLP", **sec}
        fw = mat(f"{p}fc_weight", "MLP Weights", f"param:{q}mlp.c_fc.weight", "4C", "C", **mlp)
        fb = vec(f"{p}fc_bias", "MLP Bias", f"param:{q}mlp.c_fc.bias", "4C", **mlp)
        fc = act(f"{p}fc", "MLP", f"h{i}.fc", "matmul", "4C", reads=(f"{p}ln2", fw.key, fb.key), **mlp)
        ge = act(f"{p}gelu", "GELU", f"h{i}.gelu", "gelu", "4C", reads=(fc.key,), **mlp)
        mw = mat(f"{p}mlp_weight", "MLP Projection Weights", f"param:{q}mlp.c_proj.weight", "C", "4C", **mlp)
        mb = vec(f"{p}mlp_bias", "MLP Projection Bias", f"param:{q}mlp.c_proj.bias", **mlp)
        mo = act(f"{p}mlp", "MLP Result", f"h{i}.mlp", "matmul", reads=(ge.key, mw.key, mb.key), **mlp)
        mr = act(f"{p}mlp_resid", "MLP Residual", f"h{i}.mlp_resid", "residual", reads=(pr.key, mo.key), **mlp)
        layer += [Band([fc], left=[fb, fw], right=[ge]), Band([mo], left=[mb, mw]), Band([mr])]
        out.append((f"Transformer {i}", i, layer))
        resid = mr.key

    fin = {"section": "Output"}
    outb = _layer_norm(make, "", "ln_f", "ln_f", "param:transformer.ln_f", resid, "Final Layer Norm",
                       group="Final Layer Norm", **fin)
    fin["group"] = "Output"
    lm = mat("lm_head", "LM Head Weights", "param:lm_head.weight", "n_vocab", "C", **fin)
    logits = act("logits", "Logits", "logits", "matmul", "n_vocab", reads=("ln_f", lm.key), **fin)
    lmax = row("logits.max", "Logits Max", "logits.max", "softmax_max", reads=(logits.key,), **fin)
    lsum = row("logits.sumexp", "Logits Sum-Exp", "logits.sumexp", "softmax_sumexp", reads=(logits.key, lmax.key),
               **fin)
    probs = act("probs", "Probabilities", "probs", "softmax", "n_vocab", reads=(logits.key, lmax.key, lsum.key),
                **fin)
    outb += [Band([logits], left=[lm]), Band([lmax], right=[lsum]), Band([probs])]
    out.append(("Output", -1, outb))
    return out


def _merge_heads(per_head: list[Band], per: int) -> list[Band]:
    """Per-head bands (head-major, `per` bands per head) -> bands holding every head's blocks."""
    n = len(per_head) // per
    return [Band([b for h in range(n) for b in per_head[h * per + j].centre],
                 [b for h in range(n) for b in per_head[h * per + j].left],
                 [b for h in range(n) for b in per_head[h * per + j].right]) for j in range(per)]
