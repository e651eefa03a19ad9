"""The Llama family (Llama, Qwen2, Mistral) against transformers: logits and every hidden state within
1e-4 on seeded random models saved as Hugging Face folders; sharded files; the one-line errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from llmviz_blender import model

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

TOL = 1e-4
TOKENS = [3, 7, 1, 40, 22, 9, 9, 13, 0, 49]
SMALL = dict(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
             intermediate_size=64, max_position_embeddings=64)
LLAMA3 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
          "original_max_position_embeddings": 16}
CASES = {
    "llama-llama3-rope": ("LlamaConfig", "LlamaForCausalLM",
                          dict(rope_theta=500000.0, rope_scaling=LLAMA3, tie_word_embeddings=False)),
    "llama-tied": ("LlamaConfig", "LlamaForCausalLM", dict(tie_word_embeddings=True, rms_norm_eps=1e-5)),
    "qwen2-bias": ("Qwen2Config", "Qwen2ForCausalLM", dict(tie_word_embeddings=True, rope_theta=1000000.0)),
    "mistral": ("MistralConfig", "MistralForCausalLM", dict(sliding_window=32, tie_word_embeddings=False)),
}


def make_folder(path, case: str, seed: int = 0, **save):
    """A seeded random transformers model of `case` saved as a Hugging Face folder; returns the model."""
    config_cls, model_cls, extra = CASES[case]
    torch.manual_seed(seed)
    config = getattr(transformers, config_cls)(**SMALL, **extra)
    hf = getattr(transformers, model_cls)(config).eval()
    with torch.no_grad():
        for p in hf.parameters():
            p.normal_(0.0, 0.3)  # larger than the init's 0.02: every operation matters to the output
    hf.save_pretrained(path, **save)
    return hf


@pytest.fixture(scope="module", params=list(CASES))
def pair(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    hf = make_folder(folder, request.param)
    return request.param, hf, folder


def test_logits_and_hidden_states_match_transformers(pair):
    case, hf, folder = pair
    weights = model.load_weights(folder)
    assert weights.config.family == "llama" and weights.config.architecture == CASES[case][1]
    trace = model.forward(weights, TOKENS)
    with torch.no_grad():
        out = hf(torch.tensor([TOKENS]), output_hidden_states=True)
    assert np.abs(out.logits[0].numpy() - trace["logits"]).max() < TOL
    n = weights.config.n_layer
    ours = ["x", *(f"h{i}.mlp_resid" for i in range(n - 1)), "ln_f"]  # transformers' last one is normed
    assert len(out.hidden_states) == len(ours)
    for name, theirs in zip(ours, out.hidden_states):
        assert np.abs(theirs[0].numpy() - trace[name]).max() < TOL, name


def test_config_read_from_config_json(pair):
    case, hf, folder = pair
    cfg = model.load_weights(folder).config
    c = hf.config
    assert (cfg.n_layer, cfg.n_head, cfg.kv_heads, cfg.n_embd, cfg.mlp_size, cfg.vocab_size) == (
        c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads, c.hidden_size, c.intermediate_size,
        c.vocab_size)
    assert cfg.tied == c.tie_word_embeddings and cfg.qkv_bias == (case == "qwen2-bias")
    assert cfg.norm_eps == c.rms_norm_eps
    assert model.param_count(cfg) == sum(p.numel() for p in hf.parameters())  # transformers counts tied once
    if case == "mistral":
        assert cfg.block_size == 32  # the sliding window: no drawn sequence reaches past it


def test_trace_has_every_declared_entry(pair):
    _, _, folder = pair
    weights = model.load_weights(folder)
    trace = model.forward(weights, TOKENS)
    shapes = model.trace_shapes(weights.config, len(TOKENS))
    assert list(trace) == list(shapes)
    assert {k: v.shape for k, v in trace.items()} == shapes


def test_generation_matches_transformers_greedy(pair):
    _, hf, folder = pair
    weights = model.load_weights(folder)
    ours = model.generate(weights, TOKENS[:4], 5).generated
    with torch.no_grad():
        theirs = hf.generate(torch.tensor([TOKENS[:4]]), max_new_tokens=5, do_sample=False,
                             pad_token_id=0)[0, 4:].tolist()
    assert ours == theirs


def test_logit_lens_last_row_is_the_prediction(pair):
    _, _, folder = pair
    weights = model.load_weights(folder)
    trace = model.forward(weights, TOKENS)
    last = model.logit_lens(weights, trace, k=3)[-1]
    probs = trace["probs"][-1]
    assert last.top[0][0] == int(np.argmax(probs))
    assert last.top[0][2] == pytest.approx(float(probs.max()), abs=1e-5)


def test_sharded_folder(tmp_path):
    hf = make_folder(tmp_path, "llama-tied", max_shard_size="20KB")
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 1
    trace = model.forward(model.load_weights(tmp_path), TOKENS)
    with torch.no_grad():
        logits = hf(torch.tensor([TOKENS])).logits[0].numpy()
    assert np.abs(logits - trace["logits"]).max() < TOL


def test_random_weights_round_trip(tmp_path):
    make_folder(tmp_path / "src", "qwen2-bias")
    cfg = model.load_weights(tmp_path / "src").config
    weights = model.random_weights(cfg, seed=3)
    assert {k: v.shape for k, v in weights.params.items()} == model.param_shapes(cfg)
    assert weights["lm_head.weight"] is weights["model.embed_tokens.weight"]
    path = model.save_weights(weights, tmp_path / "r.safetensors")
    back = model.load_weights(path, cfg)
    assert all(np.array_equal(back[k], weights[k]) for k in weights.params)


# ------------------------------------------------------------------------------------------ bad input

@pytest.fixture(scope="module")
def good(tmp_path_factory):
    folder = tmp_path_factory.mktemp("good")
    make_folder(folder, "llama-tied")
    return folder


def _copy(good, tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(good, folder)
    return folder


def _edit_config(folder, change):
    path = folder / "config.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_architecture_not_drawn(good, tmp_path):
    folder = _copy(good, tmp_path)
    _edit_config(folder, lambda d: d.update(architectures=["GemmaForCausalLM"]))
    with pytest.raises(model.ModelError, match=r"architecture 'GemmaForCausalLM' is not drawn; drawn: "
                                               r"GPT2LMHeadModel, LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM"):
        model.load_weights(folder)


def test_config_missing_field(good, tmp_path):
    folder = _copy(good, tmp_path)
    _edit_config(folder, lambda d: d.pop("hidden_size"))
    with pytest.raises(model.ModelError, match=r"config\.json: missing field 'hidden_size'"):
        model.load_weights(folder)


def test_tensor_of_wrong_shape(good, tmp_path):
    folder = _copy(good, tmp_path)
    _edit_config(folder, lambda d: d.update(intermediate_size=48))
    with pytest.raises(model.ModelError, match=r"tensor 'model.layers.0.mlp.gate_proj.weight' has shape "
                                               r"\(64, 32\), expected \(48, 32\)"):
        model.load_weights(folder)


def test_index_names_missing_shard(tmp_path):
    make_folder(tmp_path, "llama-tied", max_shard_size="20KB")
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    shard = sorted(set(index["weight_map"].values()))[-1]
    (tmp_path / shard).unlink()
    with pytest.raises(model.ModelError, match=rf"shard '{shard}' not found"):
        model.load_weights(tmp_path)


def test_unknown_rope_scaling(good, tmp_path):
    folder = _copy(good, tmp_path)
    _edit_config(folder, lambda d: d.update(rope_parameters={"rope_type": "yarn", "factor": 4.0,
                                                              "rope_theta": 10000.0}))
    with pytest.raises(model.ModelError, match=r"rope_scaling type 'yarn' is not drawn"):
        model.load_weights(folder)


PUBLISHED = {  # preset: (transformers config class, published config.json fields)
    "smollm2-135m": ("LlamaConfig", dict(num_hidden_layers=30, hidden_size=576, num_attention_heads=9,
                                         num_key_value_heads=3, intermediate_size=1536, vocab_size=49152,
                                         tie_word_embeddings=True)),
    "qwen2.5-0.5b": ("Qwen2Config", dict(num_hidden_layers=24, hidden_size=896, num_attention_heads=14,
                                         num_key_value_heads=2, intermediate_size=4864, vocab_size=151936,
                                         tie_word_embeddings=True)),
    "llama-3.2-1b": ("LlamaConfig", dict(num_hidden_layers=16, hidden_size=2048, num_attention_heads=32,
                                         num_key_value_heads=8, intermediate_size=8192, vocab_size=128256,
                                         tie_word_embeddings=True)),
    "llama-3.1-8b": ("LlamaConfig", dict(num_hidden_layers=32, hidden_size=4096, num_attention_heads=32,
                                         num_key_value_heads=8, intermediate_size=14336, vocab_size=128256,
                                         tie_word_embeddings=False)),
    "llama-3.1-405b": ("LlamaConfig", dict(num_hidden_layers=126, hidden_size=16384, num_attention_heads=128,
                                           num_key_value_heads=8, intermediate_size=53248, vocab_size=128256,
                                           tie_word_embeddings=False)),
}


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_preset_counts_equal_transformers(name):
    """Each preset's parameter count equals what transformers counts for the published config (built
    on the meta device: no memory)."""
    config_cls, fields = PUBLISHED[name]
    config = getattr(transformers, config_cls)(**fields)
    with torch.device("meta"):
        hf = transformers.AutoModelForCausalLM.from_config(config)
    cfg = model.load_preset(name)
    assert model.param_count(cfg) == hf.num_parameters()
    assert (cfg.n_layer, cfg.n_embd, cfg.n_head, cfg.kv_heads, cfg.mlp_size, cfg.vocab_size, cfg.tied) == (
        fields["num_hidden_layers"], fields["hidden_size"], fields["num_attention_heads"],
        fields["num_key_value_heads"], fields["intermediate_size"], fields["vocab_size"],
        fields["tie_word_embeddings"])


def test_biases_not_drawn(good, tmp_path):
    folder = _copy(good, tmp_path)
    _edit_config(folder, lambda d: d.update(attention_bias=True))
    with pytest.raises(model.ModelError, match=r"field 'attention_bias' is true; biases on the output projection"):
        model.load_weights(folder)
