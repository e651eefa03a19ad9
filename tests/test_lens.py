"""The logit lens against a direct torch computation (ln_f and lm_head applied to each residual stream)."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from llmviz_blender import model
from llmviz_blender.model import ModelError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from torch_gpt import GPT  # noqa: E402

SMALL = model.ModelConfig(name="small", n_layer=3, n_head=2, n_embd=16, vocab_size=11, block_size=8,
                          vocab=tuple("ABCDEFGHIJK"))


def _torch_lens(gpt: GPT, tokens: list[int], position: int) -> list[np.ndarray]:
    """Probabilities (V,) after each layer's attention and MLP, straight from torch modules."""
    out = []
    with torch.inference_mode():
        idx = torch.tensor([tokens])
        x = gpt.transformer.wte(idx) + gpt.transformer.wpe(torch.arange(len(tokens)))[None]
        for block in gpt.transformer.h:
            x = x + block.attn(block.ln_1(x))
            out.append(x[0, position])
            x = x + block.mlp.c_proj(block.mlp.act(block.mlp.c_fc(block.ln_2(x))))
            out.append(x[0, position])
        return [torch.softmax(gpt.lm_head(gpt.transformer.ln_f(r)).double(), -1).numpy() for r in out]


@pytest.mark.parametrize("position", [-1, 2])
def test_logit_lens_matches_torch(position):
    w = model.random_weights(SMALL, seed=4)
    w.params["lm_head.weight"] = w.params["lm_head.weight"] * 40  # distinct probabilities
    tokens = [3, 1, 4, 1, 5, 9]
    trace = model.forward(w, tokens)
    rows = model.logit_lens(w, trace, position=position, k=4, target="E")
    expected = _torch_lens(GPT.from_weights(w), tokens, position)
    assert [(r.layer, r.stage) for r in rows] == [(i, s) for i in range(3) for s in ("attn", "mlp")]
    for row, probs in zip(rows, expected):
        order = np.argsort(-probs, kind="stable")
        assert [i for i, _, _ in row.top] == list(order[:4])
        assert [p for _, _, p in row.top] == pytest.approx(probs[order[:4]], abs=1e-5)
        assert [t for _, t, _ in row.top] == [SMALL.vocab[i] for i in order[:4]]
        assert row.target_prob == pytest.approx(probs[4], abs=1e-5)
        assert row.target_rank == 1 + int((probs > probs[4]).sum())
        assert row.source in trace
    assert [p for _, _, p in rows[-1].top] == pytest.approx(np.sort(trace["probs"][position])[::-1][:4], abs=1e-5)


def test_logit_lens_target_by_id_and_none():
    w = model.random_weights(SMALL, seed=1)
    trace = model.forward(w, [0, 1, 2])
    assert [r.target_rank for r in model.logit_lens(w, trace, target=4)] == \
        [r.target_rank for r in model.logit_lens(w, trace, target="E")]
    rows = model.logit_lens(w, trace, k=2)
    assert all(r.target_rank is None and r.target_prob is None and len(r.top) == 2 for r in rows)


@pytest.mark.parametrize("kw,needle", [
    ({"position": 3}, "position"), ({"position": -4}, "position"), ({"k": 0}, "k"),
    ({"target": 11}, "target"), ({"target": "EF"}, "target: 'EF' is 2 tokens"), ({"target": "Z"}, "'Z'"),
])
def test_logit_lens_errors(kw, needle):
    w = model.random_weights(SMALL, seed=1)
    trace = model.forward(w, [0, 1, 2])
    with pytest.raises(ModelError, match=needle) as err:
        model.logit_lens(w, trace, **kw)
    assert "\n" not in str(err.value)
