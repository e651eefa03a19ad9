"""The Llama family in Blender: nano-llama's cells read back their numbers, the panel builds and
animates it, and a Llama preset round-trips through the panel's preset writer."""

import numpy as np
import pytest

from llmviz_blender import layout as L
from llmviz_blender import model

bpy = pytest.importorskip("bpy")
from llmviz_blender import scene  # noqa: E402
from llmviz_blender.ui import presets, properties  # noqa: E402
from test_ui import ui  # noqa: E402,F401  (the fixture: the add-on registered on a fresh file)

NANO_LLAMA = model.load_preset("nano-llama")
TOKENS = [2, 1, 0, 1, 1, 2]


def test_nano_llama_cells_read_back(fresh_blend):
    coll = scene.build("nano-llama")
    assert coll["llmviz_preset"] == "nano-llama" and list(coll["llmviz_tokens"]) == TOKENS
    weights = model.default_weights(NANO_LLAMA)
    trace = model.forward(weights, TOKENS)
    lay = L.model_layout(NANO_LLAMA, len(TOKENS))
    objects = {o["llmviz_key"]: o for o in coll.all_objects if "llmviz_key" in o}
    assert set(objects) == {b.key for b in lay.blocks}
    assert "h0.head1.k" not in objects and {"h0.head0.k_rot", "h0.head2.v", "rope", "h0.swiglu"} <= set(objects)
    for block in lay.blocks:
        obj = objects[block.key]
        assert obj["llmviz_source"] == block.source
        if "value" in obj.data.attributes:  # per-cell blocks: each cell's number
            src = L.source_array(block.source, trace, weights).reshape(-1)
            idx = np.zeros(len(obj.data.vertices), np.int32)
            obj.data.attributes["src_index"].data.foreach_get("value", idx)
            values = np.zeros(len(obj.data.vertices), np.float32)
            obj.data.attributes["value"].data.foreach_get("value", values)
            np.testing.assert_array_equal(values, src[idx].astype(np.float32), err_msg=block.key)
    assert objects["h0.head0.q_weight"]["llmviz_source"] == "param:model.layers.0.self_attn.q_proj.weight"


def test_panel_builds_and_animates_nano_llama(ui):
    ui.preset = "nano-llama"
    assert bpy.ops.llmviz.generate() == {"FINISHED"}
    coll = properties.model_collection(bpy.context.scene)
    assert coll["llmviz_preset"] == "nano-llama" and coll["llmviz_weights_kind"] == "preset"
    assert bpy.ops.llmviz.animate() == {"FINISHED"}
    captions = [o.data.body for o in bpy.data.objects if o.type == "FONT"]
    assert any("Grouped-query attention" in c for c in captions) and any("RMSNorm" in c for c in captions)


def test_llama_preset_round_trips_through_the_writer():
    import tomllib
    for name in ("llama-3.1-8b", "nano-llama"):
        config = model.load_preset(name)
        data = tomllib.loads(presets.to_toml(model.config_to_dict(config)))
        assert model.config_from_dict(data) == config
