"""Tokenizers: our encode / decode / token_text against the `tokenizers` library on tokenizers trained
here (WordLevel, GPT-2 style byte-level BPE), discovery beside weights, and every error path."""

import json

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from llmviz_blender import model
from llmviz_blender.model import ModelError

CORPUS = ["Michael Jordan plays the sport of basketball", "Serena Williams plays the sport of tennis",
          "the sport Lionel Messi plays is soccer", "café déjà vu, naïve façade!"] * 20
PROMPT = "Michael Jordan plays the sport of"


def _word_level(path):
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(CORPUS, trainers.WordLevelTrainer(special_tokens=[]))
    tok.save(str(path))
    return tok


def _bpe(path=None, vocab_size=300):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=["<|endoftext|>"])
    tok.train_from_iterator(CORPUS, trainer)
    if path is not None:
        tok.save(str(path))
    return tok


def _config(tok, path=None, **kw):
    fields = {"name": "tiny", "n_layer": 1, "n_head": 2, "n_embd": 8,
              "vocab_size": tok.get_vocab_size(with_added_tokens=True), "tokenizer": path, "block_size": 32}
    return model.ModelConfig(**{**fields, **kw})


def test_word_level_agrees_with_library(tmp_path):
    path = tmp_path / "tokenizer.json"
    lib = _word_level(path)
    cfg = _config(lib, path)
    ids = model.encode(cfg, PROMPT)
    assert ids == lib.encode(PROMPT).ids and len(ids) == 6
    assert model.decode(cfg, ids) == lib.decode(ids) == PROMPT
    assert [model.token_text(cfg, i, quoted=False) for i in ids] == PROMPT.split()
    assert model.token_text(cfg, ids[0]) == "'Michael'"


def test_byte_level_bpe_agrees_with_library(tmp_path):
    path = tmp_path / "tokenizer.json"
    lib = _bpe(path)
    cfg = _config(lib, path)
    for text in [PROMPT, " leading space", "café déjà vu, naïve façade!", "unseen words: zebra 42"]:
        ids = model.encode(cfg, text)
        assert ids == lib.encode(text).ids
        assert model.decode(cfg, ids) == lib.decode(ids) == text
    pieces = [model.token_text(cfg, i, quoted=False) for i in model.encode(cfg, PROMPT)]
    assert "".join(pieces).replace("␣", " ") == PROMPT
    assert any(p.startswith("␣") for p in pieces) and not any("Ġ" in p or " " in p for p in pieces)
    space = lib.token_to_id("Ġ")
    assert model.token_text(cfg, space) == "'␣'"
    assert model.token_text(cfg, lib.token_to_id("Ċ"), quoted=False) == "↵"


def test_gpt2_vocab_and_merges_beside_weights_run_a_random_model(tmp_path):
    lib = _bpe()
    vocab = tmp_path / "vocab.json"
    model_dir = json.loads(lib.to_str())["model"]
    vocab.write_text(json.dumps(model_dir["vocab"]))
    (tmp_path / "merges.txt").write_text("#version: 0.2\n" + "".join(
        (" ".join(m) if isinstance(m, list) else m) + "\n" for m in model_dir["merges"]))
    cfg = _config(lib, None, name="gpt2-shaped", n_layer=2, n_head=2, n_embd=16)
    weights_path = model.save_weights(model.random_weights(cfg, seed=1), tmp_path / "model.safetensors", naming="hf")
    (tmp_path / "config.json").write_text(json.dumps({"n_head": 2}))
    w = model.load_weights(weights_path)
    assert w.config.tokenizer == vocab.resolve()
    ids = model.encode(w.config, PROMPT)
    assert ids == lib.encode(PROMPT).ids
    trace = model.forward(w, ids)
    assert trace["probs"].shape == (len(ids), cfg.vocab_size)
    assert model.decode(w.config, ids) == PROMPT
    assert model.load_tokenizer(tmp_path).source == str(vocab.resolve())  # a model folder


def test_found_beside_weights(tmp_path):
    lib = _word_level(tmp_path / "mine.tokenizer.json")
    cfg = _config(lib, None, name="mine")
    path = model.save_weights(model.random_weights(cfg), tmp_path / "mine.safetensors")
    assert model.find_tokenizer(path) == (tmp_path / "mine.tokenizer.json").resolve()
    w = model.load_weights(path)
    assert model.encode(w.config, "the sport of tennis") == lib.encode("the sport of tennis").ids
    assert model.load_weights(path, cfg).config.tokenizer is not None
    (tmp_path / "mine.tokenizer.json").unlink()
    assert model.find_tokenizer(path) is None and model.load_weights(path).config.tokenizer is None


def test_word_vocab_in_preset(tmp_path):
    path = tmp_path / "words.toml"
    path.write_text('name = "words"\nn_layer = 1\nn_head = 1\nn_embd = 4\nvocab_size = 4\nblock_size = 3\n'
                    'vocab = ["the", "sport", "of", "tennis"]\n')
    cfg = model.load_preset(path)
    assert not cfg.letters and model.encode(cfg, "the sport  of") == [0, 1, 2]
    assert model.decode(cfg, [3, 0]) == "tennis the" and model.token_text(cfg, 3) == "'tennis'"
    assert model.encode(cfg, "3 0") == [3, 0]  # ids written as numbers still work
    with pytest.raises(ModelError, match=r"^tokens: 'golf' is not in the vocabulary of the vocab of words$"):
        model.encode(cfg, "the golf")


def test_tokenizer_field_in_preset(tmp_path):
    lib = _word_level(tmp_path / "tok.json")
    (tmp_path / "p.toml").write_text(f'name = "p"\nn_layer = 1\nn_head = 1\nn_embd = 4\n'
                                     f'vocab_size = {lib.get_vocab_size()}\nblock_size = 8\ntokenizer = "tok.json"\n')
    cfg = model.load_preset(tmp_path / "p.toml")
    assert cfg.tokenizer == (tmp_path / "tok.json").resolve()
    assert model.config_to_dict(cfg)["tokenizer"] == str(cfg.tokenizer)
    assert model.encode(cfg, "the sport") == lib.encode("the sport").ids


def test_letters_and_ids_unchanged():
    nano = model.load_preset("nano-gpt")
    assert nano.letters and model.encode(nano, "CBABBC") == [2, 1, 0, 1, 1, 2]
    assert model.token_text(nano, 0) == "'A'" and model.token_text(nano, 0, quoted=False) == "A"
    gpt2 = model.load_preset("gpt2-small")
    assert model.encode(gpt2, "464 3290") == [464, 3290] and model.token_text(gpt2, 464) == "464"


def test_mark_spaces():
    assert model.mark_spaces(" basketball") == "␣basketball"
    assert model.mark_spaces("\n\t\x00") == "↵⇥\\x00"


def _one_line(err) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


def test_errors(tmp_path):
    path = tmp_path / "tokenizer.json"
    lib = _word_level(path)
    cfg = _config(lib, path, block_size=4)
    with pytest.raises(ModelError) as err:
        model.encode(cfg, PROMPT)
    assert "6 tokens" in _one_line(err) and "block_size 4" in str(err.value)
    with pytest.raises(ModelError) as err:  # WordLevel without [UNK] in its vocabulary
        model.encode(cfg, "the zebra")
    assert "'zebra' is not in the vocabulary" in _one_line(err) and str(path) in str(err.value)
    with pytest.raises(ModelError) as err:
        model.encode(_config(lib, path, vocab_size=lib.get_vocab_size() + 1), "the")
    size = lib.get_vocab_size()
    assert f"{size} tokens" in _one_line(err) and f"vocab_size {size + 1}" in str(err.value)
    with pytest.raises(ModelError) as err:
        model.encode(_config(lib, tmp_path / "none.json"), "the")
    assert "none.json: tokenizer file not found" in _one_line(err)
    bad = tmp_path / "bad.json"
    bad.write_text('{"model": ')
    with pytest.raises(ModelError) as err:
        model.encode(_config(lib, bad), "the")
    assert _one_line(err).startswith(f"{bad}: not a valid tokenizer file")
    (tmp_path / "sub").mkdir()
    with pytest.raises(ModelError, match="no tokenizer.json"):
        model.load_tokenizer(tmp_path / "sub")
    with pytest.raises(ModelError, match="input is empty"):
        model.encode(cfg, "   ")
    with pytest.raises(ModelError, match="either field 'vocab' or field 'tokenizer'"):
        _config(lib, path, vocab_size=2, vocab=("a", "b")).validate()
    with pytest.raises(ModelError, match="'hello' is not a token id"):
        model.encode(model.load_preset("gpt2-small"), "hello")
