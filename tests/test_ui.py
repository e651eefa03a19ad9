"""The add-on UI in background mode: every operator through bpy.ops (registered by importing the
package directly), error paths that must leave the file as it was, undo/redo, the panels' draw
code in each state (fresh, generated, animated, error shown, readout shown), preferences."""

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

import llmviz_blender  # noqa: E402
from llmviz_blender import model  # noqa: E402
from llmviz_blender import scene as scene_api  # noqa: E402
from llmviz_blender.layout.formula import precise  # noqa: E402
from llmviz_blender.timeline import CHAPTERS  # noqa: E402
from llmviz_blender.ui import inspector, panel, preferences, presets, properties  # noqa: E402

HAS_ANIMATE = hasattr(scene_api, "animate")


@pytest.fixture
def ui(fresh_blend):
    """A fresh file with the add-on registered directly (as scripts do); unregistered afterwards."""
    llmviz_blender.register()
    folder = preferences.user_presets_dir()
    before = set(folder.glob("*.toml")) if folder.is_dir() else set()
    try:
        yield bpy.context.scene.llmviz
    finally:
        llmviz_blender.unregister()
        for p in (set(folder.glob("*.toml")) if folder.is_dir() else set()) - before:
            p.unlink()


def snapshot():
    """Every data-block in the file by type and name, plus user counts: equal snapshots mean the
    file is as it was (no new, removed or orphaned data)."""
    out = {}
    for attr in ("objects", "meshes", "materials", "node_groups", "collections", "cameras", "lights",
                 "worlds", "curves", "fonts", "actions", "images", "texts"):
        out[attr] = sorted((i.name, i.users) for i in getattr(bpy.data, attr))
    out["scene_objects"] = sorted(o.name for o in bpy.context.scene.objects)
    return out


def our_objects():
    return [o for o in bpy.data.objects if o.get("llmviz_owned")]


def user_object():
    obj = bpy.data.objects.new("My Empty", None)
    bpy.context.scene.collection.objects.link(obj)
    return obj


# ------------------------------------------------------------------------------ registration

def test_loading_a_file_forgets_the_live_models(ui, tmp_path):
    from llmviz_blender.scene import session
    assert bpy.ops.llmviz.generate() == {"FINISHED"}
    assert session._live
    path = tmp_path / "other.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.open_mainfile(filepath=str(path))
    assert not session._live



def test_register_and_unregister_leave_nothing_behind(fresh_blend):
    llmviz_blender.register()
    assert hasattr(bpy.types.Scene, "llmviz")
    assert {"generate", "animate", "clear", "render_still", "render_animation", "inspect", "save_preset"} \
        <= set(dir(bpy.ops.llmviz))
    assert all(getattr(bpy.types, n, None) is not None for n in
               ("LLMVIZ_PT_model", "LLMVIZ_PT_options", "LLMVIZ_PT_animation", "LLMVIZ_PT_render",
                "LLMVIZ_PT_inspector"))
    llmviz_blender.unregister()
    assert not hasattr(bpy.types.Scene, "llmviz")
    assert dir(bpy.ops.llmviz) == []
    from llmviz_blender.ui import CLASSES
    assert not any(cls.is_registered for cls in CLASSES)
    assert getattr(bpy.types, "LLMVIZ_PT_model", None) is None


def test_addon_id_works_as_extension_and_direct_import():
    assert preferences.addon_id("bl_ext.user_default.llmviz_blender.llmviz_blender") == \
        "bl_ext.user_default.llmviz_blender"
    assert preferences.addon_id("llmviz_blender") == "llmviz_blender"
    assert preferences.ADDON_ID == "llmviz_blender"  # imported directly in the tests


def test_preferences_absent_when_registered_directly(ui):
    assert preferences.get() is None  # not enabled as an add-on: defaults apply
    assert preferences.default_engine() == "CYCLES" and preferences.default_device() == "AUTO"
    folder = preferences.user_presets_dir(create=True)
    assert folder.is_dir() and folder.name == "presets"


# ------------------------------------------------------------------------------ generate

def test_generate_defaults_build_nano_gpt(ui):
    assert ui.preset == "nano-gpt"  # the default preset first
    assert bpy.ops.llmviz.generate() == {"FINISHED"}
    coll = properties.model_collection(bpy.context.scene)
    assert coll["llmviz_preset"] == "nano-gpt" and list(coll["llmviz_tokens"]) == [2, 1, 0, 1, 1, 2]
    assert coll["llmviz_weights_kind"] == "preset"
    assert ui.last_error == ""
    assert bpy.context.scene.camera is not None


def test_generate_uses_the_panel_options(ui):
    ui.tokens, ui.weights_source, ui.lod, ui.labels, ui.card = "ABCA", "RANDOM", "boxes", False, False
    assert bpy.ops.llmviz.generate() == {"FINISHED"}
    coll = properties.model_collection(bpy.context.scene)
    assert list(coll["llmviz_tokens"]) == [0, 1, 2, 0]
    assert coll["llmviz_weights_kind"] == "random" and coll["llmviz_weights_seed"] == 0
    blocks = [o for o in coll.all_objects if "llmviz_key" in o]
    assert blocks and all("llmviz_progress" in o for o in blocks)  # boxes only: value boxes (with weights)
    assert not [o for o in coll.all_objects if o.type == "FONT"]


def test_custom_shape_and_shape_only(ui):
    ui.edit_shape = True
    ui.n_layer, ui.n_embd, ui.n_head = 1, 24, 2
    ui.weights_source = "RANDOM"
    assert bpy.ops.llmviz.generate() == {"FINISHED"}
    m = scene_api.model_of(properties.model_collection(bpy.context.scene))
    assert (m.config.n_layer, m.config.n_embd, m.config.n_head) == (1, 24, 2)
    ui.preset = "gpt2-small"  # changing the preset loads its shape and turns the custom shape off
    assert (ui.n_layer, ui.n_head, ui.n_embd, ui.edit_shape) == (12, 12, 768, False)
    ui.weights_source, ui.tokens, ui.lod, ui.labels = "NONE", "1 2 3", "boxes", False
    assert bpy.ops.llmviz.generate() == {"FINISHED"}
    coll = properties.model_collection(bpy.context.scene)
    assert coll["llmviz_preset"] == "gpt2-small" and coll["llmviz_weights_kind"] == "none"


def _bad_preset(ui, tmp_path):
    (preferences.user_presets_dir(create=True) / "broken.toml").write_text("name = 'broken'\nn_layer = [\n")
    ui.preset = "broken"


def _bad_weights(ui, tmp_path):
    path = tmp_path / "junk.safetensors"
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    ui.weights_source, ui.weights_path = "FILE", str(path)


def _bad_tokens(ui, tmp_path):
    ui.tokens = "ABXD"


def _bad_budget(ui, tmp_path):
    ui.lod, ui.budget_gb = "cells", 0.0001


def _bad_shape(ui, tmp_path):
    ui.edit_shape, ui.n_embd, ui.n_head = True, 50, 3


def _no_weights_file(ui, tmp_path):
    ui.weights_source, ui.weights_path = "FILE", ""


@pytest.mark.parametrize("setup, message", [
    (_bad_preset, r"broken\.toml: malformed TOML"),
    (_bad_weights, r"junk\.safetensors: not a safetensors file"),
    (_bad_tokens, r"tokens: 'X' is not in the vocabulary ABC of nano-gpt"),
    (_bad_budget, r"one cube per cell needs .* over the .* budget"),
    (_bad_shape, r"'n_embd' \(50\) must be divisible by 'n_head' \(3\)"),
    (_no_weights_file, r"weights: choose a \.safetensors file"),
], ids=["preset", "weights", "tokens", "lod-budget", "shape", "no-weights-file"])
def test_generate_errors_report_one_line_and_leave_the_file_as_it_was(ui, tmp_path, setup, message):
    user_object()
    assert bpy.ops.llmviz.generate() == {"FINISHED"}  # an earlier scene that must survive
    before = snapshot()
    setup(ui, tmp_path)
    with pytest.raises(RuntimeError, match=message) as info:  # bpy.ops raises on ERROR reports
        bpy.ops.llmviz.generate()
    text = str(info.value).strip()
    assert "\n" not in text and "Traceback" not in text
    assert text.startswith("Error: ") and ui.last_error == text[len("Error: "):]
    assert snapshot() == before


# ------------------------------------------------------------------------------ animate, clear

@pytest.mark.skipif(not HAS_ANIMATE, reason="scene.animate is not in the scripted API yet")
def test_animate_keys_the_walkthrough(ui):
    assert bpy.ops.llmviz.generate() == {"FINISHED"}
    ui.fps, ui.speed = 12, 4.0
    ui.chapters = {"embedding", "layer_norm"}
    assert bpy.ops.llmviz.animate() == {"FINISHED"}
    coll = properties.model_collection(bpy.context.scene)
    start, end = coll["llmviz_frames"]
    assert bpy.context.scene.frame_start == start and bpy.context.scene.frame_end == end > start
    assert bpy.context.scene.render.fps == 12
    assert list(coll["llmviz_chapters"]) == ["embedding", "layer_norm"]


def test_reading_speed_and_narrator_timing_reach_animate(ui, tmp_path):
    assert bpy.ops.llmviz.generate() == {"FINISHED"}
    ui.chapters = {"layer_norm"}
    coll = properties.model_collection(bpy.context.scene)
    assert bpy.ops.llmviz.animate() == {"FINISHED"}
    paced = coll["llmviz_frames"][1]
    ui.reading_speed = 7.0
    assert bpy.ops.llmviz.animate() == {"FINISHED"}
    assert coll["llmviz_frames"][1] > 1.6 * paced  # layer norm's steps are text-bound
    path = tmp_path / "narration.toml"
    path.write_text("[chapters]\nlayer_norm = 20\n")
    ui.timing_path = str(path)
    assert bpy.ops.llmviz.animate() == {"FINISHED"}
    assert list(coll["llmviz_frames"]) == [1, 20 * 24]
    path.write_text("[chapters]\nlayer_norm = -1\n")
    before = snapshot()
    with pytest.raises(RuntimeError, match="narration.toml: chapters.layer_norm: must be a number of seconds"):
        bpy.ops.llmviz.animate()
    assert snapshot() == before


def test_ticked_chapters_a_model_cannot_tell_drop_out(ui):
    assert bpy.ops.llmviz.generate() == {"FINISHED"}  # nano-gpt: letters, no facts chapter
    ui.chapters = set(CHAPTERS) - {"overview"}  # "facts" stays ticked
    assert bpy.ops.llmviz.animate() == {"FINISHED"}
    told = list(properties.model_collection(bpy.context.scene)["llmviz_chapters"])
    assert "facts" not in told and "overview" not in told and "generation" in told


def test_animate_errors(ui):
    with pytest.raises(RuntimeError, match="no llmviz model in this scene: press Generate first"):
        bpy.ops.llmviz.animate()
    assert bpy.ops.llmviz.generate() == {"FINISHED"}
    ui.chapters = set()
    with pytest.raises(RuntimeError, match="choose at least one chapter"):
        bpy.ops.llmviz.animate()
    if HAS_ANIMATE:
        ui.chapters = set(CHAPTERS)
        ui.weights_source, ui.preset = "NONE", "nano-gpt"
        assert bpy.ops.llmviz.generate() == {"FINISHED"}
        before = snapshot()
        with pytest.raises(RuntimeError, match="without weights"):
            bpy.ops.llmviz.animate()
        assert snapshot() == before


def test_clear_removes_only_ours(ui):
    mine = user_object()
    assert bpy.ops.llmviz.generate() == {"FINISHED"}
    assert our_objects()
    assert bpy.ops.llmviz.clear() == {"FINISHED"}
    assert not our_objects() and properties.model_collection(bpy.context.scene) is None
    assert [o.name for o in bpy.data.objects] == [mine.name]


# ------------------------------------------------------------------------------ undo

def test_generate_undo_redo(ui):
    """Headless undo works once the stack has a first step (Blender pushes one on file load in the
    UI; here ed.undo_push does). bpy.ops only pushes an undo step for an operator when called with
    undo=True (the second positional argument), as a button press does."""
    user_object()
    bpy.ops.ed.undo_push(message="initial")
    empty = snapshot()
    assert bpy.ops.llmviz.generate("EXEC_DEFAULT", True) == {"FINISHED"}
    built = snapshot()
    assert built != empty
    assert bpy.ops.ed.undo() == {"FINISHED"}
    assert snapshot() == empty and not our_objects()
    assert bpy.ops.ed.redo() == {"FINISHED"}
    assert snapshot() == built
    # a failing generate pushes no step: one undo still goes back to the empty file
    bpy.context.scene.llmviz.tokens = "XX"
    with pytest.raises(RuntimeError):
        bpy.ops.llmviz.generate("EXEC_DEFAULT", True)
    assert bpy.ops.ed.undo() == {"FINISHED"}
    assert snapshot() == empty
    # clear is undoable too
    assert bpy.ops.ed.redo() == {"FINISHED"}
    assert bpy.ops.llmviz.clear("EXEC_DEFAULT", True) == {"FINISHED"}
    assert not our_objects()
    assert bpy.ops.ed.undo() == {"FINISHED"}
    assert snapshot() == built


# ------------------------------------------------------------------------------ render

def _tiny_render(ui):
    ui.engine, ui.samples, ui.resolution_x, ui.resolution_y = "WORKBENCH", 1, 32, 18


def test_render_still_and_animation(ui, tmp_path):
    assert bpy.ops.llmviz.generate() == {"FINISHED"}
    _tiny_render(ui)
    ui.still_path = str(tmp_path / "still.png")
    assert bpy.ops.llmviz.render_still() == {"FINISHED"}
    assert (tmp_path / "still.png").stat().st_size > 0
    scn = bpy.context.scene
    scn.frame_start, scn.frame_end = 1, 2
    assert bpy.ops.llmviz.render_animation(filepath=str(tmp_path / "frames")) == {"FINISHED"}
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == ["frame_0001.png", "frame_0002.png"]
    assert scn.render.engine == "BLENDER_WORKBENCH" and scn.render.resolution_x == 32
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames", "still.png"]  # no temporaries left


def test_render_errors(ui, tmp_path):
    with pytest.raises(RuntimeError, match="camera"):
        bpy.ops.llmviz.render_still(filepath=str(tmp_path / "x.png"))
    assert bpy.ops.llmviz.generate() == {"FINISHED"}
    _tiny_render(ui)
    with pytest.raises(RuntimeError, match=r"\.png"):
        bpy.ops.llmviz.render_still(filepath=str(tmp_path / "x.jpg"))
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------ presets

def test_save_preset_writes_a_loadable_toml_and_selects_it(ui):
    ui.edit_shape, ui.n_layer = True, 2
    assert bpy.ops.llmviz.save_preset(name="my nano") == {"FINISHED"}
    path = preferences.user_presets_dir() / "my nano.toml"
    config = model.load_preset(path)
    assert (config.name, config.n_layer, config.n_embd, config.vocab) == ("my nano", 2, 48, ("A", "B", "C"))
    assert config.weights is None  # the shipped weights do not fit two layers
    assert ui.preset == "my nano" and not ui.edit_shape
    assert "my nano" in [i[0] for i in presets.items(preferences.user_presets_dir())]
    ui.weights_source = "RANDOM"
    assert bpy.ops.llmviz.generate() == {"FINISHED"}
    assert properties.model_collection(bpy.context.scene)["llmviz_preset"] == "my nano"
    with pytest.raises(RuntimeError, match="is a shipped preset"):
        bpy.ops.llmviz.save_preset(name="nano-gpt")
    with pytest.raises(RuntimeError, match="preset name"):
        bpy.ops.llmviz.save_preset(name="../evil")


def test_save_preset_keeps_a_chosen_weights_file(ui):
    ui.weights_source = "PRESET"
    assert bpy.ops.llmviz.save_preset(name="sorter") == {"FINISHED"}
    config = model.load_preset(preferences.user_presets_dir() / "sorter.toml")
    assert config.weights == model.load_preset("nano-gpt").weights


def test_toml_writer_round_trips():
    config = model.load_preset("nano-gpt").replace(description='quote " and \\ and ünïcode')
    import tomllib
    data = tomllib.loads(presets.to_toml(model.config_to_dict(config)))
    assert model.config_from_dict(data) == config


# ------------------------------------------------------------------------------ inspector

def test_typed_inspect_reads_a_cell(ui):
    assert bpy.ops.llmviz.generate() == {"FINISHED"}
    ui.inspect_block, ui.inspect_row, ui.inspect_col = "h0.head1.q", 2, 3
    assert bpy.ops.llmviz.inspect() == {"FINISHED"}
    lines = ui.readout.splitlines()
    assert lines[0] == "Q Vectors (intermediate)"
    assert lines[1] == "row 2 of A, column 3 of T (token 'B') = h0.q[1, 3, 2]"
    assert lines[3].startswith("bias + row 2 of Q Weights · column 3 of Layer Norm 1 = ")
    # operator arguments override the panel's; INVOKE falls back to the typed readout headless
    assert bpy.ops.llmviz.inspect("INVOKE_DEFAULT", block="h0.head0.att", row=1, col=4) == {"FINISHED"}
    assert "masked" in ui.readout and (ui.inspect_block, ui.inspect_row, ui.inspect_col) == ("h0.head0.att", 1, 4)
    coll = properties.model_collection(bpy.context.scene)
    assert sorted(properties._block_search(ui, bpy.context, "ln_f")) == [
        "ln_f", "ln_f.beta", "ln_f.gamma", "ln_f.mean", "ln_f.std"]
    assert coll is not None


def test_typed_inspect_errors(ui):
    with pytest.raises(RuntimeError, match="press Generate first"):
        bpy.ops.llmviz.inspect()
    assert bpy.ops.llmviz.generate() == {"FINISHED"}
    with pytest.raises(RuntimeError, match="no block 'h9.fc'"):
        bpy.ops.llmviz.inspect(block="h9.fc")
    with pytest.raises(RuntimeError, match=r"has 192 rows x 6 columns, no cell \(200, 0\)"):
        bpy.ops.llmviz.inspect(block="h0.fc", row=200, col=0)


def test_modal_hover_chain_through_a_view(ui):
    """The modal's per-mouse-move path without events: a pixel of a 3D view -> view ray
    (bpy_extras.view3d_utils, as the modal calls it) -> Inspector.hover -> readout and overlay
    segments. The view is the scene camera's real matrices: a never-drawn viewport's RegionView3D
    is not safe to touch in background mode."""
    from types import SimpleNamespace

    from bpy_extras import view3d_utils
    from mathutils import Matrix, Vector
    assert bpy.ops.llmviz.generate() == {"FINISHED"}
    m = scene_api.model_of(properties.model_collection(bpy.context.scene))
    target = Vector(m.layout.cell_position("h1.head0.att_sm", 4, 2))
    cam = bpy.context.scene.camera
    cam.constraints.clear()
    cam.location = target - Vector((0.0, 30.0, 0.0))
    cam.rotation_euler = (1.5707963, 0.0, 0.0)  # looking along +Y, Z up
    bpy.context.view_layer.update()
    width, height = 1600, 900

    def view(offset: Vector):
        view_matrix = (Matrix.Translation(offset) @ cam.matrix_world).inverted()
        window = cam.calc_matrix_camera(bpy.context.evaluated_depsgraph_get(), x=width, y=height)
        return SimpleNamespace(is_perspective=True, view_matrix=view_matrix, window_matrix=window,
                               perspective_matrix=window @ view_matrix)

    region = SimpleNamespace(width=width, height=height)
    rv3d = view(Vector())
    pixel = view3d_utils.location_3d_to_region_2d(region, rv3d, target)
    assert pixel is not None and 0 < pixel.x < width and 0 < pixel.y < height
    origin, direction = inspector.view_ray(region, rv3d, pixel)
    hover = inspector.Inspector(m.layout, m.trace, m.weights)
    readout = hover.hover(origin, direction)
    assert readout is not None and readout.cell == ("h1.head0.att_sm", 4, 2)
    assert abs(readout.result - readout.value) < 1e-5
    assert hover.segments["cell"].shape == (24, 3) and len(hover.segments["source"]) == 24 * 3
    # with the model moved, the ray is brought into the model's space
    moved = Matrix.Translation((100.0, 0.0, 0.0))
    rv3d = view(Vector((100.0, 0.0, 0.0)))
    pixel = view3d_utils.location_3d_to_region_2d(region, rv3d, target + Vector((100.0, 0.0, 0.0)))
    origin, direction = inspector.view_ray(region, rv3d, pixel, moved)
    assert hover.hover(origin, direction).cell == ("h1.head0.att_sm", 4, 2)
    area = next(a for a in bpy.context.window.screen.areas if a.type == "VIEW_3D")
    window_region = next(r for r in area.regions if r.type == "WINDOW")
    assert inspector._region_under(area, window_region.x + 5, window_region.y + 5) == window_region
    assert inspector._region_under(area, window_region.x - 5000, window_region.y) is None


# ------------------------------------------------------------------------------ panels

class StubLayout:
    """Records what a panel draws and fails on unknown properties, operators, operator
    arguments, layout attributes and icons, so a typo cannot ship."""

    _ICONS = None

    def __init__(self, log):
        object.__setattr__(self, "log", log)

    @classmethod
    def icons(cls):
        if cls._ICONS is None:
            param = bpy.types.UILayout.bl_rna.functions["label"].parameters["icon"]
            cls._ICONS = {e.identifier for e in param.enum_items}
        return cls._ICONS

    def __setattr__(self, name, value):
        assert name in bpy.types.UILayout.bl_rna.properties.keys(), f"UILayout has no attribute {name!r}"
        object.__setattr__(self, name, value)

    def _icon(self, kw):
        if "icon" in kw:
            assert kw["icon"] in self.icons(), f"unknown icon {kw['icon']!r}"

    def _sub(self, **kw):
        return StubLayout(self.log)

    row = column = box = split = grid_flow = column_flow = _sub

    def prop(self, data, name, **kw):
        assert name in data.bl_rna.properties.keys(), f"{type(data).__name__} has no property {name!r}"
        self._icon(kw)
        self.log.append(("prop", name))

    def operator(self, idname, **kw):
        module, name = idname.split(".")
        rna = getattr(getattr(bpy.ops, module), name).get_rna_type()  # KeyError when unknown
        self._icon(kw)
        self.log.append(("operator", idname))
        return StubProps(rna)

    def label(self, text="", **kw):
        assert isinstance(text, str)
        self._icon(kw)
        self.log.append(("label", text))

    def separator(self, **kw):
        pass


class StubProps:
    def __init__(self, rna):
        object.__setattr__(self, "rna", rna)

    def __setattr__(self, name, value):
        assert name in self.rna.properties.keys(), f"operator has no property {name!r}"


def draw_all():
    """Draw every panel with stub layouts; returns the recorded calls per panel."""
    out = {}
    for cls in panel.CLASSES:
        assert cls.poll(bpy.context)
        log = []
        cls.draw(type("P", (), {"layout": StubLayout(log)})(), bpy.context)
        out[cls.__name__] = log
    return out


def labels(calls):
    return [c[1] for c in calls if c[0] == "label"]


def test_panels_draw_in_every_state(ui, tmp_path):
    fresh = draw_all()
    assert ("operator", "llmviz.generate") in fresh["LLMVIZ_PT_model"]
    assert ("prop", "weights_path") not in fresh["LLMVIZ_PT_model"]
    assert not any(t.startswith("Scene:") for t in labels(fresh["LLMVIZ_PT_model"]))
    every = {name for calls in fresh.values() for kind, name in calls if kind == "prop"}
    ui.weights_source = "FILE"
    with_file = draw_all()
    assert ("operator", "llmviz.pick_weights") in with_file["LLMVIZ_PT_model"]
    ui.weights_source = "PRESET"

    assert bpy.ops.llmviz.generate() == {"FINISHED"}
    generated = draw_all()
    assert "Scene: nano-gpt, 6 tokens" in labels(generated["LLMVIZ_PT_model"])

    if HAS_ANIMATE:
        ui.chapters, ui.speed = {"embedding"}, 8.0
        assert bpy.ops.llmviz.animate() == {"FINISHED"}
        animated = draw_all()
        assert any(t.startswith("Keyed: frames 1-") for t in labels(animated["LLMVIZ_PT_animation"]))

    ui.tokens = "nope"
    with pytest.raises(RuntimeError):
        bpy.ops.llmviz.generate()
    error = draw_all()
    assert ui.last_error in labels(error["LLMVIZ_PT_model"])

    assert bpy.ops.llmviz.inspect(block="logits", row=1, col=2) == {"FINISHED"}
    readout = draw_all()
    assert labels(readout["LLMVIZ_PT_inspector"])[:2] == ["Logits (intermediate)",
                                                         "row 1 of n_vocab (token 'B'), column 2 of T (token 'A') "
                                                         "= logits[2, 1]"]
    # every property of the settings that a user sets is drawn somewhere
    drawn = every | {name for calls in with_file.values() for kind, name in calls if kind == "prop"}
    settable = set(properties.LLMVizSettings.bl_rna.properties.keys()) - {"rna_type", "name", "readout",
                                                                          "last_error"}
    assert settable <= drawn, settable - drawn


def test_preferences_draw(ui):
    log = []
    prefs = type("P", (), {"layout": StubLayout(log), "bl_rna": preferences.LLMVIZ_AddonPreferences.bl_rna})()
    preferences.LLMVIZ_AddonPreferences.draw(prefs, bpy.context)
    assert [c[1] for c in log if c[0] == "prop"] == ["presets_folder", "render_engine", "render_device"]
    assert labels(log) == [f"User presets: {preferences.user_presets_dir()}"]


def test_values_in_the_scene_match_the_readout(ui):
    """The typed readout and the block object's point attributes agree (same cell, same number)."""
    assert bpy.ops.llmviz.generate() == {"FINISHED"}
    obj = next(o for o in bpy.data.objects if o.get("llmviz_key") == "h2.mlp")
    n = len(obj.data.vertices)
    values, src = np.empty(n, np.float32), np.empty(n, np.int32)
    obj.data.attributes["value"].data.foreach_get("value", values)
    obj.data.attributes["src_index"].data.foreach_get("value", src)
    block = scene_api.model_of(properties.model_collection(bpy.context.scene)).layout["h2.mlp"]
    rows, cols = block.cells()
    np.testing.assert_array_equal(src, block.src_index(rows, cols))
    i = 77
    assert bpy.ops.llmviz.inspect(block="h2.mlp", row=int(rows[i]), col=int(cols[i])) == {"FINISHED"}
    assert ui.readout.splitlines()[2] == f"value {precise(values[i])}"


def test_overlay_draw_callback_and_cleanup(ui, monkeypatch):
    """The modal's draw callback (GPU drawing is unavailable headless, so `gpu` is a recorder that
    checks the documented builtin shader and its uniforms) and the clean-up on unregister."""
    import sys
    import types
    calls = []

    class Shader:
        def bind(self):
            calls.append("bind")

        def uniform_float(self, name, value):
            assert name in {"viewportSize", "lineWidth", "color"}, name  # POLYLINE_UNIFORM_COLOR
            calls.append(name)

    class Batch:
        def draw(self, shader):
            calls.append("draw")

    class PushPop:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def from_builtin(name):
        assert name == "POLYLINE_UNIFORM_COLOR"
        return Shader()

    def batch_for_shader(shader, kind, data):
        assert kind == "LINES" and data["pos"].shape[1] == 3 and len(data["pos"]) % 2 == 0
        return Batch()

    gpu = types.SimpleNamespace(
        shader=types.SimpleNamespace(from_builtin=from_builtin),
        state=types.SimpleNamespace(depth_test_set=lambda v: None, blend_set=lambda v: None,
                                    viewport_get=lambda: (0, 0, 640, 360)),
        matrix=types.SimpleNamespace(push_pop=PushPop, multiply_matrix=lambda m: calls.append("matrix")))
    monkeypatch.setitem(sys.modules, "gpu", gpu)
    monkeypatch.setitem(sys.modules, "gpu_extras.batch", types.SimpleNamespace(batch_for_shader=batch_for_shader))

    assert bpy.ops.llmviz.generate() == {"FINISHED"}
    state = inspector._Hover(properties.model_collection(bpy.context.scene))
    inspector._draw(state)  # nothing hovered: draws nothing
    assert calls == []
    centre = state.inspector.layout.cell_position("h0.fc", 1, 1)
    assert state.inspector.hover(centre + [0, -50, 0], [0, 1, 0]).cell == ("h0.fc", 1, 1)
    inspector._draw(state)
    assert calls.count("draw") == 2 and "matrix" in calls and calls.count("color") == 2
    # a running inspector's draw handler and header go when the add-on unregisters
    monkeypatch.undo()
    state.handle = bpy.types.SpaceView3D.draw_handler_add(lambda: None, (), "WINDOW", "POST_VIEW")
    inspector._running.append(state)
    inspector.stop_all()
    assert inspector._running == [] and state.handle is None
