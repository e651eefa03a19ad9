"""The shipped facts model: every training fact answered correctly (greedy next token through
model.encode + model.forward), and the held-out accuracy the README states."""

import sys
from pathlib import Path

import numpy as np
import pytest

from llmviz_blender import model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import train_facts  # noqa: E402  (the corpus; torch is imported only to train)

#: measured by scripts/train_facts.py: 235/324 = 72.5% over the three held-out templates
HELD_OUT_AT_LEAST = 0.70


@pytest.fixture(scope="module")
def weights():
    config = model.load_preset("facts-gpt")
    return model.default_weights(config)


def _answers(weights, pairs):
    cfg = weights.config
    return [model.decode(cfg, [int(np.argmax(model.forward(weights, model.encode(cfg, p))["logits"][-1]))]) == a
            for p, a in pairs]


def test_preset(weights):
    cfg = weights.config
    assert (cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.block_size) == (4, 4, 64, 16)
    assert cfg.tokenizer.name == "facts-gpt.tokenizer.json" and cfg.weights.stat().st_size < 2 * 2**20
    assert model.tokenizer_of(cfg).vocab_size == cfg.vocab_size
    assert cfg.default_input == "Michael Jordan plays the sport of"
    people = train_facts.people()
    assert len(people) >= 100 and len(set(people.values())) >= 8
    assert all(len(name.split()) == 2 for name in people)


def test_michael_jordan(weights):
    cfg = weights.config
    probs = model.forward(weights, model.encode(cfg, cfg.default_input))["probs"][-1]
    assert model.top_k(cfg, probs, 1)[0][1] == "basketball"


def test_every_training_fact(weights):
    pairs = train_facts.facts(train_facts.TRAIN_TEMPLATES)
    right = _answers(weights, pairs)
    assert all(right), [p for p, ok in zip(pairs, right) if not ok][:5]


def test_held_out_accuracy(weights):
    pairs = train_facts.facts(train_facts.HELD_OUT_TEMPLATES)
    assert not set(train_facts.HELD_OUT_TEMPLATES) & set(train_facts.TRAIN_TEMPLATES)
    assert np.mean(_answers(weights, pairs)) >= HELD_OUT_AT_LEAST
