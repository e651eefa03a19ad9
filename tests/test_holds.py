"""Holds rendered once: each frame's source frame from the file's data, and renders that copy holds."""

from __future__ import annotations

import math

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from llmviz_blender import scene as scene_api  # noqa: E402
from llmviz_blender.defaults import ALWAYS, NEVER  # noqa: E402
from llmviz_blender.scene import compat, frames, holds, keys, nodes, render  # noqa: E402

SIZE = (64, 36)
LAST = 25
#: The toy scene's sources: camera still 1-10 with a cell revealed at 5 and its highlight over at 8
#: (5 + 3 Highlight Frames), an ease 10 -> 20 where every frame moves, still again from 20.
SOURCES = {**dict.fromkeys(range(1, 5), 1), **dict.fromkeys(range(5, 8), 5), **dict.fromkeys(range(8, 11), 8),
           **{f: f for f in range(11, 21)}, **dict.fromkeys(range(21, LAST + 1), 20)}


@pytest.fixture
def toy(fresh_blend):
    """A camera keyed still, then eased sideways; one cell revealed at frame 5; a sun; draft quality."""
    sc = bpy.context.scene
    cam = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    sc.collection.objects.link(cam)
    sc.camera = cam
    cam.rotation_euler = (math.pi / 2, 0.0, 0.0)  # looking along +Y at the origin
    keys.set_vector_keys(cam, "location", [1, 10, 20], [(0, -12, 0), (0, -12, 0), (2, -12, 0)])
    sun = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", "SUN"))
    sc.collection.objects.link(sun)
    coll = bpy.data.collections.new("Cells")
    sc.collection.children.link(coll)
    nodes.add_cell_object("Block", np.zeros((1, 3)), {"value": np.ones(1), "reveal": np.array([5.0])}, None, coll,
                          cell_size=3.0, highlight_frames=3.0)
    sc.frame_start, sc.frame_end = 1, LAST
    render.configure(sc, quality="draft", resolution=SIZE)
    return sc


def test_sources_follow_runs_of_identical_states(toy):
    assert holds.unaccounted(toy) is None
    assert holds.sources(toy, 1, LAST) == SOURCES
    assert holds.sources(toy, 6, 9) == {6: 6, 7: 6, 8: 8, 9: 8}  # a range starts with a source


def test_sources_of_changes():
    assert holds.sources_of(3, 7, {5, 9}) == {3: 3, 4: 3, 5: 5, 6: 5, 7: 5}
    assert holds.sources_of(1, 1, ()) == {1: 1}


def test_cell_changes_as_the_node_tree_computes_them():
    reveal = np.array([10.0, 10.5, ALWAYS, NEVER, 40.0], np.float32)
    # 10: shown at 10, highlight over at 16; 10.5: shown at 11, highlight half at 16, over at 17; 40: outside
    assert holds.cell_changes(reveal, 6.0, 1, 30).tolist() == [10, 11, 16, 17]
    assert holds.cell_changes(reveal, 6.0, 10, 30).tolist() == [11, 16, 17]  # the first frame is no change
    assert holds.cell_changes(np.array([10.0], np.float32), 0.0, 1, 30).tolist() == [10]


def test_a_keyed_ease_changes_on_every_frame_even_by_a_hair(toy):
    curve = keys.find_fcurve(toy.camera, "location", 0)
    assert holds.curve_changes(curve, 1, LAST) == set(range(11, 21))
    assert holds.curve_changes(keys.find_fcurve(toy.camera, "location", 1), 1, LAST) == set()
    sun = toy.objects["Sun"]
    keys.set_keys(sun, "location", [1, 10, 20], [10.0, 10.0, 10.01], index=2)
    curve = keys.find_fcurve(sun, "location", 2)
    assert holds.curve_changes(curve, 1, LAST) == set(range(11, 21))
    for f in (11, 20):  # the ease's first and last steps are tiny, yet changes
        assert 0 < curve.evaluate(f) - curve.evaluate(f - 1) < 1e-3


def test_constant_keys_change_at_the_key(toy):
    obj = toy.objects["Sun"]
    keys.set_keys(obj, "hide_render", [3.0, 7.5], [0.0, 1.0], interpolation="CONSTANT")
    assert holds.curve_changes(keys.find_fcurve(obj, "hide_render"), 1, LAST) == {8}


def test_marker_cameras_switch(toy):
    toy.timeline_markers.new("cut", frame=3).camera = toy.camera
    assert holds.sources(toy, 1, 4) == {1: 1, 2: 1, 3: 3, 4: 3}


def test_what_the_analysis_cannot_see_renders_every_frame(toy):
    every = {f: f for f in range(1, LAST + 1)}
    toy.objects["Sun"].driver_add("location", 2)
    assert holds.unaccounted(toy) == "drivers on Sun" and holds.sources(toy, 1, LAST) == every
    toy.objects["Sun"].driver_remove("location", 2)

    def handler(*_args) -> None:
        pass

    bpy.app.handlers.frame_change_post.append(handler)
    try:
        assert holds.sources(toy, 1, LAST) == every
    finally:
        bpy.app.handlers.frame_change_post.remove(handler)
    assert holds.unaccounted(toy) is None
    mod = toy.objects["Block"].modifiers[nodes.MODIFIER_NAME]
    ident = compat.interface_identifier(mod.node_group, "Highlight Frames")
    keys.set_keys(toy.objects["Block"], f'modifiers["{mod.name}"]["{ident}"]', [1, 9], [3.0, 6.0])
    assert holds.unaccounted(toy) == "keyed or per-cell Highlight Frames on Block"
    toy.render.use_motion_blur = True
    assert holds.unaccounted(toy) == "motion blur"


def _render(sc, folder, jobs: int = 1) -> list[str]:
    lines: list[str] = []
    render.animation(sc, folder, frames=(1, LAST), jobs=jobs, log=lines.append)
    return lines


@pytest.mark.parametrize("quality, jobs", [("draft", 1), ("draft", 2), ("final", 1)])
def test_holds_are_copied_not_rendered(toy, tmp_path, quality, jobs, monkeypatch):
    if quality == "final":
        render.configure(toy, quality="final", device="cpu", resolution=SIZE)
    lines = _render(toy, tmp_path / "holds", jobs)
    rendered = sorted(set(SOURCES.values()))
    assert f"{len(rendered)} to render, {LAST - len(rendered)} holds to copy" in lines[0]
    assert lines[-1].endswith(f"rendered {len(rendered)} frames, copied {LAST - len(rendered)} holds")
    assert f"({len(rendered)}/{len(rendered)}, 100%)" in lines[-2]
    folder = tmp_path / "holds"
    assert sorted(p.name for p in folder.iterdir()) == [frames.FRAME_NAME.format(f) for f in range(1, LAST + 1)]
    for f, source in SOURCES.items():  # a hold is its source's file, byte for byte
        if f != source:
            assert (folder / frames.FRAME_NAME.format(f)).read_bytes() == \
                (folder / frames.FRAME_NAME.format(source)).read_bytes()
    if jobs == 1:  # every frame rendered: the same pictures, and a held frame's picture is its source's
        monkeypatch.setattr(holds, "sources", lambda _sc, a, b: {f: f for f in range(a, b + 1)})
        _render(toy, tmp_path / "all")
        for f, source in SOURCES.items():
            again = render.read_png(tmp_path / "all" / frames.FRAME_NAME.format(f))
            assert np.array_equal(again, render.read_png(folder / frames.FRAME_NAME.format(f))), f
            if f != source:
                assert np.array_equal(again, render.read_png(tmp_path / "all" / frames.FRAME_NAME.format(f - 1))), f


def test_resume_copies_holds_whose_source_is_on_disk(toy, tmp_path):
    folder = tmp_path / "f"
    _render(toy, folder)
    name = frames.FRAME_NAME.format
    for f in (2, 3, 9, 8, 21):  # holds of 1 and 20 (on disk), and 8 with its hold 9
        (folder / name(f)).unlink()
    (folder / f".{name(4)}").write_bytes(b"\x89PNG half")  # a copy cut short under its temporary name
    (folder / name(4)).unlink()
    kept = {f: (folder / name(f)).stat().st_mtime_ns for f in (1, 20)}
    lines = _render(toy, folder)
    assert "19 already complete; 1 to render, 5 holds to copy" in lines[0]
    assert lines[-1].endswith("rendered 1 frames, copied 5 holds")
    assert sorted(p.name for p in folder.iterdir()) == [name(f) for f in range(1, LAST + 1)]
    assert {f: (folder / name(f)).stat().st_mtime_ns for f in kept} == kept
    for f in (2, 3, 4, 9, 21):
        assert (folder / name(f)).read_bytes() == (folder / name(SOURCES[f])).read_bytes()


def test_walkthrough_holds_look_like_rendered_frames(fresh_blend, tmp_path, monkeypatch):
    """The default walkthrough in draft: around its first run of held frames, the frames rendered with
    holds copied are the pictures of every frame rendered, and the held ones repeat their source's."""
    coll = scene_api.build("nano-gpt")
    first, last = scene_api.animate(coll)
    sc = bpy.context.scene
    render.configure(sc, quality="draft", resolution=SIZE)
    source = holds.sources(sc, first, last)
    # paced for reading, it renders no more frames than the unpaced walkthrough had (3,072): the rest are
    # holds, and the camera holds where a move would hardly show (timeline.build._held)
    assert sum(f == s for f, s in source.items()) <= 3072
    run = next(r for r in frames.runs([f for f in source if source[f] != f]) if r[1] > r[0])
    span = (run[0] - 2, min(run[1] + 2, run[0] + 6))  # its start: frames moving, then held (a read's hold is long)
    render.animation(sc, tmp_path / "holds", frames=span)
    monkeypatch.setattr(holds, "sources", lambda _sc, a, b: {f: f for f in range(a, b + 1)})
    render.animation(sc, tmp_path / "all", frames=span)
    for f in range(span[0], span[1] + 1):
        again = render.read_png(tmp_path / "all" / frames.FRAME_NAME.format(f))
        assert np.array_equal(again, render.read_png(tmp_path / "holds" / frames.FRAME_NAME.format(f))), f
        if source[f] != f:
            assert np.array_equal(again, render.read_png(tmp_path / "all" / frames.FRAME_NAME.format(f - 1))), f


def test_a_video_gets_every_frame(toy, tmp_path):
    lines: list[str] = []
    path = render.animation(toy, tmp_path / "toy.mp4", frames=(1, LAST), log=lines.append)
    assert lines[-1].endswith(f"copied {LAST - len(set(SOURCES.values()))} holds")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy.mp4"]
    assert bpy.data.movieclips.load(str(path)).frame_duration == LAST
