"""Layout: inventory, placement, coverage of every source, cell <-> world round trips, LOD plans."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmviz_blender import layout as L
from llmviz_blender import model

NANO = model.load_preset("nano-gpt")
UNDRAWN = {"tok_emb", "pos_emb"}  # lookups shown by the Input Embed block


@st.composite
def configs(draw):
    n_head = draw(st.integers(1, 4))
    config = model.ModelConfig(
        name="prop", n_layer=draw(st.sampled_from([1, 2, 3, 13])), n_head=n_head,
        n_embd=n_head * draw(st.integers(1, 6)), vocab_size=draw(st.integers(2, 9)),
        block_size=draw(st.integers(1, 8)))
    return config, draw(st.integers(1, config.block_size))


def _overlaps(lay: L.Layout) -> list[tuple[str, str]]:
    lo, hi = lay.lo, lay.hi
    bad = []
    for i in range(len(lo)):
        hit = np.all((lo[i] < hi[i + 1:]) & (lo[i + 1:] < hi[i]), axis=1)
        bad += [(lay.blocks[i].key, lay.blocks[i + 1 + j].key) for j in np.flatnonzero(hit)]
    return bad


def _coverage(lay: L.Layout, trace, weights):
    """Source name -> boolean array of the indices some cell shows."""
    seen = {}
    for b in lay.blocks:
        arr = L.source_array(b.source, trace, weights)
        mask = seen.setdefault(b.source, np.zeros(arr.size, bool))
        rows, cols = b.cells()
        idx = b.src_index(rows, cols)
        assert idx.min() >= 0 and idx.max() < arr.size, b.key
        assert not mask[idx].any(), f"{b.key} repeats cells of {b.source}"
        mask[idx] = True
    return seen


@settings(max_examples=30, deadline=None)
@given(configs())
def test_layout_properties(case):
    config, t = case
    lay = L.model_layout(config, t)
    assert not _overlaps(lay)
    # deterministic
    again = L.model_layout(config, t)
    assert [b.key for b in again.blocks] == [b.key for b in lay.blocks]
    np.testing.assert_array_equal(again.lo, lay.lo)
    # every block is read after what it reads, and reads only existing blocks
    seen = set()
    for b in lay.blocks:
        assert set(b.reads) <= seen, b.key
        seen.add(b.key)
    # cells inside their block, counts equal shapes, round trips
    for b in lay.blocks:
        rows, cols = b.cells()
        r, c = b.shape
        assert len(rows) == b.n_cells == (r * (r + 1) // 2 if b.triangle else r * c)
        pos = b.positions(rows, cols)
        lo, hi = b.bounds()
        assert np.all(pos - L.CELL / 2 >= lo - 1e-9) and np.all(pos + L.CELL / 2 <= hi + 1e-9)
        for k in {0, len(rows) // 2, len(rows) - 1}:
            ref = lay.cell_at(pos[k])
            assert ref is not None and (ref.block.key, ref.row, ref.col) == (b.key, rows[k], cols[k])
            np.testing.assert_allclose(lay.cell_position(b.key, ref.row, ref.col), pos[k])
    # every weight and every drawn trace tensor is fully covered, exactly once (masked attention excepted)
    w = model.random_weights(config, 0)
    trace = model.forward(w, list(range(t)) if t <= config.vocab_size else [0] * t)
    coverage = _coverage(lay, trace, w)
    for key in model.param_shapes(config):
        assert coverage[f"param:{key}"].all(), key
    for name in trace:
        if name in UNDRAWN:
            assert name not in coverage
            continue
        finite = np.isfinite(trace[name]).ravel() if name.endswith(".att") else np.ones(trace[name].size, bool)
        if name.endswith(".att_sm"):
            finite = np.isfinite(trace[name.replace("att_sm", "att")]).ravel()
        np.testing.assert_array_equal(coverage[name], finite, err_msg=name)


def test_nano_inventory_and_directions():
    lay = L.model_layout(NANO, 6, layers_per_column=12)  # one column, as the reference draws it
    names = {b.name for b in lay.blocks}
    for expected in ["Tokens", "Token Embed", "Position Embed", "Input Embed", "Layer Norm 1", "Layer Norm 1 Mean",
                     "Q Weights", "Q Bias", "Q Vectors", "K Vectors", "V Vectors", "Attention Matrix",
                     "Softmax Max", "Softmax Sum-Exp", "Attention Softmax", "V Output", "Projection Weights",
                     "Attention Output", "Attention Residual", "MLP Weights", "MLP", "GELU", "MLP Result",
                     "MLP Residual", "LM Head Weights", "Logits", "Probabilities"]:
        assert expected in names, expected
    kinds = {b.key: b.kind for b in lay.blocks}
    assert kinds["wte"] == "weight" and kinds["x"] == "intermediate" and kinds["h0.ln1.mean"] == "aggregate"
    assert kinds["h1.head2.att.sumexp"] == "aggregate" and kinds["logits.max"] == "aggregate"
    # the stack flows downward and the residual stream stays in the centre
    z = [lay[k].origin[2] for k in ["tokens", "x", "h0.ln1", "h0.attn_resid", "h0.mlp_resid", "h2.mlp_resid",
                                    "logits", "probs"]]
    assert z == sorted(z, reverse=True)
    for k in ["x", "h0.attn_resid", "h2.mlp_resid", "probs"]:
        lo, hi = lay.bounds([lay[k]])
        assert abs(lo[0] + hi[0]) < 1e-9
    # weights to one side, position embedding on the other; heads stacked in depth
    assert lay["wte"].origin[0] < 0 < lay["wpe"].origin[0]
    assert lay["h0.head0.q_weight"].origin[0] < lay["h0.head0.q"].origin[0]
    ys = [lay[f"h0.head{h}.q"].origin[1] for h in range(3)]
    assert ys[0] < ys[1] < ys[2]
    assert lay["h0.head1.q"].origin[0] == lay["h0.head0.q"].origin[0]
    # shapes and dimension labels
    assert lay["h0.head0.q_weight"].shape == (16, 48)
    assert (lay["h0.head0.q_weight"].rows.label, lay["h0.head0.q_weight"].cols.label) == ("A", "C")
    assert lay["h0.fc"].shape == (192, 6) and lay["h0.fc"].rows.label == "4C"
    assert lay["wte"].cols.label == "n_vocab" and lay["h0.head0.att"].n_cells == 21
    # gap between neighbours is the margin
    assert L.margin(NANO) == 12 and L.margin(model.load_preset("gpt3")) == pytest.approx(1228.8)


def test_auto_columns_fit_the_frame():
    assert L.auto_layers_per_column(NANO, 6) == 1  # a column per layer, embedding and output beside them
    lay = L.model_layout(NANO, 6)
    lo, hi = lay.bounds()
    assert 1.2 < (hi[0] - lo[0]) / (hi[2] - lo[2]) < 2.2

    def centre(key):
        lo, hi = lay.bounds([lay[key]])
        return (lo[0] + hi[0]) / 2

    assert centre("x") == 0 < centre("h0.mlp_resid") < centre("h1.mlp_resid") < centre("h2.mlp_resid") < centre("probs")
    assert lay["tokens"].origin[2] == lay["h0.ln1.mean"].origin[2] == lay["ln_f.mean"].origin[2]  # tops align
    assert lay["h1.ln1"].origin[2] == lay["h0.ln1"].origin[2]
    assert L.auto_layers_per_column(model.load_preset("gpt3"), 6) == 12
    assert not _overlaps(lay)


def test_large_models_wrap_into_columns():
    config = model.load_preset("gpt2-xl")
    lay = L.model_layout(config, 4)
    cx = {i: (lay.bounds([lay[f"h{i}.mlp_resid"]])[0][0] + lay.bounds([lay[f"h{i}.mlp_resid"]])[1][0]) / 2
          for i in range(48)}
    assert len({round(cx[i]) for i in range(48)}) == 4
    assert all(cx[i] == cx[i - 1] for i in range(1, 48) if i % 12)
    assert lay["h12.ln1"].origin[2] == lay["h0.ln1"].origin[2]
    small = L.model_layout(config.replace(n_layer=26, n_head=2, n_embd=8, vocab_size=50, block_size=16), 4)
    assert not _overlaps(small)  # three columns, the last one short, output below them all


def test_values_and_shade():
    w = model.default_weights(NANO)
    trace = model.forward(w, [2, 1, 0, 1, 1, 2])
    lay = L.model_layout(NANO, 6)
    q = lay["h1.head2.q"]
    values = L.block_values(q, trace, w)
    rows, cols = q.cells()
    np.testing.assert_array_equal(values, trace["h1.q"][2][cols, rows])
    wq = lay["h1.head2.k_weight"]
    np.testing.assert_array_equal(
        L.block_values(wq, trace, w).reshape(16, 48),
        w["transformer.h.1.attn.c_attn.weight"][48 + 32:48 + 48])
    assert L.block_values(q, None, None) is None
    s = L.shade(np.array([-2.0, 0.0, 1.0, -np.inf], np.float32))
    assert s[0] == -1.0 and s[1] == 0.0 and abs(s[2] - np.sqrt(0.5)) < 0.02 and s[3] == -1.0
    ramp = np.linspace(-1, 1, 101, dtype=np.float32)
    outlier = L.shade(np.append(ramp, 1000.0))  # one outlier does not grey out the rest
    assert outlier[:101].min() <= -0.97 and outlier[:101].max() >= 0.97 and outlier[50] == 0
    assert np.all(np.diff(outlier[:101]) >= 0)
    assert outlier[-1] == 1.0
    sparse = L.shade(np.array([0, 0, 0, 0, 3.0] * 10 + [0] * 500, np.float32))
    assert sparse.max() == 1.0  # a percentile of 0 falls back to the maximum
    assert not L.shade(np.zeros(3, np.float32)).any()


def test_pick():
    lay = L.model_layout(NANO, 6)
    target = lay.cell_position("h0.head2.q", 3, 2)
    ref = lay.pick(target + [0, 50, 0], [0, -1, 0])  # from behind: the last head is nearest
    assert ref is not None and ref.block.key == "h0.head2.q" and (ref.row, ref.col) == (3, 2)
    ref = lay.pick(target + [0.2, 50, 0.2], [0, -1, 0])
    assert (ref.block.key, ref.row, ref.col) == ("h0.head2.q", 3, 2)
    ref = lay.pick(target - [0, 50, 0], [0, 1, 0])  # from the front: head 0 hides the others
    assert (ref.block.key, ref.row, ref.col) == ("h0.head0.q", 3, 2)
    assert lay.pick(target - [0, 50, 0] + [L.PITCH / 2, 0, 0], [0, 1, 0]) is None  # between cells
    oblique = lay.cell_position("x", 10, 1)
    ref = lay.pick(oblique + [-30, -40, 25], np.array([30, 40, -25]))
    assert (ref.block.key, ref.row, ref.col) == ("x", 10, 1)


def test_lod_plans():
    gpt2 = L.model_layout(model.load_preset("gpt2-small"), 6)
    plan = L.plan_lod(gpt2.blocks)
    cells = [b for b in gpt2.blocks if plan[b.key] == "cells"]
    assert cells and all(b.n_cells <= 65_536 for b in cells)
    assert plan["wte"] == "box" and plan["h0.fc_weight"] == "box"
    assert sum(b.n_cells for b in cells) * L.MEMORY_PER_INSTANCE <= 2 * 2**30
    with pytest.raises(L.LayoutError, match=r"largest block 'Token Embed' \(wte\) has 38,597,376 cells"):
        L.plan_lod(gpt2.blocks, "cells")
    nano = L.model_layout(NANO, 6)
    assert set(L.plan_lod(nano.blocks).values()) == {"cells"}
    assert set(L.plan_lod(nano.blocks, "boxes").values()) == {"box"}
    assert L.plan_lod(nano.blocks, max_cells=100)["h0.fc"] == "box"
    gpt3 = L.model_layout(model.load_preset("gpt3"), 6)
    plan3 = L.plan_lod(gpt3.blocks)
    assert sum(v == "cells" for v in plan3.values()) <= 2500  # one object per per-cell block
    assert sum(v == "cells" for v in L.plan_lod(nano.blocks, max_objects=10).values()) <= 10
    with pytest.raises(L.LayoutError, match="level of detail must be one of"):
        L.plan_lod(nano.blocks, "huge")


def test_comparison_side_by_side():
    names = ["nano-gpt", "gpt2-small", "gpt2-xl", "gpt3"]
    layouts = L.comparison_layout([model.load_preset(n) for n in names], 6)
    boxes = [lay.bounds() for lay in layouts]
    for (lo_a, hi_a), (lo_b, hi_b) in zip(boxes, boxes[1:]):
        assert hi_a[0] < lo_b[0]
    assert all(hi[2] == 0 for _, hi in boxes)
    heights = [hi[2] - lo[2] for lo, hi in boxes]
    assert heights == sorted(heights) and heights[-1] > 500 * heights[0]


def test_camera_targets_name_a_layers_group_or_a_key_prefix():
    layout = L.model_layout(NANO, 6)
    mlp = {b.key for b in layout.under("h0.mlp")}
    assert {"h0.fc_weight", "h0.fc", "h0.gelu", "h0.mlp_weight", "h0.mlp"} <= mlp and "h0.ln2" not in mlp
    assert all(b.layer == 1 for b in layout.under("h1.attention")) and len(layout.under("h1.attention")) > 20
    assert {b.key for b in layout.under("h0.head0")} >= {"h0.head0.q", "h0.head0.att_sm"}
    assert layout.under("h0.nothing") == []
    layers = layout.under("layers")  # every transformer layer, nothing before or after
    assert {b.layer for b in layers} == set(range(NANO.n_layer))
    assert len(layers) == sum(1 for b in layout.blocks if b.layer >= 0) and "wte" not in {b.key for b in layers}


def test_comparison_columns_small_models_wrap_like_stills():
    small = [model.load_preset(n) for n in ("nano-gpt", "nano-llama")]
    k = L.comparison_columns(small, [6, 6])
    assert 1 <= k < L.LAYERS_PER_COLUMN  # each model in a few columns, not one tall thread
    assert L.comparison_columns(small, [6, 6], aspect=16 / 9) == L.auto_layers_per_column(small[0], 6, 8 / 9)
    assert L.comparison_columns([*small, model.load_preset("gpt3")], [6, 6, 6]) == L.LAYERS_PER_COLUMN


def test_vocabulary_wide_blocks_dwarf_gpt2_and_a_picture_of_it_frames_its_body():
    gpt2 = L.model_layout(model.load_preset("gpt2-small"), 32)
    assert {"wte", "lm_head", "logits", "probs"} <= {b.key for b in gpt2.dwarfing()}
    (lo, hi), (full_lo, full_hi) = gpt2.body(), gpt2.bounds()
    assert np.all((hi - lo)[[0, 2]] < 0.5 * (full_hi - full_lo)[[0, 2]])  # not the L of two 50,257-row bars
    layers_lo, layers_hi = gpt2.bounds(gpt2.under(L.LAYERS))
    assert np.all(lo <= layers_lo) and np.all(layers_hi <= hi)
    assert gpt2.layers_per_column == 2  # the layers, not the bars, fit the frame
    assert L.model_layout(model.load_preset("gpt2-small"), 32, aspect=16 / 9, fit=L.LAYERS).layers_per_column == 2
    nano = L.model_layout(NANO, 6)
    assert not nano.dwarfing() and all(np.array_equal(a, b) for a, b in zip(nano.body(), nano.bounds()))


def test_sections_stacked_in_a_column_leave_room_for_their_headings():
    from llmviz_blender.layout.place import HEADING_ROOM, heading_size
    gpt2 = L.model_layout(model.load_preset("gpt2-small"), 32)
    above, below = (gpt2.bounds([b for b in gpt2.blocks if b.layer == i]) for i in (0, 1))
    assert np.isclose(above[0][0], below[0][0])  # layer 1 stands under layer 0
    assert above[0][2] - below[1][2] >= HEADING_ROOM * heading_size(gpt2) * 0.99
    flat = L.model_layout(model.load_preset("gpt2-small"), 32, headings=False)  # a comparison's
    assert flat.bounds()[1][0] - flat.bounds()[0][0] < gpt2.bounds()[1][0] - gpt2.bounds()[0][0]


def test_a_still_of_a_wall_of_cells_is_seen_square_on_through_a_long_lens():
    from llmviz_blender.composition.camera import FLAT, FRONT, LONG_LENS, still_view
    assert still_view([((0, 0, 0), (100, 1, 60))]) == {}  # the house view for what can be seen in 3-D
    wide = ((0, 0, 0), (FLAT * L.PITCH * 1.1, 1, 60))
    assert still_view([wide]) == {"direction": FRONT, "fov_y": LONG_LENS}
