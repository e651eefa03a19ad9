"""scene.animate: reveal attributes drive what is computed at each frame; keyframes stay few."""

import subprocess
import sys
import textwrap

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

bpy = pytest.importorskip("bpy")
from llmviz_blender import scene  # noqa: E402
from llmviz_blender import timeline  # noqa: E402
from llmviz_blender.scene import datablocks  # noqa: E402
from llmviz_blender.scene.keys import count_keys  # noqa: E402
from llmviz_blender.scene.nodes import GHOST_SCALE  # noqa: E402


def _reveal(obj):
    data = obj.data.attributes["reveal"].data
    out = np.empty(len(data), np.float32)
    data.foreach_get("value", out)
    return out


def _computed_counts():
    """Per block object: instances drawn at full scale (computed) and ghost scale (pending)."""
    full, ghost = {}, {}
    depsgraph = bpy.context.evaluated_depsgraph_get()
    for inst in depsgraph.object_instances:
        if inst.is_instance and inst.parent is not None and "llmviz_key" in inst.parent.original:
            name = inst.parent.original.name
            s = inst.matrix_world.to_scale()[0]
            target = full if s > (1 + GHOST_SCALE) / 2 else ghost
            target[name] = target.get(name, 0) + 1
    return full, ghost


@pytest.fixture
def nano(fresh_blend):
    coll = scene.build("nano-gpt")
    return coll


def test_cells_appear_at_their_reveal_frames(nano):
    start, end = scene.animate(nano)
    sc = bpy.context.scene
    assert (sc.frame_start, sc.frame_end) == (start, end) == tuple(nano["llmviz_frames"])
    blocks = {o.name: o for o in nano.all_objects if "llmviz_key" in o}
    reveals = {name: _reveal(o) for name, o in blocks.items()}
    assert all(np.all(r == timeline.ALWAYS) for n, r in reveals.items() if blocks[n]["llmviz_kind"] == "weight")
    computed = np.concatenate([r for n, r in reveals.items() if blocks[n]["llmviz_kind"] != "weight"])
    assert np.all((computed >= start) & (computed <= end))
    for frame in (start, 400, 1200, 2100, end):
        sc.frame_set(frame)
        full, ghost = _computed_counts()
        for name, r in reveals.items():
            assert full.get(name, 0) == int(np.sum(r <= frame)), (frame, name)
            assert ghost.get(name, 0) == int(np.sum(r > frame)), (frame, name)


def test_keyframes_scale_with_blocks(nano):
    scene.animate(nano)
    keys = count_keys(list(bpy.data.objects))
    assert 100 < keys <= 12000  # per block and label and step (visibility, size), never per cell (110k)


def test_timing_options(nano):
    _, end = scene.animate(nano)
    _, end_fps = scene.animate(nano, fps=48)
    _, end_fast = scene.animate(nano, speed=2.0)
    assert abs(end_fps - 1 - 2 * (end - 1)) <= 10 and abs(end_fast - 1 - (end - 1) / 2) <= 10
    assert bpy.context.scene.render.fps == 24
    _, end_sub = scene.animate(nano, chapters=["attention", "mlp"])
    assert list(nano["llmviz_chapters"]) == ["attention", "mlp"] and end_sub < end / 2
    objects = {o["llmviz_key"]: o for o in nano.all_objects if "llmviz_key" in o}
    assert np.all(_reveal(objects["x"]) < 1)  # computed before the subset starts
    assert np.all(_reveal(objects["probs"]) >= timeline.NEVER)  # never in range


def test_paced_steps_hold_still(nano):
    """Each step moves, then holds: camera, dimming and close-up copies keep still from its key frame
    (its motion's end) to its last frame, so a renderer may copy those frames."""
    from llmviz_blender.scene import walkthrough
    scene.animate(nano, chapters=["embedding", "attention"])
    sc = bpy.context.scene
    saved = walkthrough.steps_of(nano)
    held = [s for s in saved if s["frames"][1] - s["key"] > 24]
    assert len(held) >= 3
    movable = [o for o in bpy.data.objects if o.animation_data and o.animation_data.action]

    def state(frame):
        sc.frame_set(frame)
        return [(o.name, tuple(round(v, 5) for v in o.matrix_world.translation), round(o.get("llmviz_dim", 0.0), 5))
                for o in movable]
    for s in held:
        assert state(s["key"]) == state(s["frames"][1]), s["caption"]


def test_reading_speed_and_narration(nano, tmp_path):
    _, end = scene.animate(nano, chapters=["layer_norm"])
    _, slow = scene.animate(nano, chapters=["layer_norm"], reading_speed=7.0)
    assert slow > 1.6 * end  # its steps are text-bound
    path = tmp_path / "narration.toml"
    path.write_text("[chapters]\nlayer_norm = 20\n[steps.layer_norm]\n2 = 8\n")
    assert scene.animate(nano, chapters=["layer_norm"], timing=path) == (1, 20 * 24)
    assert scene.animate(nano, chapters=["layer_norm"], timing={"chapters": {"layer_norm": 10}}) == (1, 10 * 24)


def test_reanimate_and_clear_leave_nothing(nano):
    scene.animate(nano)
    counts = {a: len(getattr(bpy.data, a)) for a in datablocks.ID_COLLECTIONS if hasattr(bpy.data, a)}
    scene.animate(nano)
    assert {a: len(getattr(bpy.data, a)) for a in counts} == counts
    scene.clear()
    assert not list(datablocks.iter_owned()) and len(bpy.data.actions) == 0


def test_bad_options_change_nothing(nano):
    scene.animate(nano)
    before = (count_keys(list(bpy.data.objects)), len(bpy.data.objects), bpy.context.scene.frame_end)
    for kwargs in [{"chapters": ["attention", "dance"]}, {"fps": 0}, {"speed": -1.0}, {"start_layer": 7},
                   {"reading_speed": 0}, {"timing": {"steps": {"mlp": {"9": 3}}}}, {"timing": "missing.toml"}]:
        with pytest.raises(timeline.TimelineError):
            scene.animate(nano, **kwargs)
        assert (count_keys(list(bpy.data.objects)), len(bpy.data.objects), bpy.context.scene.frame_end) == before


def test_shape_only_model_cannot_animate(fresh_blend):
    coll = scene.build("gpt2-small", labels=False)
    with pytest.raises(timeline.TimelineError, match="built without weights"):
        scene.animate(coll)


def test_plays_without_the_addon(nano, tmp_path):
    """Saved .blend, opened by a Python that cannot import llmviz_blender: same camera, same cells."""
    scene.animate(nano)
    path = tmp_path / "walk.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    frame = 1500
    sc = bpy.context.scene
    sc.frame_set(frame)
    cam = tuple(round(v, 3) for v in sc.camera.matrix_world.translation)
    full, _ = _computed_counts()
    code = textwrap.dedent(f"""
        import sys
        sys.path = [p for p in sys.path if p not in ('', '.', {str(ROOT)!r})]
        import bpy
        try:
            import llmviz_blender
            raise SystemExit('add-on importable')
        except ImportError:
            pass
        bpy.ops.wm.open_mainfile(filepath={str(path)!r})
        sc = bpy.context.scene
        sc.frame_set({frame})
        full = 0
        for inst in bpy.context.evaluated_depsgraph_get().object_instances:
            if inst.is_instance and inst.parent is not None and 'llmviz_key' in inst.parent.original:
                full += inst.matrix_world.to_scale()[0] > 0.8
        print('RESULT', tuple(round(v, 3) for v in sc.camera.matrix_world.translation), full)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT")]
    assert lines == [f"RESULT {cam} {sum(full.values())}"], out.stderr[-2000:]
