"""Scene build read back from Blender: instances, values, coverage, LOD, labels, hygiene."""

import numpy as np
import pytest

from llmviz_blender import layout as L
from llmviz_blender import model

bpy = pytest.importorskip("bpy")
from llmviz_blender import scene  # noqa: E402
from llmviz_blender.scene import datablocks  # noqa: E402

NANO = model.load_preset("nano-gpt")
TOKENS = model.encode(NANO, "CBABBC")


def _attr(obj, name):
    data = obj.data.attributes[name].data
    dtype = np.int32 if obj.data.attributes[name].data_type == "INT" else np.float32
    out = np.empty(len(data), dtype)
    data.foreach_get("value", out)
    return out


def _block_objects(coll):
    return [o for o in coll.all_objects if "llmviz_key" in o]


def _instance_counts(depsgraph):
    counts = {}
    for inst in depsgraph.object_instances:
        if inst.is_instance and inst.parent is not None:
            key = inst.parent.original.name
            counts[key] = counts.get(key, 0) + 1
    return counts


def test_nano_cells_read_back(fresh_blend):
    coll = scene.build("nano-gpt")
    assert coll["llmviz_preset"] == "nano-gpt" and list(coll["llmviz_tokens"]) == TOKENS
    weights = model.default_weights(NANO)
    trace = model.forward(weights, TOKENS)
    lay = L.model_layout(NANO, len(TOKENS))
    objects = {o["llmviz_key"]: o for o in _block_objects(coll)}
    assert set(objects) == {b.key for b in lay.blocks}
    depsgraph = bpy.context.evaluated_depsgraph_get()
    counts = _instance_counts(depsgraph)
    coverage = {}
    for block in lay.blocks:
        obj = objects[block.key]
        assert obj["llmviz_block"] == block.name and obj["llmviz_kind"] == block.kind
        assert obj["llmviz_source"] == block.source
        assert counts[obj.name] == block.n_cells == len(obj.data.vertices), block.key
        src = L.source_array(block.source, trace, weights).reshape(-1)
        idx = _attr(obj, "src_index")
        np.testing.assert_array_equal(_attr(obj, "value"), src[idx].astype(np.float32), err_msg=block.key)
        mask = coverage.setdefault(block.source, np.zeros(src.size, bool))
        mask[idx] = True
        # the cube of each cell sits where the layout says
        co = np.empty(3 * len(obj.data.vertices), np.float32)
        obj.data.vertices.foreach_get("co", co)
        np.testing.assert_allclose(co.reshape(-1, 3), block.positions(*block.cells()), atol=1e-4)
    for key in model.param_shapes(NANO):
        assert coverage[f"param:{key}"].all(), key
    for name, array in trace.items():
        if name in ("tok_emb", "pos_emb"):
            continue
        expected = np.isfinite(trace[name.replace("att_sm", "att")]).ravel() if ".att" in name and \
            name.endswith(("att", "att_sm")) else np.ones(array.size, bool)
        np.testing.assert_array_equal(coverage[name], expected, err_msg=name)


def test_masked_attention_cells_are_empty(fresh_blend):
    coll = scene.build("nano-gpt")
    att = next(o for o in coll.all_objects if o.get("llmviz_key") == "h0.head0.att")
    src = _attr(att, "src_index")  # into h0.att (n_head, T, T): row = query, col = key
    rows, cols = (src // 6) % 6, src % 6
    assert len(src) == 21 and np.all(cols <= rows)
    assert np.isfinite(_attr(att, "value")).all()


def test_rebuild_and_clear_hygiene(fresh_blend):
    bpy.ops.mesh.primitive_cube_add()
    user_cube = bpy.context.object
    user_cube.name = "My Cube"
    user_mat = bpy.data.materials.new("LLMViz Weight")  # a user's material with one of our names
    user_cube.data.materials.append(user_mat)

    def counts():
        return {attr: len(getattr(bpy.data, attr)) for attr in datablocks.ID_COLLECTIONS if hasattr(bpy.data, attr)}

    scene.build("nano-gpt")
    first = counts()
    for _ in range(10):
        scene.build("nano-gpt")
    assert counts() == first
    removed = scene.clear()
    assert removed > 200 and not list(datablocks.iter_owned())
    assert bpy.data.objects.get("My Cube") is user_cube and user_cube.data.materials[0] is user_mat
    assert user_mat.name == "LLMViz Weight" and user_mat.users == 1
    assert bpy.data.meshes.get(user_cube.data.name) is not None
    assert all(len(bpy.data.node_groups) == 0 for _ in [0]) and len(bpy.data.curves) == 0


def test_bad_input_leaves_file_unchanged(fresh_blend, tmp_path):
    scene.build("nano-gpt")
    before = sorted(o.name for o in bpy.data.objects)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not safetensors at all")
    for kwargs, error in [({"preset_or_config": "gpt5"}, model.ModelError),
                          ({"preset_or_config": "nano-gpt", "weights": bad}, model.ModelError),
                          ({"preset_or_config": "nano-gpt", "tokens": "ABCD!"}, model.ModelError),
                          ({"preset_or_config": "nano-gpt", "tokens": "ABABABABABAB"}, model.ModelError),
                          ({"preset_or_config": "gpt2-small", "lod": "cells"}, L.LayoutError)]:
        with pytest.raises(error):
            scene.build(**kwargs)
        assert sorted(o.name for o in bpy.data.objects) == before


def test_lod_boxes_for_gpt2(fresh_blend):
    coll = scene.build("gpt2-small", labels=False)
    lay = L.model_layout(model.load_preset("gpt2-small"), 6)
    plan = L.plan_lod(lay.blocks)
    boxes = {o["llmviz_kind"]: o for o in coll.all_objects if "llmviz_blocks" in o}
    for kind, obj in boxes.items():
        n = sum(1 for b in lay.blocks if b.kind == kind and plan[b.key] == "box")
        assert obj["llmviz_blocks"] == n and len(obj.data.polygons) == 6 * n
        assert "cell_uv" in obj.data.uv_layers
    cells = _block_objects(coll)
    assert len(cells) == sum(1 for v in plan.values() if v == "cells")
    # shape-only preset: no numbers, the kind colour
    shade = _attr(cells[0], "shade")
    assert np.all(shade == pytest.approx(0.75)) and np.isnan(_attr(cells[0], "value")).all()


def test_labels_and_card(fresh_blend):
    coll = scene.build("nano-gpt")
    texts = {o.data.body for o in coll.all_objects if o.type == "FONT"}
    for expected in ["Embedding", "Transformer 0", "Transformer 2", "Output", "Self-attention", "Projection", "MLP",
                     "Q Weights", "Attention\nMatrix", "MLP\nResidual", "Probabilities", "T", "C", "A", "4C",
                     "nano-gpt\n85,584 parameters"]:
        assert expected in texts, expected
    assert {"C", "B", "A"} <= texts  # input tokens and predictions
    assert any(t.startswith("next token: A") for t in texts)


def test_camera_frames_model(fresh_blend):
    from bpy_extras.object_utils import world_to_camera_view
    scene.build("nano-gpt")
    bpy.context.view_layer.update()
    sc = bpy.context.scene
    cam = sc.camera
    assert cam is not None and cam.name == "LLMViz Camera"
    lo, hi = L.model_layout(NANO, 6).bounds()
    from mathutils import Vector
    for x in (lo[0], hi[0]):
        for z in (lo[2], hi[2]):
            p = world_to_camera_view(sc, cam, Vector((x, 0.0, z)))
            assert 0 <= p.x <= 1 and 0 <= p.y <= 1 and p.z > 0


def test_comparison(fresh_blend):
    root = scene.build_comparison(["nano-gpt", "gpt2-small", "gpt2-xl", "gpt3"])
    assert list(root["llmviz_compare"]) == ["nano-gpt", "gpt2-small", "gpt2-xl", "gpt3"]
    models = {c["llmviz_preset"]: c for c in root.children if "llmviz_preset" in c}
    assert set(models) == {"nano-gpt", "gpt2-small", "gpt2-xl", "gpt3"}
    cards = {o.data.body for o in root.all_objects if o.type == "FONT"}
    assert "GPT-3\n174,604,259,328 parameters" in cards
    assert any(c.startswith("nano-gpt\n85,584 parameters\nshown \u00d7") for c in cards)  # its inset's card
    assert len(_block_objects(models["nano-gpt"])) == len(L.model_layout(NANO, 6).blocks)
    assert models["nano-gpt"]["llmviz_layers_per_column"] == 1  # its inset: the layers side by side fill it best
    cam = bpy.context.scene.camera
    assert cam.data.clip_end > 1e6
