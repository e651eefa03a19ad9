"""Presets: loading, validation errors naming file and field, parameter counts."""

import pytest

from llmviz_blender import model
from llmviz_blender.model import ModelError

REFERENCE_COUNTS = {"nano-gpt": 85_584, "gpt2-small": 124_439_808, "gpt2-xl": 1_557_611_200,
                    "gpt3": 174_591_676_416}


def test_shipped_presets():
    assert set(model.preset_names()) >= {"nano-gpt", "gpt2-small", "gpt2-medium", "gpt2-large", "gpt2-xl", "gpt3"}
    nano = model.load_preset("nano-gpt")
    assert (nano.n_layer, nano.n_head, nano.n_embd, nano.vocab_size, nano.block_size) == (3, 3, 48, 3, 11)
    assert nano.vocab == ("A", "B", "C") and nano.default_input == "CBABBC" and nano.head_size == 16
    assert nano.weights.name == "nano-gpt-sort.safetensors"
    gpt3 = model.load_preset("gpt3")
    assert (gpt3.n_layer, gpt3.n_head, gpt3.n_embd, gpt3.vocab_size, gpt3.block_size) == (96, 96, 12288, 50257, 2048)
    assert gpt3.head_size == 128 and gpt3.weights is None


@pytest.mark.parametrize("name,count", REFERENCE_COUNTS.items())
def test_param_count_matches_reference(name, count):
    config = model.load_preset(name)
    if name != "nano-gpt":
        config = config.replace(block_size=1024)  # the reference counts at block size 1024
    assert model.param_count(config) == count


def test_param_count_lm_head():
    nano = model.load_preset("nano-gpt")
    assert model.param_count(nano, include_lm_head=True) == 85_584 + 3 * 48


def test_load_by_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\nn_layer = 1\nn_head = 2\nn_embd = 8\nvocab_size = 5\nblock_size = 4\n')
    config = model.load_preset(str(path))
    assert config.name == "mine" and config.title == "mine" and config.head_size == 4


GOOD = {"name": '"x"', "n_layer": "1", "n_head": "2", "n_embd": "8", "vocab_size": "3", "block_size": "4"}


def _write(tmp_path, fields: dict, extra: str = "") -> str:
    path = tmp_path / "bad.toml"
    path.write_text("".join(f"{k} = {v}\n" for k, v in fields.items()) + extra)
    return str(path)


@pytest.mark.parametrize("fields,extra,needle", [
    ({k: v for k, v in GOOD.items() if k != "n_head"}, "", "missing field 'n_head'"),
    (GOOD, "colour = 3\n", "unknown field 'colour'"),
    ({**GOOD, "n_layer": '"three"'}, "", "field 'n_layer' must be an integer"),
    ({**GOOD, "n_embd": "4.5"}, "", "field 'n_embd' must be an integer"),
    ({**GOOD, "block_size": "0"}, "", "field 'block_size' must be positive"),
    ({**GOOD, "n_head": "-2"}, "", "field 'n_head' must be positive"),
    ({**GOOD, "n_head": "3"}, "", "'n_embd' (8) must be divisible by 'n_head' (3)"),
    ({**GOOD, "n_layer": "true"}, "", "field 'n_layer' must be an integer"),
    ({**GOOD, "name": "5"}, "", "field 'name' must be a string"),
    (GOOD, 'vocab = ["A", "B"]\n', "field 'vocab' has 2 labels but 'vocab_size' is 3"),
    (GOOD, 'vocab = ["A", "B", "A"]\n', "repeated labels"),
    (GOOD, 'vocab = "ABC"\n', "field 'vocab' must be a list"),
    (GOOD, "n_layer = 2\n", "malformed TOML"),
])
def test_preset_errors(tmp_path, fields, extra, needle):
    path = _write(tmp_path, fields, extra)
    with pytest.raises(ModelError) as err:
        model.load_preset(path)
    message = str(err.value)
    assert needle in message and path in message and "\n" not in message


def test_unknown_preset_and_missing_file(tmp_path):
    with pytest.raises(ModelError, match="unknown preset 'gpt5'.*nano-gpt"):
        model.load_preset("gpt5")
    with pytest.raises(ModelError, match="preset file not found"):
        model.load_preset(str(tmp_path / "none.toml"))
