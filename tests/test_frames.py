"""Frames on disk: resume after a kill, jobs, the saved .blend rendered in chunks, videos from frames."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from llmviz_blender import scene as scene_api  # noqa: E402
from llmviz_blender.scene import frames, render  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "render.py"
FIRST, LAST = 1100, 1103  # the embedding chapter while the camera moves (no holds: every frame rendered)
SIZE = (64, 36)
PIXEL_TOLERANCE = 4 / 255  # a pixel fails above this difference on any channel...
FAILING_SHARE = 0.01  # ...and the image above this share of failing pixels


@pytest.fixture
def walk(fresh_blend):
    coll = scene_api.build("nano-gpt")
    scene_api.animate(coll)
    render.configure(bpy.context.scene, quality="draft", resolution=SIZE)
    return coll


def pixels(path: Path) -> np.ndarray:
    return render.read_png(path)[..., :3]


def assert_same_frames(a: Path, b: Path, names: list[str]) -> None:
    for name in names:
        x, y = pixels(a / name), pixels(b / name)
        assert x.shape == y.shape, name
        failing = float((np.abs(x - y).max(axis=-1) > PIXEL_TOLERANCE).mean())
        assert failing <= FAILING_SHARE, f"{name}: {failing:.1%} of pixels differ"


def names(first: int = FIRST, last: int = LAST) -> list[str]:
    return [frames.FRAME_NAME.format(f) for f in range(first, last + 1)]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != render.FAIL_ENV}


def test_complete_means_a_whole_png(walk, tmp_path):
    render.animation(bpy.context.scene, tmp_path / "f", frames=(FIRST, FIRST))
    good = tmp_path / "f" / names()[0]
    assert frames.is_complete(good)
    data = good.read_bytes()
    for i, broken in enumerate((data[:-1], data[: len(data) // 2], b"", b"not a png" + data[9:])):
        (tmp_path / f"b{i}.png").write_bytes(broken)
        assert not frames.is_complete(tmp_path / f"b{i}.png")
    assert not frames.is_complete(tmp_path / "missing.png")


def test_killed_render_resumes_without_rendering_a_frame_twice(tmp_path):
    out = tmp_path / "frames"
    args = [sys.executable, str(SCRIPT), "--animation", str(out), "--frames", f"{FIRST}-{FIRST + 5}",
            "--resolution", f"{SIZE[0]}x{SIZE[1]}", "--quality", "draft"]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and p.poll() is None:
            if out.is_dir() and len([n for n in os.listdir(out) if n.startswith("frame_")]) >= 2:
                break
            time.sleep(0.05)
        p.send_signal(signal.SIGKILL)  # a crash: no clean-up of any kind
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    kept = {n: (out / n).stat().st_mtime_ns for n in os.listdir(out) if n.startswith("frame_")}
    assert 2 <= len(kept) < 6
    assert all(frames.is_complete(out / n) for n in kept)
    # a frame a crash cut short under its final name, and one left under the temporary name
    missing = [n for n in names(FIRST, FIRST + 5) if n not in kept]
    (out / missing[0]).write_bytes((out / next(iter(kept))).read_bytes()[:100])
    (out / f".{missing[-1]}").write_bytes(b"\x89PNG half")

    r = subprocess.run([*args, "--jobs", "2"], capture_output=True, text=True, env=_env(), timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"{len(kept)} already complete" in r.stdout
    assert sorted(os.listdir(out)) == names(FIRST, FIRST + 5)  # no temporary files left
    assert all(frames.is_complete(out / n) for n in names(FIRST, FIRST + 5))
    assert {n: (out / n).stat().st_mtime_ns for n in kept} == kept  # none rendered again


def test_jobs_render_the_same_frames(walk, tmp_path):
    sc = bpy.context.scene
    lines: list[str] = []
    render.animation(sc, tmp_path / "one", frames=(FIRST, LAST))
    render.animation(sc, tmp_path / "two", frames=(FIRST, LAST), jobs=2, log=lines.append)
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == names()
    assert_same_frames(tmp_path / "one", tmp_path / "two", names())
    assert "2 jobs" in lines[0] and f"({LAST - FIRST + 1}/{LAST - FIRST + 1}, 100%)" in lines[-2]


def test_saved_blend_renders_in_chunks_like_in_one_process(walk, tmp_path):
    """The farm route: plain bpy (no add-on) opens the saved .blend and renders a frame range; two
    ranges in two processes give the frames one process renders (here, with the add-on)."""
    blend = render.save_blend(tmp_path / "walk.blend")
    code = ("import sys, bpy; bpy.ops.wm.open_mainfile(filepath=sys.argv[1]); s = bpy.context.scene; "
            "s.frame_start, s.frame_end = int(sys.argv[2]), int(sys.argv[3]); "
            "s.render.filepath = sys.argv[4] + '/frame_####'; bpy.ops.render.render(animation=True)")

    def blender(first: int, last: int, folder: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", code, str(blend), str(first), str(last),
                                 str(tmp_path / folder)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env=_env(), cwd=tmp_path)

    procs = [blender(FIRST, FIRST + 1, "chunks"), blender(FIRST + 2, LAST, "chunks")]
    render.animation(bpy.context.scene, tmp_path / "one", frames=(FIRST, LAST))  # meanwhile, with the add-on
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    assert sorted(p.name for p in (tmp_path / "chunks").iterdir()) == names()
    assert_same_frames(tmp_path / "one", tmp_path / "chunks", names())


def test_video_is_encoded_from_frames(walk, tmp_path):
    path = render.animation(bpy.context.scene, tmp_path / "walk.mp4", frames=(FIRST, LAST))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.mp4"]  # the frames folder is gone
    clip = bpy.data.movieclips.load(str(path))
    assert clip.frame_duration == LAST - FIRST + 1 and tuple(clip.size) == SIZE


def test_bad_arguments_are_one_line(walk, tmp_path):
    with pytest.raises(render.RenderSettingsError, match="^jobs must be a positive integer, got 0$"):
        render.animation(bpy.context.scene, tmp_path / "f", frames=(FIRST, LAST), jobs=0)
    assert not (tmp_path / "f").exists()
    for args, message in ((["--jobs", "0"], "argument --jobs: must be in 1.., got 0"),
                          (["--quality", "best"], "argument --quality: invalid choice: 'best'"),
                          (["--quality", "draft", "--engine", "cycles"], "--quality draft renders with workbench")):
        r = subprocess.run([sys.executable, str(SCRIPT), "--animation", str(tmp_path / "f"), *args],
                           capture_output=True, text=True, env=_env(), timeout=120)
        assert r.returncode == 2
        assert len(r.stderr.strip().splitlines()) == 1 and message in r.stderr, r.stderr
