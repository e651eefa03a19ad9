"""The composition layer (pure): frame regions, poses that make a subject fill the free region,
label placement, and the composed walkthrough of nano-gpt at 16:9 and 9:16."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmviz_blender import layout as L
from llmviz_blender import model, timeline
from llmviz_blender.composition import Frame, LabelBox, Rect, compose, place_labels, project
from llmviz_blender.composition.camera import corners, framed, screen_box
from llmviz_blender.composition.frame import (BAR, CHAR_WIDTH, FORMULA_BAR, MAX_LABEL, MIN_LABEL, PANEL, SAFE, TALL_BAR,
                                              TITLE_BAND, caption_size, panel_text)
from llmviz_blender.composition.labels import GAP
from llmviz_blender.composition.report import focus_fill

FILL = 0.7  # the subject spans at least this share of the free region's binding side


def test_frame_regions():
    f = Frame(16 / 9)
    assert f.reserved()["caption"] == Rect(0, 0, 16 / 9, BAR)
    assert f.free() == Rect(SAFE, BAR + SAFE, 16 / 9 - SAFE, 1 - TITLE_BAND - SAFE)
    with_formula = replace(f, formula=True)
    assert with_formula.free().y0 == pytest.approx(BAR + FORMULA_BAR + SAFE)
    bare = Frame(9 / 16, caption=False, title=False)
    assert bare.reserved() == {} and bare.free() == Rect(SAFE, SAFE, 9 / 16 - SAFE, 1 - SAFE)
    side = replace(with_formula, side=True)  # title, caption and formula share the panel
    assert side.reserved() == {"caption": Rect(16 / 9 * (1 - PANEL), 0, 16 / 9, 1)}
    assert side.free() == Rect(SAFE, SAFE, 16 / 9 * (1 - PANEL) - SAFE, 1 - SAFE)
    assert replace(f, tall=True).free().y0 == pytest.approx(TALL_BAR + SAFE)


def test_the_side_panel_holds_the_title_caption_and_formula():
    panel = panel_text(16 / 9, 185, 21)
    assert panel.left + panel.width < 16 / 9 and panel.left > 16 / 9 * (1 - PANEL)
    assert panel.caption >= 0.032 and 21 * CHAR_WIDTH * panel.title <= panel.width
    assert MIN_LABEL < panel.formula(16 / 9, 166, 185) < panel.caption


def test_captions_shrink_to_fit_their_band():
    assert caption_size(16 / 9, 80) == pytest.approx(0.032)
    assert MIN_LABEL < caption_size(9 / 16, 220) < 0.032


boxes = st.tuples(st.lists(st.floats(-500, 500), min_size=3, max_size=3),
                  st.lists(st.floats(0.5, 800), min_size=3, max_size=3))


@settings(max_examples=60, deadline=None)
@given(boxes, st.sampled_from([16 / 9, 9 / 16, 1.0, 21 / 9]), st.booleans(), st.booleans(),
       st.sampled_from(["band", "side", "tall"]))
def test_compose_puts_any_box_inside_the_free_region_and_fills_it(box, aspect, caption, formula, layout):
    lo = np.array(box[0])
    hi = lo + np.array(box[1])
    frame = Frame(aspect, caption=caption, formula=formula, side=layout == "side", tall=layout == "tall")
    pose = compose([(lo, hi)], frame)
    fill = focus_fill([(lo, hi)], pose, frame)
    assert fill.inside and fill.span >= FILL


def test_project_centre_and_shift():
    frame = Frame(16 / 9, caption=False, title=False)
    pose = compose([((0, 0, 0), (10, 1, 10))], frame, direction=(0, -1, 0))
    xy, depth = project([(5, 0.5, 5)], pose, frame.aspect)
    assert depth[0] > 0
    np.testing.assert_allclose(xy[0], frame.free().centre, atol=1e-6)  # a centred box: no shift needed
    shifted = replace(pose, shift=(0.1, -0.2))
    np.testing.assert_allclose(project([(5, 0.5, 5)], shifted, frame.aspect)[0][0], xy[0] + [0.1, -0.2])


def _label(name, lo, hi, lines=1, priority=0):
    return LabelBox(name, corners(lo, hi), lines, priority)


def test_label_placement_rules():
    frame = Frame(16 / 9)
    pose = compose([((0, 0, 0), (100, 1, 60))], frame, direction=(0, -1, 0))
    labels = [
        _label("big", (10, 0, 40), (40, 0, 46), priority=1),
        _label("first", (12, 0, 42), (30, 0, 48), priority=0),  # overlaps "big", placed first
        _label("speck", (60, 0, 40), (61, 0, 40.05)),  # far under 1% of the frame height
        _label("edge", (-200, 0, 30), (5, 0, 36)),  # runs off the picture
        _label("caption", (40, 0, -40), (60, 0, -10)),  # under the caption band
        _label("gone", (5000, 0, 0), (5010, 0, 5)),
        _label("ok", (60, 0, 20), (90, 0, 26)),
    ]
    p = place_labels(labels, pose, frame)
    assert sorted(p.shown) == ["first", "ok"] and p.overlap == ["big"] and p.small == ["speck"]
    assert sorted(p.cut) == ["caption", "edge"] and p.outside == ["gone"]
    rects = list(p.rects.values())
    assert not rects[0].overlaps(rects[1])


@pytest.fixture(scope="module")
def nano():
    cfg = model.load_preset("nano-gpt")
    w = model.default_weights(cfg)
    ids = model.encode(cfg, cfg.default_input)
    gen = model.generate(w, ids, len(ids))
    return cfg, w, ids, gen.traces[-1], gen  # the last pass's trace: a column for every token fed back


@pytest.mark.parametrize("aspect", [16 / 9, 9 / 16])
def test_every_walkthrough_step_frames_its_focus_inside_the_free_region(nano, aspect):
    cfg, w, ids, trace, gen = nano
    layout = L.model_layout(cfg, len(gen.tokens) - 1, aspect=aspect)
    frame = Frame(aspect)
    tl = timeline.build_timeline(layout, trace, generation=gen, weights=w, frame=frame)
    spans = []
    for s in tl.steps:
        pose = tl.camera_at(s.frame_end)  # arrived and crept in: the fitted pose
        f = s.framing(frame)
        subject = focus_fill([s.target], pose, f)
        assert subject.inside and subject.span >= FILL, s.caption
        focus = [r.box(layout) for r in s.referents] or (  # what it names, its focus blocks, the overview's box
            [layout.bounds([layout[k] for k in s.focus])] if s.focus else [s.target])
        assert focus_fill(focus, pose, f).inside, s.caption
        spans.append(subject.span)
        box = screen_box(corners(*s.target), pose, aspect)
        assert box is not None and f.free().contains(box, tol=1e-6)
    assert np.median(spans) >= 0.85


@pytest.mark.parametrize("aspect", [16 / 9, 9 / 16])
def test_chapters_take_the_caption_layout_that_shows_their_subjects_larger(nano, aspect):
    """16:9: chapters of tall subjects move the captions to the side panel (the output keeps the
    band); 9:16: chapters of wide subjects raise the band (larger captions). A chapter never
    switches mid-way, and takes the other layout only when it shows its subjects at least
    SWITCH as large on geometric mean, none under half as large."""
    cfg, w, ids, trace, gen = nano
    layout = L.model_layout(cfg, len(gen.tokens) - 1, aspect=aspect)
    frame = Frame(aspect)
    tl = timeline.build_timeline(layout, trace, generation=gen, weights=w, frame=frame)
    wide = aspect > 1
    assert not any(s.tall if wide else s.side for s in tl.steps)
    taken = []
    for chapter in tl.chapters:
        other = {s.side if wide else s.tall for s in chapter.steps}
        assert len(other) == 1, chapter.id  # one layout the whole chapter
        gains = []
        for s in chapter.steps:
            band, _ = framed(s.subject, replace(frame, formula=s.formula), L.label_room(cfg),
                                            L.label_size(cfg))
            shown = screen_box(corners(*s.subject), tl.camera_at(s.frame_end), aspect).area
            gains.append(shown / screen_box(corners(*s.subject), band, aspect).area)
        if other == {True}:
            assert np.exp(np.mean(np.log(gains))) >= (1.3 if wide else 0.97) * 0.99 and min(gains) >= 0.49, chapter.id
        taken.append(other == {True})
    assert 0 < sum(taken) < len(taken)
    assert not wide or not taken[[c.id for c in tl.chapters].index("output")]  # wide probabilities: the band


def test_a_small_label_with_room_is_enlarged_about_its_anchor():
    frame = Frame(16 / 9, caption=False, title=False)
    pose = compose([((0, 0, 0), (100, 1, 60))], frame, direction=(0, -1, 0))
    tiny = ((40, 0, 30), (46, 0, 30.4))  # a line well under 1% of the frame height
    anchor = np.array([40.0, 0.0, 30.0])
    kept = place_labels([_label("t", *tiny)], pose, frame)
    assert kept.small == ["t"] and not kept.scales
    grown = place_labels([LabelBox("t", corners(*tiny), anchor=anchor, grow=8.0)], pose, frame)
    assert grown.shown == ["t"] and 1.0 < grown.scales["t"] <= 8.0
    assert grown.rects["t"].height >= MIN_LABEL
    capped = place_labels([LabelBox("t", corners(*tiny), anchor=anchor, grow=1.5)], pose, frame)
    assert capped.small == ["t"] and not capped.scales


def test_a_large_resizable_label_shrinks_to_the_largest_label_size():
    frame = Frame(16 / 9, caption=False, title=False)
    pose = compose([((0, 0, 0), (100, 1, 60))], frame, direction=(0, -1, 0))
    big = ((20, 0, 20), (60, 0, 30))  # a line of about a sixth of the frame height
    anchor = np.array([20.0, 0.0, 20.0])
    fixed = place_labels([_label("t", *big)], pose, frame)
    assert fixed.shown == ["t"] and not fixed.scales  # not resizable: kept as it is
    shrunk = place_labels([LabelBox("t", corners(*big), anchor=anchor, grow=4.0)], pose, frame)
    assert shrunk.shown == ["t"] and shrunk.scales["t"] < 1.0
    line = shrunk.rects["t"].height / (1 + GAP)  # the placed rectangle keeps a gap round the text
    assert line == pytest.approx(MAX_LABEL, rel=0.02)


def test_a_step_frames_its_subject_with_room_that_shrinks_with_its_labels():
    from llmviz_blender.composition.camera import MIN_ROOM, framed
    frame = Frame(16 / 9)
    room, label = np.array([6.0, 0.0, 5.0]), 2.4
    small = (np.zeros(3), np.array([8.0, 1.0, 1.0]))  # a row of cells: seen close, its labels shrink
    pose, box = framed(small, frame, room, label)
    pad = box[1] - small[1]
    assert np.allclose(pad, room * MIN_ROOM)
    big = (np.zeros(3), np.array([800.0, 1.0, 600.0]))  # seen from afar: labels stay, room in full
    _, box = framed(big, frame, room, label)
    assert np.allclose(box[1] - big[1], room)
