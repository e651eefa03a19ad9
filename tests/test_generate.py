"""Sampling: greedy, temperature, top-k, top-p, seeds, the recorded choices, and argument errors."""

import numpy as np
import pytest

from llmviz_blender import model
from llmviz_blender.model import ModelError

TINY = model.ModelConfig(name="tiny", n_layer=1, n_head=2, n_embd=8, vocab_size=7, block_size=6)


@pytest.fixture(scope="module")
def weights():
    w = model.random_weights(TINY, seed=3)
    w.params["lm_head.weight"] = w.params["lm_head.weight"] * 60  # a spread-out distribution worth sampling
    return w


def test_greedy_is_argmax(weights):
    g = model.generate(weights, [0, 1], 5)
    assert len(g.choices) == 5 and g.generated == [c.token for c in g.choices]
    for trace, choice in zip(g.traces, g.choices):
        assert choice.token == int(np.argmax(trace["logits"][-1])) and choice.draw is None
        assert choice.probs == pytest.approx(trace["probs"][-1], abs=1e-6)  # temperature 1, nothing filtered
        assert choice.candidates[0][0] == choice.token and choice.kept == TINY.vocab_size


def test_seeded_sampling_reproducible(weights):
    runs = [model.generate(weights, [0], 5, temperature=1.0, seed=s).tokens for s in range(8)]
    assert runs[0] == model.generate(weights, [0], 5, temperature=1.0, seed=0).tokens
    assert len({tuple(r) for r in runs}) > 1


def test_top_k_1_and_tiny_top_p_are_greedy(weights):
    greedy = model.generate(weights, [2], 5).tokens
    for kw in ({"top_k": 1}, {"top_p": 1e-9}):
        for seed in range(4):
            g = model.generate(weights, [2], 5, temperature=2.0, seed=seed, **kw)
            assert g.tokens == greedy and all(c.kept == 1 and c.probability == 1.0 for c in g.choices)


def test_filtered_distribution(weights):
    logits = model.forward(weights, [0, 3])["logits"][-1]
    rng = np.random.default_rng(0)
    for kw in ({}, {"top_k": 3}, {"top_p": 0.6}, {"top_k": 4, "top_p": 0.8}):
        c = model.choose(logits, 0.7, rng=rng, **kw)
        assert c.probs.sum() == pytest.approx(1.0) and (c.probs > 0).sum() == c.kept
        assert c.kept <= kw.get("top_k", TINY.vocab_size)
        assert c.probability > 0 and c.probs[c.token] == pytest.approx(c.probability)
        assert [p for _, p in c.candidates] == sorted((p for _, p in c.candidates), reverse=True)
        cum = np.cumsum([p for _, p in c.candidates])  # the draw lands on the chosen candidate
        assert c.token == c.candidates[min(int(np.searchsorted(cum, c.draw, side="right")), c.kept - 1)][0]
    full = model.choose(logits, 0.7).probs
    kept = model.choose(logits, 0.7, top_p=0.6)
    top = np.sort(full)[::-1]
    assert top[:kept.kept].sum() >= 0.6 > top[:kept.kept - 1].sum()  # the smallest set reaching top_p


@pytest.mark.parametrize("kw,needle", [
    ({"steps": -1}, "steps"), ({"temperature": -0.5}, "temperature"), ({"temperature": float("nan")}, "temperature"),
    ({"temperature": "hot"}, "temperature"), ({"top_k": 0}, "top_k"), ({"top_k": 2.5}, "top_k"),
    ({"top_p": 0.0}, "top_p"), ({"top_p": 1.5}, "top_p"), ({"seed": -1}, "seed"), ({"seed": 1.5}, "seed"),
])
def test_errors(weights, kw, needle):
    with pytest.raises(ModelError) as err:
        model.generate(weights, [0], **{"steps": 1, **kw})
    assert str(err.value).startswith(f"{needle}:") and "\n" not in str(err.value)


def test_top_k_helper(weights):
    probs = model.forward(weights, [0, 1])["probs"][-1]
    top = model.top_k(TINY, probs, 3)
    assert [i for i, _, _ in top] == list(np.argsort(-probs)[:3])
    assert all(text == str(i) and p == pytest.approx(probs[i]) for i, text, p in top)
    nano = model.load_preset("nano-gpt")
    assert [t for _, t, _ in model.top_k(nano, np.array([0.2, 0.5, 0.3]), 2)] == ["B", "C"]
    with pytest.raises(ModelError, match="^k:"):
        model.top_k(TINY, probs, 0)
    with pytest.raises(ModelError, match="probs_row"):
        model.top_k(TINY, probs[:3], 2)
