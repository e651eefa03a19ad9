"""Llama and Qwen tokenizers with --prompt: byte-level BPE (Llama 3, Qwen2, SmolLM2) and byte-fallback
BPE (Llama 2, TinyLlama), with the BOS token added as the model's tokenizer adds it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from llmviz_blender import model

WORDS = ["the", "cat", "sat", "on", "mat", "a"]


def byte_level(bos: str | None) -> Tokenizer:
    """A Llama 3 style tokenizer: byte-level BPE; with `bos`, a post-processor that starts every prompt
    with it (as <|begin_of_text|>)."""
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {tok: i for i, tok in enumerate([*(["<|begin_of_text|>"] if bos else []), *sorted(alphabet),
                                             "Ġt", "Ġc", "Ġs", "Ġm", "at", "he"])}
    tok = Tokenizer(models.BPE(vocab, [("Ġ", "t"), ("Ġ", "c"), ("Ġ", "s"), ("Ġ", "m"), ("a", "t"), ("h", "e")]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    if bos:
        tok.add_special_tokens([bos])
        tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A", special_tokens=[(bos, 0)])
    return tok


def byte_fallback() -> Tokenizer:
    """A Llama 2 / TinyLlama style tokenizer: SentencePiece-like BPE with '▁' for spaces and byte
    fallback (<0x0A> for a newline)."""
    pieces = ["<unk>", "<s>", "</s>", *(f"<0x{b:02X}>" for b in range(256)), "▁", "t", "h", "e", "c", "a", "▁t", "he",
              "▁the", "▁c", "at", "▁cat"]
    vocab = {p: i for i, p in enumerate(pieces)}
    merges = [("▁", "t"), ("h", "e"), ("▁t", "he"), ("▁", "c"), ("a", "t"), ("▁c", "at")]
    tok = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    tok.add_special_tokens(["<s>", "</s>"])
    return tok


def llama_folder(path, tok: Tokenizer, bos: int | None, tokenizer_config: dict | None = None):
    """A Hugging Face Llama folder whose vocabulary is the tokenizer's, with random weights."""
    path.mkdir(parents=True)
    vocab_size = tok.get_vocab_size(with_added_tokens=True)
    cfg = model.ModelConfig("t", 1, 2, 8, vocab_size, 16, family="llama", architecture="LlamaForCausalLM",
                            n_kv_head=1, n_inner=12, qkv_bias=False, bos_token_id=bos)
    model.save_weights(model.random_weights(cfg, seed=0), path / "model.safetensors")
    (path / "config.json").write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "num_hidden_layers": 1, "hidden_size": 8, "num_attention_heads": 2,
        "num_key_value_heads": 1, "intermediate_size": 12, "vocab_size": vocab_size, "max_position_embeddings": 16,
        "tie_word_embeddings": True, "bos_token_id": bos}))
    tok.save(str(path / "tokenizer.json"))
    if tokenizer_config is not None:
        (path / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    return path


def test_llama3_style_tokenizer_adds_bos_as_its_post_processor_says(tmp_path):
    weights = model.load_weights(llama_folder(tmp_path / "m", byte_level("<|begin_of_text|>"), bos=0))
    cfg = weights.config
    assert cfg.add_bos and cfg.tokenizer is not None
    ids = model.encode(cfg, "the cat sat", as_ids=False)
    assert ids[0] == 0 and model.token_text(cfg, ids[0]) == "'<|begin_of_text|>'"
    assert model.decode(cfg, ids[1:]) == "the cat sat"
    assert [model.token_text(cfg, i, quoted=False) for i in ids[1:3]] == ["t", "he"]
    assert model.token_text(cfg, ids[3], quoted=False) == "␣c"  # a leading space drawn as ␣
    trace = model.forward(weights, ids)
    assert trace["logits"].shape == (len(ids), cfg.vocab_size)


@pytest.mark.parametrize("said, expected", [(False, False), (True, True)])
def test_tokenizer_config_decides_bos(tmp_path, said, expected):
    folder = llama_folder(tmp_path / "m", byte_level(None), bos=3, tokenizer_config={"add_bos_token": said})
    cfg = model.load_weights(folder).config
    assert cfg.add_bos is expected
    ids = model.encode(cfg, "the mat", as_ids=False)
    assert (ids[0] == 3) is expected


def test_qwen_style_no_bos(tmp_path):
    """A tokenizer whose post-processor adds nothing (Qwen2, SmolLM2): no BOS, even with bos_token_id."""
    cfg = model.load_weights(llama_folder(tmp_path / "m", byte_level(None), bos=5)).config
    assert not cfg.add_bos
    assert model.encode(cfg, "the", as_ids=False) == byte_level(None).encode("the").ids


def test_byte_fallback_tokens_read_as_their_bytes(tmp_path):
    tok = byte_fallback()
    cfg = model.load_weights(llama_folder(tmp_path / "m", tok, bos=1, tokenizer_config={"add_bos_token": True})).config
    ids = model.encode(cfg, "the cat\nat", as_ids=False)
    assert ids[0] == 1  # <s>
    texts = [model.token_text(cfg, i, quoted=False) for i in ids]
    assert texts[1:3] == ["␣the", "␣cat"]
    newline = tok.token_to_id("<0x0A>")
    assert newline in ids and model.token_text(cfg, newline, quoted=False) == "↵"
    assert model.decode(cfg, ids[1:]) == "the cat\nat"


def test_prompt_renders_through_the_cli_api(tmp_path):
    """scene-free: the prompt's ids and the model's next-token distribution, as --prompt gets them."""
    weights = model.load_weights(llama_folder(tmp_path / "m", byte_level("<|begin_of_text|>"), bos=0))
    gen = model.generate(weights, model.encode(weights.config, "the cat", as_ids=False), 2)
    assert gen.tokens[0] == 0 and len(gen.generated) == 2
    assert np.isclose(gen.traces[-1]["probs"][-1].sum(), 1.0)
