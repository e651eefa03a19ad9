"""Rendering a scene to files: engine/device/samples/resolution/fps/frame settings, a still, an
animation (H.264 video or a folder of PNG frames) and a self-contained .blend.

Shared by the panel's render operators and the headless CLI (scripts/render.py). Outputs are
atomic: everything is written under a temporary name beside the target and renamed when complete,
so a failed or interrupted render never leaves a file under the final name; a folder of frames
keeps the frames completed so far and resumes (scene.frames). Qualities: scene.quality.

Blender differences handled here (checked with the 4.2.23, 4.5 and 5.0.1 wheels):
- EEVEE is ``BLENDER_EEVEE_NEXT`` on 4.2-4.5 and ``BLENDER_EEVEE`` on 5.0 (compat.eevee_engine_id).
- 5.0 has ``image_settings.media_type`` (IMAGE | MULTI_LAYER_IMAGE | VIDEO): ``file_format = "FFMPEG"``
  is only accepted after ``media_type = "VIDEO"`` (which switches the format itself); 4.x has no
  media_type and takes FFMPEG directly.
- ``ffmpeg.format`` "MPEG4" and ``ffmpeg.codec`` "H264" exist in all three; 4.5 and 5.0 add H265 and
  PRORES (with ``ffmpeg_prores_profile``); ``constant_rate_factor`` / ``ffmpeg_preset`` are unchanged.
- H.264 needs an even width and height ("width not divisible by 2" otherwise).
- Progress: ``render_write`` fires after every frame written, also in background mode and for videos.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import bpy
import numpy as np

from ..defaults import DEVICES, ENGINES, FPS_RANGE, RESOLUTION_RANGE, SAMPLES_MAX
from ..files import VIDEO_SUFFIXES, atomic_path, is_video, video_size_problem
from . import compat, holds, materials, value_boxes
from . import frames as frame_files
from .frames import FRAME_NAME, is_frame_file  # noqa: F401 (FRAME_NAME re-exported)
from .quality import QUALITIES, QUALITY_DEFAULTS, QUALITY_ENGINES, apply as apply_quality, prepare, quality_of
from .quality import PROP as QUALITY_PROP
from .render_core import FAIL_ENV, RenderError, RenderFailed, RenderSettingsError  # noqa: F401 (re-exported)
from .render_core import run as run_render, simulated_failure

_VIDEO_FORMATS = {".mp4": "MPEG4", ".mkv": "MKV", ".mov": "QUICKTIME"}
GPU_BACKENDS = ("OPTIX", "CUDA", "HIP", "ONEAPI", "METAL")
_WORKBENCH_AA = (("OFF", 1), ("5", 5), ("8", 8), ("11", 11), ("16", 16), ("32", 32))

Log = Callable[[str], None]


def engine_id(engine: str) -> str:
    """Blender's engine id for "cycles" | "eevee" | "workbench"."""
    key = engine.lower()
    if key not in ENGINES:
        raise RenderSettingsError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    return {"cycles": "CYCLES", "eevee": compat.eevee_engine_id(), "workbench": "BLENDER_WORKBENCH"}[key]


def gpu_devices() -> tuple[str, list[str]] | None:
    """Switch Cycles to the first backend (OPTIX, CUDA, HIP, ONEAPI, METAL) that has a GPU and enable
    its devices; returns (backend, device names), or None (compute device type reset to NONE)."""
    addon = bpy.context.preferences.addons.get("cycles")
    if addon is None:
        return None
    prefs = addon.preferences
    for backend in GPU_BACKENDS:
        try:
            prefs.compute_device_type = backend
        except TypeError:  # backend not built for this platform
            continue
        prefs.refresh_devices()
        gpus = [d for d in prefs.get_devices_for_type(backend) if d.type == backend]
        if gpus:
            for d in prefs.devices:
                d.use = d.type == backend
            return backend, [d.name for d in gpus]
    prefs.compute_device_type = "NONE"
    return None


def _positive_int(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value > 0


def configure(scene: bpy.types.Scene, engine: str | None = None, device: str | None = None,
              samples: int | None = None, resolution: tuple[int, int] | None = None,
              fps: int | None = None, frames: tuple[int, int] | None = None,
              quality: str | None = None) -> str:
    """Apply render settings to `scene` (None keeps the scene's own) and describe what will render,
    e.g. "Cycles GPU (OPTIX: NVIDIA H100), 32 samples". Raises RenderSettingsError before changing
    anything when an option is invalid; device "gpu" without a GPU is an error, "auto" falls back
    to the CPU. Samples are Cycles/EEVEE samples, or Workbench anti-aliasing (1 = off).
    `quality` ("draft" | "final", see scene.quality) picks the engine and samples unless given
    and tunes the engine for this subject."""
    if quality is not None:
        if quality not in QUALITIES:
            raise RenderSettingsError(f"quality must be one of {', '.join(QUALITIES)}, got {quality!r}")
        engine = engine if engine is not None else str(QUALITY_DEFAULTS[quality]["engine"])
        if str(engine).lower() not in QUALITY_ENGINES[quality]:
            raise RenderSettingsError(f"quality {quality} renders with {' or '.join(QUALITY_ENGINES[quality])}, "
                                      f"not {engine}")
        samples = samples if samples is not None else int(QUALITY_DEFAULTS[quality]["samples"])  # type: ignore[arg-type]
    eid = engine_id(engine) if engine is not None else scene.render.engine
    dev = device.lower() if device is not None else None
    if dev is not None and dev not in DEVICES:
        raise RenderSettingsError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if samples is not None and not (_positive_int(samples) and samples <= SAMPLES_MAX):
        raise RenderSettingsError(f"samples must be an integer in 1..{SAMPLES_MAX}, got {samples!r}")
    lo, hi = RESOLUTION_RANGE
    if resolution is not None and (len(resolution) != 2 or not all(_positive_int(v) and lo <= v <= hi
                                                                   for v in resolution)):
        raise RenderSettingsError(f"resolution must be two integers in {lo}..{hi}, got {resolution!r}")
    if fps is not None and not (_positive_int(fps) and FPS_RANGE[0] <= fps <= FPS_RANGE[1]):
        raise RenderSettingsError(f"fps must be an integer in {FPS_RANGE[0]}..{FPS_RANGE[1]}, got {fps!r}")
    if frames is not None and (len(frames) != 2 or not all(isinstance(f, int) and f >= 0 for f in frames)
                               or frames[0] > frames[1]):
        raise RenderSettingsError(f"frames must be first <= last, both >= 0, got {frames!r}")
    gpu = None
    if eid == "CYCLES" and dev in ("gpu", "auto"):
        gpu = gpu_devices()
        if gpu is None and dev == "gpu":
            raise RenderSettingsError(f"device gpu: Cycles finds no GPU ({', '.join(GPU_BACKENDS)}); "
                                      "use device cpu or auto")
    scene.render.engine = eid
    if eid == "CYCLES":
        if dev is not None:
            scene.cycles.device = "GPU" if gpu else "CPU"
        if samples is not None:
            scene.cycles.samples = samples
            scene.cycles.preview_samples = samples
    elif eid == compat.eevee_engine_id():
        if samples is not None:
            scene.eevee.taa_render_samples = samples
    elif eid == "BLENDER_WORKBENCH":
        scene.display.shading.color_type = "MATERIAL"
        if samples is not None:
            scene.display.render_aa = next((aa for aa, n in _WORKBENCH_AA if n >= samples), "32")
    if resolution is not None:
        scene.render.resolution_x, scene.render.resolution_y = resolution
        scene.render.resolution_percentage = 100
        materials.sync_grid_pixel_angle(scene)
    if fps is not None:
        scene.render.fps, scene.render.fps_base = fps, 1.0
    if frames is not None:
        scene.frame_start, scene.frame_end = frames
    if quality is not None:
        apply_quality(scene, quality, str(engine).lower())
    elif engine is not None:
        scene.pop(QUALITY_PROP, None)  # an engine chosen without a quality: plain settings
    return describe(scene, gpu)


def describe(scene: bpy.types.Scene, gpu: tuple[str, list[str]] | None = None) -> str:
    """One line: engine, device and samples of `scene`."""
    eid = scene.render.engine
    q = f" {quality_of(scene)}" if quality_of(scene) else ""
    if eid == "CYCLES":
        where = f"GPU ({gpu[0]}: {', '.join(gpu[1])})" if gpu else ("GPU" if scene.cycles.device == "GPU" else "CPU")
        return f"Cycles{q} {where}, {scene.cycles.samples} samples"
    if eid == compat.eevee_engine_id():
        return f"EEVEE{q}, {scene.eevee.taa_render_samples} samples"
    if eid == "BLENDER_WORKBENCH":
        return f"Workbench{q}, anti-aliasing {scene.display.render_aa}"
    return eid


def check_output(path: str | Path, kind: str = "still", make_folder: bool = False) -> Path:
    """The absolute output path for a "still" (.png), an "animation" (video or PNG folder) or a
    "blend" (.blend), after checking that its folder exists (or making it) and is writable;
    RenderSettingsError otherwise. An existing frame folder must hold nothing but frames (it is
    resumed: complete frames are kept)."""
    path = Path(bpy.path.abspath(str(path))).expanduser().absolute()
    if make_folder and not path.parent.exists():
        try:
            path.parent.mkdir(parents=True)
        except OSError as exc:
            raise RenderSettingsError(f"{path}: cannot make folder {path.parent} ({exc.strerror})") from None
    suffix = {"still": ".png", "blend": ".blend"}.get(kind)
    if suffix is not None and path.suffix.lower() != suffix:
        raise RenderSettingsError(f"{path}: a {kind} is written as {suffix}")
    parent = path.parent
    if not parent.is_dir():
        why = "is not a folder" if parent.exists() else "does not exist"
        raise RenderSettingsError(f"{path}: folder {parent} {why}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RenderSettingsError(f"{path}: folder {parent} is not writable")
    if path.is_dir() and (kind != "animation" or is_video(path)):
        raise RenderSettingsError(f"{path}: is a folder")
    if kind == "animation" and not is_video(path) and path.exists():
        if not path.is_dir():
            raise RenderSettingsError(f"{path}: exists and is not a folder (frames go to a folder; "
                                      f"videos end in {', '.join(VIDEO_SUFFIXES)})")
        others = [p.name for p in path.iterdir() if not is_frame_file(p.name)]
        if others:
            raise RenderSettingsError(f"{path}: folder holds other files than frames ({others[0]}); "
                                      "choose a new or empty folder")
    return path


STILL_COMPRESSION, FRAME_COMPRESSION = 90, 50  # zlib 9 / 5: 5 is ~15x faster at 1080p, files ~5% larger


def _set_format(scene: bpy.types.Scene, file_format: str, compression: int = FRAME_COMPRESSION) -> None:
    image = scene.render.image_settings
    if hasattr(image, "media_type"):  # Blender 5.0: pick the media type first
        image.media_type = "VIDEO" if file_format == "FFMPEG" else "IMAGE"
    image.file_format = file_format
    if file_format == "PNG":
        image.color_mode = "RGB"
        image.color_depth = "8"
        image.compression = compression
        # Dither noise on the flat dark background makes PNGs ~3.7x larger (nano-gpt 960x540:
        # 346 -> 93 kB); videos keep it against banding. Callers restore the scene's own value.
        scene.render.dither_intensity = 0.0


def _check_scene(scene: bpy.types.Scene) -> None:
    if scene.camera is None:
        raise RenderSettingsError(f"scene '{scene.name}' has no camera to render from")


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m"


class FrameProgress:
    """Frames done / total with seconds per frame and an ETA, logged at most every `every` seconds
    (always for the first and last frame)."""

    def __init__(self, total: int, log: Log | None, every: float = 2.0):
        self.total, self.log, self.every = total, log, every
        self.done = 0
        self.start = time.perf_counter()
        self._last = -every

    def __call__(self, frame: int) -> None:
        self.done += 1
        now = time.perf_counter() - self.start
        if self.log is not None and (self.done in (1, self.total) or now - self._last >= self.every):
            self._last = now
            per = now / self.done
            eta = f", ETA {_duration(per * (self.total - self.done))}" if self.done < self.total else ""
            self.log(f"frame {frame} ({self.done}/{self.total}, {100 * self.done // self.total}%): "
                     f"{per:.2f} s/frame, elapsed {_duration(now)}{eta}")


def still(scene: bpy.types.Scene, path: str | Path, frame: int | None = None, log: Log | None = None) -> Path:
    """Render one frame (the current one unless given) to a PNG at `path`; returns the path."""
    path = check_output(path, "still", make_folder=True)
    _check_scene(scene)
    old = scene.render.filepath, scene.frame_current, scene.render.dither_intensity
    if log is not None:
        shown = int(frame) if frame is not None else scene.frame_current
        log(f"rendering {path.name} at frame {shown} ({scene.render.resolution_x}x{scene.render.resolution_y}, "
            f"{describe(scene)})")
    start = time.perf_counter()
    try:
        if frame is not None:
            scene.frame_set(int(frame))
        prepare(scene)
        _set_format(scene, "PNG", STILL_COMPRESSION)
        with atomic_path(path) as tmp:
            scene.render.filepath = str(tmp)
            run_render(scene, write_still=True)
            if not tmp.is_file() or tmp.stat().st_size == 0:
                raise RenderFailed(f"{path}: the render wrote no image")
            simulated_failure(1)
    finally:
        scene.render.filepath, scene.render.dither_intensity = old[0], old[2]
        if frame is not None:
            scene.frame_set(old[1])
    if log is not None:
        log(f"wrote {path} in {time.perf_counter() - start:.1f} s")
    return path


def animation(scene: bpy.types.Scene, path: str | Path, frames: tuple[int, int] | None = None,
              progress: Callable[[int], None] | None = None, log: Log | None = None, jobs: int = 1) -> Path:
    """Render the frame range (the scene's unless given) to a video (.mp4/.mkv/.mov: H.264) or, for
    any other path, a folder of PNGs (frame_0001.png, ...). `progress(frame)` is called after each
    frame rendered; `log` gets progress lines (frames rendered, ETA) and ends with the counts of
    frames rendered and holds copied. Returns the path.

    Holds are rendered once: a frame whose animated state equals the frame before it (scene.holds)
    is a copy of the first frame of its run, written once that frame is complete. A folder resumes:
    frames already complete in it are skipped, a hold whose source is complete is only copied (see
    scene.frames). `jobs` > 1 renders chunks of the frames to render in that many processes at once.
    A video is rendered as frames into a hidden folder beside it (kept when interrupted, so a rerun
    resumes; holds copied like in a folder, so the video has every frame), then encoded with
    Blender's FFmpeg writer and the folder removed."""
    if not _positive_int(jobs):
        raise RenderSettingsError(f"jobs must be a positive integer, got {jobs!r}")
    path = check_output(path, "animation", make_folder=True)
    _check_scene(scene)
    start, end = frames if frames is not None else (scene.frame_start, scene.frame_end)
    start, end = int(start), int(end)
    if start > end:
        raise RenderSettingsError(f"frames {start}-{end}: the first frame is after the last")
    video = is_video(path)
    r = scene.render
    problem = video_size_problem(*(v * r.resolution_percentage // 100 for v in (r.resolution_x, r.resolution_y)))
    if video and problem:
        raise RenderSettingsError(f"{path}: {problem}")
    folder = path.with_name(f".{path.name}.frames") if video else path
    folder.mkdir(exist_ok=True)
    frame_files.clean(folder)
    total = end - start + 1
    old = r.filepath, scene.frame_start, scene.frame_end, scene.frame_current, r.dither_intensity
    old_format = r.image_settings.file_format
    began = time.perf_counter()
    try:
        scene.frame_start, scene.frame_end = start, end
        prepare(scene)
        _set_format(scene, "PNG")
        todo = frame_files.missing(folder, start, end)
        renders, copies = frame_files.plan(todo, holds.sources(scene, start, end))
        counter = FrameProgress(len(renders), log)
        if log is not None:
            what = "video" if video else "PNG frames"
            resumed = f", {total - len(todo)} already complete" if len(todo) < total else ""
            log(f"rendering {path.name}: {what}, frames {start}-{end} ({total}{resumed}; {len(renders):,} to render, "
                f"{len(copies):,} holds to copy), {r.resolution_x}x{r.resolution_y} at {r.fps} fps, {describe(scene)}"
                f"{f', {jobs} jobs' if jobs > 1 else ''}")

        def tick(frame: int) -> None:
            counter(frame)
            if progress is not None:
                progress(frame)

        if len(renders) > 1 and jobs > 1:
            frame_files.render_jobs(scene, folder, renders, min(jobs, len(renders)), tick)
        elif renders:
            frame_files.render_frames(scene, folder, renders, tick)
        frame_files.copy_holds(folder, copies)
        if video:
            with atomic_path(path) as tmp:
                frame_files.assemble(scene, folder, start, end, tmp, _video_format)
                if not tmp.is_file() or tmp.stat().st_size == 0:
                    raise RenderFailed(f"{path}: the render wrote no video")
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        r.filepath, r.dither_intensity = old[0], old[4]
        scene.frame_start, scene.frame_end = old[1], old[2]
        _set_format(scene, old_format)
        scene.frame_set(old[3])
    if log is not None:
        log(f"wrote {path} ({total} frames) in {_duration(time.perf_counter() - began)}: rendered {len(renders):,} "
            f"frames, copied {len(copies):,} holds")
    return path


def _video_format(scene: bpy.types.Scene, path: Path) -> None:
    """H.264 in the container `path`'s suffix names, written to `path`."""
    _set_format(scene, "FFMPEG")
    ff = scene.render.ffmpeg
    ff.format = _VIDEO_FORMATS[path.suffix.lower()]
    ff.codec = "H264"
    ff.constant_rate_factor = "HIGH"
    ff.ffmpeg_preset = "GOOD"
    ff.audio_codec = "NONE"
    scene.render.filepath = str(path)


def external_files() -> list[str]:
    """Data-blocks that read files outside the .blend (not built in, not packed)."""
    out = []
    for collection in (bpy.data.fonts, bpy.data.images, bpy.data.sounds, bpy.data.movieclips, bpy.data.volumes):
        for id_ in collection:
            fp = getattr(id_, "filepath", "")
            if fp and fp != "<builtin>" and getattr(id_, "packed_file", None) is None:
                out.append(f"{id_.name} ({fp})")
    out += [f"library {lib.name}" for lib in bpy.data.libraries]
    return out


def save_blend(path: str | Path, log: Log | None = None) -> Path:
    """Save the open file as a self-contained, compressed .blend at `path` (external files packed;
    frames of a render farm go to //<name>_frames/ beside it); the session's own file path is kept."""
    path = check_output(path, "blend", make_folder=True)
    if external_files():
        bpy.ops.file.pack_all()
    if bpy.data.libraries:
        raise RenderSettingsError(f"{path}: the file links libraries ({bpy.data.libraries[0].name}); "
                                  "make them local before saving")
    scenes = [(s, s.render.filepath) for s in bpy.data.scenes]
    for s, _ in scenes:
        prepare(s)  # a draft scene's node values, keys and images, so the file renders drafts without the add-on
    value_boxes.pack_images()  # our generated images (values, draft colours) live only in memory until packed
    try:
        for s, _ in scenes:
            s.render.filepath = f"//{path.stem}_frames/frame_####"
        with atomic_path(path) as tmp:
            tmp.unlink()  # an existing file would make Blender keep a .blend1 backup beside it
            bpy.ops.wm.save_as_mainfile(filepath=str(tmp), copy=True, compress=True, check_existing=False)
            if not tmp.is_file():
                raise RenderFailed(f"{path}: Blender did not write the file")
    finally:
        for s, fp in scenes:
            s.render.filepath = fp
    if log is not None:
        log(f"saved {path} ({path.stat().st_size / 2**20:.1f} MiB)")
    return path


def read_png(path: str | Path) -> np.ndarray:
    """An image file's pixels as RGBA floats (H, W, 4), rows top-down, read through Blender (the
    stored values: sRGB for an 8-bit PNG)."""
    img = bpy.data.images.load(str(path), check_existing=False)
    try:
        w, h = img.size
        px = np.empty(w * h * 4, np.float32)
        img.pixels.foreach_get(px)
    finally:
        bpy.data.images.remove(img)
    return px.reshape(h, w, 4)[::-1]
