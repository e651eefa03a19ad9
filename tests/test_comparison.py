"""The comparison as the reference draws it, read back from Blender: the large models at T = 1024
(nano-gpt at its own input), activations and attention as green boxes (causal: a triangle), a
picture where GPT-3's wall fills the frame's height and nano-gpt, a ringed speck, is shown
magnified in an inset with its card; weights per model (values shown, errors in one line), the CLI."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from llmviz_blender import layout as L
from llmviz_blender import model
from llmviz_blender.layout import compare

bpy = pytest.importorskip("bpy")
from llmviz_blender import scene  # noqa: E402
from llmviz_blender.composition import Frame  # noqa: E402
from llmviz_blender.scene import audit, environment, materials, render  # noqa: E402
from llmviz_blender.scene.boxes import boxes_mesh  # noqa: E402

NAMES = ["nano-gpt", "gpt2-small", "gpt2-xl", "gpt3"]
ROOT = Path(__file__).resolve().parent.parent
BIAS = "transformer.h.0.attn.c_attn.bias"  # random init leaves biases zero: these get numbers to show


@pytest.fixture(scope="module")
def gpt2_folder(tmp_path_factory):
    """A seeded random GPT-2-small-shaped model in a Hugging Face folder (model.safetensors)."""
    folder = tmp_path_factory.mktemp("gpt2")
    w = model.random_weights(model.load_preset("gpt2-small"), seed=3)
    w.params[BIAS] = np.random.default_rng(3).normal(size=w.params[BIAS].shape).astype(np.float32)
    model.save_weights(w, folder / "model.safetensors", naming="hf")
    return folder


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
    assert "LLMViz nano-gpt pointer" in root.all_objects  # its ring and the line to its inset


def test_nano_gpt_inset_magnifies_its_collection_in_free_space(fresh_blend):
    sc = bpy.context.scene
    render.configure(sc, resolution=(1920, 1080))
    root = scene.build_comparison(NAMES, scene=sc)
    models = _models(root)
    copy = root.all_objects["LLMViz nano-gpt inset"]
    assert copy.instance_type == "COLLECTION" and copy.instance_collection == models["nano-gpt"]
    n = copy.scale[0]
    assert n == copy["llmviz_inset"] == compare.nice_floor(n) and n >= 100 and tuple(copy.scale) == (n, n, n)
    card = root.all_objects["LLMViz nano-gpt card"]
    assert card.data.body == f"nano-gpt\n85,584 parameters\nshown \u00d7{n:,.4g}"
    # the copy's world box: the speck's box times n, about the inset's centre
    nano = scene.model_of(models["nano-gpt"]).layout
    lo, hi = nano.bounds()
    offset = np.array(models["nano-gpt"].instance_offset)
    assert np.allclose(offset, (lo + hi) / 2)
    c_lo = np.array(copy.location) + (lo - offset) * n
    c_hi = np.array(copy.location) + (hi - offset) * n
    outline = root.all_objects["LLMViz nano-gpt inset frame"]
    verts = np.array([v.co[:] for v in outline.data.vertices])
    assert np.all(verts[:, [0, 2]].min(axis=0) < c_lo[[0, 2]]) and np.all(verts[:, [0, 2]].max(axis=0) > c_hi[[0, 2]])
    # clear of every other model, and the whole inset in the picture beside GPT-3's full-height wall
    for name in NAMES[1:]:
        m_lo, m_hi = scene.model_of(models[name]).layout.bounds()
        assert c_hi[0] < m_lo[0] or c_lo[0] > m_hi[0] or c_hi[2] < m_lo[2] or c_lo[2] > m_hi[2], name
    picture = Frame(environment.aspect(sc), caption=False, title=False)
    a = audit.audit(root, sc, sc.frame_current, picture, [(c_lo, c_hi)])
    assert a.inside and not a.problems, "\n".join(a.problems)
    assert a.span > 0.3  # the copy reads: a third of the picture at least
    gpt3 = audit.audit(root, sc, sc.frame_current, picture, [scene.model_of(models["gpt3"]).layout.bounds()])
    assert gpt3.span >= 0.7


def test_inset_renders_in_workbench_and_survives_save(fresh_blend, tmp_path):
    sc = bpy.context.scene
    render.configure(sc, resolution=(160, 90), quality="draft")
    root = scene.build_comparison(["nano-gpt", "gpt2-xl"], scene=sc, theme="light")
    copy = root.all_objects["LLMViz nano-gpt inset"]
    with_inset = render.read_png(render.still(sc, tmp_path / "with.png"))
    copy.hide_render = True
    without = render.read_png(render.still(sc, tmp_path / "without.png"))
    assert np.abs(with_inset.astype(float) - without).max() > 0.2  # the magnified cubes are drawn
    copy.hide_render = False
    path = tmp_path / "compare.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=str(path))
    copy = bpy.data.objects["LLMViz nano-gpt inset"]
    assert copy.instance_collection.name == "LLMViz nano-gpt" and copy.scale[0] > 1


def test_inset_placement_pure():
    floors = [compare.nice_floor(x) for x in (1.0, 7.96, 1413.4, 0.267, 2.0)]
    assert floors == pytest.approx([1.0, 7.9, 1400.0, 0.26, 2.0])
    picture = (np.array([0.0, 0, -100]), np.array([100.0, 0, 0]))
    wall = (np.array([60.0, 0, -100]), np.array([100.0, 0, 0]))
    short = (np.array([0.0, 0, -20]), np.array([50.0, 0, 0]))
    spaces = [(a[[0, 2]].tolist(), b[[0, 2]].tolist()) for a, b in compare.free_spaces([wall, short], picture, 0.0)]
    assert ([0.0, -100.0], [60.0, -20.0]) in spaces and all(b[0] <= 60 or a[1] >= 0 for a, b in spaces)
    inset = compare.place_inset([1.0, 1.0, 1.0], 0.0, [wall, short], picture, 1.0, 1.0, 5.0, 10.0, 2.0)
    assert inset.scale == compare.nice_floor(inset.fit) and inset.fit <= compare.INSET_SHARE * 100
    assert inset.lo[0] >= 0 and inset.hi[0] <= 58 and inset.hi[2] <= -22 and inset.card[2] - 5 >= -100
    assert compare.place_inset([1.0, 1.0, 1.0], 0.0, [picture], picture, 1.0, 1.0, 5.0, 10.0, 2.0) is None  # no room


def test_specks_without_insets_keep_their_cards_on_top(fresh_blend):
    root = scene.build_comparison(["nano-gpt", "gpt3"], insets=False)
    assert "LLMViz nano-gpt inset" not in root.all_objects
    card = root.all_objects["LLMViz nano-gpt card"]
    assert card.data.body == "nano-gpt\n85,584 parameters"
    assert _models(root)["nano-gpt"]["llmviz_layers_per_column"] == 12


def test_weights_per_model_show_values_shape_only_keep_kind_colours(fresh_blend, gpt2_folder):
    root = scene.build_comparison(["nano-gpt", "gpt2-small", "gpt2-xl"], weights={"gpt2-small": gpt2_folder})
    models = _models(root)
    m = scene.model_of(models["gpt2-small"])
    assert m.weights is not None and m.source.kind == "file" and m.trace is not None
    assert models["gpt2-small"]["llmviz_weights_path"] == str(gpt2_folder)
    obj = models["gpt2-small"].all_objects["LLMViz gpt2-small h0.head0.q_bias"]  # a per-cell block
    values, index = _attr(obj, "value", np.float32), _attr(obj, "src_index", np.int32)
    assert np.array_equal(values, m.weights.params[BIAS].ravel()[index]) and np.ptp(values) > 0
    assert scene.model_of(models["nano-gpt"]).source.kind == "preset"  # its own shipped weights
    xl = scene.model_of(models["gpt2-xl"])
    assert xl.weights is None and set(xl.plan.values()) == {"box"}
    kinds = [o for o in models["gpt2-xl"].all_objects if "llmviz_kind" in o]
    assert kinds and all(o.data.materials[0].name.endswith("Grid") for o in kinds)  # kind colours


def test_weights_errors_name_model_and_file_before_touching_the_scene(fresh_blend, tmp_path):
    small = model.load_preset("gpt2-small").replace(n_layer=1, n_embd=64, n_head=2)
    model.save_weights(model.random_weights(small), tmp_path / "small.safetensors", naming="hf")
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    cases = {"small.safetensors": "tensor .* has shape", "bad.safetensors": "", "missing": "not found",
             ".": "not found"}
    for file, what in cases.items():
        path = tmp_path / file
        with pytest.raises(model.ModelError, match=f"^comparison: gpt2-small: {path}.*{what}") as err:
            scene.build_comparison(["nano-gpt", "gpt2-small"], weights={"gpt2-small": path})
        assert "\n" not in str(err.value)
    with pytest.raises(model.ModelError, match="weights given for 'gpt3', which is not among"):
        scene.build_comparison(["nano-gpt"], weights={"gpt3": "random"})
    with pytest.raises(model.ModelError, match="comparison: gpt2-small: the weights given"):
        scene.build_comparison(["gpt2-small"], weights={"gpt2-small": model.random_weights(small)})
    assert not [c for c in bpy.data.collections if c.name.startswith("LLMViz")]


def _attr(obj, name, dtype):
    data = obj.data.attributes[name].data
    out = np.empty(len(data), dtype)
    data.foreach_get("value", out)
    return out


def _cli(*args, cwd):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "render.py"), *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_cli_weights_per_model_each_and_errors(tmp_path):
    """A reduced GPT-2 (its preset a TOML file) with weights in a Hugging Face folder, beside nano-gpt."""
    (tmp_path / "mini.toml").write_text('name = "gpt2-mini"\nn_layer = 2\nn_head = 2\nn_embd = 64\n'
                                        'vocab_size = 50257\nblock_size = 1024\n')
    mini = model.load_preset(tmp_path / "mini.toml")
    (tmp_path / "hf").mkdir()
    model.save_weights(model.random_weights(mini, seed=1), tmp_path / "hf" / "model.safetensors", naming="hf")
    tiny = ["--resolution", "64x36", "--engine", "workbench"]
    r = _cli("--compare", "nano-gpt,mini.toml=hf", "--each", "--camera", "h0", "--still", "c.png", *tiny, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "built comparison nano-gpt, mini.toml" in r.stdout and r.stdout.count("camera: ") == 2
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["c-mini.png", "c-nano-gpt.png", "c.png"]
    (tmp_path / "bad.safetensors").write_bytes(b"junk")
    cases = {"comparison: gpt2-small: ": ["--compare", "nano-gpt,gpt2-small=bad.safetensors"],
             "NAME=WEIGHTS": ["--compare", "nano-gpt,gpt2-small="],
             "given twice": ["--compare", "gpt2-small,gpt2-small"],
             "unknown target": ["--compare", "nano-gpt", "--each", "--camera", "h7"],
             "--each": ["--compare", "nano-gpt", "--camera", "h0"]}
    runs = {m: subprocess.Popen([sys.executable, str(ROOT / "scripts" / "render.py"), *a, "--still", "x.png", *tiny],
                                cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for m, a in cases.items()}  # together: they share the start-up time
    for message, run in runs.items():
        _, err = run.communicate(timeout=300)
        lines = err.strip().splitlines()
        assert run.returncode == 2 and len(lines) == 1 and message in lines[0], (message, err)
    assert not (tmp_path / "x.png").exists()


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
def test_each_model_alone_is_framed_by_its_body(fresh_blend, name):
    """GPT-3 whole; GPT-2 small's vocabulary-wide blocks dwarf the rest and run off the picture's
    edges (Layout.body), so its layers fill the picture."""
    sc = bpy.context.scene
    render.configure(sc, resolution=(1920, 1080))
    coll = scene.build(name, tokens=list(range(1024)), scene=sc)
    lay = scene.model_of(coll).layout
    picture = Frame(environment.aspect(sc), caption=False, title=False)
    a = audit.audit(coll, sc, sc.frame_current, picture, [lay.body()])
    assert not a.problems, "\n".join(a.problems)
    assert a.inside and a.span >= 0.7
    assert bool(lay.dwarfing()) == (name == "gpt2-small")
    assert audit.audit(coll, sc, sc.frame_current, picture, [lay.bounds()]).inside == (name == "gpt3")
