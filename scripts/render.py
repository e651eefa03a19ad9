"""Headless renders of llmviz scenes: stills, walkthrough videos, comparisons, .blend files.

    blender -b -P scripts/render.py -- ARGS      (a Blender install)
    python scripts/render.py ARGS                (the bpy module, e.g. .venv/bin/python)

Examples:
    python scripts/render.py --still renders/nano-gpt-overview.png
    python scripts/render.py --camera h0.head0 --still head.png --engine workbench
    python scripts/render.py --zoom-to h0.fc:100,3 --animation zoom.mp4 --quality draft
    python scripts/render.py --animation walk.mp4 --chapters embedding,attention --resolution 1280x720
    python scripts/render.py --animation walk.mp4 --timing narration.toml     # a narrator's seconds
    python scripts/render.py --subtitles walk.srt --chapters embedding,attention      # captions, no render
    python scripts/render.py --compare nano-gpt,gpt2-small,gpt2-xl,gpt3 --still compare.png --each
    python scripts/render.py --compare nano-gpt,gpt2-small=path/to/gpt2 --still mine.png   # with its values
    python scripts/render.py --weights my.safetensors --tokens 2,1,0 --animate --save-blend farm.blend
    python scripts/render.py --preset facts-gpt --prompt "Tiger Woods plays the sport of" --chapters facts --still f.png
    python scripts/render.py --weights gpt2/model.safetensors --prompt "The capital of France is" --still g.png

Exit status: 0 done; 2 bad arguments or bad input (one line on stderr, nothing rendered);
1 the render failed (one line; Blender's log is kept and named); 130 / 143 interrupted.
Outputs are atomic: nothing is ever left under a final name by a failed or interrupted run.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `llmviz_blender` from this checkout, under Blender too

from llmviz_blender.defaults import (DEVICE, DEVICES, ENGINES, FPS, FPS_RANGE, QUALITIES, QUALITY,  # noqa: E402
                                     QUALITY_DEFAULTS, QUALITY_ENGINES, RESOLUTION, RESOLUTION_RANGE, SAMPLES_MAX)
from llmviz_blender.composition.theme import THEMES  # noqa: E402
from llmviz_blender.defaults import (PRESET, SEED, STORYBOARD_WIDTH, TEMPERATURE, THEME,  # noqa: E402
                                     TOP_K, TOP_P)
from llmviz_blender.files import is_video, video_size_problem  # noqa: E402
from llmviz_blender.i18n import LANGUAGES  # noqa: E402
from llmviz_blender.layout.lod import LOD_MODES  # noqa: E402
from llmviz_blender.layout.texels import DEFAULT_VALUE_BUDGET  # noqa: E402
from llmviz_blender.timeline import CHAPTERS, Timing, TimelineError  # noqa: E402
from llmviz_blender.timeline import CHAPTERS  # noqa: E402
from llmviz_blender.timeline.subtitles import SUFFIXES as SUBTITLE_SUFFIXES  # noqa: E402

PROG = "render.py"
_CONSOLE = None  # our output, for the signal handler


class Usage(Exception):
    """Bad arguments or input: exit 2 with this one line."""


def script_args(argv: list[str]) -> list[str]:
    """Our arguments: everything after the script name under `python`, after `--` under Blender."""
    if argv and Path(argv[0]).resolve() == Path(__file__).resolve():
        return argv[1:]
    return argv[argv.index("--") + 1:] if "--" in argv else []


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage block
        raise Usage(f"{message} (see --help)")


def _language(code: str) -> str:
    if code not in LANGUAGES:
        raise argparse.ArgumentTypeError(f"unknown language {code!r} (available: {', '.join(LANGUAGES)})")
    return code


def _int_in(lo: int, hi: int | None = None):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"must be in {lo}..{hi if hi is not None else ''}, got {value}")
        return value
    return parse


def _resolution(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    lo, hi = RESOLUTION_RANGE
    if not m or not all(lo <= int(v) <= hi for v in m.groups()):
        raise argparse.ArgumentTypeError(f"expected WxH with sizes in {lo}..{hi}, e.g. 1920x1080, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def _frames(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", text)
    if not m:
        raise argparse.ArgumentTypeError(f"expected A-B or A (frame numbers), got {text!r}")
    a, b = int(m.group(1)), int(m.group(2) or m.group(1))
    if a > b:
        raise argparse.ArgumentTypeError(f"first frame {a} is after the last {b}")
    return a, b


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _number(lo: float, hi: float, lo_open: bool = False):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not (lo < value if lo_open else lo <= value) or not value <= hi:
            raise argparse.ArgumentTypeError(f"must be in {'(' if lo_open else '['}{lo:g}, {hi:g}], got {text}")
        return value
    return parse


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return names


def _models(text: str) -> list[tuple[str, str | None]]:
    """--compare: NAME or NAME=WEIGHTS, comma-separated."""
    models = [(n.strip(), w.strip() if sep else None) for n, sep, w in (m.partition("=") for m in text.split(","))]
    if not all(n and (w is None or w) for n, w in models):
        raise argparse.ArgumentTypeError(f"expected comma-separated NAME or NAME=WEIGHTS, got {text!r}")
    names = [n for n, _ in models]
    if len(set(names)) < len(names):
        raise argparse.ArgumentTypeError(f"{next(n for n in names if names.count(n) > 1)!r} given twice")
    return models


def _cell(text: str) -> str:
    """--zoom-to: BLOCK:ROW,COL (the block and cell are checked against the model later)."""
    from llmviz_blender.layout.target import parse
    try:
        parse(text, "--zoom-to")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--zoom-to: ")) from None
    return text


def parser() -> Parser:
    p = Parser(prog=PROG, description="Render llmviz scenes headless: a still, the walkthrough as a video "
               "or PNG frames, a side-by-side comparison, or a self-contained .blend.",
               epilog="Exit status: 0 done, 2 bad arguments or input, 1 render failed.")
    m = p.add_argument_group("model")
    m.add_argument("--preset", help=f"preset name or .toml path (default {PRESET}, or with --weights FILE the "
                   "file's own shapes and the tokenizer beside it)")
    m.add_argument("--weights", help="a .safetensors file (minGPT or Hugging Face names), a Hugging Face folder "
                   "or 'random'")
    m.add_argument("--tokens", help="input: text in the model's vocabulary (e.g. CBABBC) or ids (2,1,0)")
    m.add_argument("--prompt", metavar="TEXT", help="input text, read by the model's tokenizer (never as ids)")
    m.add_argument("--tokenizer", metavar="PATH", help="a tokenizer.json (or vocab.json beside merges.txt) "
                   "replacing the model's own")
    m.add_argument("--top-k", type=_int_in(1), metavar="K", help=f"next tokens listed under the output, and "
                   f"the most likely tokens the generation samples from (default {TOP_K})")
    m.add_argument("--logit-lens", action="store_true",
                   help="a table per layer and stage beside the residual stream: what it predicts there")
    m.add_argument("--lod", choices=LOD_MODES, default=LOD_MODES[0],
                   help="cubes per cell or one box per block (default auto)")
    m.add_argument("--value-budget", type=_number(0.0, float("inf"), lo_open=True), metavar="GB",
                   help=f"memory a model with weights may need, shown by value (weights, value textures, cubes; "
                   f"default {DEFAULT_VALUE_BUDGET / 2**30:g})")
    m.add_argument("--compare", type=_models, metavar="A,B=WEIGHTS,...",
                   help="presets side by side at one scale (stills and .blend only); NAME=WEIGHTS gives a model "
                   "its weights (a .safetensors file, a Hugging Face folder or 'random') to show its values")
    m.add_argument("--each", action="store_true",
                   help="with --compare and --still: also one still per model, PATH-<name>.png, framing the "
                   "whole model (or, with --camera, that target in each, e.g. h0 for its first layer)")
    m.add_argument("--compare-tokens", type=_int_in(1), metavar="T",
                   help="with --compare: every model's input length, at most its block size (default: "
                   "models with weights their own input, the others min(1024, block size))")
    o = p.add_argument_group("outputs")
    o.add_argument("--still", metavar="PATH.png", help="render one frame")
    o.add_argument("--animation", metavar="PATH", help="render the walkthrough: .mp4/.mkv/.mov (H.264) or a folder of "
                   "PNGs; its captions and chapters go beside it (NAME.srt, NAME.vtt, NAME.chapters.txt)")
    o.add_argument("--subtitles", metavar="PATH.srt|.vtt", help="write the walkthrough's captions (SubRip or WebVTT "
                   "by suffix) and NAME.chapters.txt beside them, without rendering")
    o.add_argument("--save-blend", metavar="PATH.blend", help="save a self-contained .blend (renders without the add-on)")
    o.add_argument("--storyboard", metavar="PATH.png",
                   help="one small frame per walkthrough step in a grid, each with its chapter and caption")
    o.add_argument("--storyboard-width", type=_int_in(*RESOLUTION_RANGE), metavar="PX",
                   help=f"width of each step's frame on the storyboard (default {STORYBOARD_WIDTH})")
    a = p.add_argument_group("walkthrough")
    a.add_argument("--animate", action="store_true",
                   help="keyframe the walkthrough (implied by --animation, --chapters, --frames)")
    a.add_argument("--chapters", type=_names, metavar="A,B", help="chapter ids to tell (default all)")
    a.add_argument("--frames", type=_frames, metavar="A-B",
                   help="frames of the animation (default all) and the frame of a still (default the middle; "
                   "with a range, its first)")
    a.add_argument("--fps", type=_int_in(*FPS_RANGE), help=f"frames per second (default {FPS})")
    a.add_argument("--speed", type=_speed, help="story speed factor (2 = twice as fast, reading included)")
    a.add_argument("--reading-speed", type=_number(0.0, float("inf"), lo_open=True), metavar="CPS",
                   help=f"characters a second a viewer reads: each step holds until its caption (and formula) "
                   f"is read (default: the language's subtitle speed, "
                   + ", ".join(f"{c} {lang.reading_speed:g}" for c, lang in LANGUAGES.items()) + ")")
    a.add_argument("--timing", metavar="FILE.toml", help="a narrator's seconds per chapter ([chapters] "
                   "attention = 40) or step ([steps.attention] 1 = 6.5, numbered from 1); the rest are paced")
    a.add_argument("--start-layer", type=_int_in(0), default=0, help="the layer told in detail (default 0)")
    a.add_argument("--temperature", type=_number(0.0, float("inf")), metavar="T",
                   help=f"generation: 0 picks the most likely token, above 0 samples (default {TEMPERATURE:g})")
    a.add_argument("--top-p", type=_number(0.0, 1.0, lo_open=True), metavar="P",
                   help=f"generation: sample from the smallest set reaching probability P (default {TOP_P:g})")
    a.add_argument("--seed", type=_int_in(0), metavar="N", help=f"generation: the sampling seed (default {SEED})")
    a.add_argument("--camera", default="overview", metavar="TARGET",
                   help="still view: overview, a chapter id (e.g. attention), a block key prefix (e.g. h0.head0) "
                   "or one cell, BLOCK:ROW,COL (e.g. h0.fc:3,1), with its value and formula")
    a.add_argument("--zoom-to", type=_cell, metavar="BLOCK:ROW,COL",
                   help="a camera flight from the whole model down to one cell (e.g. h0.fc:3,1), ending on its "
                   "value and formula: --animation renders it, --still its last frame (or --frames N)")
    r = p.add_argument_group("render")
    r.add_argument("--language", type=_language, default="en", metavar="CODE",
                   help="captions, titles, labels, cards and subtitles in this language: "
                        + ", ".join(f"{c} ({lang.name})" for c, lang in LANGUAGES.items()) + " (default en)")
    r.add_argument("--theme", choices=tuple(THEMES), default=THEME,
                   help="; ".join(f"{n}: {t.purpose}" for n, t in THEMES.items()) + f" (default {THEME})")
    r.add_argument("--quality", choices=QUALITIES, help=f"draft: Workbench, every cell's colour, fast on a CPU; "
                   f"final: Cycles, denoised (default {QUALITY}; draft with --engine workbench)")
    r.add_argument("--engine", choices=ENGINES, help="default by --quality: " + ", ".join(
        f"{q} {d['engine']}" for q, d in QUALITY_DEFAULTS.items()))
    r.add_argument("--jobs", type=_int_in(1), default=1, metavar="N",
                   help="render frames in N processes at once (default 1)")
    r.add_argument("--device", choices=DEVICES, default=DEVICE,
                   help=f"Cycles device: auto uses a GPU when one exists (default {DEVICE})")
    r.add_argument("--samples", type=_int_in(1, SAMPLES_MAX),
                   help="samples per pixel; Workbench: anti-aliasing passes, 1 = off (default by --quality: "
                   + ", ".join(f"{q} {d['samples']}" for q, d in QUALITY_DEFAULTS.items()) + ")")
    r.add_argument("--resolution", type=_resolution, default=RESOLUTION, metavar="WxH",
                   help=f"default {RESOLUTION[0]}x{RESOLUTION[1]}")
    r.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    r.add_argument("--verbose", action="store_true", help="show Blender's own output too")
    return p


def validate(args: argparse.Namespace) -> None:
    """Checks that need no Blender."""
    if not (args.still or args.animation or args.save_blend or args.storyboard or args.subtitles):
        raise Usage("nothing to do: give --still, --animation, --subtitles, --storyboard or --save-blend")
    if args.subtitles and Path(args.subtitles).suffix.lower() not in SUBTITLE_SUFFIXES:
        raise Usage(f"--subtitles: {args.subtitles}: subtitles are written as {' or '.join(SUBTITLE_SUFFIXES)}")
    if args.storyboard_width and not args.storyboard:
        raise Usage("--storyboard-width needs --storyboard")
    if args.compare:
        if args.animation or args.animate or args.chapters or args.frames or args.storyboard or args.subtitles:
            raise Usage("--compare makes stills and .blend files; it has no walkthrough")
        if args.camera != "overview" and not args.each:
            raise Usage("--compare frames all models; --camera applies to the --each stills")
        if args.weights or args.tokens or args.prompt or args.tokenizer or args.logit_lens:
            raise Usage("--compare shows each preset with its own input; give weights as NAME=WEIGHTS and drop "
                        "--weights/--tokens/--prompt/--tokenizer/--logit-lens")
    elif args.each or args.compare_tokens:
        raise Usage(f"{'--each' if args.each else '--compare-tokens'} needs --compare")
    if args.prompt is not None and args.tokens is not None:
        raise Usage("--prompt and --tokens both give the input: use one")
    if args.zoom_to:
        clash = [flag for flag, on in (("--compare", args.compare), ("--animate", args.animate),
                                       ("--chapters", args.chapters), ("--storyboard", args.storyboard),
                                       ("--subtitles", args.subtitles),
                                       ("--camera", args.camera != "overview"), ("--speed", args.speed),
                                       ("--reading-speed", args.reading_speed), ("--timing", args.timing),
                                       ("--start-layer", args.start_layer)) if on]
        if clash:
            raise Usage(f"--zoom-to is a camera shot of its own: drop {clash[0]}")
    if not animated(args) and (args.temperature is not None or args.top_p is not None or args.seed is not None):
        raise Usage("--temperature, --top-p and --seed shape the generation chapter: add --animate or --animation")
    if args.each and not args.still:
        raise Usage("--each needs --still (the per-model stills go beside it)")
    if args.chapters:
        unknown = [c for c in args.chapters if c not in CHAPTERS]
        if unknown:
            raise Usage(f"--chapters: unknown chapter {unknown[0]!r} (known: {', '.join(CHAPTERS)})")
    if args.still and args.frames and args.frames[0] != args.frames[1] and not args.animation:
        raise Usage("--frames: a still needs a single frame, e.g. --frames 120")
    if animated(args):
        if args.camera != "overview":
            raise Usage("--camera: the walkthrough moves the camera itself; pick a view with --frames")
    elif (args.fps and not args.zoom_to) or args.speed or args.start_layer or args.reading_speed or args.timing:
        raise Usage("--fps, --speed, --reading-speed, --timing and --start-layer shape the walkthrough: add "
                    "--animate or --animation")
    if args.timing:
        try:  # the file's steps are counted against the story later, before anything is written
            Timing.narrated(args.timing)
        except TimelineError as exc:
            raise Usage(f"--timing: {exc}") from None
    if args.quality and args.engine and args.engine not in QUALITY_ENGINES[args.quality]:
        raise Usage(f"--quality {args.quality} renders with {' or '.join(QUALITY_ENGINES[args.quality])}, "
                    f"not --engine {args.engine}")
    if args.animation and is_video(args.animation):
        problem = video_size_problem(*args.resolution)
        if problem:
            raise Usage(f"--animation: {problem}")


def animated(args: argparse.Namespace) -> bool:
    """Whether the walkthrough is keyframed."""
    return bool(args.animate or args.animation or args.storyboard or args.subtitles or args.chapters or args.frames)


class Console:
    """Our own output: info lines to the real stdout (unless quiet), errors to the real stderr;
    Blender's output (C and Python) goes to a log file unless verbose."""

    def __init__(self, quiet: bool, verbose: bool):
        sys.stdout.flush()
        sys.stderr.flush()
        self.out = os.fdopen(os.dup(1), "w", buffering=1)
        self.err = os.fdopen(os.dup(2), "w", buffering=1)
        self.quiet = quiet
        self.log_path: Path | None = None
        if not verbose:
            fd, name = tempfile.mkstemp(prefix="llmviz-render-", suffix=".log")
            self.log_path = Path(name)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.close(fd)

    def say(self, text: str) -> None:
        if not self.quiet:
            self.out.write(text + "\n")

    def error(self, text: str) -> None:
        self.err.write(f"{PROG}: {text}\n")

    def finish(self, code: int) -> None:
        """Flush, drop the log unless a render failed (then name it), and exit now (bpy 4.5 can
        hang in static destructors at normal interpreter exit after a render)."""
        sys.stdout.flush()
        sys.stderr.flush()
        if self.log_path is not None and code != 1:
            self.log_path.unlink(missing_ok=True)
        self.out.flush()
        self.err.flush()
        os._exit(code)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def run(args: argparse.Namespace, con: Console) -> None:
    import bpy
    from llmviz_blender import scene as scene_api
    from llmviz_blender.scene import render

    t0 = time.perf_counter()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    outputs = {}
    for kind, value in (("still", args.still), ("animation", args.animation), ("blend", args.save_blend)):
        if value:
            outputs[kind] = render.check_output(value, kind)
    if args.storyboard:
        outputs["storyboard"] = render.check_output(args.storyboard, "still")
    if args.subtitles:
        outputs["subtitles"] = render.check_output(args.subtitles, "subtitles")
    quality = args.quality or ("draft" if args.engine == "workbench" else QUALITY)
    device = render.configure(scene, engine=args.engine, device=args.device, samples=args.samples,
                              resolution=args.resolution, quality=quality)
    con.say(f"render settings: {args.resolution[0]}x{args.resolution[1]}, {device}")

    if args.compare:
        run_compare(args, con, scene_api, render, outputs)
        return

    t = time.perf_counter()
    m = scene_api.prepare(args.preset, weights=args.weights, tokens=args.tokens, lod=args.lod,
                          aspect=args.resolution[0] / args.resolution[1], camera=args.camera, prompt=args.prompt,
                          tokenizer=args.tokenizer, draft=quality == "draft",
                          value_budget=round(args.value_budget * 2**30) if args.value_budget else None)
    scene_api.check_target(m.layout, args.camera)
    if args.zoom_to:
        from llmviz_blender.layout.target import cell_target
        cell_target(m.layout, args.zoom_to, "--zoom-to")
    top_k = args.top_k or TOP_K
    coll = scene_api.build(m, top_k=top_k, logit_lens=args.logit_lens, theme=args.theme, language=args.language)
    con.say(f"built {m.config.name}: {len(coll.all_objects)} objects in {time.perf_counter() - t:.1f} s")

    zoom_end = None
    if args.zoom_to:
        first, zoom_end = scene_api.zoom_to(coll, args.zoom_to, fps=args.fps)
        con.say(f"zoom to {args.zoom_to}: frames {first}-{zoom_end} at {scene.render.fps} fps")
        if args.frames and not (first <= args.frames[0] and args.frames[1] <= zoom_end):
            raise Usage(f"--frames {args.frames[0]}-{args.frames[1]}: outside the zoom's frames {first}-{zoom_end}")
    elif animated(args):
        t = time.perf_counter()
        timing = {k: v for k, v in (("fps", args.fps), ("speed", args.speed), ("reading_speed", args.reading_speed),
                                    ("timing", args.timing)) if v is not None}
        sampling = {"temperature": args.temperature if args.temperature is not None else TEMPERATURE,
                    "top_k": top_k, "top_p": args.top_p if args.top_p is not None else TOP_P,
                    "seed": args.seed if args.seed is not None else SEED}
        first, last = scene_api.animate(coll, chapters=args.chapters, start_layer=args.start_layer, **timing,
                                        **sampling)
        con.say(f"animated frames {first}-{last} ({(last - first + 1) / scene.render.fps:.0f} s at "
                f"{scene.render.fps} fps) in {time.perf_counter() - t:.1f} s")
        if args.frames and not (first <= args.frames[0] and args.frames[1] <= last):
            raise Usage(f"--frames {args.frames[0]}-{args.frames[1]}: outside the walkthrough's frames {first}-{last}")
    elif args.camera != "overview":
        con.say(f"camera: {scene_api.frame_target(coll, args.camera)}")

    if "blend" in outputs:  # the whole walkthrough: a render farm splits the frames itself
        render.save_blend(outputs["blend"], log=con.say)
    if "subtitles" in outputs:
        _wrote(con, scene_api.write_subtitles(coll, outputs["subtitles"], frames=args.frames))
    if "storyboard" in outputs:
        scene_api.storyboard(coll, outputs["storyboard"], width=args.storyboard_width or STORYBOARD_WIDTH,
                             log=con.say)
    if "still" in outputs:
        frame = None
        if args.frames:
            frame = args.frames[0]
        elif zoom_end is not None:  # the zoom's last frame: the cell, its value and formula
            frame = zoom_end
        elif animated(args):
            frame = scene_api.middle_key_frame(coll)
        render.still(scene, outputs["still"], frame=frame, log=con.say)
    if "animation" in outputs:
        render.animation(scene, outputs["animation"], frames=args.frames, log=con.say, jobs=args.jobs)
        if zoom_end is None:  # the walkthrough's captions and chapters, beside it
            _wrote(con, scene_api.write_subtitles(coll, outputs["animation"], frames=args.frames))
    _summary(con, t0)


def _wrote(con: Console, paths: list[Path]) -> None:
    con.say(f"wrote {', '.join(str(p) for p in paths)}")


def run_compare(args, con: Console, scene_api, render, outputs) -> None:
    import bpy
    t0 = time.perf_counter()
    scene = bpy.context.scene
    names = [n for n, _ in args.compare]
    weights = {n: w for n, w in args.compare if w is not None}
    root = scene_api.build_comparison(names, args.compare_tokens, weights=weights, theme=args.theme,
                                      language=args.language,
                                      value_budget=round(args.value_budget * 2**30) if args.value_budget else None)
    con.say(f"built comparison {', '.join(names)}: {len(root.all_objects)} objects in "
            f"{time.perf_counter() - t0:.1f} s")
    if args.each:  # every model must have the --camera target before anything renders
        for coll in (c for c in root.children if "llmviz_tokens" in c):
            scene_api.check_target(scene_api.model_of(coll).layout, args.camera)
    if "blend" in outputs:
        render.save_blend(outputs["blend"], log=con.say)
    if "still" in outputs:
        still = outputs["still"]
        render.still(scene, still, log=con.say)
        if args.each:  # each model alone, with the weights and input it shows in the comparison
            inputs = [list(c["llmviz_tokens"]) for c in root.children if "llmviz_tokens" in c]
            for name, tokens in zip(names, inputs):
                t = time.perf_counter()
                coll = scene_api.build(name, weights=weights.get(name), tokens=tokens, lod=args.lod, theme=args.theme,
                                       language=args.language)
                con.say(f"built {name}: {len(coll.all_objects)} objects in {time.perf_counter() - t:.1f} s")
                if args.camera != "overview":
                    con.say(f"camera: {scene_api.frame_target(coll, args.camera)}")
                render.still(scene, still.with_name(f"{still.stem}-{Path(name).stem}{still.suffix}"), log=con.say)
    _summary(con, t0)


def _summary(con: Console, t0: float) -> None:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    con.say(f"done in {time.perf_counter() - t0:.1f} s, peak memory {peak:.0f} MiB")


def main(argv: list[str] | None = None) -> None:
    argv = script_args(sys.argv if argv is None else argv)
    try:
        args = parser().parse_args(argv)
        validate(args)
    except Usage as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        sys.stderr.flush()
        os._exit(2)
    con = Console(args.quiet, args.verbose)
    global _CONSOLE
    _CONSOLE = con
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    code = 0
    try:
        from llmviz_blender.layout import LayoutError
        from llmviz_blender.model import ModelError
        from llmviz_blender.scene.render import RenderFailed, RenderSettingsError
        from llmviz_blender.timeline import TimelineError
        try:
            run(args, con)
        except (Usage, ModelError, LayoutError, TimelineError, RenderSettingsError) as exc:
            con.error(one_line(exc))
            code = 2
        except (RenderFailed, OSError, RuntimeError) as exc:
            con.error(f"{one_line(exc)}{_log_note(con)}")
            code = 1
    except Exception as exc:  # noqa: BLE001 -- a bug: one line here, the traceback in the log
        traceback.print_exc()
        con.error(f"internal error: {type(exc).__name__}: {one_line(exc)}{_log_note(con)}")
        code = 1
    con.finish(code)


def _interrupt(signum: int, frame) -> None:
    """Ctrl-C / SIGTERM: drop the outputs being written and exit now (Blender swallows exceptions
    raised inside its render handlers, so raising would only stop at the end of a video)."""
    from llmviz_blender.files import remove_pending
    remove_pending()
    if _CONSOLE is not None:  # raw writes: the handler may run inside a write to the same stream
        os.write(_CONSOLE.err.fileno(), f"{PROG}: interrupted; no partial output was kept\n".encode())
        if _CONSOLE.log_path is not None:
            _CONSOLE.log_path.unlink(missing_ok=True)
    os._exit(128 + signum)


def _log_note(con: Console) -> str:
    return f" (Blender log: {con.log_path})" if con.log_path is not None else ""


if __name__ == "__main__":
    main()
