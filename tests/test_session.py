"""One live model per built collection: built once, used by animate, framing, the inspector and the
CLI; rebuilt from the collection's saved properties only when the live model is gone."""

import sys

import pytest

bpy = pytest.importorskip("bpy")
from llmviz_blender import model, scene  # noqa: E402
from llmviz_blender.model import weights as weights_module  # noqa: E402
from llmviz_blender.scene import session  # noqa: E402


@pytest.fixture
def counts(monkeypatch):
    """Calls of the forward pass and of weights-file reads, wherever the package binds them."""
    seen = {"forward": 0, "read": 0}
    original_forward, original_read = model.forward, weights_module._read_tensors

    def forward(*args, **kwargs):
        seen["forward"] += 1
        return original_forward(*args, **kwargs)

    def read(*args, **kwargs):
        seen["read"] += 1
        return original_read(*args, **kwargs)

    for name, module in list(sys.modules.items()):
        if name.startswith("llmviz_blender") and getattr(module, "forward", None) is original_forward:
            monkeypatch.setattr(module, "forward", forward)
    monkeypatch.setattr(weights_module, "_read_tensors", read)
    return seen


@pytest.mark.parametrize("chapters", [["embedding", "attention"], ["overview", "output"], ["mlp"]])
def test_build_and_animate_run_the_forward_pass_once_and_read_the_weights_once(fresh_blend, counts, chapters):
    coll = scene.build("nano-gpt")
    scene.animate(coll, chapters=chapters)
    scene.frame_target(coll, "h0.head0")
    assert scene.model_of(coll).trace is not None
    assert counts == {"forward": 1, "read": 1}


def test_generation_runs_only_when_its_chapter_is_told(fresh_blend, counts):
    coll = scene.build("nano-gpt")
    scene.animate(coll, chapters=["output", "generation"])
    assert counts["read"] == 1
    assert counts["forward"] == 1 + 6  # the build, then one pass per generated token (the last: every column)
    m = scene.model_of(coll)
    assert model.decode(m.config, m.sequence) == "CBABBCABBBC" and m.layout.n_tokens == 11


def test_a_reopened_walkthrough_keeps_its_generated_columns(fresh_blend, tmp_path):
    coll = scene.build("nano-gpt")
    scene.animate(coll, chapters=["output", "generation"])
    live, name = scene.model_of(coll), coll.name
    assert list(coll["llmviz_tokens"]) == live.tokens and list(coll["llmviz_fed"]) == live.fed == [0, 1, 1, 1, 2]
    path = tmp_path / "walk.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.open_mainfile(filepath=str(path))
    restored = scene.model_of(bpy.data.collections[name])
    assert restored is not live and (restored.tokens, restored.fed) == (live.tokens, live.fed)
    assert restored.layout.n_tokens == 11 and (restored.trace["probs"] == live.trace["probs"]).all()
    scene.animate(bpy.data.collections[name], chapters=["attention"])  # no generation: back to the input's columns
    back = scene.model_of(bpy.data.collections[name])
    assert back.fed == [] and back.layout.n_tokens == 6 and list(bpy.data.collections[name]["llmviz_fed"]) == []


def test_a_reopened_file_rebuilds_its_model_once_from_structured_properties(fresh_blend, counts, tmp_path):
    coll = scene.build("nano-gpt", weights="random", tokens="CAB")
    assert (coll["llmviz_weights_kind"], coll["llmviz_weights_path"], coll["llmviz_weights_seed"]) == ("random", "", 0)
    live, name = scene.model_of(coll), coll.name
    path = tmp_path / "saved.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.open_mainfile(filepath=str(path))
    reopened = bpy.data.collections[name]
    restored = scene.model_of(reopened)
    assert restored is not live and restored is scene.model_of(reopened)  # rebuilt once, then live again
    assert restored.tokens == live.tokens == [2, 0, 1]
    assert restored.source == session.WeightsSource("random", seed=0)
    for name in ("logits", "h2.mlp_resid"):
        assert (restored.trace[name] == live.trace[name]).all()
    assert counts["forward"] == 2 and counts["read"] == 0


def test_a_weights_file_is_saved_as_its_path(fresh_blend, tmp_path):
    path = tmp_path / "w.safetensors"
    model.save_weights(model.random_weights(model.load_preset("nano-gpt"), seed=3), path)
    coll = scene.build("nano-gpt", weights=path)
    assert coll["llmviz_weights_kind"] == "file" and coll["llmviz_weights_path"] == str(path)
    assert scene.model_of(coll).source.load(scene.model_of(coll).config).params.keys()


def test_weights_given_in_memory_cannot_be_restored_and_say_so(fresh_blend):
    cfg = model.load_preset("nano-gpt")
    coll = scene.build(cfg, weights=model.random_weights(cfg, seed=1))
    session.forget_all()
    with pytest.raises(model.ModelError, match="given in memory"):
        scene.model_of(coll)


def test_clear_forgets_the_live_models(fresh_blend):
    coll = scene.build("nano-gpt")
    uid = coll.session_uid
    assert uid in session._live
    scene.clear()
    assert not session._live
