"""scene.render in-process: settings validation, engine ids, descriptions, output checks."""

from __future__ import annotations

import pytest

bpy = pytest.importorskip("bpy")

from llmviz_blender.scene import compat, render  # noqa: E402


def test_configure_sets_engine_samples_resolution_fps(fresh_blend):
    scene = bpy.context.scene
    text = render.configure(scene, engine="cycles", device="cpu", samples=3, resolution=(64, 36), fps=30,
                            frames=(5, 9))
    assert text == "Cycles CPU, 3 samples"
    assert (scene.render.engine, scene.cycles.device, scene.cycles.samples) == ("CYCLES", "CPU", 3)
    assert (scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage) == (64, 36, 100)
    assert (scene.render.fps, scene.frame_start, scene.frame_end) == (30, 5, 9)
    assert render.configure(scene, engine="eevee", samples=4) == "EEVEE, 4 samples"
    assert scene.render.engine == compat.eevee_engine_id()
    for samples, aa in ((1, "OFF"), (5, "5"), (6, "8"), (16, "16"), (500, "32")):
        render.configure(scene, engine="workbench", samples=samples)
        assert scene.display.render_aa == aa


@pytest.mark.parametrize("kwargs", [
    {"engine": "povray"}, {"device": "tpu"}, {"samples": 0}, {"samples": True}, {"resolution": (0, 10)},
    {"resolution": (10,)}, {"fps": 0}, {"frames": (9, 3)}, {"frames": (-1, 3)},
])
def test_configure_rejects_bad_settings_before_changing_anything(fresh_blend, kwargs):
    scene = bpy.context.scene
    before = (scene.render.engine, scene.render.resolution_x, scene.render.fps, scene.frame_start)
    with pytest.raises(render.RenderSettingsError):
        render.configure(scene, **{"engine": "workbench", **kwargs})
    assert (scene.render.engine, scene.render.resolution_x, scene.render.fps, scene.frame_start) == before


def test_auto_device_falls_back_to_cpu_or_names_the_gpu(fresh_blend):
    text = render.configure(bpy.context.scene, engine="cycles", device="auto")
    gpu = render.gpu_devices()
    assert text.startswith("Cycles GPU (") if gpu else text.startswith("Cycles CPU")


def test_check_output(fresh_blend, tmp_path):
    assert render.check_output(tmp_path / "a.png") == tmp_path / "a.png"
    assert render.check_output(tmp_path / "v.mp4", "animation") == tmp_path / "v.mp4"
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "frame_0001.png").write_bytes(b"")
    assert render.check_output(tmp_path / "frames", "animation") == tmp_path / "frames"
    (tmp_path / "frames" / "keep.txt").write_text("")
    for path, kind in ((tmp_path / "frames", "animation"), (tmp_path / "a.jpg", "still"),
                       (tmp_path / "no" / "a.png", "still"), (tmp_path / "x.blend1", "blend"),
                       (tmp_path / "frames", "still")):
        with pytest.raises(render.RenderSettingsError):
            render.check_output(path, kind)
    made = render.check_output(tmp_path / "new" / "deeper" / "a.png", make_folder=True)
    assert made.parent.is_dir()


def test_frame_folder_may_hold_frames_being_written(fresh_blend, tmp_path):
    """An interrupted render leaves a frame under its temporary name: the folder still resumes."""
    (tmp_path / "f").mkdir()
    for name in ("frame_0001.png", ".frame_0002.png"):
        (tmp_path / "f" / name).write_bytes(b"")
    assert render.check_output(tmp_path / "f", "animation") == tmp_path / "f"
    (tmp_path / "f" / ".frame_x.png").write_bytes(b"")
    with pytest.raises(render.RenderSettingsError):
        render.check_output(tmp_path / "f", "animation")


def test_bad_jobs(fresh_blend, tmp_path):
    for jobs in (0, -1, True, 1.5):
        with pytest.raises(render.RenderSettingsError, match="^jobs must be a positive integer"):
            render.animation(bpy.context.scene, tmp_path / "f", jobs=jobs)


def test_render_errors_are_one_line_categories():
    assert issubclass(render.RenderSettingsError, ValueError) and issubclass(render.RenderFailed, RuntimeError)
    assert issubclass(render.RenderSettingsError, render.RenderError)
    assert issubclass(render.RenderFailed, render.RenderError)
