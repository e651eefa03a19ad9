"""GPT-2 against transformers' GPT2LMHeadModel: a seeded random model saved as a Hugging Face folder
loads (config from config.json's shapes) and its logits and hidden states match within 1e-4."""

import numpy as np
import pytest

from llmviz_blender import model

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

TOKENS = [3, 7, 1, 40, 22, 9, 9, 13, 0, 49]


def test_gpt2_matches_transformers(tmp_path):
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=50, n_positions=16, n_embd=32, n_layer=2, n_head=4,
                                     activation_function="gelu_new", attn_implementation="eager")
    hf = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for p in hf.parameters():
            p.normal_(0.0, 0.3)
    hf.save_pretrained(tmp_path)
    weights = model.load_weights(tmp_path)
    assert (weights.config.family, weights.config.n_layer, weights.config.n_head) == ("gpt2", 2, 4)
    trace = model.forward(weights, TOKENS)
    with torch.no_grad():
        out = hf(torch.tensor([TOKENS]), output_hidden_states=True)
    assert np.abs(out.logits[0].numpy() - trace["logits"]).max() < 1e-4
    ours = ["x", "h0.mlp_resid", "ln_f"]  # transformers' last hidden state is after the final norm
    assert len(out.hidden_states) == len(ours)
    for name, theirs in zip(ours, out.hidden_states):
        assert np.abs(theirs[0].numpy() - trace[name]).max() < 1e-4, name
