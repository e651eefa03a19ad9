"""scripts/render.py with Llama-family models: a Hugging Face folder as --weights (its config.json
says the architecture), a Llama preset with random weights, and the one-line errors (exit 2, nothing
written) for an architecture not drawn, a config.json missing a field, a tensor of the wrong shape and
an index naming a missing shard."""

from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("bpy")
transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from test_cli import TINY, cli_many  # noqa: E402
from test_llama_family import make_folder  # noqa: E402


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("llama-cli")
    make_folder(root / "good", "llama-tied")
    make_folder(root / "sharded", "llama-tied", max_shard_size="20KB")
    for name, change in {"arch": lambda d: d.update(architectures=["GemmaForCausalLM"]),
                         "field": lambda d: d.pop("num_attention_heads"),
                         "shape": lambda d: d.update(intermediate_size=40)}.items():
        shutil.copytree(root / "good", root / name)
        path = root / name / "config.json"
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data))
    index = json.loads((root / "sharded" / "model.safetensors.index.json").read_text())
    (root / "sharded" / sorted(set(index["weight_map"].values()))[0]).unlink()
    return root


def test_folder_and_preset_render(folders, tmp_path):
    results = cli_many({
        "folder": ["--weights", str(folders / "good"), "--tokens", "1,2,3,4", *TINY, "--still", "folder.png"],
        "preset": ["--preset", "nano-llama", "--weights", "random", *TINY, "--still", "preset.png"],
    }, cwd=tmp_path)
    for name, (code, _, stderr) in results.items():
        assert code == 0, f"{name}: {stderr}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.png", "preset.png"]


def test_bad_llama_folders_exit_2(folders, tmp_path):
    expected = {
        "arch": "architecture 'GemmaForCausalLM' is not drawn; drawn: GPT2LMHeadModel, LlamaForCausalLM, "
                "Qwen2ForCausalLM, MistralForCausalLM",
        "field": "config.json: missing field 'num_attention_heads'",
        "shape": "tensor 'model.layers.0.mlp.gate_proj.weight' has shape (64, 32), expected (40, 32)",
        "sharded": "model.safetensors.index.json: shard 'model-00001-of-",
    }
    results = cli_many({name: ["--weights", str(folders / name), "--tokens", "1,2", *TINY, "--still", "out.png"]
                        for name in expected}, cwd=tmp_path)
    for name, (code, stdout, stderr) in results.items():
        assert code == 2, f"{name}: exit {code}\n{stderr}"
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("render.py: ") and expected[name] in lines[0], \
            f"{name}: {stderr!r}"
        assert "Traceback" not in stdout + stderr
    assert list(tmp_path.iterdir()) == []
