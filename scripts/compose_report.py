"""The composition report: how every walkthrough step and gallery still is framed, read back from Blender.

    python scripts/compose_report.py [--preset nano-gpt] [--aspects 16:9,9:16]
    python scripts/compose_report.py --preset facts-gpt --prompt "Tiger Woods plays the sport of" --chapters facts --logit-lens

For the walkthrough at each aspect (1920 px on the long side) and for the gallery stills (overview,
attention head, MLP), it prints the focus's fill of the free region (area share and binding-side
share), whether the focus is inside it, the labels (shown, and hidden for size, overlap or cut: the
pure placement's decision) and the referents (what each caption names: inside the free region,
outlined and labelled). It exits 1, naming each problem, when a focus is cropped, a visible label
is too small, cut, under an overlay or overlapping another, or a referent is off screen or
unmarked (scene.audit).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bpy  # noqa: E402

from llmviz_blender import scene  # noqa: E402
from llmviz_blender.composition import Frame  # noqa: E402
from llmviz_blender.scene import audit, environment, label_keys, marks, render, walkthrough  # noqa: E402

STILLS = ("overview", "h0.head0", "h0.mlp")
LONG_SIDE = 1920


def _resolution(aspect: str) -> tuple[int, int]:
    w, h = (int(v) for v in aspect.split(":"))
    return (LONG_SIDE, round(LONG_SIDE * h / w)) if w >= h else (round(LONG_SIDE * w / h), LONG_SIDE)


def _counts(placements) -> str:
    total = {k: sum(len(getattr(p, k)) for p in placements) for k in ("shown", "small", "overlap", "cut")}
    return (f"labels shown {total['shown']}, hidden for size {total['small']}, for overlap {total['overlap']}, "
            f"cut {total['cut']}")


def walkthrough_report(preset: str, resolution: tuple[int, int], chapters: list[str] | None = None,
                       **build) -> list[str]:
    """Audit every step's key frame of the walkthrough (of `chapters`; None: all) of `preset` built
    with `build` options (prompt, weights, tokens, logit_lens)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    sc = bpy.context.scene
    render.configure(sc, resolution=resolution)
    coll = scene.build(scene.prepare(preset, aspect=resolution[0] / resolution[1],
                                     **{k: v for k, v in build.items() if k != "logit_lens"}),
                       logit_lens=build.get("logit_lens", False), scene=sc)
    m = scene.model_of(coll)
    scene.animate(coll, scene=sc, chapters=chapters)
    tl, shown = walkthrough.walk(m, sc, chapters=chapters)
    picture = Frame(environment.aspect(sc))
    labels = label_keys.labels_of(coll)
    audits, placements = [], []
    for step in tl.steps:
        key = walkthrough.key_frame(step)
        framed = step.framing(picture)
        audits.append(audit.audit(coll, sc, key, framed, [step.subject], step.referents, shown.layout))
        named = {marks.ident(r) for r in step.referents}  # other steps' marks are not in this picture
        present = [lab for lab in labels if lab.obj.get(marks.ID, "") in named or marks.ID not in lab.obj]
        placements.append(label_keys.place(present, tl.camera_at(key), framed, step.focus, step.sources))
    inside = sum(a.inside for a in audits)
    named = sum(len(s.referents) for s in tl.steps)
    what = " ".join([preset, *(f"{k}={v!r}" for k, v in build.items()), *([",".join(chapters)] if chapters else [])])
    print(f"walkthrough {what} {resolution[0]}x{resolution[1]}: {len(audits)} steps, focus inside {inside}; "
          f"focus fill median {np.median([a.area for a in audits]):.0%} of the free area, "
          f"{np.median([a.span for a in audits]):.0%} of its binding side; {_counts(placements)}; referents "
          f"marked {sum(a.referents for a in audits)} of {named} (in {sum(bool(s.referents) for s in tl.steps)} steps)")
    return [p for a in audits for p in a.problems]


def _depth_ratio(sc, focus) -> float:
    """Nearest over farthest camera distance of the focus box's corners: 1 is square on, lower recedes."""
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector
    from llmviz_blender.composition.camera import corners
    depth = [world_to_camera_view(sc, sc.camera, Vector(p)).z for p in corners(*focus)]
    return min(depth) / max(depth)


def still_report(preset: str, target: str, **build) -> list[str]:
    """Audit the still of `target` (overview, layers, a block prefix) of `preset` built with `build`."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    sc = bpy.context.scene
    render.configure(sc, resolution=(1920, 1080))
    coll = scene.build(scene.prepare(preset, aspect=16 / 9, camera=target, **build), scene=sc)
    m = scene.model_of(coll)
    focus = m.layout.body()
    if target != "overview":
        scene.frame_target(coll, target, scene=sc)
        focus = m.layout.bounds(m.layout.under(target))
    a = audit.audit(coll, sc, sc.frame_current, Frame(16 / 9, caption=False, title=False), [focus])
    hidden = sum(1 for o in coll.all_objects if o.type == "FONT" and o.parent is None and o.hide_render)
    print(f"still {preset} {target}: focus inside {a.inside}, fill {a.area:.0%} of the area, {a.span:.0%} of the "
          f"binding side, near/far scale {_depth_ratio(sc, focus):.2f}; labels shown {a.labels}, hidden {hidden}")
    return a.problems


def comparison_report(names: list[str]) -> list[str]:
    """Audit the comparison still of `names`: the largest model framed, every card and label clean."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    sc = bpy.context.scene
    render.configure(sc, resolution=(1920, 1080))
    root = scene.build_comparison(names, scene=sc)
    layouts = [scene.model_of(c).layout for c in root.children if "llmviz_preset" in c]
    a = audit.audit(root, sc, sc.frame_current, Frame(16 / 9, caption=False, title=False), [l.bounds() for l in layouts])
    print(f"comparison {','.join(names)}: models inside {a.inside}, fill {a.area:.0%} of the area, {a.span:.0%} of "
          f"the binding side; labels shown {a.labels}")
    return a.problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="nano-gpt")
    parser.add_argument("--aspects", default="16:9,9:16")
    parser.add_argument("--prompt", help="input text (a model with a tokenizer)")
    parser.add_argument("--weights", help="weights file, or 'random'")
    parser.add_argument("--tokens", help="input ids (2,1,0) or text in the model's vocabulary")
    parser.add_argument("--chapters", help="chapter ids, comma-separated (default: all; stills are then skipped)")
    parser.add_argument("--logit-lens", action="store_true")
    parser.add_argument("--stills", default=",".join(STILLS), help="still targets, comma-separated ('' for none)")
    parser.add_argument("--compare", help="models to compare, comma-separated (a comparison still)")
    args = parser.parse_args(argv)
    build = {k: v for k, v in (("prompt", args.prompt), ("weights", args.weights), ("tokens", args.tokens),
                               ("logit_lens", args.logit_lens)) if v}
    chapters = args.chapters.split(",") if args.chapters else None
    problems = []
    for aspect in filter(None, args.aspects.split(",")):
        problems += walkthrough_report(args.preset, _resolution(aspect), chapters, **build)
    for target in filter(None, args.stills.split(",")):
        problems += still_report(args.preset, target, **{k: v for k, v in build.items() if k != "logit_lens"})
    if args.compare:
        problems += comparison_report(args.compare.split(","))
    for p in problems:
        print(f"PROBLEM: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
