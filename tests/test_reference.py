"""The numpy model against an independent torch implementation (scripts/torch_gpt.py), entry by entry."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from torch_gpt import GPT, name_trace, torch_trace  # noqa: E402

from llmviz_blender import model  # noqa: E402

SORT_FILE = model.PRESETS_DIR / "nano-gpt-sort.safetensors"
ATOL = RTOL = 1e-5


def perturbed_gpt2_like(seed: int = 1) -> model.Weights:
    """A small GPT-2-shaped model whose every parameter matters: LN gains/shifts and biases away from
    1/0, attention weights large enough for peaked softmaxes, lm_head untied."""
    cfg = model.ModelConfig(name="tiny", n_layer=2, n_head=4, n_embd=64, vocab_size=50, block_size=16)
    w = model.random_weights(cfg, seed=seed)
    rng = np.random.default_rng(seed + 100)
    params = {}
    for key, value in w.params.items():
        noise = rng.standard_normal(value.shape, dtype=np.float32)
        if ".ln_" in key and key.endswith("weight"):
            value = 1 + 0.3 * noise
        elif key.endswith("bias"):
            value = 0.2 * noise
        elif key.endswith("c_attn.weight"):
            value = 0.15 * noise
        elif key == "lm_head.weight":
            value = 0.1 * noise
        params[key] = np.asarray(value, dtype=np.float32)
    return model.Weights(cfg, params, "perturbed")


@pytest.fixture(scope="module")
def sort_weights() -> model.Weights:
    return model.load_weights(SORT_FILE)


def cases(sort_weights):
    rng = np.random.default_rng(7)
    tiny = perturbed_gpt2_like()
    return [(sort_weights, model.encode(sort_weights.config, "CBABBC")),
            (tiny, rng.integers(0, tiny.config.vocab_size, tiny.config.block_size).tolist())]


def assert_trace_close(ref: dict, ours: model.Trace) -> None:
    assert set(ref) == set(ours)
    for name in ours:
        a, b = np.asarray(ours[name]), np.asarray(ref[name])
        assert a.shape == b.shape, name
        assert a.dtype == b.dtype, name
        assert not np.isnan(a).any() and not np.isnan(b).any(), name
        np.testing.assert_array_equal(np.isneginf(a), np.isneginf(b), err_msg=f"{name}: -inf mask")
        assert np.isfinite(a[~np.isneginf(a)]).all(), name
        finite = np.isfinite(a)
        np.testing.assert_allclose(a[finite], b[finite], atol=ATOL, rtol=RTOL, err_msg=name)


@pytest.mark.parametrize("which", ["nano-gpt-sort", "tiny-random"])
def test_torch_matches_every_trace_entry(sort_weights, which):
    weights, tokens = cases(sort_weights)[["nano-gpt-sort", "tiny-random"].index(which)]
    ours = model.forward(weights, tokens)
    gpt = GPT.from_weights(weights)
    ref = torch_trace(gpt, tokens)
    assert_trace_close(ref, ours)
    # the masked entries really are the upper triangle
    t = len(tokens)
    att = ours["h0.att"]
    assert np.isneginf(att[:, np.triu_indices(t, 1)[0], np.triu_indices(t, 1)[1]]).all()
    assert np.isfinite(att[:, np.tril_indices(t)[0], np.tril_indices(t)[1]]).all()
    # the fast (fused, untraced) torch path agrees with the traced one
    with torch.inference_mode():
        fast = gpt(torch.tensor([tokens]))[0].numpy()
    np.testing.assert_allclose(fast, ours["logits"], atol=ATOL, rtol=RTOL)


def test_trace_names_equal_trace_shapes(sort_weights):
    for weights, tokens in cases(sort_weights):
        shapes = list(model.trace_shapes(weights.config, len(tokens)).items())
        ours = model.forward(weights, tokens)
        ref = torch_trace(GPT.from_weights(weights), tokens)
        assert [(k, v.shape) for k, v in ours.items()] == shapes
        assert [(k, v.shape) for k, v in ref.items()] == shapes


def test_torch_recording_must_match_the_declaration():
    """The torch reference names what it records by position: a missing or misshapen entry is an error."""
    config = model.ModelConfig(name="s", n_layer=2, n_head=4, n_embd=8, vocab_size=5, block_size=4)
    rec = [torch.zeros((1, *shape)) for shape in model.trace_shapes(config, 3).values()]
    assert list(name_trace(config, 3, rec)) == list(model.trace_shapes(config, 3))
    with pytest.raises(ValueError, match="recorded 50 tensors, the trace declares 51"):
        name_trace(config, 3, rec[:-1])
    rec[5] = torch.zeros((1, 3, 4, 2))
    with pytest.raises(ValueError, match=r"h0.ln1.std: recorded shape \(3, 4, 2\), declared \(3,\)"):
        name_trace(config, 3, rec)


def test_state_dict_keys_are_mingpt(sort_weights):
    for weights, _ in cases(sort_weights):
        gpt = GPT.from_weights(weights)
        sd = gpt.state_dict()
        assert list(sd) == list(model.param_shapes(weights.config))
        assert {k: tuple(v.shape) for k, v in sd.items()} == model.param_shapes(weights.config)
        back = gpt.to_weights()
        assert all(np.array_equal(back.params[k], weights.params[k]) for k in weights.params)


def test_hf_and_mingpt_layouts_give_same_logits(sort_weights, tmp_path):
    for n, (weights, tokens) in enumerate(cases(sort_weights)):
        for tied in (False, True):
            if tied:  # GPT-2 ties lm_head to wte: the hf file then omits lm_head
                params = dict(weights.params)
                params["lm_head.weight"] = params["transformer.wte.weight"]
                weights = model.Weights(weights.config, params)
            paths = {naming: model.save_weights(weights, tmp_path / f"{n}-{tied}-{naming}.safetensors", naming=naming)
                     for naming in ("mingpt", "hf")}
            loaded = {naming: model.load_weights(path) for naming, path in paths.items()}
            for w in loaded.values():
                assert w.params.keys() == weights.params.keys()
                assert all(np.array_equal(w.params[k], weights.params[k]) for k in weights.params)
            logits = [model.forward(w, tokens)["logits"] for w in loaded.values()]
            np.testing.assert_allclose(logits[0], logits[1], atol=1e-6, rtol=0)
            np.testing.assert_allclose(logits[0], model.forward(weights, tokens)["logits"], atol=1e-6, rtol=0)
