"""The cell inspector's pure part (layout/readout.py): ray -> cell, cell -> readout with its formula,
checked against the trace numbers; and the overlay boxes of the modal operator (ui/inspector.py, bpy)."""

import math
import re

import numpy as np
import pytest

from llmviz_blender import layout as lay
from llmviz_blender import model
from llmviz_blender.layout import readout as ins
from llmviz_blender.layout.formula import precise

TOL = 1e-5


@pytest.fixture(scope="module")
def nano():
    config = model.load_preset("nano-gpt")
    weights = model.load_weights(config.weights, config)
    tokens = model.encode(config, config.default_input)  # CBABBC
    trace = model.forward(weights, tokens)
    return model_layout(config, tokens), trace, weights


@pytest.fixture(scope="module")
def overlay():
    """ui.inspector: the hover state and highlight geometry of the modal operator (needs bpy)."""
    pytest.importorskip("bpy")
    from llmviz_blender.ui import inspector
    return inspector


def model_layout(config, tokens):
    return lay.model_layout(config, len(tokens))


def sample_cells(block, rng, n=4):
    """Corners, the middle and a few random cells of a block."""
    rows, cols = block.cells()
    idx = {0, len(rows) - 1, len(rows) // 2, *rng.integers(0, len(rows), n).tolist()}
    return [(int(rows[i]), int(cols[i])) for i in sorted(idx)]


def test_every_op_recomputes_its_value_from_the_formula_numbers(nano):
    layout, trace, weights = nano
    rng = np.random.default_rng(0)
    ops = set()
    for block in layout.blocks:
        for row, col in sample_cells(block, rng):
            r = ins.explain(layout, trace, weights, block.key, row, col)
            value = float(lay.block_values(block, trace, weights, np.array([row]), np.array([col]))[0])
            assert r.value == pytest.approx(value, abs=0), (block.key, row, col)
            assert r.result is not None and abs(r.result - r.value) <= TOL * max(1.0, abs(r.value)), \
                (block.key, row, col, r.formula)
            assert r.formula and "\n" not in r.formula
            ops.add(block.op)
    assert ops == {"token", "param", "embed", "ln_mean", "ln_std", "layernorm", "matmul", "attention",
                   "softmax_max", "softmax_sumexp", "softmax", "attend", "residual", "gelu"}


def test_matmul_readout_names_the_row_column_and_bias(nano):
    layout, trace, weights = nano
    r = ins.explain(layout, trace, weights, "h1.head2.q", 3, 4)
    assert r.where == "row 3 of A, column 4 of T (token 'B')"
    assert r.source_text() == "h1.q[2, 4, 3]"
    w = weights.params["transformer.h.1.attn.c_attn.weight"][2 * 16 + 3]  # Q rows come first
    x = trace["h1.ln1"][4]
    b = weights.params["transformer.h.1.attn.c_attn.bias"][2 * 16 + 3]
    np.testing.assert_allclose(r.terms["weights"], w)
    np.testing.assert_allclose(r.terms["inputs"], x)
    assert r.result == pytest.approx(float(b) + float(np.dot(w.astype(float), x.astype(float))))
    assert r.formula.startswith("bias + row 3 of Q Weights · column 4 of Layer Norm 1 = ")
    assert "... 45 more" in r.formula
    # the sources: weight row, input column, bias cell
    assert [(s.key, s.rows, s.cols) for s in r.sources] == [
        ("h1.head2.q_weight", (3, 3), (0, 47)), ("h1.ln1", (0, 47), (4, 4)), ("h1.head2.q_bias", (3, 3), (0, 0))]


def test_logits_have_no_bias_and_projection_reads_every_head(nano):
    layout, trace, weights = nano
    r = ins.explain(layout, trace, weights, "logits", 2, 5)
    assert "(no bias)" in r.formula and r.terms["bias"] == 0
    assert r.where == "row 2 of n_vocab (token 'C'), column 5 of T (token 'C')"
    p = ins.explain(layout, trace, weights, "h0.attn_proj", 1, 1)
    assert [s.key for s in p.sources[1:4]] == ["h0.head0.y", "h0.head1.y", "h0.head2.y"]
    np.testing.assert_allclose(p.terms["inputs"], trace["h0.y"][1])


def test_layer_norm_formula_shows_mean_std_gamma_beta(nano):
    layout, trace, weights = nano
    r = ins.explain(layout, trace, weights, "h0.ln1", 4, 1)
    t = r.terms
    assert (t["x"], t["mean"], t["std"]) == pytest.approx(
        (trace["x"][1, 4], trace["h0.ln1.mean"][1], trace["h0.ln1.std"][1]))
    assert r.formula.startswith("(x - mean) / std * gamma + beta = (")
    numbers = [float(v) for v in re.findall(r"-?\d+\.\d+", r.formula.split("=")[1])]
    x, mean, std, gamma, beta = numbers[:5]
    assert (x - mean) / std * gamma + beta == pytest.approx(r.value, abs=2e-3)  # the printed (rounded) numbers
    m = ins.explain(layout, trace, weights, "h0.ln1.mean", 0, 3)
    assert m.where == "column 3 of T (token 'B')" and "/ 48 =" in m.formula
    s = ins.explain(layout, trace, weights, "h0.ln1.std", 0, 3)
    assert s.result == pytest.approx(math.sqrt(np.var(trace["x"][3].astype(float)) + model.LN_EPS))


def test_softmax_aggregates_and_attention(nano):
    layout, trace, weights = nano
    a = ins.explain(layout, trace, weights, "h0.head0.att", 4, 2)
    assert a.formula.startswith("q (column 4 of Q Vectors) · k (column 2 of K Vectors) / sqrt(16) = ")
    assert a.result == pytest.approx(float(trace["h0.att"][0, 4, 2]), abs=TOL)
    mx = ins.explain(layout, trace, weights, "h0.head1.att.max", 3, 0)
    assert mx.result == pytest.approx(float(trace["h0.att.max"][1, 3]))
    assert mx.sources[0].key == "h0.head1.att" and mx.sources[0].cols == (0, 3)  # causal: keys 0..3
    se = ins.explain(layout, trace, weights, "h0.head1.att.sumexp", 3, 0)
    assert f"max {precise(trace['h0.att.max'][1, 3])}" in se.formula
    sm = ins.explain(layout, trace, weights, "h0.head1.att_sm", 3, 1)
    assert sm.terms["max"] == pytest.approx(trace["h0.att.max"][1, 3])
    assert sm.terms["sumexp"] == pytest.approx(trace["h0.att.sumexp"][1, 3])
    p = ins.explain(layout, trace, weights, "probs", 1, 5)
    assert p.terms["sumexp"] == pytest.approx(trace["logits.sumexp"][5])
    lm = ins.explain(layout, trace, weights, "logits.max", 0, 5)
    assert lm.formula.startswith("max of Logits column 5 = max[")


def test_masked_attention_cells_say_masked(nano):
    layout, trace, weights = nano
    r = ins.explain(layout, trace, weights, "h0.head0.att", 2, 4)
    assert r.masked and r.value == -math.inf and "masked" in r.formula and "-inf" in r.formula
    assert r.value_text() == "masked"
    s = ins.explain(layout, trace, weights, "h2.head1.att_sm", 0, 5)
    assert s.masked and s.value == 0.0 and "weight 0" in s.formula


def test_embedding_weights_tokens_and_attend(nano):
    layout, trace, weights = nano
    x = ins.explain(layout, trace, weights, "x", 5, 2)
    assert x.formula.startswith("wte['A'][5] + wpe[2][5] = ")
    assert [s.key for s in x.sources] == ["tokens", "wte", "wpe"] and x.sources[1].cols == (0, 0)  # 'A' = id 0
    w = ins.explain(layout, trace, weights, "h0.head1.q_weight", 2, 7)
    assert w.source_text() == "transformer.h.0.attn.c_attn.weight[18, 7]" and "parameter" in w.formula
    assert w.value == pytest.approx(weights.params["transformer.h.0.attn.c_attn.weight"][18, 7])
    wpe = ins.explain(layout, trace, weights, "wpe", 2, 9)
    assert wpe.where == "row 2 of C, column 9 of block_size (position 9)"
    t = ins.explain(layout, trace, weights, "tokens", 0, 0)
    assert t.value_text() == "2" and t.formula == "input token at position 0: id 2 = 'C'"
    y = ins.explain(layout, trace, weights, "h1.head1.y", 2, 3)
    np.testing.assert_allclose(y.terms["weights"], trace["h1.att_sm"][1, 3, :4])
    np.testing.assert_allclose(y.terms["values"], trace["h1.v"][1, :4, 2])
    g = ins.explain(layout, trace, weights, "h0.gelu", 7, 2)
    assert g.terms["x"] == pytest.approx(trace["h0.fc"][2, 7]) and g.formula.startswith("GELU(x) = 0.5 x")
    rr = ins.explain(layout, trace, weights, "h0.mlp_resid", 3, 1)
    assert rr.formula.startswith("Attention Residual + MLP Result = ")


def test_id_vocabulary_and_shape_only_readouts():
    config = model.ModelConfig("tiny", n_layer=1, n_head=2, n_embd=8, vocab_size=11, block_size=5)
    weights = model.random_weights(config, seed=3)
    trace = model.forward(weights, [7, 3, 10])
    layout = lay.model_layout(config, 3)
    r = ins.explain(layout, trace, weights, "probs", 10, 2)
    assert r.where == "row 10 of n_vocab (token 10), column 2 of T (token 10)"
    assert abs(r.result - r.value) <= TOL
    shape_only = ins.explain(layout, None, None, "h0.fc", 1, 2)
    assert shape_only.value is None and shape_only.result is None
    assert "shape only" in shape_only.formula and shape_only.value_text() == "no numbers (shape only)"
    assert len(shape_only.lines()) == 4 and shape_only.sources  # still highlights what it reads


def test_bad_cells_raise_one_line_layout_errors(nano):
    layout, trace, weights = nano
    with pytest.raises(lay.LayoutError, match="no block 'nope'"):
        ins.explain(layout, trace, weights, "nope", 0, 0)
    with pytest.raises(lay.LayoutError, match=r"Q Vectors \(h0.head0.q\) has 16 rows x 6 columns, no cell \(16, 0\)"):
        ins.explain(layout, trace, weights, "h0.head0.q", 16, 0)
    with pytest.raises(lay.LayoutError):
        ins.explain(layout, trace, weights, "x", 0, -1)


def test_ray_pick_and_hover_highlight(nano, overlay):
    layout, trace, weights = nano
    centre = layout.cell_position("h1.fc", 5, 2)
    origin = centre + np.array([3.0, -80.0, 2.0])
    r = ins.pick(layout, trace, weights, origin, centre - origin)
    assert r is not None and r.cell == ("h1.fc", 5, 2)
    assert ins.pick(layout, trace, weights, origin, origin - centre) is None  # pointing away
    hover = overlay.Inspector(layout, trace, weights)
    first = hover.hover(origin, centre - origin)
    assert first.cell == ("h1.fc", 5, 2) and hover.hover(origin, centre - origin) is first
    cell, source = hover.segments["cell"], hover.segments["source"]
    assert cell.shape == (24, 3) and source.shape == (24 * len(first.sources), 3)
    assert cell.min(axis=0)[0] < centre[0] < cell.max(axis=0)[0]
    assert hover.hover(origin, origin - centre) is None and hover.segments == {}


def test_highlight_boxes_cover_the_source_spans(nano, overlay):
    layout, trace, weights = nano
    r = ins.explain(layout, trace, weights, "h0.head0.k", 1, 2)
    boxes = overlay.highlight_boxes(layout, r)
    assert [b[0] for b in boxes] == ["cell", "source", "source", "source"]
    _, lo, hi = boxes[1]  # the weight row: all C columns of row 1
    w = layout["h0.head0.k_weight"]
    for col in (0, 47):
        p = layout.cell_position(w.key, 1, col)
        assert np.all(lo < p) and np.all(p < hi)
    assert not np.all(lo < layout.cell_position(w.key, 2, 0))
    seg = overlay.box_segments([0, 0, 0], [1, 2, 3])
    lengths = np.linalg.norm(seg[1::2] - seg[0::2], axis=1)
    assert sorted(lengths.round(6).tolist()) == [1.0] * 4 + [2.0] * 4 + [3.0] * 4


# ------------------------------------------------------------------------------ blocks drawn as boxes

def march(layout, origin, direction, step=0.002):
    """The first cell along a ray, found by sampling it finely inside every block box (reference)."""
    o, d = np.asarray(origin, float), np.asarray(direction, float) / np.linalg.norm(direction)
    best = (np.inf, None)
    h = lay.CELL / 2
    for i, b in enumerate(layout.blocks):
        with np.errstate(divide="ignore", invalid="ignore"):
            t1, t2 = (layout.lo[i] - o) / d, (layout.hi[i] - o) / d
        near = np.nanmax(np.minimum(t1, t2).clip(min=0))
        far = np.nanmin(np.maximum(t1, t2))
        if near > far or near > best[0]:
            continue
        t = np.arange(near, far + step, step)
        p = o + t[:, None] * d
        col = np.round((p[:, 0] - b.origin[0]) / lay.PITCH).astype(int)
        row = np.round((b.origin[2] - p[:, 2]) / lay.PITCH).astype(int)
        ok = (np.abs(p[:, 0] - b.origin[0] - col * lay.PITCH) <= h) & (np.abs(b.origin[2] - row * lay.PITCH - p[:, 2]) <= h)
        ok &= (row >= 0) & (row < b.rows.size) & (col >= 0) & (col < b.cols.size) & ((col <= row) | (not b.triangle))
        if ok.any():
            k = int(np.argmax(ok))
            best = min(best, (t[k], (b.key, int(row[k]), int(col[k]))), key=lambda x: x[0])
    return best[1]


def test_pick_agrees_with_a_fine_march_for_any_ray(nano):
    """The pick computes the first cell from the slabs a ray crosses; sampling the ray finely finds
    the same cell for rays from every side (grazing ones along a block's face included)."""
    layout = nano[0]
    rng = np.random.default_rng(1)
    keys = ["h0.fc", "h1.head2.att", "wte", "h0.head0.q_weight", "probs", "h2.ln2.mean"]
    checked = 0
    for key in keys * 6:
        block = layout[key]
        rows, cols = block.cells()
        k = int(rng.integers(len(rows)))
        aim = layout.cell_position(key, int(rows[k]), int(cols[k])) + rng.uniform(-0.7, 0.7, 3)
        direction = rng.normal(size=3)
        if checked % 4 == 0:
            direction[1] *= 0.02  # nearly along the blocks' faces
        origin = aim - 60 * direction / np.linalg.norm(direction)
        ref = layout.pick(origin, direction)
        got = None if ref is None else (ref.block.key, ref.row, ref.col)
        assert got == march(layout, origin, direction), (key, origin, direction)
        checked += 1


@pytest.fixture(scope="module")
def gpt2():
    """GPT-2 small with seeded random weights: its big blocks are drawn as boxes."""
    config = model.load_preset("gpt2-small")
    weights = model.random_weights(config, seed=0)
    tokens = [464, 3139, 286, 4881, 318, 6342, 13, 198]
    return lay.model_layout(config, len(tokens)), model.forward(weights, tokens), weights


def test_hover_on_gpt2_small_boxes_reads_the_numbers(gpt2, overlay):
    """Hovering a block drawn as one box gives its cell, value and formula from the trace and the
    weights (not from any picture of them), in well under a frame's time however big the block."""
    import time
    layout, trace, weights = gpt2
    plan = lay.plan_lod(layout.blocks, "auto")
    hover = overlay.Inspector(layout, trace, weights)
    for key, row, col in [("h5.fc", 1021, 3), ("wte", 700, 50000), ("logits", 50000, 7), ("h11.head0.att", 6, 2),
                          ("h3.head0.q_weight", 60, 700), ("h0.attn_resid", 767, 0)]:
        assert plan[key] == "box" or key == "h11.head0.att"
        centre = layout.cell_position(key, row, col)
        for offset in ([3.0, -80.0, 2.0], [-400.0, -300.0, 250.0]):
            origin = centre + np.array(offset)
            start = time.perf_counter()
            r = hover.hover(origin, centre - origin)
            took = time.perf_counter() - start
            assert r is not None and r.cell == (key, row, col), (key, offset, r and r.cell)
            assert took < 0.25, f"{key}: {took:.3f} s"
        block = layout[key]
        value = float(lay.block_values(block, trace, weights, np.array([row]), np.array([col]))[0])
        assert r.value == value and abs(r.result - value) <= 1e-4 * max(1.0, abs(value)), r.formula
        assert len(hover.segments["cell"]) == 24
    # a ray grazing the whole width of the token embedding (50,257 columns) is as quick
    wte = layout["wte"]
    start = time.perf_counter()
    ref = layout.pick(layout.cell_position("wte", 5, 0) + [-10.0, -0.2, 0.0], [1.0, 0.0, 0.0])
    assert time.perf_counter() - start < 0.25 and ref is not None and ref.block is wte and ref.row == 5


def test_typed_readout_on_gpt2_small(gpt2):
    layout, trace, weights = gpt2
    r = ins.explain(layout, trace, weights, "h5.mlp.fc", 1021, 3)  # a layer's group may stand in the key
    assert r.key == "h5.fc" and r.where.startswith("row 1021 of 4C, column 3 of T")
    np.testing.assert_allclose(r.terms["weights"], weights.params["transformer.h.5.mlp.c_fc.weight"][1021])
    assert r.value == pytest.approx(float(trace["h5.fc"][3, 1021]))


def test_hover_state_of_a_model_built_as_boxes(fresh_blend, overlay):
    """The modal inspector's state on a scene whose blocks are all boxes: the model's space from
    the box objects, and the hovered cell from the layout."""
    from llmviz_blender import scene
    coll = scene.build("nano-gpt", lod="boxes")
    assert not any("llmviz_key" in o and o.type == "MESH" and o.modifiers for o in coll.all_objects)
    state = overlay._Hover(coll)
    assert state.matrix is not None
    layout = state.inspector.layout
    centre = layout.cell_position("h1.fc", 5, 2)
    origin = centre + np.array([3.0, -80.0, 2.0])
    r = state.inspector.hover(origin, centre - origin)
    assert r.cell == ("h1.fc", 5, 2) and r.value is not None
