"""Cell targets and the zoom shot: BLOCK:ROW,COL parsing and its one-line errors (layout.target),
the framing of one cell and the flight down to it (timeline.zoom, pure), the keyed shot and the
cell still in the scene (scene.zoom), and the CLI's --zoom-to / --camera BLOCK:ROW,COL."""

from __future__ import annotations

import math

import numpy as np
import pytest

from llmviz_blender import layout as lay
from llmviz_blender import model
from llmviz_blender.composition import project
from llmviz_blender.composition.camera import corners, fill, screen_box
from llmviz_blender.defaults import ALWAYS, CELL
from llmviz_blender.layout.target import cell_target
from llmviz_blender.timeline import TimelineError
from llmviz_blender.timeline import zoom as Z

ASPECT = 16 / 9


@pytest.fixture(scope="module")
def nano():
    config = model.load_preset("nano-gpt")
    weights = model.load_weights(config.weights, config)
    trace = model.forward(weights, model.encode(config, config.default_input))
    return lay.model_layout(config, 6), trace, weights


@pytest.fixture(scope="module")
def gpt2_layout():
    """GPT-2 small's layout at 8 tokens (shapes only: no weights needed to plan a camera)."""
    return lay.model_layout(model.load_preset("gpt2-small"), 8)


def cell_centre(ref):
    return ref.block.positions(np.array([ref.row]), np.array([ref.col]))[0]


# ------------------------------------------------------------------------------ targets

def test_cell_targets_name_a_block_and_cell(nano, gpt2_layout):
    layout = nano[0]
    ref = cell_target(layout, "h0.fc:3,1")
    assert (ref.block.key, ref.row, ref.col) == ("h0.fc", 3, 1)
    assert cell_target(layout, " h1.mlp.fc : 10 , 2 ").block.key == "h1.fc"  # a layer's group in the key
    assert cell_target(layout, "h0.attention.head1.q:2,3").block.key == "h0.head1.q"
    ref = cell_target(gpt2_layout, "h5.mlp.fc:1021,3")  # the example (rows are 4C, columns T)
    assert (ref.block.key, ref.block.shape) == ("h5.fc", (3072, 8))


@pytest.mark.parametrize("text, message", [
    ("h0.fc:3", r"camera: cell target 'h0.fc:3' must be BLOCK:ROW,COL with whole numbers, e.g. h0.fc:3,1"),
    ("h0.fc:a,b", "must be BLOCK:ROW,COL"),
    (":1,2", "must be BLOCK:ROW,COL"),
    ("h0.fc:1.5,2", "must be BLOCK:ROW,COL"),
    ("h9.fc:1,1", r"camera: no block 'h9.fc' in nano-gpt"),
    ("h0.mlp.q:1,1", "no block 'h0.mlp.q'"),  # q is not in the MLP
    ("h0.fc:192,0", r"camera: MLP \(h0.fc\) has 192 rows x 6 columns, no cell \(192, 0\)"),
    ("h0.fc:0,-1", r"MLP \(h0.fc\) has 192 rows x 6 columns, no cell \(0, -1\)"),
])
def test_bad_cell_targets_raise_one_line(nano, text, message):
    with pytest.raises(lay.LayoutError, match=message) as err:
        cell_target(nano[0], text)
    assert "\n" not in str(err.value)


# ------------------------------------------------------------------------------ the cell's frame

@pytest.mark.parametrize("target", ["h0.fc:3,1", "h2.head1.att:5,2", "wte:40,2", "tokens:0,0"])
def test_a_cell_frame_holds_the_cell_close_in_the_free_region(nano, target):
    ref = cell_target(nano[0], target)
    pose = Z.cell_pose(ref, ASPECT)
    frame = Z.zoom_frame(ASPECT)
    _, inside = fill([Z.cell_box(ref)], pose, frame)
    box, region = screen_box(corners(*Z.cell_box(ref)), pose, ASPECT), frame.free()
    assert inside and max(box.width / region.width, box.height / region.height) > 0.7  # the neighbours fill it
    cube = corners(cell_centre(ref) - CELL / 2, cell_centre(ref) + CELL / 2)
    xy, depth = project(cube, pose, ASPECT)
    assert np.all(depth > 0)
    assert region.x0 < xy[:, 0].min() and xy[:, 0].max() < region.x1 and region.y0 < xy[:, 1].min() \
        and xy[:, 1].max() < region.y1
    assert xy[:, 1].ptp() > 0.03  # the cell itself is large enough to see (frame heights)
    assert np.linalg.norm(np.subtract(pose.location, cell_centre(ref))) < 150  # close: world units


# ------------------------------------------------------------------------------ the flight

def test_progress_is_monotone_with_a_constant_middle():
    u = np.linspace(0, 1, 201)
    e = np.array([Z.progress(x) for x in u])
    assert e[0] == 0 and e[-1] == pytest.approx(1) and np.all(np.diff(e) > 0)
    mid = np.diff(e)[(u[1:] > Z.RAMP + 0.01) & (u[1:] < 1 - Z.RAMP - 0.01)]
    assert mid.max() - mid.min() < 1e-9


@pytest.mark.parametrize("which", ["nano", "gpt2"])
def test_the_zoom_flies_in_at_constant_log_speed_and_ends_on_the_cell(nano, gpt2_layout, which):
    layout, trace, weights = nano if which == "nano" else (gpt2_layout, None, None)
    target = "h1.fc:100,3" if which == "nano" else "h5.mlp.fc:1021,3"
    z = Z.plan_zoom(layout, trace, weights, target, layout.bounds(), ASPECT, fps=24, seconds=4, hold=1)
    assert (z.frame_start, z.arrive, z.frame_end) == (1, 97, 121)
    assert [k.frame for k in z.camera_keys] == list(range(1, 98))
    poses = [k.pose for k in z.camera_keys]
    cell = cell_centre(z.cell)
    dist = np.array([np.linalg.norm(np.subtract(p.location, p.target)) for p in poses])
    assert np.all(np.diff(dist) < 0)  # always closer
    logs = np.diff(np.log(dist))
    middle = logs[int(0.25 * len(logs)):int(0.75 * len(logs))]
    assert middle.max() / middle.min() < 1.01  # the zoom reads at one speed
    to_cell = np.array([np.linalg.norm(np.subtract(p.target, cell)) for p in poses])
    assert np.all(np.diff(to_cell) <= 1e-6) and to_cell[-1] < 1e-6  # the aim slides onto the cell
    end = Z.cell_pose(z.cell, ASPECT)
    np.testing.assert_allclose(poses[-1].location, end.location, atol=1e-6)
    assert z.pose_at(z.frame_end) == poses[-1] and z.pose_at(0) == poses[0]
    assert dist[0] / dist[-1] > (1000 if which == "gpt2" else 20)
    region = Z.zoom_frame(ASPECT).whole
    for p in poses:  # the target stays in the picture all the way
        (x, y), = project([cell], p, ASPECT)[0]
        assert region.x0 <= x <= region.x1 and region.y0 <= y <= region.y1
    assert z.marker[0] > 1 and z.marker[-1] == pytest.approx(1) and np.all(np.diff(z.marker) <= 0)
    assert z.flying.startswith(f"MLP ({z.cell.block.key}), row ") and "numbers" in z.flying
    assert z.readout.formula and z.arrived.endswith(z.readout.value_text())


def test_blocks_in_front_of_the_cell_are_hidden_while_they_hide_it(nano):
    layout, trace, weights = nano
    z = Z.plan_zoom(layout, trace, weights, "h0.head2.q_weight:3,30", layout.bounds(), ASPECT)
    assert {"h0.head0.q_weight", "h0.head1.q_weight"} <= set(z.hidden)
    end = z.pose_at(z.frame_end)
    in_front = Z.occluders(layout, z.cell, [end])[0]
    assert in_front and all(any(a <= z.frame_end <= b for a, b in z.hidden[k]) for k in in_front)
    # with those gone, the line of sight from the camera reaches the cell first
    o = np.asarray(end.location)
    d = cell_centre(z.cell) - o
    keep = [b for b in layout.blocks if b.key not in in_front]
    assert lay.Layout(layout.config, layout.n_tokens, keep).pick(o, d).block.key == z.cell.block.key


def test_bad_zoom_timing_and_target(nano):
    layout, trace, weights = nano
    with pytest.raises(TimelineError, match="zoom: seconds must be a number >= "):
        Z.plan_zoom(layout, trace, weights, "x:1,1", layout.bounds(), ASPECT, seconds=0)
    with pytest.raises(TimelineError, match="zoom: hold must be"):
        Z.plan_zoom(layout, trace, weights, "x:1,1", layout.bounds(), ASPECT, hold=-1)
    with pytest.raises(lay.LayoutError, match=r"zoom: Input Embed \(x\) has 48 rows x 6 columns"):
        Z.plan_zoom(layout, trace, weights, "x:48,0", layout.bounds(), ASPECT)


# ------------------------------------------------------------------------------ in the scene

@pytest.fixture
def built(fresh_blend):
    from llmviz_blender import scene
    sc = fresh_blend.context.scene
    sc.render.resolution_x, sc.render.resolution_y = 320, 180
    return scene.build("nano-gpt"), scene, fresh_blend


def _shown_texts(coll) -> list[str]:
    return sorted(o.data.body for o in coll.all_objects if o.type == "FONT" and "Zoom" in o.name and not o.hide_render)


def test_zoom_to_keys_a_flight_that_ends_on_the_value_and_formula(built):
    coll, scene, bpy = built
    from llmviz_blender.scene.environment import overview_box
    from llmviz_blender.scene.keys import count_keys
    sc = bpy.context.scene
    first, last = scene.zoom_to(coll, "h0.head2.q_weight:3,30", seconds=2, hold=0.5, fps=24)
    assert (first, last) == (sc.frame_start, sc.frame_end) == (1, 61) and list(coll["llmviz_frames"]) == [1, 61]
    cam = sc.camera
    assert count_keys([cam]) >= 3 * 49 and count_keys([cam.data]) >= 2 * 49
    assert not cam.animation_data.drivers and not any(d for o in bpy.data.objects if o.animation_data
                                                      for d in o.animation_data.drivers)
    m = scene.model_of(coll)
    z = Z.plan_zoom(m.layout, m.trace, m.weights, "h0.head2.q_weight:3,30", overview_box([m.layout], coll),
                    sc.render.resolution_x / sc.render.resolution_y, fps=24, seconds=2, hold=0.5)
    marker = next(o for o in coll.all_objects if o.name.startswith("LLMViz Zoom Marker"))
    in_front = Z.occluders(m.layout, z.cell, [z.pose_at(last)])[0]
    assert in_front
    from bpy_extras.object_utils import world_to_camera_view
    bar = next(o for o in coll.all_objects if o.name.startswith("LLMViz Zoom Caption Bar"))

    def bar_in_picture():  # the caption band's corners in the picture (0..1), wherever the camera is
        bpy.context.view_layer.update()
        return np.array([tuple(world_to_camera_view(sc, cam, bar.matrix_world @ v.co)) for v in bar.data.vertices])

    sc.frame_set(1)
    assert len(_shown_texts(coll)) == 1 and "one of" in _shown_texts(coll)[0]
    assert marker.scale[0] > 2
    start = bar_in_picture()
    sc.frame_set(last)
    np.testing.assert_allclose(bar_in_picture()[:, :2], start[:, :2], atol=1e-4)  # overlays scale with the camera
    assert start[:, 2].min() > 0
    np.testing.assert_allclose(np.array(cam.matrix_world.translation), z.pose_at(last).location, rtol=1e-4, atol=1e-3)
    texts = _shown_texts(coll)
    assert z.readout.formula in texts and z.arrived in texts
    assert marker.scale[0] == pytest.approx(1.0)
    assert all(o.hide_render for o in coll.all_objects if o.get("llmviz_key") in in_front)  # out of the way
    assert not any(o.hide_render for o in coll.all_objects if o.get("llmviz_key") == "h1.head0.q_weight")
    # a walkthrough afterwards replaces the zoom's keys and texts
    scene.animate(coll, chapters=["embedding"])
    assert not any("llmviz_zoom" in c for c in coll.children) and not any("Zoom" in o.name for o in coll.all_objects)
    scene.zoom_to(coll, "x:1,2", seconds=1, hold=0)
    assert "llmviz_steps" not in coll and not any("Close-up" in o.name for o in coll.all_objects)
    x = next(o for o in coll.all_objects if o.get("llmviz_key") == "x")  # computed in the walkthrough: shown again
    reveal = np.empty(len(x.data.vertices), np.float32)
    x.data.attributes["reveal"].data.foreach_get("value", reveal)
    assert np.all(reveal == ALWAYS)


def test_a_zoom_after_the_walkthrough_shows_every_cell_of_a_value_box(fresh_blend):
    from llmviz_blender import scene
    from llmviz_blender.scene.value_boxes import DONE, PROGRESS
    coll = scene.build("nano-gpt", lod="boxes")  # with weights: every block a value box
    scene.animate(coll, chapters=["embedding"])
    boxes = [o for o in coll.all_objects if PROGRESS in o]
    assert boxes and any(o.animation_data for o in boxes)  # the walkthrough keys their reveal
    fresh_blend.context.scene.frame_set(1)  # mid-walkthrough: later blocks not yet computed
    scene.zoom_to(coll, "x:1,2", seconds=1, hold=0)
    assert all(o[PROGRESS] == DONE and not o.animation_data for o in boxes)


def test_frame_target_on_a_cell_shows_its_readout_and_overview_removes_it(built):
    coll, scene, bpy = built
    before = len(coll.all_objects)
    with pytest.raises(lay.LayoutError, match=r"camera: MLP \(h0.fc\) has 192 rows x 6 columns"):
        scene.frame_target(coll, "h0.fc:999,0")
    assert len(coll.all_objects) == before
    assert scene.frame_target(coll, "h0.mlp.fc:3,1") == "cell (3, 1) of MLP (h0.fc)"
    texts = _shown_texts(coll)
    assert any(t.startswith("MLP (h0.fc), row 3 of 4C, column 1 of T") for t in texts)
    assert any(t.startswith("bias + row 3 of MLP Weights") for t in texts)
    scene.frame_target(coll, "overview")
    assert not any("Zoom" in o.name for o in coll.all_objects) and len(coll.all_objects) == before


def test_panel_zoom_to_cell_takes_the_inspectors_cell(fresh_blend):
    import llmviz_blender
    from llmviz_blender.ui.properties import model_collection
    bpy = fresh_blend
    llmviz_blender.register()
    try:
        s = bpy.context.scene.llmviz
        assert bpy.ops.llmviz.generate() == {"FINISHED"}
        s.inspect_block, s.inspect_row, s.inspect_col, s.zoom_seconds = "h0.fc", 3, 1, 1.0
        assert bpy.ops.llmviz.zoom_to() == {"FINISHED"}
        assert list(model_collection(bpy.context.scene)["llmviz_frames"]) == [1, 1 + s.fps + round(Z.HOLD * s.fps)]
        with pytest.raises(RuntimeError, match=r"zoom: MLP \(h0.fc\) has 192 rows x 6 columns, no cell \(999, 1\)"):
            bpy.ops.llmviz.zoom_to(target="h0.fc:999,1")
        assert s.last_error.startswith("zoom: MLP (h0.fc)")
    finally:
        llmviz_blender.unregister()


# ------------------------------------------------------------------------------ the CLI

def test_cli_zoom_still_and_blend_play_without_the_addon_and_bad_targets_exit_2(tmp_path):
    pytest.importorskip("bpy")
    from test_cli import cli_many, play_without_addon
    fast = ["--resolution", "64x36", "--engine", "workbench"]
    cases = {
        "ok": ["--zoom-to", "h0.fc:100,3", "--still", "z.png", "--save-blend", "z.blend", "--lod", "boxes", *fast],
        "malformed": ["--zoom-to", "h0.fc:3", "--still", "a.png", *fast],
        "unknown block": ["--zoom-to", "h9.fc:1,1", "--still", "b.png", *fast],
        "out of range": ["--zoom-to", "h0.fc:3,6", "--still", "c.png", *fast],
        "bad camera cell": ["--camera", "h0.fc:192,0", "--still", "d.png", *fast],
        "with the walkthrough": ["--zoom-to", "h0.fc:3,1", "--animate", "--still", "e.png", *fast],
    }
    out = cli_many(cases, tmp_path)
    code, stdout, stderr = out.pop("ok")
    assert code == 0, stderr
    assert "zoom to h0.fc:100,3: frames 1-193" in stdout
    expected = {"malformed": "must be BLOCK:ROW,COL", "unknown block": "no block 'h9.fc' in nano-gpt",
                "out of range": "MLP (h0.fc) has 192 rows x 6 columns, no cell (3, 6)",
                "bad camera cell": "MLP (h0.fc) has 192 rows x 6 columns, no cell (192, 0)",
                "with the walkthrough": "--zoom-to is a camera shot of its own: drop --animate"}
    for name, (code, _, stderr) in out.items():
        lines = stderr.strip().splitlines()
        assert code == 2 and len(lines) == 1 and expected[name] in lines[0], f"{name}: {code} {stderr!r}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["z.blend", "z.png"]
    p = play_without_addon(tmp_path / "z.blend", tmp_path / "again.png")
    assert p.returncode == 0, p.stderr[-2000:]
    assert "RANGE 1 193" in p.stdout
    from llmviz_blender.scene.render import read_png
    a, b = read_png(tmp_path / "z.png")[..., :3], read_png(tmp_path / "again.png")[..., :3]
    assert a.shape == b.shape == (36, 64, 3)
    assert (np.abs(a - b).max(axis=-1) > 4 / 255).mean() < 0.01
    assert math.isfinite(float(a.mean())) and a.std() > 0.01  # not a blank frame


def test_segments_cover_the_shot_once(nano):
    layout, trace, weights = nano
    z = Z.plan_zoom(layout, trace, weights, "x:1,1", layout.bounds(), ASPECT, fps=24, seconds=1, hold=1)
    segs = z.segments()
    assert segs[0].frame_start == z.frame_start and segs[-1].frame_end == z.frame_end
    assert all(a.frame_end + 1 == b.frame_start for a, b in zip(segs, segs[1:]))
    assert all(s.frame_start <= s.key <= s.frame_end and s.focus == ("x",) for s in segs)
    assert max(s.frame_end - s.frame_start + 1 for s in segs[:-1]) <= Z.SEGMENT_FRAMES
