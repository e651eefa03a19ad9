"""The shipped sort models really sort: nano-gpt (presets/nano-gpt-sort.safetensors, scripts/train_sort.py)
and nano-llama (presets/nano-llama-sort.safetensors, scripts/train_sort_llama.py), every one of the 729 inputs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from llmviz_blender import model

SORT_FILE = model.PRESETS_DIR / "nano-gpt-sort.safetensors"
SORTERS = {"nano-gpt": "nano-gpt-sort.safetensors", "nano-llama": "nano-llama-sort.safetensors"}


@pytest.fixture(scope="module", params=list(SORTERS))
def sorter(request) -> model.Weights:
    return model.default_weights(model.load_preset(request.param))


@pytest.fixture(scope="module")
def weights() -> model.Weights:
    return model.default_weights(model.load_preset("nano-gpt"))


@pytest.mark.parametrize("name", list(SORTERS))
def test_preset_points_at_shipped_file(name):
    path = model.PRESETS_DIR / SORTERS[name]
    assert model.load_preset(name).weights == path.resolve()
    assert path.is_file() and path.stat().st_size < 2 * 2**20


def test_nano_llama_is_a_llama_with_shared_kv_heads():
    cfg = model.load_preset("nano-llama")
    assert (cfg.family, cfg.architecture, cfg.n_head, cfg.kv_heads, cfg.tied) == ("llama", "LlamaForCausalLM", 4, 2,
                                                                                 True)
    assert model.param_count(cfg) == 76_512  # about nano-gpt's 85,584


def test_sorts_all_729_inputs(sorter):
    weights = sorter
    wrong = []
    for inp in itertools.product(range(3), repeat=6):
        gen = model.generate(weights, list(inp), 6)
        assert gen.tokens[:6] == list(inp) and len(gen.traces) == 6
        if gen.generated != sorted(inp):
            wrong.append((inp, gen.generated))
    assert not wrong, f"{len(wrong)}/729 inputs sorted wrongly, e.g. {wrong[:5]}"


def test_cbabbc(sorter):
    weights = sorter
    cfg = weights.config
    tokens = model.encode(cfg, "CBABBC")
    assert tokens == [2, 1, 0, 1, 1, 2]
    gen = model.generate(weights, tokens, 6)
    assert model.decode(cfg, gen.generated) == "ABBBCC"
    assert model.decode(cfg, gen.tokens) == "CBABBCABBBCC"
    # the last step sees a full block of 11 tokens
    assert gen.traces[-1]["tokens"].shape == (cfg.block_size,)
    assert np.argmax(gen.traces[-1]["probs"][-1]) == 2


def test_load_without_config_infers_nano_gpt(weights):
    preset = model.load_preset("nano-gpt")
    w = model.load_weights(SORT_FILE)
    cfg = w.config
    assert (cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.vocab_size, cfg.block_size) == (3, 3, 48, 3, 11)
    assert (cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.vocab_size, cfg.block_size) == (
        preset.n_layer, preset.n_head, preset.n_embd, preset.vocab_size, preset.block_size)
    assert cfg.vocab == ("A", "B", "C")
    assert cfg.name == "nano-gpt" and cfg.default_input == "CBABBC"
    assert model.param_count(cfg) == 85_584
    assert w.params.keys() == weights.params.keys()
    assert all(np.array_equal(w.params[k], weights.params[k]) for k in w.params)
    assert all(v.dtype == np.float32 for v in w.params.values())
