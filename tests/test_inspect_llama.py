"""The cell readout for the Llama family: every op recomputes its value from the numbers its formula
shows (RMSNorm, rotary angles and rotations, SiLU, the gated product, grouped-query attention)."""

import math

import numpy as np
import pytest

from llmviz_blender import layout as lay
from llmviz_blender import model
from llmviz_blender.layout import readout as ins

TOL = 1e-5
LLAMA = dict(name="tl", family="llama", n_layer=2, n_head=4, n_kv_head=2, n_embd=16, n_inner=24, vocab_size=5,
             block_size=8, tied=True, qkv_bias=False)
LLAMA3 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
          "original_max_position_embeddings": 4}


@pytest.fixture(scope="module", params=["llama", "qwen2", "llama3-rope"])
def traced(request):
    fields = dict(LLAMA)
    if request.param == "qwen2":
        fields.update(qkv_bias=True, architecture="Qwen2ForCausalLM", tied=False)
    if request.param == "llama3-rope":
        fields.update(rope_theta=500000.0, rope_scaling=LLAMA3)
    config = model.config_from_dict(fields)
    init = model.random_weights(config, seed=1).params
    weights = model.Weights(config, {k: v if k.endswith("norm.weight") else v * 20 for k, v in init.items()})
    tokens = [3, 1, 4, 1, 0, 2]
    return lay.model_layout(config, len(tokens)), model.forward(weights, tokens), weights


def test_every_op_recomputes_its_value(traced):
    layout, trace, weights = traced
    rng = np.random.default_rng(0)
    ops = set()
    for block in layout.blocks:
        rows, cols = block.cells()
        for i in {0, len(rows) - 1, len(rows) // 2, *rng.integers(0, len(rows), 4).tolist()}:
            row, col = int(rows[i]), int(cols[i])
            r = ins.explain(layout, trace, weights, block.key, row, col)
            value = float(lay.block_values(block, trace, weights, np.array([row]), np.array([col]))[0])
            assert r.value == pytest.approx(value, abs=0), (block.key, row, col)
            assert r.result is not None and abs(r.result - r.value) <= TOL * max(1.0, abs(r.value)), \
                (block.key, row, col, r.formula)
            assert r.formula and "\n" not in r.formula
            ops.add(block.op)
    assert ops == {"token", "param", "lookup", "rope_angle", "rms", "rmsnorm", "matmul", "rope", "attention",
                   "softmax_max", "softmax_sumexp", "softmax", "attend", "residual", "silu", "product"}


def test_rotation_formula_shows_the_pair_and_angle(traced):
    layout, trace, weights = traced
    half = layout.config.head_size // 2
    r = ins.explain(layout, trace, weights, "h0.head1.q_rot", half + 1, 3)  # the second half of pair 1
    a, b = trace["h0.q"][1, 3, 1], trace["h0.q"][1, 3, half + 1]
    theta = float(trace["rope.angle"][3, 1])
    assert r.result == pytest.approx(b * math.cos(theta) + a * math.sin(theta), abs=1e-5)
    assert f"element {half + 1} of Q Vectors turned with element 1 by angle[1] of position 3" in r.formula
    assert {s.key for s in r.sources} == {"h0.head1.q", "rope"}


def test_grouped_query_attention_reads_the_shared_keys(traced):
    layout, trace, weights = traced
    r = ins.explain(layout, trace, weights, "h1.head3.att", 4, 2)
    assert [s.key for s in r.sources] == ["h1.head3.q_rot", "h1.head2.k_rot"]
    y = ins.explain(layout, trace, weights, "h1.head1.y", 0, 3)
    assert [s.key for s in y.sources] == ["h1.head1.att_sm", "h1.head0.v"]


def test_rms_and_lookup_formulas(traced):
    layout, trace, weights = traced
    eps = layout.config.norm_eps
    r = ins.explain(layout, trace, weights, "h0.ln2.rms", 0, 2)
    assert f"sqrt(mean(x^2) + {eps:g}) over column 2 of Attention Residual" in r.formula
    x = ins.explain(layout, trace, weights, "x", 3, 1)
    assert "no position is added" in x.formula and x.result == pytest.approx(weights["model.embed_tokens.weight"][1, 3])
