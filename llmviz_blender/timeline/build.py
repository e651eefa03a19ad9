"""build_timeline: chapters and steps with frames, per-cell reveal frames, camera keys."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ..composition import Frame, Pose
from ..composition.camera import FIT_ROUNDS, corners, fill, framed, project, screen_box
from ..composition.frame import SIDE_ASPECT
from .. import i18n
from ..defaults import ALWAYS, ASPECT, HIGHLIGHT_FRAMES, NEVER
from ..i18n import Language
from ..layout import CELL, Layout, label_room, label_size
from ..model import Generation, ModelConfig, Weights, token_text
from . import referents as marks
from .closeups import CloseUp
from .facts import Facts
from .referents import Referent
from .reveal import schedule, units as unit_of
from .story import Box, Plan, Story, home, split_caption
from .timing import CHAPTERS, DEFAULT_DURATIONS, Timing, TimelineError, ease

#: Chapters that compute blocks, in order ("overview" and "generation" only tell).
COMPUTING = ("embedding", "layer_norm", "attention", "projection", "mlp", "stack", "output")
CATCH_UP_SECONDS = 1.0  # a fast-forward step computing skipped chapters between chosen ones
CAMERA_MOVE_SECONDS = 1.0  # camera travel at the start of a step (at most 40% of its motion)
PUSH_IN = 0.04  # a step's camera arrives this much farther away than its fit and creeps in until its motion ends
_AGGREGATE_SHARE = 0.5  # aggregates take half the time per unit of other blocks


@dataclass(frozen=True)
class CameraKey:
    """The camera's pose at a frame."""

    frame: int
    pose: Pose


@dataclass
class Step:
    """A caption on screen from frame_start to frame_end (inclusive), about `subject` (a world box
    lo, hi: its focus blocks, or what the plan frames), with the camera on `target` (the subject
    with room for its labels), `focus` blocks emphasised, `sources` (blocks read) highlighted and
    `computes` the blocks whose cells are revealed during the step; `catch_up` marks a fast-forward
    through chapters not told. Everything moves from frame_start to `motion_end` (camera, cells,
    fades, close-up flights); from there to frame_end the picture holds while the text is read.
    `referents` (what the caption names) are outlined and labelled, their labels `mark` world
    units tall (referents.LABEL_SIZE of the picture where the camera arrives)."""

    frame_start: int
    frame_end: int
    motion_end: int
    caption: str
    subject: Box
    target: Box
    focus: list[str]
    sources: list[str]
    computes: list[str]
    catch_up: bool = False
    formula: bool = False  # a close-up's formula plate is on screen
    side: bool = False  # the captions stand in the side panel (composition.frame)
    tall: bool = False  # ... or in the tall caption band
    referents: list[Referent] = field(default_factory=list)
    mark: float = 0.0
    closer: bool = True  # the camera may come closer than the subject to show the referents' cells

    def framing(self, picture: Frame) -> Frame:
        """The step's frame in `picture`: its formula plate and caption layout."""
        return replace(picture, formula=self.formula, side=self.side, tall=self.tall)


@dataclass
class Chapter:
    """One chapter: its frames (inclusive), the blocks it computes, steps and close-ups."""

    id: str
    title: str
    frame_start: int
    frame_end: int
    blocks: list[str]
    steps: list[Step]
    closeups: list[CloseUp]


@dataclass
class Prediction:
    """One generated token: the context the model read, the token it chose and its probability,
    and the step that appends it (frames): for all but the last, the step whose pass computes its
    column."""

    frame_start: int
    frame_end: int
    context: list[int]
    token: int
    probability: float
    text: str


@dataclass
class Timeline:
    """The walkthrough: chapters in order over frame_start..frame_end, the frame at which every cell
    is computed (`reveal[block key]`, float32 in cells() order; ALWAYS for weights, NEVER for cells
    not computed in range), camera keys (frame, location, target) and the generation steps."""

    frame_start: int
    frame_end: int
    fps: int
    chapters: list[Chapter]
    reveal: dict[str, np.ndarray]
    camera_keys: list[CameraKey]
    predictions: list[Prediction]
    lang: Language = i18n.ENGLISH  # the captions' and titles' language

    @property
    def steps(self) -> list[Step]:
        return [s for c in self.chapters for s in c.steps]

    @property
    def closeups(self) -> list[CloseUp]:
        return [u for c in self.chapters for u in c.closeups]

    def chapter(self, chapter_id: str) -> Chapter:
        for c in self.chapters:
            if c.id == chapter_id:
                return c
        raise KeyError(chapter_id)

    def camera_at(self, frame: float) -> Pose:
        """The pose at `frame`, eased between keys (as Bezier keys with flat handles)."""
        frames = [k.frame for k in self.camera_keys]
        i = int(np.searchsorted(frames, frame, side="right"))
        if i == 0 or i == len(frames):
            return self.camera_keys[min(i, len(frames) - 1)].pose
        a, b = self.camera_keys[i - 1], self.camera_keys[i]
        w = ease((frame - a.frame) / (b.frame - a.frame))

        def mix(x, y) -> tuple[float, ...]:
            return tuple(np.add(x, w * np.subtract(y, x)).tolist())

        return Pose(mix(a.pose.location, b.pose.location), mix(a.pose.target, b.pose.target), a.pose.fov_y,
                    mix(a.pose.shift, b.pose.shift))

    def key_count_estimate(self) -> int:
        """Upper bound of the keyframe points the scene needs: camera location, target and lens shift
        (8 channels per key); per step, an emphasis on and off for each focus or source block and the
        caption; per close-up, 3 channels x 2 keys for each block its cells fly from, and its text."""
        camera = 8 * len(self.camera_keys)
        steps = sum(2 * len({*s.focus, *s.sources}) + 2 for s in self.steps)
        close = sum(6 * (len({c[0] for c in u.sources}) + 1) + 2 for u in self.closeups)
        return camera + steps + close


def _chosen(chapters: Sequence[str] | None, available: dict[str, str | None]) -> list[str]:
    """Chapter ids in story order; `available` maps each id to None or why it cannot be shown."""
    if chapters is None:
        return [c for c, why in available.items() if why is None]
    if isinstance(chapters, str) or not chapters:
        raise TimelineError(f"chapters: expected a non-empty list of chapter ids, got {chapters!r}")
    for c in chapters:
        if c not in CHAPTERS:
            raise TimelineError(f"chapters: unknown chapter {c!r} (known: {', '.join(CHAPTERS)})")
        if available[c] is not None:
            raise TimelineError(f"chapters: {c!r} {available[c]}")
    return [c for c in CHAPTERS if c in chapters]


def _check(layout: Layout, trace: Mapping[str, np.ndarray], start_layer: int, generation: Generation | None) -> None:
    n_layer = layout.config.n_layer
    if isinstance(start_layer, bool) or not isinstance(start_layer, (int, np.integer)) \
            or not 0 <= start_layer < n_layer:
        raise TimelineError(f"start_layer: must be an integer in 0..{n_layer - 1}, got {start_layer!r}")
    tokens = [int(t) for t in np.asarray(trace["tokens"])]
    if len(tokens) != layout.n_tokens:
        raise TimelineError(f"trace: has {len(tokens)} tokens but the layout is for {layout.n_tokens}")
    if generation is not None:
        if not generation.traces:
            raise TimelineError("generation: it has no steps")
        n_in = len(generation.tokens) - len(generation.traces)
        if list(generation.traces[0].tokens) != tokens[:n_in]:
            raise TimelineError("generation: its first step must run the traced input")
        columns = n_in + len(generation.traces) - 1
        if tokens != list(generation.tokens[:columns]):
            raise TimelineError(f"generation: the layout needs a column for each token fed back ({columns} in "
                                f"all, the input and the generated tokens but the last), got {len(tokens)}")


def _skipped(keys: list[str], homes: dict[str, str | None],
             chosen: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Blocks of chapters not chosen: those computed before the first frame, and per chosen chapter
    those it computes first (fast-forward). The rest (no chosen chapter after them) are never computed."""
    order = list(CHAPTERS)
    before: list[str] = []
    catch_up: dict[str, list[str]] = {}
    for key in keys:
        h = homes[key]
        if h == "before":
            before.append(key)
            continue
        later = [c for c in chosen if order.index(c) > order.index(h)]
        earlier = [c for c in chosen if c in COMPUTING and order.index(c) < order.index(h)]
        if later and not earlier:
            before.append(key)
        elif later:
            catch_up.setdefault(later[0], []).append(key)
    return before, catch_up


def _frames(timing: Timing, seconds: list[float]) -> list[int]:
    """Boundaries frame_start..end+1 of consecutive spans: cumulative time rounded, >= 2 frames each
    (so a step's compute window has room)."""
    bounds = [timing.frame_start]
    total = 0.0
    for s in seconds:
        total += s
        bounds.append(max(timing.frame_start + round(timing.frames(total)), bounds[-1] + 2))
    return bounds


def _dedupe(keys) -> list[str]:
    return list(dict.fromkeys(keys))


@dataclass(frozen=True)
class _Beat:
    """One step to time: a plan's caption, or one of its two parts (story.split_caption); a `held`
    second part keeps the first part's view and computes nothing."""

    plan: Plan
    caption: str
    held: bool = False

    def chars(self, lang: Language) -> float:
        """Characters to read on screen: the caption and the close-up's formula plate."""
        return lang.characters(self.caption) + (lang.characters(self.plan.closeup.formula)
                                                if self.plan.closeup is not None else 0)


def _beats(plans: list[Plan], lang: Language) -> list[_Beat]:
    return [_Beat(p, part, k > 0) for p in plans for k, part in enumerate(split_caption(p.caption, lang))]


def _paced(chapter: str, beats: list[_Beat], timing: Timing, units: int, lang: Language) -> tuple[list[float], list[float]]:
    """A chapter's steps in story seconds, and the seconds of motion at the start of each: a step
    given seconds (timing.steps) takes them; the others are paced, max(motion, reading time), where
    motion is the chapter's DEFAULT_DURATIONS (times its `units`: layers of the stack, generated
    tokens) shared by weight, or a plan's fixed seconds; a chapter given seconds (timing.durations)
    shares what the given steps leave in the paced proportions."""
    total = DEFAULT_DURATIONS[chapter] * units
    weight = sum(b.plan.weight for b in beats if not b.held and b.plan.seconds is None)
    motion = [0.0 if b.held else b.plan.seconds if b.plan.seconds is not None else total * b.plan.weight / weight
              for b in beats]
    paced = [max(m, timing.reading(b.chars(lang), lang)) for b, m in zip(beats, motion)]
    given = timing.steps.get(chapter, {})
    for n in given:
        if n > len(beats):
            raise TimelineError(f"{timing.where('steps', chapter, n)}: out of range: {chapter} has "
                                f"{len(beats)} steps")
    scale = 1.0
    if chapter in timing.durations:
        taken, free = sum(given.values()), sum(p for i, p in enumerate(paced) if i + 1 not in given)
        rest = timing.durations[chapter] - taken
        if (free and rest <= 0) or (not free and abs(rest) > 1e-6):
            raise TimelineError(f"{timing.where('durations', chapter)}: {timing.durations[chapter]:g} s, but its "
                                f"steps given take {taken:g} s")
        scale = rest / free if free else 1.0
    seconds = [given.get(i + 1, p * scale) for i, p in enumerate(paced)]
    return seconds, [min(m, s) for m, s in zip(motion, seconds)]


def _step(plan: Plan, caption: str, layout: Layout, reveal: dict[str, np.ndarray], start: int, motion_end: int,
          end: int) -> Step:
    """Time a plan over frames start..end (inclusive, start < motion_end <= end): reveal its work inside
    its window of the motion (which lasts until the last cell computed stops glowing)."""
    lo, hi = (start + f * (motion_end - start) for f in plan.window)
    share = [(u1 - u0) * (_AGGREGATE_SHARE if layout[k].kind == "aggregate" else 1.0) for k, u0, u1 in plan.work]
    edges = lo + (hi - lo) * np.concatenate([[0.0], np.cumsum(share)]) / max(sum(share), 1e-9)
    for (key, u0, u1), a, b in zip(plan.work, edges[:-1], edges[1:]):
        schedule(layout[key], reveal[key], u0, u1, float(a), float(b))
    computes = _dedupe(k for k, _, _ in plan.work)
    reads = _dedupe(r for k in computes for r in layout[k].reads)
    focus = plan.focus if plan.focus is not None else _dedupe(
        [*computes, *(r for r in reads if layout[r].kind == "weight")])
    sources = plan.sources if plan.sources is not None else [r for r in reads if r not in computes]
    subject = _subject(plan, layout, focus)
    if plan.work:
        motion_end = min(end, max(motion_end, math.ceil(hi + HIGHLIGHT_FRAMES)))
    return Step(start, end, motion_end, caption, subject, subject, list(focus), list(sources),
                computes, plan.catch_up, plan.closeup is not None, referents=list(plan.referents),
                closer=plan.closer)


def _subject(plan: Plan, layout: Layout, focus: list[str]) -> Box:
    """What a step's camera frames: the plan's box, or the focus blocks (their labels get room on
    screen, and the blocks around them show where they are)."""
    if plan.box is not None:
        return plan.box
    return layout.bounds([layout[k] for k in focus]) if focus else layout.body()


#: A chapter's captions take the other layout (a picture at least SIDE_ASPECT wide: the side panel; a
#: narrower one: the tall band) when it shows its steps' subjects at least SWITCH as large (area) as
#: the band does, on geometric mean, and none less than FLOOR: the layout holds for the whole chapter.
SWITCH = {"side": 1.3, "tall": 0.97}
FLOOR = 0.5


def _captions(steps: list[Step], frame: Frame, room: np.ndarray, label: float) -> str:
    """A chapter's caption layout: "band", or "side" / "tall" by SWITCH and FLOOR."""
    if not frame.caption:
        return "band"
    other = "side" if frame.aspect >= SIDE_ASPECT else "tall"
    gains = []
    for s in steps:
        points = corners(*s.subject)
        areas = [screen_box(points, framed(s.subject, replace(frame, formula=s.formula, **layout), room, label)[0],
                            frame.aspect).area for layout in ({}, {other: True})]
        gains.append(areas[1] / areas[0])
    return other if np.exp(np.mean(np.log(gains))) >= SWITCH[other] and min(gains) >= FLOOR else "band"


def _scale(point: np.ndarray, pose: Pose, aspect: float) -> float:
    """Frame heights per world unit at `point`, seen from `pose`."""
    xy, _ = project(np.array([point, point + [0.0, 0.0, 1.0]]), pose, aspect)
    return float(abs(xy[1, 1] - xy[0, 1]))


def _bounds(referents: list[Referent], layout: Layout) -> Box:
    boxes = [r.box(layout) for r in referents]
    return np.min([b[0] for b in boxes], axis=0), np.max([b[1] for b in boxes], axis=0)


def _near(s: Step, layout: Layout, frame: Frame, room: np.ndarray, label: float) -> Box:
    """The subject of a step that names referents: the subject with the referents' labels, or,
    where that would leave a referent's cells under MIN_CELL of the frame height and the step lets
    it (`closer`), the referents in a view about 1 / CLOSE_CELL cells across (with their labels:
    the camera comes closer)."""
    lo, hi = _bounds(s.referents, layout)
    centre = (lo + hi) / 2
    half = np.maximum((hi - lo) / 2, [CELL / 2 / marks.CLOSE_CELL, 0.0, CELL / 2 / marks.CLOSE_CELL])
    for base in (s.subject, (centre - half, centre + half))[:1 + s.closer]:
        subject = base
        for _ in range(FIT_ROUNDS):  # the labels are sized for the picture they make
            size = marks.LABEL_SIZE / _scale(centre, framed(subject, frame, room, label)[0], frame.aspect)
            extent = marks.extent(s.referents, layout, size)
            subject = np.minimum(base[0], extent[0]), np.maximum(base[1], extent[1])
        if CELL * _scale(centre, framed(subject, frame, room, label)[0], frame.aspect) >= marks.MIN_CELL:
            break
    return subject


def _camera(chapters: list[list[Step]], timing: Timing, frame: Frame, room: np.ndarray, label: float,
            layout: Layout) -> list[CameraKey]:
    """Per step: the pose that makes its subject fill the free region of `frame` (with the formula
    plate when a close-up is on screen, the captions in the band, the side panel or the tall band
    (`_captions`, per chapter: each step's `side` and `tall`), and `room` for labels `label` tall:
    see `framed`; each step's target becomes the box framed; a step naming referents frames them
    large enough to see (`_near`)), arrived at after the move from a little farther away, then
    crept in until the step's motion ends; it holds still from there until the next view's step
    starts."""
    keys: list[CameraKey] = []
    move_frames = timing.frames(CAMERA_MOVE_SECONDS)
    previous = None
    composed: dict[tuple, tuple[Pose, Box]] = {}  # views met again (the generation's passes) compose once
    near: dict[tuple, Box] = {}  # ... and so do referents named again (a caption's second part)
    first = True
    for steps in chapters:
        for s in steps:
            if s.referents:
                named = (np.asarray(s.subject, float).tobytes(), tuple(s.referents), s.formula)
                if named not in near:
                    near[named] = _near(s, layout, replace(frame, formula=s.formula), room, label)
                s.subject = near[named]
        captions = _captions(steps, frame, room, label)
        for s in steps:
            view = (s.subject, s.formula)
            if previous is None or not (previous[1] == s.formula and all(
                    np.array_equal(a, b) for a, b in zip(previous[0], s.subject))) or captions != previous[2]:
                known = (np.asarray(s.subject, float).tobytes(), s.formula, captions)
                shown = replace(frame, formula=s.formula, side=captions == "side", tall=captions == "tall")
                if known not in composed:
                    composed[known] = framed(s.subject, shown, room, label)
                pose, box = composed[known]
                if keys and _held(keys[-1].pose, pose, s.subject, shown):  # a move hardly seen: the camera holds
                    pose = keys[-1].pose
                else:
                    if keys and keys[-1].frame < s.frame_start - 1:
                        keys.append(CameraKey(s.frame_start - 1, keys[-1].pose))
                    motion = s.motion_end - s.frame_start
                    arrive = s.frame_start + (0 if first else min(round(move_frames), int(0.4 * motion)))
                    keys.append(CameraKey(arrive, _farther(pose, PUSH_IN)))
                previous, first = (*view, captions), False
            s.target, s.side, s.tall = box, captions == "side", captions == "tall"
            if s.referents:  # their labels: LABEL_SIZE of the picture where the camera arrives
                s.mark = marks.LABEL_SIZE / _scale(np.mean(_bounds(s.referents, layout), axis=0), pose,
                                                     frame.aspect)
            if s.motion_end > keys[-1].frame and keys[-1].pose != pose:
                keys.append(CameraKey(s.motion_end, pose))
    return keys


HOLD_LOSS = 0.05  # a step keeps the view on screen if its subject is inside it and at most this much smaller (area)


def _held(on_screen: Pose, pose: Pose, subject: Box, frame: Frame) -> bool:
    """Whether the view on screen already frames `subject` (inside the free region of `frame`)
    within HOLD_LOSS of the size `pose` would give it: a move that would hardly show."""
    (here, inside), (there, _) = fill([subject], on_screen, frame), fill([subject], pose, frame)
    return inside and here >= (1.0 - HOLD_LOSS) * there


def _farther(pose: Pose, share: float) -> Pose:
    """The same view from `share` farther away."""
    loc, target = np.asarray(pose.location), np.asarray(pose.target)
    return replace(pose, location=tuple((target + (loc - target) * (1.0 + share)).tolist()))


def reads_text(config: ModelConfig) -> bool:
    """Whether a model reads words through a tokenizer (not letters or bare ids)."""
    return not config.letters and (config.tokenizer is not None or config.vocab is not None)


def available(config: ModelConfig, start_layer: int, generation: bool, weights: bool) -> dict[str, str | None]:
    """Each chapter id -> None, or why it cannot be told with these options (`generation`: a
    generation is given; `weights`: the weights are)."""
    n_layer = config.n_layer
    available: dict[str, str | None] = {c: None for c in CHAPTERS}
    if not reads_text(config):
        available["facts"] = "needs a model with a tokenizer (words, not letters or bare ids)"
    elif not weights:
        available["facts"] = "needs the weights (for the logit lens)"
    if start_layer > 0:
        available["embedding"] = f"comes before start_layer {start_layer}"
    if start_layer == n_layer - 1:
        available["stack"] = f"has no layers after start_layer {start_layer}"
    if not generation:
        available["generation"] = "needs a generation (model.generate)"
    return available


def _predictions(generation: Generation, chapter: Chapter, facts: Facts) -> list[Prediction]:
    """Each generated token with the step that appends it: the steps whose pass computes its
    column (from its token on: story.generations) and the last."""
    steps = [s for s in chapter.steps if not s.catch_up and "tokens" in s.computes] + chapter.steps[-1:]
    n_in = len(generation.tokens) - len(generation.traces)
    out = []
    for i, (trace, s) in enumerate(zip(generation.traces, steps)):
        tok = generation.tokens[n_in + i]
        out.append(Prediction(s.frame_start, s.frame_end, [int(t) for t in trace.tokens], tok,
                              float(trace["probs"][-1][tok]), token_text(facts.config, tok, quoted=False)))
    return out


def build_timeline(layout: Layout, trace: Mapping[str, np.ndarray], timing: Timing | None = None,
                   chapters: Sequence[str] | None = None, start_layer: int = 0,
                   generation: Generation | None = None, weights: Weights | None = None,
                   frame: Frame | None = None, sampling: str = "", language: str | Language | None = None
                   ) -> Timeline:
    """The walkthrough of `trace` (a model.forward Trace for layout's tokens) over `layout`.

    chapters: ids from CHAPTERS (None: all that apply), always told in story order. start_layer:
    the layer told in detail (earlier layers and the embedding are computed before the first frame;
    the stack chapter runs the layers after it). generation: model.generate's result, for the
    generation chapter. weights: for the Q and MLP close-ups and the layer norm formula.
    Skipped chapters' blocks are computed before frame_start when no chosen chapter computes before
    them, in a fast-forward step opening the next chosen chapter when one does, and never when no
    chosen chapter follows them. frame: the picture the camera composes for (default 16:9 with
    captions and chapter titles). sampling: how the generation sampled, for its captions
    ("temperature 0.8, top-k 3"). language: the captions' and titles' (i18n code; None: i18n.current());
    steps are paced at its reading speed unless the timing gives one.
    """
    lang = i18n.language(language) if language is not None else i18n.current()
    timing = timing or Timing()
    _check(layout, trace, start_layer, generation)
    n_layer = layout.config.n_layer
    chosen = _chosen(chapters, available(layout.config, start_layer, generation is not None, weights is not None))
    n_input = len(generation.tokens) - len(generation.traces) if generation is not None else layout.n_tokens
    facts = Facts(layout, trace, weights, n_input, lang)
    story = Story(facts, start_layer, generation, sampling)
    homes = {b.key: home(b, start_layer) for b in layout.blocks}
    plans = {c: story.chapter(c) for c in chosen}
    skipped = [b.key for b in layout.blocks if homes[b.key] is not None and homes[b.key] not in chosen]
    before, catch_up = _skipped(skipped, homes, chosen)
    for c, keys in catch_up.items():
        titles = _dedupe(lang.tr(CHAPTERS[homes[k]]) for k in keys)
        plans[c].insert(0, Plan(lang.tr("Fast-forward: {chapters} computed.", chapters=lang.join(titles)),
                                story.whole(*keys),
                                seconds=CATCH_UP_SECONDS, window=(0.05, 0.95), catch_up=True))
    units = {"stack": n_layer - 1 - start_layer, "generation": len(generation.traces) if generation else 0}
    beats = {c: _beats(plans[c], lang) for c in chosen}
    paced = {c: _paced(c, beats[c], timing, units.get(c, 1), lang) for c in chosen}
    frames = _frames(timing, [s for c in chosen for s in paced[c][0]])
    spans = iter(zip(frames[:-1], frames[1:]))

    reveal = {b.key: np.full(b.n_cells, ALWAYS if b.kind == "weight" else NEVER, np.float32) for b in layout.blocks}
    for key in before:  # the first pass's units (later columns are computed by the generation's passes)
        reveal[key][unit_of(layout[key]) < n_input] = timing.frame_start - 1
    out: list[Chapter] = []
    for c in chosen:
        steps, ups = [], []
        for b, motion in zip(beats[c], paced[c][1]):
            start, stop = next(spans)
            end = stop - 1
            if b.held:  # the same view, nothing computed: the first part's close-up stays
                steps.append(replace(steps[-1], frame_start=start, frame_end=end, motion_end=start,
                                     caption=b.caption, computes=[]))
                if b.plan.closeup is not None:
                    ups[-1] = replace(ups[-1], frame_end=end)
                continue
            motion_end = min(end, max(start + 1, start + round(timing.frames(motion))))
            steps.append(_step(b.plan, b.caption, layout, reveal, start, motion_end, end))
            if b.plan.closeup is not None:
                ups.append(replace(b.plan.closeup, frame_start=start, frame_end=end))
        blocks = _dedupe(key for s in steps for key in s.computes)
        out.append(Chapter(c, lang.tr(CHAPTERS[c]), steps[0].frame_start, steps[-1].frame_end, blocks, steps, ups))
    predictions = _predictions(generation, out[-1], facts) if "generation" in chosen and generation else []
    keys = _camera([ch.steps for ch in out], timing, frame or Frame(ASPECT), label_room(layout.config),
                   label_size(layout.config), layout)
    return Timeline(timing.frame_start, out[-1].frame_end, timing.fps, out, reveal, keys, predictions, lang)
