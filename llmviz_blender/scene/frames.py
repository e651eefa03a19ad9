"""Frames on disk: resumable PNG folders, frame chunks rendered by several processes, and videos
assembled from frames with Blender's own FFmpeg writer (no system ffmpeg).

A frame is complete once it stands under its final name ``frame_0001.png``: Blender writes each
under a temporary name in the same folder (``.frame_0001.png``), renamed once written, and a file under the
final name counts only if it is a whole PNG (signature first, IEND chunk last), so an interrupted
render resumes where it stopped and never keeps a half-written frame. Frames already complete are
skipped: delete the folder (or the frames) to render them again after changing the scene.

Holds (scene.holds: frames that repeat the frame before) are not rendered: once the first frame of
their run is complete, each is written as a copy of its file (:func:`copy_holds`, atomic the same way).

``jobs > 1``: the scene is saved to a temporary .blend and N processes (``sys.executable`` with the
bpy module, or ``blender -b`` under a Blender binary) each render a contiguous chunk of the frames
to render (missing, not holds), with the CPU threads shared out; the caller's progress/ETA counts
frames as they land in the folder. Workers exit between frames once their parent has gone.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import bpy

from . import value_boxes
from .render_core import RenderFailed, run as run_render, simulated_failure

FRAME_NAME = "frame_{:04d}.png"
TEMP_NAME = ".frame_{:04d}.png"  # a frame being written
_FRAME = re.compile(r"frame_(\d+)\.png")
_TEMP = re.compile(r"\.frame_(\d+)\.png")
_PNG_START = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
ROOT = Path(__file__).resolve().parents[2]  # the folder holding the llmviz_blender package
POLL = 0.5  # seconds between looks at the folder while jobs render

Tick = Callable[[int], None]


def is_frame_file(name: str) -> bool:
    """Whether a file name belongs in a frames folder (a frame, or a frame being written)."""
    return bool(_FRAME.fullmatch(name) or _TEMP.fullmatch(name))


def is_complete(path: Path) -> bool:
    """A whole PNG: the signature at the start and the IEND chunk at the end."""
    try:
        with open(path, "rb") as f:
            if f.read(8) != _PNG_START:
                return False
            f.seek(0, os.SEEK_END)
            if f.tell() < len(_PNG_START) + 2 * len(_PNG_END):
                return False
            f.seek(-len(_PNG_END), os.SEEK_END)
            return f.read() == _PNG_END
    except OSError:
        return False


def missing(folder: Path, first: int, last: int) -> list[int]:
    """Frames of first..last without a complete file in `folder`."""
    return [f for f in range(first, last + 1) if not is_complete(folder / FRAME_NAME.format(f))]


def clean(folder: Path) -> None:
    """Remove temporary frames left by an interrupted render."""
    for p in folder.iterdir():
        if _TEMP.fullmatch(p.name):
            p.unlink(missing_ok=True)


def runs(frames: list[int]) -> list[tuple[int, int]]:
    """Contiguous runs (first, last) of sorted frame numbers."""
    out: list[tuple[int, int]] = []
    for f in frames:
        if out and f == out[-1][1] + 1:
            out[-1] = (out[-1][0], f)
        else:
            out.append((f, f))
    return out


def plan(todo: list[int], sources: Mapping[int, int]) -> tuple[list[int], dict[int, int]]:
    """For the frames missing (`todo`) and each frame's source (scene.holds): the frames to render
    (sources missing) and the holds to copy (frame -> its source, which is complete or rendered)."""
    renders = [f for f in todo if sources[f] == f]
    return renders, {f: sources[f] for f in todo if sources[f] != f}


def copy_holds(folder: Path, holds: Mapping[int, int]) -> None:
    """Write each hold (frame -> source frame) as a copy of its source's file: under the temporary
    name first, renamed once whole."""
    for frame, source in sorted(holds.items()):
        src = folder / FRAME_NAME.format(source)
        if not is_complete(src):
            raise RenderFailed(f"{folder}: frame {frame} repeats frame {source}, which is not complete")
        tmp = folder / TEMP_NAME.format(frame)
        shutil.copyfile(src, tmp)
        os.replace(tmp, folder / FRAME_NAME.format(frame))


def render_frames(scene: bpy.types.Scene, folder: Path, frames: list[int], tick: Tick | None = None) -> None:
    """Render `frames` here into `folder` as PNGs: one animation render per contiguous run (the
    render's scene data stays alive across its frames), each frame written by Blender under a
    temporary name (``.frame_0001.png``) and renamed once written."""
    parent = os.getppid()
    errors: list[BaseException] = []
    done = [0]

    def written(scn, *_args) -> None:
        try:
            if errors:
                return
            frame = scn.frame_current
            tmp = folder / TEMP_NAME.format(frame)
            if not is_complete(tmp):
                raise RenderFailed(f"{folder}: the render wrote no image for frame {frame}")
            os.replace(tmp, folder / FRAME_NAME.format(frame))
            done[0] += 1
            if tick is not None:
                tick(frame)
            simulated_failure(done[0])
            if os.getppid() != parent:  # a job whose parent (an interrupted render) is gone: stop
                os._exit(1)
        except BaseException as exc:  # noqa: BLE001 -- Blender swallows handler errors; raised below
            errors.append(exc)

    old = scene.frame_start, scene.frame_end, scene.render.filepath
    bpy.app.handlers.render_write.append(written)
    try:
        scene.render.filepath = str(folder / TEMP_NAME.replace("{:04d}", "####").removesuffix(".png"))
        for first, last in runs(sorted(frames)):
            scene.frame_start, scene.frame_end = first, last
            run_render(scene, animation=True)
            if errors:
                raise errors[0]
    finally:
        bpy.app.handlers.render_write.remove(written)
        scene.frame_start, scene.frame_end, scene.render.filepath = old


def _chunks(frames: list[int], jobs: int) -> list[list[int]]:
    size = -(-len(frames) // jobs)
    return [frames[i:i + size] for i in range(0, len(frames), size)]


def _command(blend: Path, folder: Path, frames: list[int], threads: int) -> list[str]:
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
            f"from llmviz_blender.scene.frames import worker; worker()")
    args = ["--", str(blend), str(folder), ",".join(map(str, frames)), str(threads)]
    if bpy.app.binary_path:  # inside Blender: its binary, in the background
        return [bpy.app.binary_path, "-b", "--factory-startup", "--python-expr", code, *args]
    return [sys.executable, "-c", code, *args]


def render_jobs(scene: bpy.types.Scene, folder: Path, frames: list[int], jobs: int, tick: Tick | None = None) -> None:
    """Render `frames` into `folder` with `jobs` processes at once from a saved copy of the file."""
    threads = max(1, (os.cpu_count() or 1) // jobs)
    with tempfile.TemporaryDirectory(prefix="llmviz-jobs-") as tmp:
        blend = Path(tmp) / "scene.blend"
        value_boxes.pack_images()  # the workers read our generated images from the file
        bpy.ops.wm.save_as_mainfile(filepath=str(blend), copy=True, compress=False, check_existing=False)
        logs = [Path(tmp) / f"job{i}.log" for i in range(jobs)]
        procs = []
        try:
            for chunk, log in zip(_chunks(frames, jobs), logs):
                with open(log, "wb") as out:
                    procs.append(subprocess.Popen(_command(blend, folder, chunk, threads), stdout=out,
                                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
            waiting = set(frames)
            while True:
                ended = all(p.poll() is not None for p in procs)  # before the look: no frame is missed
                for f in sorted(waiting):
                    if is_complete(folder / FRAME_NAME.format(f)):
                        waiting.discard(f)
                        if tick is not None:
                            tick(f)
                if not waiting:
                    break
                bad = next((log for p, log in zip(procs, logs) if p.poll() not in (None, 0)), None)
                if bad is not None:
                    raise RenderFailed(f"render job failed: {_last_line(bad)}")
                if ended:
                    raise RenderFailed(f"{folder}: the jobs ended without frame {min(waiting)}")
                time.sleep(POLL)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                p.wait()


def _last_line(log: Path) -> str:
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    errors = [ln for ln in lines if "Error" in ln or "error" in ln]
    return (errors or lines or ["no output"])[-1]


def worker() -> None:
    """Entry of a job process: ``-- BLEND FOLDER FRAMES THREADS`` (frames comma-separated)."""
    argv = sys.argv[sys.argv.index("--") + 1:]
    blend, folder, frames, threads = Path(argv[0]), Path(argv[1]), [int(f) for f in argv[2].split(",")], int(argv[3])
    if Path(bpy.data.filepath or "").resolve() != blend.resolve():
        bpy.ops.wm.open_mainfile(filepath=str(blend))
    scene = bpy.context.scene
    scene.render.threads_mode, scene.render.threads = "FIXED", threads
    try:
        render_frames(scene, folder, frames)
    except Exception as exc:  # noqa: BLE001 -- one line for the parent, which names it
        print(f"Error: {exc}", flush=True)
        os._exit(1)
    sys.stdout.flush()
    os._exit(0)  # bpy can hang in static destructors at interpreter exit after a render


def assemble(scene: bpy.types.Scene, folder: Path, first: int, last: int, path: Path,
             configure_video: Callable[[bpy.types.Scene, Path], None]) -> None:
    """Encode frames first..last of `folder` into the video `path` (written as is: callers pass a
    temporary path) with the sequencer of a temporary scene that has `scene`'s size and frame rate;
    `configure_video(scene, path)` sets its FFmpeg output."""
    tmp = bpy.data.scenes.new("LLMViz Assemble")
    try:
        r, src = tmp.render, scene.render
        r.resolution_x, r.resolution_y, r.resolution_percentage = src.resolution_x, src.resolution_y, 100
        r.pixel_aspect_x, r.pixel_aspect_y = src.pixel_aspect_x, src.pixel_aspect_y
        r.fps, r.fps_base = src.fps, src.fps_base
        tmp.view_settings.view_transform = "Standard"  # frames are display colours already
        tmp.view_settings.look = "None"
        r.use_sequencer, r.use_compositing = True, False
        editor = tmp.sequence_editor_create()
        strips = editor.strips if hasattr(editor, "strips") else editor.sequences
        strip = strips.new_image("frames", str(folder / FRAME_NAME.format(first)), 1, 1)
        for f in range(first + 1, last + 1):
            strip.elements.append(FRAME_NAME.format(f))
        tmp.frame_start, tmp.frame_end = 1, last - first + 1
        configure_video(tmp, path)
        run_render(tmp, animation=True)
    finally:
        bpy.data.scenes.remove(tmp)
