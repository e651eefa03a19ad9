"""What a caption names, the picture shows: the facts chapter's neurons, rows, columns and lens
columns are referents of their steps, with the trace's numbers; in the built scene each is inside
the free region, outlined and labelled at its step's key frame (scene.audit), and the audit fails
when one is off screen or unmarked."""

import re

import numpy as np
import pytest

from llmviz_blender import layout as L, model, timeline as tl
from llmviz_blender.composition import Frame
from llmviz_blender.composition.camera import project
from llmviz_blender.model import encode, family_of
from llmviz_blender.timeline import referents as marks

FACTS = model.load_preset("facts-gpt")
WEIGHTS = model.default_weights(FACTS)
PROMPT = "Tiger Woods plays the sport of"  # the answer appears in layer 1's MLP


def _facts_timeline(prompt=PROMPT, frame=None):
    ids = encode(FACTS, prompt)
    trace = model.forward(WEIGHTS, ids)
    layout = L.model_layout(FACTS, len(ids))
    return layout, trace, tl.build_timeline(layout, trace, chapters=["facts"], weights=WEIGHTS, frame=frame)


def test_the_neurons_a_caption_names_are_its_referents_with_their_values():
    layout, trace, t = _facts_timeline()
    names = family_of(FACTS).NEURONS
    fired = next(s for s in t.steps if s.caption.startswith("GELU lets"))
    named = [int(n) for n in re.findall(r"(\d+) \(", fired.caption)]
    assert named and [r.rows[0] for r in fired.referents] == named  # each neuron the caption names, in order
    last = len(trace["tokens"]) - 1
    for ref, n in zip(fired.referents, named):
        assert ref.key == f"h1.{names['act']}" and ref.cols == (last, last + 1)
        assert ref.label == f"#{n} {float(trace['h1.gelu'][last, n]):.2f}"  # the trace's number
    down = next(s for s in t.steps if s.caption.startswith("The down projection"))
    columns = [r for r in down.referents if r.key == f"h1.{names['down_weight']}"]
    assert [r.cols[0] for r in columns] == named and all(r.rows == (0, FACTS.n_embd) for r in columns)
    up = t.steps[0]
    rows = [r for r in up.referents if r.key == f"h1.{names['up_weight']}"]
    assert len(rows) == 3 and all(r.cols == (0, FACTS.n_embd) for r in rows)
    lens = next(s for s in t.steps if s.caption.startswith("The logit lens"))
    assert {r.key for r in lens.referents} == set(lens.focus) and all("'golf' #" in r.label for r in lens.referents)


def test_referents_are_framed_large_enough_and_their_labels_do_not_overlap():
    layout, _, t = _facts_timeline()
    frame = Frame(16 / 9)
    for s in (s for s in t.steps if s.referents):
        pose = t.camera_at(s.frame_end)
        for ref in s.referents:
            lo, hi = ref.box(layout)
            assert np.all(s.target[0] <= lo + 1e-9) and np.all(hi <= s.target[1] + 1e-9), s.caption
        boxes = marks.label_boxes(s.referents, layout, s.mark)
        for i, a in enumerate(boxes):  # labels apart
            for b in boxes[i + 1:]:
                assert not (a[0][0] < b[1][0] and b[0][0] < a[1][0] and a[0][2] < b[1][2] and b[0][2] < a[1][2])
        centre = np.add(*s.referents[0].box(layout)) / 2
        xy, _ = project(np.array([centre, centre + [0, 0, s.mark]]), pose, frame.aspect)
        assert abs(xy[1, 1] - xy[0, 1]) >= 0.01  # labels at least 1% of the frame height


def test_label_boxes_move_apart_when_referents_are_close():
    layout = L.model_layout(FACTS, 4)
    refs = [marks.cell("h1.gelu", 10, 3, "#10 0.50"), marks.cell("h1.gelu", 11, 3, "#11 0.40")]
    a, b = marks.label_boxes(refs, layout, 4.0)
    assert b[1][2] <= a[0][2] + 1e-9  # the second moved down below the first
    col = marks.column(layout, "h1.mlp_weight", 7, "#7")
    (top,) = marks.label_boxes([col], layout, 4.0)
    assert top[0][2] > col.box(layout)[1][2]  # above the column


bpy = pytest.importorskip("bpy")


def test_the_scene_marks_every_referent_and_the_audit_fails_without_them(fresh_blend):
    from llmviz_blender import scene
    from llmviz_blender.scene import audit, render, walkthrough
    sc = bpy.context.scene
    render.configure(sc, resolution=(960, 540))
    coll = scene.build(scene.prepare("facts-gpt", prompt=PROMPT), logit_lens=True, scene=sc)
    m = scene.model_of(coll)
    scene.animate(coll, scene=sc, chapters=["facts"])
    t, shown = walkthrough.walk(m, sc, chapters=["facts"])
    picture = Frame(16 / 9)
    named = [s for s in t.steps if s.referents]
    assert len(named) >= 5
    for s in named:
        a = audit.audit(coll, sc, walkthrough.key_frame(s), s.framing(picture), [s.subject], s.referents, shown.layout)
        assert not a.problems and a.referents == len(s.referents), a.problems[:5]
    s = next(s for s in named if s.caption.startswith("GELU"))
    outlines = [o for o in coll.all_objects if o.get("llmviz_referent") and o.type == "MESH"]
    for o in outlines:
        o.animation_data_clear()
        o.hide_render = True  # unmarked
    a = audit.audit(coll, sc, walkthrough.key_frame(s), s.framing(picture), [s.subject], s.referents, shown.layout)
    assert any("is not outlined" in p for p in a.problems)
    sc.camera.animation_data_clear()
    sc.camera.constraints.clear()
    sc.camera.location = (0.0, 1e5, 0.0)  # looking away: off screen
    a = audit.audit(coll, sc, walkthrough.key_frame(s), s.framing(picture), [s.subject], s.referents, shown.layout)
    assert any("outside the picture's free region" in p for p in a.problems)
