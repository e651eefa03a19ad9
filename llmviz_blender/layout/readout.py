"""The cell readout, pure part: which cell a ray hits and what that cell's number is made of.

`explain(layout, trace, weights, key, row, col)` returns a `Readout`: the block's name and kind,
the cell with its dimension names ("row 3 of A, column 2 of T"), its value, and the formula of the
block's op with the numbers it reads (matmul, layer norm and its mean/std, softmax with max and
sum-exp, attention scores, weighted sum of V, GELU, residual add, embedding lookup, parameters,
tokens), written by `layout.formula`. `Readout.result` is the value recomputed (float64) from
exactly the numbers the formula shows in full, so tests check the text against the trace.
`Readout.sources` are the cells read, as spans of blocks, which `ui.inspector` highlights.

No bpy here: the modal operator passes rays in, the typed readout passes (key, row, col) in."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .. import i18n
from ..model import Weights, param_shapes, token_text, trace_shapes
from ..model.ops import inv_freq
from . import formula
from .blocks import Block
from .formula import num, precise
from .place import CellRef, Layout
from .target import check_cell
from .values import CellReader

@dataclass(frozen=True)
class Span:
    """A rectangle of cells of one block (inclusive ranges), e.g. a weight row or an input column."""

    key: str
    rows: tuple[int, int]
    cols: tuple[int, int]


@dataclass
class Readout:
    """What one cell shows and how it is computed."""

    key: str
    name: str
    kind: str
    op: str
    source: str  # trace name or param:<key>
    index: tuple[int, ...]  # index into the source array
    row: int
    col: int
    where: str  # "row 3 of A, column 2 of T (token 'B')"
    value: float | None  # the number the cell shows (None without numbers)
    formula: str  # how it is computed, with its numbers
    result: float | None = None  # the value recomputed from the formula's numbers
    terms: dict[str, np.ndarray] = field(default_factory=dict)  # the numbers, by role
    sources: list[Span] = field(default_factory=list)  # cells read (for highlighting)
    masked: bool = False

    @property
    def cell(self) -> tuple[str, int, int]:
        return self.key, self.row, self.col

    def title(self) -> str:
        return f"{self.name} ({self.kind})"

    def source_text(self) -> str:
        name = self.source[len("param:"):] if self.source.startswith("param:") else self.source
        return f"{name}[{', '.join(str(i) for i in self.index)}]"

    def value_text(self) -> str:
        L = i18n.current()
        if self.masked:
            return L.tr("masked")
        if self.op == "token" and self.value is not None:
            return str(int(round(self.value)))
        return L.tr("no numbers (shape only)") if self.value is None else L.num(precise(self.value))

    def lines(self) -> list[str]:
        """The readout for a panel: title, cell, value, formula."""
        return [self.title(), f"{self.where} = {self.source_text()}", f"value {self.value_text()}", self.formula]

    def header(self) -> str:
        """One line for a viewport header or status bar."""
        return f"{self.name} | {self.where} | {self.value_text()} | {self.formula}"


# ------------------------------------------------------------------------------------ helpers

def _column(block: Block, col: int, rows: int | None = None) -> Span:
    return Span(block.key, (0, (rows or block.rows.size) - 1), (col, col))


def _row(block: Block, row: int, cols: int | None = None) -> Span:
    return Span(block.key, (row, row), (0, (cols or block.cols.size) - 1))


def _cell(block: Block, row: int, col: int) -> Span:
    return Span(block.key, (row, row), (col, col))


def _dim_text(layout: Layout, block: Block, axis: str, index: int, tokens: list[int] | None) -> str:
    dim, L = block.rows if axis == "row" else block.cols, i18n.current()
    if dim.label == "1":
        return ""
    text = L.tr("row {i} of {dim}", i=index, dim=dim.label) if axis == "row" else \
        L.tr("column {i} of {dim}", i=index, dim=dim.label)
    config = layout.config
    if dim.label == "T" and tokens is not None and index < len(tokens):
        text += L.tr(" (token {token})", token=token_text(config, tokens[index]))
    elif dim.label == "n_vocab":
        text += L.tr(" (token {token})", token=token_text(config, index))
    elif dim.label == "block_size":
        text += L.tr(" (position {i})", i=index)
    return text


def _index(layout: Layout, block: Block, row: int, col: int) -> tuple[int, ...]:
    """Index into the block's source array (trace entry or parameter) of cell (row, col)."""
    if block.source.startswith("param:"):
        shape = param_shapes(layout.config)[block.source[len("param:"):]]
    else:
        shape = trace_shapes(layout.config, layout.n_tokens)[block.source]
    flat = int(block.src_index(np.int64(row), np.int64(col)))
    return tuple(int(i) for i in np.unravel_index(flat, shape))


def _reads(layout: Layout, block: Block) -> list[Block]:
    return [layout[k] for k in block.reads]


# ------------------------------------------------------------------------------------ per op

def _t(msgid: str, **values) -> str:
    """A readout's words in the current language (i18n); its numbers stay as formulas write them."""
    return i18n.current().tr(msgid, **values)


def _n(name: str) -> str:
    """A block's name in the current language."""
    return i18n.current().tr(name)


def _matmul(c: CellReader, b: Block, row: int, col: int, out: Readout) -> None:
    reads = _reads(c.layout, b)
    weight = next(r for r in reads if r.kind == "weight" and r.source.endswith(".weight"))
    bias = next((r for r in reads if r.kind == "weight" and r.source.endswith(".bias")), None)
    inputs = [r for r in reads if r.kind != "weight"]
    n_in = weight.cols.size
    out.sources = [_row(weight, row), *(_column(i, col) for i in inputs)]
    if bias is not None:
        out.sources.append(_cell(bias, row, 0))
    names = {"row": row, "weight": _n(weight.name), "col": col, "input": _n(inputs[0].name)}
    what = _t("bias + row {row} of {weight} · column {col} of {input}", **names) if bias else \
        _t("row {row} of {weight} · column {col} of {input}", **names)
    if out.value is None:
        out.formula = _t("{what} (shape only: no numbers)", what=what)
        return
    w = c.cells(weight.key, row, np.arange(n_in))
    x = np.concatenate([c.cells(i.key, np.arange(i.rows.size), col) for i in inputs])
    beta = c.cell(bias.key, row, 0) if bias is not None else 0.0
    out.terms = {"bias": np.float64(beta), "weights": w, "inputs": x}
    out.result = beta + float(np.dot(w, x))
    text = formula.dot(w, x, out.value, None if bias is None else beta)
    out.formula = f"{what} = {text}" if bias is not None else _t("{what} (no bias) = {text}", what=what, text=text)


def _embed(c: CellReader, b: Block, row: int, col: int, out: Readout) -> None:
    tokens_b, wte, wpe = _reads(c.layout, b)
    out.sources = [_cell(tokens_b, 0, col), _column(wpe, col)]
    if out.value is None:
        out.formula = _t("token embedding + position embedding, row {row} (shape only: no numbers)", row=row)
        return
    tok = int(round(c.cell(tokens_b.key, 0, col)))
    out.sources.insert(1, _column(wte, tok))
    te, pe = c.cell(wte.key, row, tok), c.cell(wpe.key, row, col)
    out.terms = {"token": np.float64(tok), "token_embedding": np.float64(te), "position_embedding": np.float64(pe)}
    out.result = te + pe
    token = token_text(c.layout.config, tok)
    out.formula = f"wte[{token}][{row}] + wpe[{col}][{row}] = {formula.add(te, pe, out.value)}"


def _ln_input(c: CellReader, b: Block, col: int) -> tuple[Block, np.ndarray]:
    inp = _reads(c.layout, b)[0]
    return inp, c.cells(inp.key, np.arange(inp.rows.size), col)


def _ln_mean(c: CellReader, b: Block, row: int, col: int, out: Readout) -> None:
    inp = _reads(c.layout, b)[0]
    out.sources = [_column(inp, col)]
    what = _t("mean of column {col} of {input} ({n} values)", col=col, input=_n(inp.name), n=inp.rows.size)
    if out.value is None:
        out.formula = what
        return
    _, x = _ln_input(c, b, col)
    out.terms = {"inputs": x}
    out.result = float(x.mean())
    out.formula = f"{what} = {formula.sum_terms(x)} / {x.size} = {precise(out.value)}"


def _ln_std(c: CellReader, b: Block, row: int, col: int, out: Readout) -> None:
    inp, mean = _reads(c.layout, b)[:2]
    out.sources = [_column(inp, col), _cell(mean, 0, col)]
    eps = c.layout.config.norm_eps
    what = _t("sqrt(mean((x - mean)^2) + {eps}) over column {col} of {input}", eps=format(eps, "g"), col=col,
              input=_n(inp.name))
    if out.value is None:
        out.formula = what
        return
    _, x = _ln_input(c, b, col)
    mu = c.cell(mean.key, 0, col)
    var = float(np.mean((x - mu) ** 2))
    out.terms = {"inputs": x, "mean": np.float64(mu)}
    out.result = math.sqrt(var + eps)
    out.formula = _t("{what} = sqrt({var} + {eps}) with mean {mean} = {value}", what=what, var=precise(var),
                     eps=format(eps, "g"), mean=precise(mu), value=precise(out.value))


def _layernorm(c: CellReader, b: Block, row: int, col: int, out: Readout) -> None:
    inp, mean, std, gamma, beta = _reads(c.layout, b)
    out.sources = [_column(inp, col), _cell(mean, 0, col), _cell(std, 0, col), _cell(gamma, row, 0),
                   _cell(beta, row, 0)]
    if out.value is None:
        out.formula = _t("{what} (shape only: no numbers)", what="(x - mean) / std * gamma + beta")
        return
    x, mu, sd = c.cell(inp.key, row, col), c.cell(mean.key, 0, col), c.cell(std.key, 0, col)
    g, be = c.cell(gamma.key, row, 0), c.cell(beta.key, row, 0)
    out.terms = {"x": np.float64(x), "mean": np.float64(mu), "std": np.float64(sd), "gamma": np.float64(g),
                 "beta": np.float64(be)}
    out.result = (x - mu) / sd * g + be
    out.formula = (f"(x - mean) / std * gamma + beta = ({precise(x)} - {precise(mu)}) / {precise(sd)} * {precise(g)} "
                   f"+ {precise(be)} = {precise(out.value)}")


def _query_index(agg: Block, row: int, col: int) -> int:
    """Which softmax a max / sum-exp cell belongs to: attention aggregates are a column (one per
    query row), logits aggregates a row (one per token)."""
    return row if agg.cols.label == "1" else col


def _agg_cell(agg: Block, q: int) -> tuple[int, int]:
    return (q, 0) if agg.cols.label == "1" else (0, q)


def _score_span(score: Block, q: int) -> Span:
    """The softmax input: attention row q (keys 0..q, causal) or logits column q."""
    return _row(score, q, q + 1) if score.triangle else _column(score, q)


def _score_values(c: CellReader, score: Block, q: int) -> np.ndarray:
    if score.triangle:
        return c.cells(score.key, q, np.arange(q + 1))
    return c.cells(score.key, np.arange(score.rows.size), q)


def _score_name(score: Block, q: int) -> str:
    return _t("{scores} row {i}", scores=_n(score.name), i=q) if score.triangle else \
        _t("{scores} column {i}", scores=_n(score.name), i=q)


def _softmax_max(c: CellReader, b: Block, row: int, col: int, out: Readout) -> None:
    score = _reads(c.layout, b)[0]
    q = _query_index(b, row, col)
    out.sources = [_score_span(score, q)]
    what = _t("max of {scores}", scores=_score_name(score, q))
    if out.value is None:
        out.formula = what
        return
    z = _score_values(c, score, q)
    out.terms = {"scores": z}
    out.result = float(z.max())
    shown = ", ".join(num(v, 3) for v in z[:8]) + (", ..." if z.size > 8 else "")
    out.formula = f"{what} = max[{shown}] = {precise(out.value)}"


def _softmax_sumexp(c: CellReader, b: Block, row: int, col: int, out: Readout) -> None:
    score, zmax = _reads(c.layout, b)[:2]
    q = _query_index(b, row, col)
    mr, mc = _agg_cell(zmax, q)
    out.sources = [_score_span(score, q), _cell(zmax, mr, mc)]
    what = _t("sum of exp(score - max) over {scores}", scores=_score_name(score, q))
    if out.value is None:
        out.formula = what
        return
    z = _score_values(c, score, q)
    m = c.cell(zmax.key, mr, mc)
    e = np.exp(z - m)
    out.terms = {"scores": z, "max": np.float64(m)}
    out.result = float(e.sum())
    out.formula = f"{what}, max {precise(m)}: {formula.sum_terms(e)} = {precise(out.value)}"


def _softmax(c: CellReader, b: Block, row: int, col: int, out: Readout) -> None:
    score, zmax, zsum = _reads(c.layout, b)
    q = row if score.triangle else col  # the query (attention row) or the token (logits column)
    mr, mc = _agg_cell(zmax, q)
    out.sources = [_score_span(score, q), _cell(zmax, mr, mc), _cell(zsum, mr, mc)]
    what = _t("exp(score - max) / sum-exp over {scores}", scores=_score_name(score, q))
    if out.value is None:
        out.formula = what
        return
    z, m, s = c.cell(score.key, row, col), c.cell(zmax.key, mr, mc), c.cell(zsum.key, mr, mc)
    out.terms = {"score": np.float64(z), "max": np.float64(m), "sumexp": np.float64(s)}
    out.result = math.exp(z - m) / s
    out.formula = f"{what} = exp({precise(z)} - {precise(m)}) / {precise(s)} = {precise(out.value)}"


def _attention(c: CellReader, b: Block, row: int, col: int, out: Readout) -> None:
    qb, kb = _reads(c.layout, b)
    a = qb.rows.size
    out.sources = [_column(qb, row), _column(kb, col)]
    what = _t("q (column {row} of {queries}) · k (column {col} of {keys}) / sqrt({a})", row=row,
              queries=_n(qb.name), col=col, keys=_n(kb.name), a=a)
    if out.value is None:
        out.formula = what
        return
    q = c.cells(qb.key, np.arange(a), row)
    k = c.cells(kb.key, np.arange(a), col)
    out.terms = {"query": q, "key": k, "scale": np.float64(math.sqrt(a))}
    dot = float(np.dot(q, k))
    out.result = dot / math.sqrt(a)
    scale = precise(math.sqrt(a))
    out.formula = f"{what} = ({formula.products(q, k)}) / {scale} = {precise(dot)} / {scale} = {precise(out.value)}"


def _attend(c: CellReader, b: Block, row: int, col: int, out: Readout) -> None:
    soft, vb = _reads(c.layout, b)
    n = col + 1  # causal: token `col` reads tokens 0..col
    out.sources = [_row(soft, col, n), Span(vb.key, (row, row), (0, col))]
    what = _t("sum over tokens j <= {col} of softmax[{col}, j] * v[j] (row {row} of {values})", col=col, row=row,
              values=_n(vb.name))
    if out.value is None:
        out.formula = what
        return
    p = c.cells(soft.key, col, np.arange(n))
    v = c.cells(vb.key, row, np.arange(n))
    out.terms = {"weights": p, "values": v}
    out.result = float(np.dot(p, v))
    out.formula = f"{what} = {formula.products(p, v)} = {precise(out.value)}"


def _elementwise(c: CellReader, b: Block, row: int, col: int, out: Readout, sign: str, terms: tuple[str, str],
                 combine, write) -> None:
    """A cell made of the same cell of the two blocks it reads: `combine`d, written by `write`."""
    left, right = _reads(c.layout, b)
    out.sources = [_cell(left, row, col), _cell(right, row, col)]
    what = f"{_n(left.name)} {sign} {_n(right.name)}"
    if out.value is None:
        out.formula = what
        return
    x, y = c.cell(left.key, row, col), c.cell(right.key, row, col)
    out.terms = {terms[0]: np.float64(x), terms[1]: np.float64(y)}
    out.result = combine(x, y)
    out.formula = f"{what} = {write(x, y, out.value)}"


def _residual(c: CellReader, b: Block, row: int, col: int, out: Readout) -> None:
    _elementwise(c, b, row, col, out, "+", ("residual", "branch"), lambda x, y: x + y, formula.add)


_GELU_C = math.sqrt(2.0 / math.pi)


def _activation(c: CellReader, b: Block, row: int, col: int, out: Readout, rule: str, fn, write) -> None:
    """A cell that is a function `fn` (its formula `rule`) of the same cell of the block it reads."""
    src = _reads(c.layout, b)[0]
    out.sources = [_cell(src, row, col)]
    if out.value is None:
        out.formula = rule
        return
    x = c.cell(src.key, row, col)
    out.terms = {"x": np.float64(x)}
    out.result = fn(x)
    out.formula = f"{rule}; {write(x, out.value)}"


def _gelu(c: CellReader, b: Block, row: int, col: int, out: Readout) -> None:
    _activation(c, b, row, col, out, formula.GELU,
                lambda x: 0.5 * x * (1.0 + math.tanh(_GELU_C * (x + 0.044715 * x ** 3))), formula.gelu)


def _lookup(c: CellReader, b: Block, row: int, col: int, out: Readout) -> None:
    tokens_b, wte = _reads(c.layout, b)
    out.sources = [_cell(tokens_b, 0, col)]
    if out.value is None:
        out.formula = _t("row {row} of the token's embedding column (shape only: no numbers)", row=row)
        return
    tok = int(round(c.cell(tokens_b.key, 0, col)))
    out.sources.append(_column(wte, tok))
    out.terms = {"token": np.float64(tok)}
    out.result = c.cell(wte.key, row, tok)
    out.formula = _t("embed[{token}][{row}] = {value} (no position is added)", token=token_text(c.layout.config, tok),
                     row=row, value=precise(out.value))


def _rope_angle(c: CellReader, b: Block, row: int, col: int, out: Readout) -> None:
    cfg = c.layout.config
    freq = float(inv_freq(cfg.head_size, cfg.rope_theta, dict(cfg.rope_scaling or ()))[row])
    out.terms = {"position": np.float64(col), "inv_freq": np.float64(freq)}
    out.result = col * freq
    out.formula = formula.rope_angle(col, row, cfg.head_size, cfg.rope_theta, freq, out.result, cfg.rope_scaling)


def _rms(c: CellReader, b: Block, row: int, col: int, out: Readout) -> None:
    inp = _reads(c.layout, b)[0]
    out.sources = [_column(inp, col)]
    eps = c.layout.config.norm_eps
    what = _t("sqrt(mean(x^2) + {eps}) over column {col} of {input}", eps=format(eps, "g"), col=col,
              input=_n(inp.name))
    if out.value is None:
        out.formula = what
        return
    _, x = _ln_input(c, b, col)
    square = float(np.mean(x * x))
    out.terms = {"inputs": x}
    out.result = math.sqrt(square + eps)
    out.formula = f"{what} = sqrt({precise(square)} + {eps:g}) = {precise(out.value)}"


def _rmsnorm(c: CellReader, b: Block, row: int, col: int, out: Readout) -> None:
    inp, rms, gain = _reads(c.layout, b)
    out.sources = [_cell(inp, row, col), _cell(rms, 0, col), _cell(gain, row, 0)]
    if out.value is None:
        out.formula = _t("{what} (shape only: no numbers)", what="x / rms * gain")
        return
    x, r, g = c.cell(inp.key, row, col), c.cell(rms.key, 0, col), c.cell(gain.key, row, 0)
    out.terms = {"x": np.float64(x), "rms": np.float64(r), "gain": np.float64(g)}
    out.result = x / r * g
    out.formula = f"x / rms * gain = {precise(x)} / {precise(r)} * {precise(g)} = {precise(out.value)}"


def _rope(c: CellReader, b: Block, row: int, col: int, out: Readout) -> None:
    vec, angle = _reads(c.layout, b)
    half = vec.rows.size // 2
    j, partner = row % half, (row + half) % (2 * half)
    out.sources = [_cell(vec, row, col), _cell(vec, partner, col), _cell(angle, j, col)]
    what = _t("element {row} of {vectors} turned with element {partner} by angle[{j}] of position {col}", row=row,
              vectors=_n(vec.name), partner=partner, j=j, col=col)
    if out.value is None:
        out.formula = what
        return
    pair = c.cells(vec.key, [min(row, partner), max(row, partner)], col)
    theta = c.cell(angle.key, j, col)
    out.terms = {"pair": pair, "angle": np.float64(theta)}
    turned = (pair[0] * math.cos(theta) - pair[1] * math.sin(theta), pair[1] * math.cos(theta) + pair[0] * math.sin(theta))
    out.result = turned[0] if row < half else turned[1]
    out.formula = f"{what}: {formula.rotation(pair, theta, np.array(turned))}"


def _silu(c: CellReader, b: Block, row: int, col: int, out: Readout) -> None:
    _activation(c, b, row, col, out, formula.SILU, lambda x: x / (1.0 + math.exp(-x)), formula.silu)


def _product(c: CellReader, b: Block, row: int, col: int, out: Readout) -> None:
    _elementwise(c, b, row, col, out, "x", ("left", "right"), lambda x, y: x * y, formula.product)


def _param(c: CellReader, b: Block, row: int, col: int, out: Readout) -> None:
    out.formula = _t("parameter {name} (a learned weight, not computed)", name=out.source_text())
    out.result = out.value


def _token_op(c: CellReader, b: Block, row: int, col: int, out: Readout) -> None:
    if out.value is None:
        out.formula = _t("input token at position {col}", col=col)
        return
    tok = int(round(out.value))
    out.result = out.value
    out.formula = _t("input token at position {col}: id {id} = {token}", col=col, id=tok,
                     token=token_text(c.layout.config, tok))


_OPS = {
    "matmul": _matmul, "embed": _embed, "ln_mean": _ln_mean, "ln_std": _ln_std, "layernorm": _layernorm,
    "softmax_max": _softmax_max, "softmax_sumexp": _softmax_sumexp, "softmax": _softmax,
    "attention": _attention, "attend": _attend, "residual": _residual, "gelu": _gelu,
    "param": _param, "token": _token_op, "lookup": _lookup, "rope_angle": _rope_angle, "rms": _rms,
    "rmsnorm": _rmsnorm, "rope": _rope, "silu": _silu, "product": _product,
}


# ------------------------------------------------------------------------------------ public

def explain(layout: Layout, trace: Mapping[str, np.ndarray] | None, weights: Weights | None,
            key: str, row: int, col: int) -> Readout:
    """The readout of cell (row, col) of block `key`. Masked attention cells (col > row) are
    explained as masked; anything else outside the block raises LayoutError (one line)."""
    row, col = int(row), int(col)
    block = check_cell(layout, key, row, col, "inspector").block
    cells = CellReader(layout, trace, weights)
    tokens = [int(t) for t in trace["tokens"]] if trace is not None else None
    L = i18n.current()
    where = L.join(t for t in (_dim_text(layout, block, "row", row, tokens),
                               _dim_text(layout, block, "col", col, tokens)) if t) or L.tr("the only cell")
    out = Readout(block.key, block.name, block.kind, block.op, block.source, _index(layout, block, row, col),
                  row, col, where, None, "")
    if block.triangle and col > row:
        out.masked = True
        after = block.op == "softmax"
        out.value = 0.0 if after else float("-inf")
        out.result = out.value
        out.formula = _t("masked: token {row} cannot attend to the later token {col} (weight 0 after softmax)",
                         row=row, col=col) if after else \
            _t("masked: token {row} cannot attend to the later token {col} (score -inf before softmax)", row=row, col=col)
        return out
    if cells.has_values(block.key):
        out.value = cells.cell(block.key, row, col)
    _OPS.get(block.op, _param)(cells, block, row, col, out)
    return out


def explain_ref(layout: Layout, trace, weights, ref: CellRef) -> Readout:
    return explain(layout, trace, weights, ref.block.key, ref.row, ref.col)


def pick(layout: Layout, trace, weights, origin, direction) -> Readout | None:
    """The readout of the first cell a ray (in the layout's space) hits, or None."""
    ref = layout.pick(origin, direction)
    return None if ref is None else explain_ref(layout, trace, weights, ref)
