"""The Llama family's walkthrough (pure): its chapters tell RMSNorm, rotary positions, grouped-query
attention and the gated MLP with the trace's numbers, and its close-ups recompute their values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from llmviz_blender import layout as L
from llmviz_blender import model
from llmviz_blender import timeline as tl
from llmviz_blender.layout.formula import num

CONFIG = model.ModelConfig("tiny-llama", 2, 4, 16, 5, 8, family="llama", n_kv_head=2, n_inner=24, qkv_bias=False,
                           vocab=("the", "cat", "sat", "on", "mat"))
TOKENS = [0, 1, 2, 3, 0]


@pytest.fixture(scope="module")
def walk():
    weights = model.random_weights(CONFIG, seed=4)
    gen = model.generate(weights, TOKENS, 2)
    lay = L.model_layout(CONFIG, len(gen.tokens) - 1)
    trace = gen.traces[-1]
    return tl.build_timeline(lay, trace, generation=gen, weights=weights), trace, lay


def captions(t: tl.Timeline, chapter: str) -> str:
    return " ".join(s.caption for c in t.chapters if c.id == chapter for s in c.steps)


def test_chapters_tell_what_differs_from_gpt2(walk):
    t, trace, _ = walk
    emb, ln, att, mlp = (captions(t, c) for c in ("embedding", "layer_norm", "attention", "mlp"))
    assert "no position is added" in emb and "rotations (RoPE)" in emb
    assert "root mean square" in ln and num(trace["h0.ln1.rms"][0]) in ln
    assert "rotated" in att and "only 2 K/V heads serve the 4, 2 each" in att
    assert "KV cache keeps 16 numbers per token and layer instead of 32" in att
    assert "Head 1 has its own queries and shares head 0's keys and values." in att
    assert "Head 2 does the same with its own weights." in att  # the first of the second group
    assert "gated MLP (SwiGLU)" in mlp and "SiLU" in mlp
    assert "final RMSNorm" in captions(t, "output")
    assert "4 query heads sharing 2 K/V heads per layer" in captions(t, "overview")


def test_rotary_close_up_recomputes(walk):
    t, trace, _ = walk
    cu = next(c for c in t.closeups if c.kind == "rotary_pair")
    a, b = cu.numbers["before"]
    theta = float(cu.numbers["angle"])
    after = cu.numbers["after"]
    assert after[0] == pytest.approx(a * math.cos(theta) - b * math.sin(theta), abs=1e-5)
    assert after[1] == pytest.approx(b * math.cos(theta) + a * math.sin(theta), abs=1e-5)
    key, j, col = cu.target
    assert float(trace["rope.angle"][col, j]) == pytest.approx(theta)
    assert cu.value == pytest.approx(float(trace["h0.q_rot"][0, col, j]))


def test_gated_close_up_recomputes(walk):
    t, trace, _ = walk
    cu = next(c for c in t.closeups if c.kind == "gated_value")
    n = cu.numbers
    assert float(n["gate"]) == pytest.approx(float(n["gate_weights"] @ n["inputs"]), abs=1e-5)
    assert float(n["up"]) == pytest.approx(float(n["up_weights"] @ n["inputs"]), abs=1e-5)
    assert float(n["silu"]) == pytest.approx(float(n["gate"]) / (1 + math.exp(-float(n["gate"]))), abs=1e-6)
    assert cu.value == pytest.approx(float(n["silu"]) * float(n["up"]), abs=1e-6)
    _, row, col = cu.target
    assert cu.value == pytest.approx(float(trace["h0.swiglu"][col, row]))


def test_attention_close_up_reads_rotated_shared_keys(walk):
    t, _, lay = walk
    cu = next(c for c in t.closeups if c.kind == "attention_row")
    blocks = {key for key, _, _ in cu.sources}
    assert {"h0.head0.q_rot", "h0.head0.k_rot"} <= blocks
    assert lay["h0.head1.att"].reads == ("h0.head1.q_rot", "h0.head0.k_rot")  # head 1 shares head 0's K


def test_shared_kv_heads_drawn_once_between_their_query_heads():
    lay = L.model_layout(CONFIG, 5)
    assert "h0.head1.k" not in lay.by_key and "h0.head3.v" not in lay.by_key
    depth = {h: lay[f"h0.head{h}.q"].origin[1] for h in range(4)}
    assert lay["h0.head0.k"].origin[1] == pytest.approx((depth[0] + depth[1]) / 2)
    assert lay["h0.head2.v"].origin[1] == pytest.approx((depth[2] + depth[3]) / 2)


def test_facts_chapter_names_gated_neurons():
    """A seeded model whose answer first tops the lens after an MLP: the chapter names the gated neurons
    (SiLU(gate) x up) with their values from the trace."""
    from llmviz_blender.timeline import facts_chapter
    for seed in range(100):
        init = model.random_weights(CONFIG, seed=seed).params  # N(0, 0.02): scaled up, every layer matters
        weights = model.Weights(CONFIG, {k: v if k.endswith("norm.weight") else v * 25 for k, v in init.items()})
        trace = model.forward(weights, TOKENS)
        found = facts_chapter.find(weights, trace, len(TOKENS) - 1)
        if found.stage == "mlp" and found.before.target_rank != 1:
            break
    else:
        pytest.fail("no seed gives an answer made by an MLP")
    t = tl.build_timeline(L.model_layout(CONFIG, len(TOKENS)), trace, chapters=["facts"], weights=weights)
    text = captions(t, "facts")
    act = np.asarray(trace[f"h{found.layer}.swiglu"][-1], np.float64)
    best = int(np.argmax(act))
    assert f"SiLU(gate) x up lets the strongest through: neurons {best} ({num(act[best])})" in text
    assert any(c.kind == "gated_value" for c in t.closeups)
