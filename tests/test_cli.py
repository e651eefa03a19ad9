"""scripts/render.py end to end, through `python scripts/render.py` subprocesses at tiny sizes.

Plumbing runs use `--lod boxes` and Workbench (a frame in well under a second); one still uses the
default per-cell cubes. Independent error runs are started together to share the bpy start-up time.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("bpy")
from llmviz_blender.scene.frames import is_complete  # noqa: E402
from llmviz_blender.scene.render import read_png  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "render.py"
TINY = ["--resolution", "64x36", "--engine", "workbench"]
FAST = [*TINY, "--lod", "boxes"]
TIMEOUT = 300


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "LLMVIZ_FAIL_RENDER_AFTER"}
    env.update(extra)
    return env


def cli(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          cwd=cwd, env=_env(**env), timeout=TIMEOUT)


def play_without_addon(blend: Path, png: Path, frame: str = "s.frame_end",
                       checks: str = "") -> subprocess.CompletedProcess:
    """Open `blend` in a fresh Python that cannot import the add-on, run `checks` (code; `s` is the
    scene), render `frame` (an expression) to `png`; prints "RANGE start end width height"."""
    code = (
        "import importlib.util, os, sys\n"
        "import bpy\n"
        "assert importlib.util.find_spec('llmviz_blender') is None, 'add-on importable'\n"
        "bpy.ops.wm.open_mainfile(filepath=sys.argv[1])\n"
        "s = bpy.context.scene\n"
        f"{checks}"
        f"s.frame_set({frame})\n"
        "s.render.filepath = sys.argv[2]\n"
        "bpy.ops.render.render(write_still=True)\n"
        "print('RANGE', s.frame_start, s.frame_end, s.render.resolution_x, s.render.resolution_y, flush=True)\n"
        "os._exit(0)\n")
    env = {k: v for k, v in _env().items() if not k.startswith("PYTHON")}
    return subprocess.run([sys.executable, "-I", "-c", code, str(blend), str(png)], cwd=png.parent,
                          capture_output=True, text=True, env=env, timeout=TIMEOUT)


def cli_many(cases: dict[str, list[str]], cwd: Path, **env: str) -> dict[str, tuple[int, str, str]]:
    """Run several CLI invocations at once; name -> (returncode, stdout, stderr)."""
    procs = {name: subprocess.Popen([sys.executable, str(SCRIPT), *args], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, cwd=cwd, env=_env(**env))
             for name, args in cases.items()}
    out = {}
    for name, p in procs.items():
        stdout, stderr = p.communicate(timeout=TIMEOUT)
        out[name] = (p.returncode, stdout, stderr)
    return out


def pixels(path: Path) -> np.ndarray:
    """RGB floats, rows top-down."""
    return read_png(path)[..., :3]


def assert_picture(path: Path, size: tuple[int, int]) -> None:
    assert path.is_file(), path
    px = pixels(path)
    assert px.shape[:2] == (size[1], size[0])
    assert px.reshape(-1, 3).std(axis=0).max() > 0.01, f"{path.name} is all one colour"


def leftovers(folder: Path) -> list[str]:
    """Temporary outputs left in a folder (hidden .*.tmp* / .*.old names)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and (".tmp" in p.name or p.name.endswith(".old")))


def mp4_boxes(path: Path) -> list[str]:
    """Top-level box types of an MP4 file."""
    data, boxes, i = path.read_bytes(), [], 0
    while i + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[i:i + 8])
        boxes.append(kind.decode("latin-1"))
        if size == 1:
            size = struct.unpack(">Q", data[i + 8:i + 16])[0]
        if size < 8:
            break
        i += size
    return boxes


# --------------------------------------------------------------------------- argv (no Blender)

def _script_module():
    spec = importlib.util.spec_from_file_location("llmviz_render_cli", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_arguments_come_after_double_dash_under_blender():
    m = _script_module()
    assert m.script_args(["blender", "-b", "-P", str(SCRIPT), "--", "--still", "x.png"]) == ["--still", "x.png"]
    assert m.script_args(["/opt/blender/blender", "-b", "-P", "scripts/render.py"]) == []
    assert m.script_args([str(SCRIPT), "--still", "x.png", "--", "y"]) == ["--still", "x.png", "--", "y"]
    assert str(ROOT) in sys.path or m.ROOT == ROOT


def test_blender_style_invocation(tmp_path):
    """As `blender -b -P scripts/render.py -- ARGS` runs it: bpy already loaded, our arguments after
    `--`, another working folder and no path to the checkout (the script adds it)."""
    runner = tmp_path / "as_blender.py"
    runner.write_text(
        "import sys\n"
        "import bpy\n"
        "script = sys.argv[1]\n"
        "sys.argv = ['/opt/blender/blender', '-b', '-P', script, '--', *sys.argv[2:]]\n"
        "exec(compile(open(script).read(), script, 'exec'), {'__name__': '__main__', '__file__': script})\n")
    out = tmp_path / "still.png"
    env = {k: v for k, v in _env().items() if not k.startswith("PYTHON")}
    r = subprocess.run([sys.executable, "-I", str(runner), str(SCRIPT), "--still", str(out), *FAST],
                       cwd=tmp_path, capture_output=True, text=True, env=env, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert_picture(out, (64, 36))


# --------------------------------------------------------------------------- outputs

def test_still_default_cubes_quiet(tmp_path):
    out = tmp_path / "still.png"
    r = cli("--still", str(out), "--resolution", "96x54", "--engine", "workbench", "--quiet")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and r.stderr == ""
    assert_picture(out, (96, 54))
    assert leftovers(tmp_path) == []


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    """One run: the walkthrough keyframed, frames 230-232 as PNGs, a still of frame 230, a .blend."""
    d = tmp_path_factory.mktemp("walk")
    r = cli("--frames", "230-232", "--animation", str(d / "frames"), "--still", str(d / "still.png"),
            "--save-blend", str(d / "walk.blend"), *FAST)
    return d, r


def test_animation_to_png_folder_with_progress(walk):
    d, r = walk
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert sorted(p.name for p in (d / "frames").iterdir()) == ["frame_0230.png", "frame_0231.png", "frame_0232.png"]
    for p in (d / "frames").iterdir():
        assert_picture(p, (64, 36))
    assert "(1/3, 33%)" in r.stdout and "ETA" in r.stdout and "(3/3, 100%)" in r.stdout
    assert "Workbench" in r.stdout and "peak memory" in r.stdout
    assert "Fra:" not in r.stdout  # Blender's own progress stays in its log
    assert leftovers(d) == []


def test_saved_blend_renders_the_same_without_the_addon(walk, tmp_path):
    d, r = walk
    assert r.returncode == 0, r.stderr
    out = tmp_path / "again.png"
    p = play_without_addon(d / "walk.blend", out, frame="230", checks=(
        "fonts = [f.filepath for f in bpy.data.fonts]\n"
        "assert all(f == '<builtin>' for f in fonts), fonts\n"
        "assert not bpy.data.libraries and not [i for i in bpy.data.images if i.filepath]\n"))
    assert p.returncode == 0, p.stderr[-2000:]
    assert "RANGE 1 " in p.stdout and " 64 36" in p.stdout  # the whole walkthrough, our size
    a, b = pixels(d / "still.png"), pixels(out)
    assert a.shape == b.shape
    failing = (np.abs(a - b).max(axis=-1) > 4 / 255).mean()
    assert failing < 0.01, f"{failing:.1%} of pixels differ"


def test_animation_to_mp4(tmp_path):
    out = tmp_path / "walk.mp4"
    r = cli("--frames", "580-582", "--animation", str(out), *FAST)
    assert r.returncode == 0, r.stderr
    boxes = mp4_boxes(out)
    assert boxes[0] == "ftyp" and "moov" in boxes and "mdat" in boxes, boxes
    assert "(3/3, 100%)" in r.stdout
    assert leftovers(tmp_path) == []


def test_comparison_and_each_model(tmp_path):
    out = tmp_path / "compare.png"
    r = cli("--compare", "nano-gpt,gpt2-xl", "--still", str(out), "--each", *FAST)
    assert r.returncode == 0, r.stderr
    for p in (out, tmp_path / "compare-nano-gpt.png", tmp_path / "compare-gpt2-xl.png"):
        assert_picture(p, (64, 36))
    assert "built comparison nano-gpt, gpt2-xl" in r.stdout
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------------------- errors

def _no_gpu() -> bool:
    from llmviz_blender.scene import render
    return render.gpu_devices() is None


def test_bad_arguments_and_input_exit_2(tmp_path):
    (tmp_path / "bad.toml").write_text('name = "x"\n[[[oops\n')
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    (tmp_path / "a_file").write_text("")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    still = ["--still", "out.png"]
    cases = {
        "unknown preset": ["--preset", "no-such-model", *still],
        "malformed toml": ["--preset", "bad.toml", *still],
        "bad weights": ["--weights", "bad.safetensors", *still],
        "missing weights": ["--weights", "missing.safetensors", *still],
        "token not in vocabulary": ["--tokens", "CBAXBC", *still],
        "token id out of range": ["--tokens", "2,1,7", *still],
        "bad resolution": [*still, "--resolution", "0x10"],
        "resolution not WxH": [*still, "--resolution", "wide"],
        "zero samples": [*still, "--samples", "0"],
        "unknown engine": [*still, "--engine", "povray"],
        "frame range backwards": ["--animation", "f", "--frames", "9-3"],
        "frames outside the walkthrough": ["--animation", "f", "--frames", "1-999999", "--lod", "boxes"],
        "zero fps": ["--animation", "f", "--fps", "0"],
        "still needs one frame": [*still, "--frames", "1-5"],
        "unknown chapter": ["--animation", "f", "--chapters", "embedding,magic"],
        "missing output folder": ["--still", "nowhere/out.png"],
        "output folder is a file": ["--still", "a_file/out.png"],
        "still not png": ["--still", "out.jpg"],
        "frames folder with other files": ["--animation", "busy", "--frames", "1"],
        "odd video size": ["--animation", "v.mp4", "--resolution", "65x36"],
        "compare unknown model": ["--compare", "nano-gpt,gpt-9", *still],
        "compare animation": ["--compare", "nano-gpt,gpt2-xl", "--animation", "v.mp4"],
        "compare tokens alone": [*still, "--compare-tokens", "64"],
        "zero compare tokens": ["--compare", "gpt2-small", *still, "--compare-tokens", "0"],
        "unknown camera target": [*still, "--camera", "h7.head9"],
        "nothing to do": ["--preset", "nano-gpt"],
        "unknown option": [*still, "--colour", "red"],
        "unknown language": [*still, "--language", "tlh"],
    }
    if _no_gpu():
        cases["gpu requested, none here"] = [*still, "--engine", "cycles", "--device", "gpu"]
    results = cli_many({k: [*v, *(["--engine", "workbench"] if "--engine" not in v else [])] for k, v in cases.items()},
                       cwd=tmp_path)
    for name, (code, stdout, stderr) in results.items():
        assert code == 2, f"{name}: exit {code}\n{stderr}"
        assert "Traceback" not in stderr + stdout, f"{name}: {stderr}"
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("render.py: "), f"{name}: {stderr!r}"
    assert "unknown language 'tlh' (available: en, ja, ko, zh-Hans, zh-Hant, es, fr, de)" in \
        results["unknown language"][2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "bad.safetensors", "bad.toml", "busy"]
    assert [p.name for p in (tmp_path / "busy").iterdir()] == ["notes.txt"]


def test_render_failure_exits_1_and_leaves_no_output(tmp_path, tmp_path_factory):
    """A render that fails after writing frames: nothing under the final names, no temporary
    files, and an earlier output under the same name is kept as it was."""
    (tmp_path / "old.png").write_bytes(b"earlier still")
    (tmp_path / "old_frames").mkdir()
    (tmp_path / "old_frames" / "frame_0001.png").write_bytes(b"earlier frame")
    cases = {
        "still": ["--still", "new.png"],
        "still over an old one": ["--still", "old.png"],
        "png frames": ["--animation", "frames", "--frames", "230-232"],
        "png frames over old ones": ["--animation", "old_frames", "--frames", "230-232"],
        "video": ["--animation", "walk.mp4", "--frames", "200-201"],
    }
    logs = tmp_path_factory.mktemp("logs")  # Blender's logs, kept after a failed render
    results = cli_many({k: [*v, *FAST] for k, v in cases.items()}, cwd=tmp_path, LLMVIZ_FAIL_RENDER_AFTER="1",
                       TMPDIR=str(logs))
    for name, (code, stdout, stderr) in results.items():
        assert code == 1, f"{name}: exit {code}\n{stderr}"
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and "simulated render failure" in lines[0], f"{name}: {stderr!r}"
        assert f"(Blender log: {logs}" in lines[0]
        assert "Traceback" not in stderr + stdout
    # nothing under a final name but the frames completed before the failure (kept: a rerun resumes
    # from them), and the video's frames in its hidden folder beside it
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [".walk.mp4.frames", "frames", "old.png", "old_frames"], names
    assert (tmp_path / "old.png").read_bytes() == b"earlier still"
    assert (tmp_path / "old_frames" / "frame_0001.png").read_bytes() == b"earlier frame"
    for folder in (tmp_path / "frames", tmp_path / "old_frames", tmp_path / ".walk.mp4.frames"):
        for frame in folder.iterdir():
            assert frame.name == "frame_0001.png" or is_complete(frame), frame  # no half-written frame


def test_interrupted_video_leaves_nothing(tmp_path):
    out = tmp_path / "long.mp4"
    p = subprocess.Popen([sys.executable, str(SCRIPT), "--frames", "100-400", "--animation", str(out), *FAST],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        line = ""
        deadline = time.monotonic() + TIMEOUT
        while "frame 100 " not in line and time.monotonic() < deadline:
            line = p.stdout.readline()
            assert line or p.poll() is None, p.stderr.read()
        assert (tmp_path / ".long.mp4.frames").is_dir()  # mid-render: the video's frames, beside it
        p.send_signal(signal.SIGTERM)
        stdout, stderr = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 128 + signal.SIGTERM, stderr
    assert stderr.strip().splitlines() == ["render.py: interrupted; no partial output was kept"]
    assert [n.name for n in tmp_path.iterdir()] == [".long.mp4.frames"]  # no video; complete frames to resume from
    assert all(is_complete(f) for f in (tmp_path / ".long.mp4.frames").iterdir())


def test_a_walkthrough_still_shows_its_middle_step(fresh_blend, tmp_path):
    """--chapters without --frames: the still is the key frame of the walkthrough's middle step."""
    import bpy
    from llmviz_blender import scene
    coll = scene.build("nano-gpt", lod="boxes")
    bpy.context.scene.render.resolution_x, bpy.context.scene.render.resolution_y = 64, 36
    scene.animate(coll, chapters=["output"])
    middle = scene.middle_key_frame(coll)
    from llmviz_blender.scene.walkthrough import steps_of
    assert middle < steps_of(coll)[-1]["key"]
    r = cli(*FAST, "--chapters", "output", "--still", str(tmp_path / "s.png"))
    assert r.returncode == 0, r.stderr
    assert f"rendering s.png at frame {middle} " in r.stdout


def test_reading_speed_and_narrator_timing(tmp_path):
    """--reading-speed and --timing reach the walkthrough; a bad timing file: exit 2, one line naming
    the file and the key, nothing written."""
    (tmp_path / "narration.toml").write_text("[chapters]\nlayer_norm = 20\n[steps.layer_norm]\n2 = 8\n")
    (tmp_path / "far.toml").write_text("[steps.layer_norm]\n9 = 8\n")
    (tmp_path / "bad.toml").write_text("[chapters\n")
    (tmp_path / "typo.toml").write_text("[chapter]\nmlp = 8\n")
    (tmp_path / "zero.toml").write_text("[steps.mlp]\n1 = 0\n")
    walk = [*FAST, "--chapters", "layer_norm", "--save-blend"]
    results = cli_many({
        "narrated": [*walk, "n.blend", "--timing", "narration.toml"],
        "slow reader": [*walk, "s.blend", "--reading-speed", "7"],
        "missing": [*walk, "m.blend", "--timing", "missing.toml"],
        "malformed": [*walk, "b.blend", "--timing", "bad.toml"],
        "unknown key": [*walk, "t.blend", "--timing", "typo.toml"],
        "zero seconds": [*walk, "z.blend", "--timing", "zero.toml"],
        "step out of range": [*walk, "f.blend", "--timing", "far.toml"],
        "zero reading speed": [*walk, "r.blend", "--reading-speed", "0"],
        "timing without a walkthrough": [*FAST, "--still", "s.png", "--timing", "narration.toml"],
    }, cwd=tmp_path)
    code, out, err = results.pop("narrated")
    assert code == 0 and "animated frames 1-480 (20 s at 24 fps)" in out, err
    code, out, err = results.pop("slow reader")
    assert code == 0 and "animated frames 1-" in out and "(20 s" not in out, err
    expect = {"missing": "missing.toml: cannot read", "malformed": "bad.toml: not valid TOML",
              "unknown key": "typo.toml: chapter: unknown key", "zero seconds": "zero.toml: steps.mlp.1: must be",
              "step out of range": "far.toml: steps.layer_norm.9: out of range", "zero reading speed": "--reading-speed",
              "timing without a walkthrough": "--timing"}
    for name, (code, stdout, stderr) in results.items():
        lines = stderr.strip().splitlines()
        assert code == 2 and len(lines) == 1 and expect[name] in lines[0], f"{name}: exit {code}\n{stderr}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml", "far.toml", "n.blend", "narration.toml",
                                                          "s.blend", "typo.toml", "zero.toml"]
