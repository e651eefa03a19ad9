"""Forward pass and generation: properties over random small configs, token errors, encode/decode."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmviz_blender import model
from llmviz_blender.model import ModelError


@st.composite
def configs_and_tokens(draw):
    n_head = draw(st.integers(1, 4))
    config = model.ModelConfig(
        name="prop", n_layer=draw(st.integers(1, 3)), n_head=n_head, n_embd=n_head * draw(st.integers(1, 8)),
        vocab_size=draw(st.integers(2, 20)), block_size=draw(st.integers(2, 12)))
    t = draw(st.integers(1, config.block_size))
    tokens = draw(st.lists(st.integers(0, config.vocab_size - 1), min_size=t, max_size=t))
    return config, tokens, draw(st.integers(0, 2**16))


@settings(max_examples=40, deadline=None)
@given(configs_and_tokens())
def test_trace_properties(case):
    config, tokens, seed = case
    w = model.random_weights(config, seed)
    trace = model.forward(w, tokens)
    shapes = model.trace_shapes(config, len(tokens))
    assert list(trace) == list(shapes)
    for name, shape in shapes.items():
        assert trace[name].shape == shape, name
        if name != "tokens":
            assert trace[name].dtype == np.float32, name
    np.testing.assert_allclose(trace["probs"].sum(-1), 1.0, atol=1e-5)
    t = len(tokens)
    for i in range(config.n_layer):
        att = trace[f"h{i}.att"]
        upper = np.triu(np.ones((t, t), bool), 1)
        assert np.isneginf(att[:, upper]).all() and np.isfinite(att[:, ~upper]).all()
        np.testing.assert_allclose(trace[f"h{i}.att_sm"].sum(-1), 1.0, atol=1e-5)
        assert (trace[f"h{i}.att_sm"][:, upper] == 0).all()
    # causal: changing the last token never changes any earlier position
    if t > 1:
        changed = tokens[:-1] + [(tokens[-1] + 1) % config.vocab_size]
        other = model.forward(w, changed)
        for name in shapes:
            head_first = name.endswith((".q", ".k", ".v", ".att", ".att_sm", ".att.max", ".att.sumexp"))
            earlier = (slice(None), slice(0, t - 1)) if head_first else slice(0, t - 1)
            np.testing.assert_array_equal(trace[name][earlier], other[name][earlier], err_msg=name)


def test_trace_follows_declaration_and_never_aliases_weights():
    """forward records every declared name, in declared order and shape, each in its own memory."""
    config = model.ModelConfig(name="s", n_layer=2, n_head=2, n_embd=8, vocab_size=7, block_size=5)
    w = model.random_weights(config, 1)  # lm_head tied to wte: two keys, one array
    trace = model.forward(w, [1, 5, 2, 0])
    assert [(k, v.shape) for k, v in trace.items()] == list(model.trace_shapes(config, 4).items())
    for name, value in trace.items():
        for key, param in w.params.items():
            assert not np.shares_memory(value, param), (name, key)


def test_trace_formulas():
    """Spot-check the aggregates against their definitions."""
    config = model.ModelConfig(name="s", n_layer=1, n_head=2, n_embd=8, vocab_size=7, block_size=5)
    w = model.random_weights(config, 4)
    tr = model.forward(w, [1, 5, 2, 0])
    x = tr["x"]
    np.testing.assert_allclose(tr["h0.ln1.mean"], x.mean(-1), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(tr["h0.ln1.std"], np.sqrt(x.var(-1) + 1e-5), rtol=1e-5)
    np.testing.assert_allclose(tr["x"], w["transformer.wte.weight"][[1, 5, 2, 0]] + w["transformer.wpe.weight"][:4])
    np.testing.assert_allclose(tr["h0.att.max"], tr["h0.att"].max(-1))
    np.testing.assert_allclose(tr["logits.sumexp"], np.exp(tr["logits"] - tr["logits.max"][:, None]).sum(-1),
                               rtol=1e-6)
    fc = tr["h0.fc"].astype(np.float64)
    exact = 0.5 * fc * (1 + np.tanh(np.sqrt(2 / np.pi) * (fc + 0.044715 * fc ** 3)))
    np.testing.assert_allclose(tr["h0.gelu"], exact, atol=1e-6)
    np.testing.assert_allclose(tr["h0.mlp_resid"], tr["h0.attn_resid"] + tr["h0.mlp"], atol=1e-6)


TINY = model.ModelConfig(name="tiny", n_layer=1, n_head=1, n_embd=4, vocab_size=3, block_size=4,
                         vocab=("A", "B", "C"))


@pytest.mark.parametrize("tokens,needle", [
    ([], "non-empty"),
    ([0, 3], "id 3 is outside the vocabulary 0..2 of tiny"),
    ([-1], "id -1 is outside"),
    ([0, 1, 2, 0, 1], "5 tokens exceed block_size 4 of tiny"),
    ([0.5], "must be integers"),
    ([[0, 1]], "non-empty sequence"),
])
def test_token_errors(tokens, needle):
    with pytest.raises(ModelError, match=needle):
        model.forward(model.random_weights(TINY), tokens)


def test_generate_greedy_and_sampled():
    w = model.random_weights(TINY, 5)
    g = model.generate(w, [0, 1], 5)
    assert len(g.tokens) == 7 and len(g.traces) == 5 and g.generated == g.tokens[2:]
    assert [len(t.tokens) for t in g.traces] == [2, 3, 4, 4, 4]  # context cropped to block_size
    for i, trace in enumerate(g.traces):
        assert g.tokens[2 + i] == int(np.argmax(trace["logits"][-1]))
    hot = [model.generate(w, [0], 3, temperature=50.0, seed=s).tokens for s in range(12)]
    assert hot[0] == model.generate(w, [0], 3, temperature=50.0, seed=0).tokens
    assert len({tuple(h) for h in hot}) > 1
    for bad, needle in [({"steps": -1}, "steps"), ({"steps": 1, "temperature": -1.0}, "temperature")]:
        with pytest.raises(ModelError, match=needle):
            model.generate(w, [0], **bad)


def test_encode_decode():
    assert model.encode(TINY, "CBA B") == [2, 1, 0, 1]
    assert model.encode(TINY, "2 1,0") == [2, 1, 0]
    assert model.decode(TINY, [2, 1, 0]) == "CBA"
    with pytest.raises(ModelError, match="'D' is not in the vocabulary ABC"):
        model.encode(TINY, "ABD")
    gpt2 = model.load_preset("gpt2-small")
    assert model.encode(gpt2, "464 3290, 50256") == [464, 3290, 50256]
    assert model.decode(gpt2, [464, 3290]) == "464 3290"
    for text, needle in [("", "empty"), ("hello", "'hello' is not a token id"), ("50257", "outside")]:
        with pytest.raises(ModelError, match=needle):
            model.encode(gpt2, text)
    with pytest.raises(ModelError, match="outside"):
        model.decode(TINY, [3])
