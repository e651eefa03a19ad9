"""The comparison as the reference draws it, read back from Blender: the large models at T = 1024
(nano-gpt at its own input), activations and attention as green boxes (causal: a triangle), and a
picture where GPT-3's wall fills the frame's height and nano-gpt's card is legible above its ring."""

import numpy as np
import pytest

from llmviz_blender import layout as L
from llmviz_blender import model

bpy = pytest.importorskip("bpy")
from llmviz_blender import scene  # noqa: E402
from llmviz_blender.composition import Frame  # noqa: E402
from llmviz_blender.scene import audit, environment, materials, render  # noqa: E402
from llmviz_blender.scene.boxes import boxes_mesh  # noqa: E402

NAMES = ["nano-gpt", "gpt2-small", "gpt2-xl", "gpt3"]


def _models(root):
    return {c["llmviz_preset"]: c for c in root.children if "llmviz_preset" in c}


def test_four_models_at_reference_length_framed_with_legible_cards(fresh_blend):
    sc = bpy.context.scene
    render.configure(sc, resolution=(1920, 1080))
    root = scene.build_comparison(NAMES, scene=sc)
    models = _models(root)
    assert {n: len(c["llmviz_tokens"]) for n, c in models.items()} == {
        "nano-gpt": 6, "gpt2-small": 1024, "gpt2-xl": 1024, "gpt3": 1024}
    for name in NAMES[1:]:  # shape-only: every block one box, computed values in green
        green = [o for o in models[name].all_objects if o.get("llmviz_kind") == "intermediate"]
        assert len(green) == 1 and green[0].get("llmviz_blocks", 0) > 0
        mat = green[0].data.materials[0]
        assert mat.name.endswith("Intermediate Grid")
        assert np.allclose(mat.diffuse_color[:3], materials.KIND_COLORS["intermediate"])
    gpt3 = scene.model_of(models["gpt3"]).layout
    picture = Frame(environment.aspect(sc), caption=False, title=False)
    a = audit.audit(root, sc, sc.frame_current, picture, [gpt3.bounds()])
    assert not a.problems, "\n".join(a.problems)
    assert a.inside and a.span >= 0.7  # GPT-3's wall: the free region's height binds
    cards = {o.name: o for o in root.all_objects if o.get("llmviz_label") == "card"}
    assert len(cards) == 4 and not any(o.hide_render for o in cards.values())
    assert "LLMViz nano-gpt pointer" in root.all_objects  # its ring and pointer


def test_tokens_set_every_model_length_within_its_block_size(fresh_blend):
    root = scene.build_comparison(["nano-gpt", "gpt2-small"], 16)
    lengths = {n: list(c["llmviz_tokens"]) for n, c in _models(root).items()}
    assert len(lengths["gpt2-small"]) == 16
    own = model.encode(model.load_preset("nano-gpt"), "CBABBC")
    assert lengths["nano-gpt"] == (own * 2)[:11]  # its own input, repeated up to its block size
    with pytest.raises(model.ModelError, match="tokens must be a positive integer"):
        scene.build_comparison(["gpt2-small"], 0)


def test_causal_boxes_show_the_lower_triangle():
    lay = L.model_layout(model.load_preset("gpt2-small"), 64, layers_per_column=12)
    att, q = lay["h0.head0.att"], lay["h0.head0.q"]
    mesh = boxes_mesh("test boxes", [att, q])
    try:
        verts = np.empty(3 * len(mesh.vertices))
        mesh.vertices.foreach_get("co", verts)
        verts = verts.reshape(2, 8, 3)
        top = verts[0, :, 2] > att.origin[2]
        left = att.origin[0] - L.CELL / 2
        assert np.allclose(verts[0, top, 0].max(), left + L.CELL)  # the top narrows to the first cell
        assert np.isclose(verts[0, ~top, 0].max(), left + (att.cols.size - 1) * L.PITCH + L.CELL)
        assert np.isclose(verts[1, :, 0].max() - verts[1, :, 0].min(), (q.cols.size - 1) * L.PITCH + L.CELL)
    finally:
        bpy.data.meshes.remove(mesh)


@pytest.mark.parametrize("name", ["gpt2-small", "gpt3"])
def test_each_model_alone_is_framed_whole(fresh_blend, name):
    sc = bpy.context.scene
    render.configure(sc, resolution=(1920, 1080))
    coll = scene.build(name, tokens=list(range(1024)), scene=sc)
    lay = scene.model_of(coll).layout
    a = audit.audit(coll, sc, sc.frame_current, Frame(environment.aspect(sc), caption=False, title=False),
                    [lay.bounds()])
    assert not a.problems, "\n".join(a.problems)
    assert a.inside and a.span >= 0.7
