"""Weights I/O: both key layouts, config inference, half precision, and every error path."""

import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from llmviz_blender import model
from llmviz_blender.model import ModelError

SMALL = model.ModelConfig(name="small", n_layer=2, n_head=2, n_embd=8, vocab_size=5, block_size=6)


@pytest.fixture
def weights():
    w = model.random_weights(SMALL, seed=3)
    rng = np.random.default_rng(0)  # make biases and LN parameters non-trivial
    for key, value in w.params.items():
        if key.endswith("bias") or ".ln_" in key:
            w.params[key] = (value + rng.normal(0, 0.1, value.shape)).astype(np.float32)
    w.params["lm_head.weight"] = rng.normal(0, 0.02, (5, 8)).astype(np.float32)  # untied
    return w


def _tensors(w, naming, tmp_path):
    path = model.save_weights(w, tmp_path / f"w_{naming}.safetensors", naming=naming)
    from safetensors.numpy import load_file
    return load_file(path)


def _same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize("naming", ["mingpt", "hf"])
def test_roundtrip(weights, tmp_path, naming):
    path = model.save_weights(weights, tmp_path / "w.safetensors", naming=naming)
    loaded = model.load_weights(path)
    assert loaded.config.replace(weights=None) == SMALL
    _same(loaded.params, weights.params)
    assert list(loaded.params) == list(model.param_shapes(SMALL))


def test_hf_layout_is_conv1d_and_ties_lm_head(weights, tmp_path):
    weights.params["lm_head.weight"] = weights.params["transformer.wte.weight"]
    raw = _tensors(weights, "hf", tmp_path)
    assert "lm_head.weight" not in raw and "wte.weight" in raw
    assert raw["h.0.attn.c_attn.weight"].shape == (8, 24)  # Conv1D [in, out]
    assert raw["h.1.mlp.c_proj.weight"].shape == (32, 8)
    loaded = model.load_weights(tmp_path / "w_hf.safetensors")
    np.testing.assert_array_equal(loaded["lm_head.weight"], weights["transformer.wte.weight"])


def test_variants_load_alike(weights, tmp_path):
    hf = _tensors(weights, "hf", tmp_path)
    mingpt = _tensors(weights, "mingpt", tmp_path)
    meta = {"n_head": "2"}
    variants = {
        # Hugging Face GPT2LMHeadModel: transformer. prefix, mask buffers, its own lm_head
        "hf_prefixed": {**{f"transformer.{k}": v for k, v in hf.items() if k != "lm_head.weight"},
                        "lm_head.weight": mingpt["lm_head.weight"],
                        "transformer.h.0.attn.bias": np.tril(np.ones((1, 1, 6, 6), np.float32)),
                        "transformer.h.0.attn.masked_bias": np.array(-1e4, np.float32)},
        # torch.compile'd nanoGPT checkpoint with causal-mask buffers
        "compiled": {**{f"_orig_mod.{k}": v for k, v in mingpt.items()},
                     "_orig_mod.transformer.h.1.attn.bias": np.tril(np.ones((1, 1, 6, 6), np.float32))},
    }
    for name, tensors in variants.items():
        path = tmp_path / f"{name}.safetensors"
        save_file(tensors, str(path), metadata=meta)
        _same(model.load_weights(path).params, weights.params)


def test_half_precision(weights, tmp_path):
    import torch
    from safetensors.torch import save_file as torch_save
    mingpt = _tensors(weights, "mingpt", tmp_path)
    for dtype in (torch.float16, torch.bfloat16):
        path = tmp_path / f"{dtype}.safetensors"
        torch_save({k: torch.from_numpy(v).to(dtype) for k, v in mingpt.items()}, str(path), metadata={"n_head": "2"})
        loaded = model.load_weights(path)
        for key, value in loaded.params.items():
            assert value.dtype == np.float32
            expected = torch.from_numpy(mingpt[key]).to(dtype).float().numpy()
            np.testing.assert_array_equal(value, expected, err_msg=f"{dtype} {key}")
        logits = model.forward(loaded, [1, 2, 3])["logits"]
        assert logits.dtype == np.float32 and np.isfinite(logits).all()


def test_n_head_sources(weights, tmp_path):
    raw = _tensors(weights, "hf", tmp_path)
    folder = tmp_path / "hf"
    folder.mkdir()
    path = folder / "model.safetensors"
    save_file(raw, str(path))  # no metadata
    with pytest.raises(ModelError, match=r"model\.safetensors: n_head cannot be told.*config="):
        model.load_weights(path)
    assert model.load_weights(path, SMALL).config == SMALL
    (folder / "config.json").write_text(json.dumps({"n_head": 2, "n_layer": 2, "n_embd": 8}))
    inferred = model.load_weights(path).config
    assert (inferred.n_layer, inferred.n_head, inferred.n_embd, inferred.vocab_size, inferred.block_size) == (
        2, 2, 8, 5, 6)
    (folder / "config.json").write_text(json.dumps({"n_head": "two"}))
    with pytest.raises(ModelError, match=r"config\.json: field 'n_head' must be an integer"):
        model.load_weights(path)


def test_shape_mismatch_with_preset(weights, tmp_path):
    path = model.save_weights(weights, tmp_path / "w.safetensors")
    nano = model.load_preset("nano-gpt")
    with pytest.raises(ModelError, match=r"w\.safetensors: tensor 'transformer\.wte\.weight' has shape \(5, 8\), "
                                         r"expected \(3, 48\)"):
        model.load_weights(path, nano)


def _save_edited(weights, tmp_path, edit) -> str:
    tensors = _tensors(weights, "mingpt", tmp_path)
    edit(tensors)
    path = tmp_path / "edited.safetensors"
    save_file(tensors, str(path), metadata={"n_head": "2"})
    return str(path)


@pytest.mark.parametrize("edit,needle", [
    (lambda t: t.pop("transformer.h.1.ln_2.bias"), "missing tensor 'transformer.h.1.ln_2.bias'"),
    (lambda t: t.pop("transformer.wte.weight"), "missing tensor 'transformer.wte.weight'"),
    (lambda t: t.update({"transformer.h.0.attn.extra": np.zeros(3, np.float32)}),
     "unexpected tensor 'transformer.h.0.attn.extra'"),
    (lambda t: t.update({"transformer.h.0.mlp.c_fc.bias": np.zeros(31, np.float32)}),
     r"tensor 'transformer.h.0.mlp.c_fc.bias' has shape \(31,\), expected \(32,\)"),
    (lambda t: t["transformer.h.1.attn.c_proj.weight"].__setitem__((2, 3), np.nan),
     "tensor 'transformer.h.1.attn.c_proj.weight' contains NaN or Inf"),
    (lambda t: t["transformer.ln_f.weight"].__setitem__(0, np.inf),
     "tensor 'transformer.ln_f.weight' contains NaN or Inf"),
    (lambda t: t.update({"transformer.ln_f.bias": np.zeros(8, np.int32)}),
     "tensor 'transformer.ln_f.bias' has unsupported dtype I32"),
])
def test_tensor_errors(weights, tmp_path, edit, needle):
    path = _save_edited(weights, tmp_path, edit)
    with pytest.raises(ModelError, match=needle) as err:
        model.load_weights(path)
    assert path in str(err.value) and "\n" not in str(err.value)


def test_file_errors(weights, tmp_path):
    with pytest.raises(ModelError, match="weights file not found"):
        model.load_weights(tmp_path / "absent.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"PK\x03\x04 this is a zip, not safetensors" * 10)
    with pytest.raises(ModelError, match=r"junk\.safetensors: not a safetensors file"):
        model.load_weights(junk)
    tiny = tmp_path / "tiny.safetensors"
    tiny.write_bytes(b"abc")
    with pytest.raises(ModelError, match=r"tiny\.safetensors: not a safetensors file"):
        model.load_weights(tiny)
    good = model.save_weights(weights, tmp_path / "good.safetensors")
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(good.read_bytes()[:-100])
    with pytest.raises(ModelError, match=r"cut\.safetensors: truncated file"):
        model.load_weights(cut)
    pickle = tmp_path / "model.safetensors"
    pickle.write_bytes(b"\x80\x04\x95" + b"\x00" * 64)  # a pickle header is never unpickled
    with pytest.raises(ModelError, match="not a safetensors file"):
        model.load_weights(pickle)


def test_save_naming_error(weights, tmp_path):
    with pytest.raises(ModelError, match="naming must be 'mingpt' or 'hf'"):
        model.save_weights(weights, tmp_path / "x.safetensors", naming="keras")
    assert not list(tmp_path.iterdir())


def test_random_weights():
    a, b = model.random_weights(SMALL, seed=1), model.random_weights(SMALL, seed=1)
    _same(a.params, b.params)
    c = model.random_weights(SMALL, seed=2)
    assert not np.array_equal(a["transformer.wte.weight"], c["transformer.wte.weight"])
    wte = a["transformer.wte.weight"]
    assert abs(float(wte.std()) - 0.02) < 0.01 and a["lm_head.weight"] is wte
    assert np.all(a["transformer.h.0.ln_1.weight"] == 1) and np.all(a["transformer.h.0.attn.c_attn.bias"] == 0)
    with pytest.raises(ModelError, match=r"gpt3: random weights would take .* GiB"):
        model.random_weights(model.load_preset("gpt3"))


def test_default_weights():
    nano = model.load_preset("nano-gpt")
    w = model.default_weights(nano)
    assert w.config == nano and w.source.endswith("nano-gpt-sort.safetensors")
    assert model.default_weights(SMALL).source == "random(seed=0)"
