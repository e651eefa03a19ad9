"""Golden images: three small draft renders compared with the committed pictures in
tests/golden/<Blender version>/ (each Blender version rasterises a little differently; a pixel fails
above 4/255, an image above 1% failing pixels). After an intended change of the picture, look at the
new renders and update them: LLMVIZ_UPDATE_GOLDEN=1 pytest tests/test_golden.py (with each bpy of
`make test-matrix`)."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")
from llmviz_blender import scene  # noqa: E402
from llmviz_blender.scene import render, walkthrough  # noqa: E402

GOLDEN = Path(__file__).parent / "golden" / "{}.{}".format(*bpy.app.version[:2])
SIZE = (160, 90)
PIXEL, SHARE = 4 / 255, 0.01


def _overview(sc):
    scene.build("nano-gpt", scene=sc)
    return None


def _head_light(sc):
    coll = scene.build("nano-gpt", theme="light", scene=sc)
    scene.frame_target(coll, "h0.head0", scene=sc)
    return None


def _attention_step(sc):
    coll = scene.build("nano-gpt", scene=sc)
    scene.animate(coll, chapters=["attention"], scene=sc)
    return walkthrough.steps_of(coll)[2]["key"]  # one attention row, its formula on screen


PICTURES = {"overview": _overview, "head-light": _head_light, "attention-step": _attention_step}


@pytest.mark.parametrize("name", list(PICTURES))
def test_render_matches_golden(fresh_blend, tmp_path, name):
    sc = bpy.context.scene
    render.configure(sc, quality="draft", resolution=SIZE)
    frame = PICTURES[name](sc)
    path = render.still(sc, tmp_path / f"{name}.png", frame=frame)
    golden = GOLDEN / f"{name}.png"
    if os.environ.get("LLMVIZ_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, golden)
    if not golden.is_file():
        pytest.skip(f"no golden pictures for Blender {bpy.app.version_string} in {GOLDEN}")
    got, want = render.read_png(path), render.read_png(golden)
    assert got.shape == want.shape
    failing = np.abs(got - want).max(axis=-1) > PIXEL
    assert failing.mean() <= SHARE, f"{name}: {failing.mean():.1%} of pixels differ from {golden}"
