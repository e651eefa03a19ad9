"""The keyed walkthrough and the stills, read back from Blender (scene.audit): at every step's key
frame of nano-gpt at 16:9 and 9:16 the focus lies inside the free region and every visible label is
legible, inside the picture, clear of the overlays and of the other labels; the stills likewise."""

import json

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")
from llmviz_blender import scene  # noqa: E402
from llmviz_blender.composition import Frame  # noqa: E402
from llmviz_blender.scene import audit, render, walkthrough  # noqa: E402


@pytest.mark.parametrize("resolution", [(1920, 1080), (1080, 1920)])
def test_every_step_is_framed_and_its_labels_read_cleanly(fresh_blend, resolution):
    sc = bpy.context.scene
    render.configure(sc, resolution=resolution)
    coll = scene.build("nano-gpt", scene=sc)
    m = scene.model_of(coll)
    scene.animate(coll, scene=sc)
    tl, shown = walkthrough.walk(m, sc)
    saved = json.loads(coll[walkthrough.STEPS])
    assert [s["key"] for s in saved] == [walkthrough.key_frame(s) for s in tl.steps]
    picture = Frame(resolution[0] / resolution[1])
    audits = []
    for step in tl.steps:
        focus = [step.subject]
        audits.append(audit.audit(coll, sc, walkthrough.key_frame(step), step.framing(picture),
                                  focus, step.referents, shown.layout))
    problems = [p for a in audits for p in a.problems]
    assert not problems, "\n".join(problems[:10])
    named = sum(len(s.referents) for s in tl.steps)  # close-ups, the chosen token, each pass's column and choice
    assert named >= 15 and sum(a.referents for a in audits) == named
    assert sum(a.labels for a in audits) > 3 * len(audits)  # labels are shown, not merely hidden
    assert np.median([a.span for a in audits]) > 0.7
    shots = [a for a, s in zip(audits, tl.steps) if s.motion_end > s.frame_start]  # not a caption's held part
    assert np.median([a.area for a in shots]) > FILL_MEDIAN[resolution]  # measured 44% / 46%


#: focus fill of the free area, no step back (37% and 39% before steps framed what their captions name)
FILL_MEDIAN = {(1920, 1080): 0.42, (1080, 1920): 0.44}


def test_the_walkthrough_keys_label_sizes_step_by_step(fresh_blend):
    """Labels are sized on screen per step: shrunk in close-ups, grown in wide shots, keyed (held
    between steps), so a saved file plays them without the add-on."""
    from llmviz_blender.scene.keys import find_fcurve
    sc = bpy.context.scene
    render.configure(sc, resolution=(1920, 1080))
    coll = scene.build("nano-gpt", scene=sc)
    scene.animate(coll, scene=sc)
    sized = [o for o in coll.all_objects if o.type == "FONT" and find_fcurve(o, "scale", 0) is not None
             and len(find_fcurve(o, "scale", 0).keyframe_points) > 1]
    assert len(sized) > 20
    name = bpy.data.objects["LLMViz nano-gpt tokens name"]
    sizes = []
    steps = walkthrough.plan(scene.model_of(coll), sc).steps
    for step in (steps[4], steps[1]):  # the tokens close-up, and the input seen wider
        sc.frame_set(walkthrough.key_frame(step))
        assert not name.hide_render
        sizes.append(name.scale[0] / name["llmviz_size"])
    assert sizes[0] < 0.5 and sizes[1] > 2 * sizes[0], sizes


@pytest.mark.parametrize("target", ["overview", "h0.head0", "h0.mlp"])
def test_stills_are_framed_and_their_labels_read_cleanly(fresh_blend, target):
    sc = bpy.context.scene
    render.configure(sc, resolution=(1920, 1080))
    coll = scene.build("nano-gpt", scene=sc)
    m = scene.model_of(coll)
    if target != "overview":
        scene.frame_target(coll, target, scene=sc)
    focus = [m.layout.bounds(m.layout.under(target))] if target.startswith("h") else [m.layout.bounds()]
    a = audit.audit(coll, sc, sc.frame_current, Frame(16 / 9, caption=False, title=False), focus)
    assert not a.problems, "\n".join(a.problems[:10])
    assert a.labels > 0


@pytest.mark.parametrize("target", ["layers", "overview"])
def test_gpt2_stills_are_square_on_and_fill_the_picture(fresh_blend, target):
    """GPT-2 small's layers and overview stills: seen square on (no receding diagonal), the layers
    wrapped to fit the frame, the subject inside the picture and filling it, every label clean."""
    from mathutils import Vector
    from llmviz_blender.composition.camera import corners
    sc = bpy.context.scene
    render.configure(sc, resolution=(960, 540))
    m = scene.prepare("gpt2-small", tokens=list(range(32)), aspect=16 / 9, camera=target)
    coll = scene.build(m, scene=sc)
    focus = m.layout.body()
    if target != "overview":
        scene.frame_target(coll, target, scene=sc)
        focus = m.layout.bounds(m.layout.under(target))
    assert m.layout.layers_per_column == 2  # 6 columns of 2 layers: 16:9, not a 12-layer strip
    a = audit.audit(coll, sc, sc.frame_current, Frame(16 / 9, caption=False, title=False), [focus])
    assert not a.problems, a.problems[:5]
    assert a.inside and a.span >= (0.85 if target == "layers" else 0.7) and a.area >= 0.5, (a.span, a.area)
    forward = sc.camera.matrix_world.to_3x3() @ Vector((0.0, 0.0, -1.0))
    assert forward.normalized().dot(Vector((0.0, 1.0, 0.0))) > 0.999  # square on
    cam = sc.camera
    far = max((cam.matrix_world.translation - Vector(c)).length for c in corners(*m.layout.bounds()))
    assert cam.data.clip_end >= far  # the long lens stands far back: nothing of the model is clipped
    assert cam.data.clip_start >= 1e-5 * float(np.linalg.norm(np.subtract(*m.layout.bounds())))  # the whole model's
