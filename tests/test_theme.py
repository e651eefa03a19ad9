"""Themes: dark for video, light for slides and papers; the same kind colours, different paper."""

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")
from llmviz_blender import scene  # noqa: E402
from llmviz_blender.composition.theme import THEMES  # noqa: E402
from llmviz_blender.layout import LayoutError  # noqa: E402
from llmviz_blender.scene import render  # noqa: E402
from llmviz_blender.scene.labels import _linear  # noqa: E402


@pytest.mark.parametrize("name", list(THEMES))
def test_theme_colours_the_backdrop_and_the_text(fresh_blend, tmp_path, name):
    sc = bpy.context.scene
    render.configure(sc, engine="workbench", samples=1, resolution=(96, 54))
    coll = scene.build("nano-gpt", lod="boxes", theme=name, scene=sc)
    t = THEMES[name]
    assert coll["llmviz_theme"] == name
    backdrop = sc.world.node_tree.nodes["LLMViz Backdrop"].inputs["Color"].default_value
    np.testing.assert_allclose(backdrop[:3], t.background, atol=1e-6)
    text = bpy.data.materials["LLMViz Flat text"]
    np.testing.assert_allclose(text.diffuse_color[:3], _linear(t.roles["text"])[:3], atol=1e-6)
    path = render.still(sc, tmp_path / "t.png")
    corner = render.read_png(path)[:4, :4, :3].mean(axis=(0, 1))  # the paper in a corner, sRGB
    assert (corner.mean() > 0.8) == (name == "light") and (corner.mean() < 0.2) == (name == "dark")


def test_switching_theme_recolours_in_place(fresh_blend):
    sc = bpy.context.scene
    scene.build("nano-gpt", lod="boxes", theme="dark", scene=sc)
    scene.build("nano-gpt", lod="boxes", theme="light", scene=sc)
    section = bpy.data.materials["LLMViz Flat section"]
    np.testing.assert_allclose(section.diffuse_color[:3], _linear(THEMES["light"].roles["section"])[:3], atol=1e-6)


def test_unknown_theme_is_refused_before_anything_changes(fresh_blend):
    before = len(bpy.data.objects)
    with pytest.raises(LayoutError, match="theme must be one of dark, light"):
        scene.build("nano-gpt", theme="sepia")
    with pytest.raises(LayoutError, match="theme"):
        scene.build_comparison(["nano-gpt"], theme="sepia")
    assert len(bpy.data.objects) == before


def test_the_walkthrough_overlays_follow_the_theme(fresh_blend):
    sc = bpy.context.scene
    coll = scene.build("nano-gpt", lod="boxes", theme="light", scene=sc)
    scene.animate(coll, chapters=["attention"], scene=sc)  # the caption bar and formula plates are made here
    light = THEMES["light"].roles
    for role in ("bar", "formula", "text"):
        mat = bpy.data.materials[f"LLMViz Flat {role}"]
        np.testing.assert_allclose(mat.diffuse_color[:3], _linear(light[role])[:3], atol=1e-6)


def _tones(tree) -> dict[str, tuple]:
    from llmviz_blender.scene.compat import socket
    from llmviz_blender.scene.shading import THEME_NODES
    return {node.label: tuple(socket(node.inputs, THEME_NODES[node.label][0]).default_value)[:3]
            for node in tree.nodes if node.label in THEME_NODES}


def test_ghost_and_dim_tones_fade_toward_the_theme_s_backdrop(fresh_blend, tmp_path):
    """Cells not yet computed and blocks out of focus take the theme's tones, in the materials (Cycles,
    EEVEE) and the draft's node group (Workbench), and follow a change of theme."""
    from llmviz_blender.scene import nodes, quality  # noqa: F401
    sc = bpy.context.scene
    render.configure(sc, quality="draft", resolution=(96, 54))
    for name in ("light", "dark"):
        coll = scene.build("nano-gpt", theme=name, scene=sc)
        scene.animate(coll, chapters=["embedding"], scene=sc)
        t = THEMES[name]
        trees = [bpy.data.materials["LLMViz Intermediate"].node_tree,
                 bpy.data.materials["LLMViz Weight Grid"].node_tree if "LLMViz Weight Grid" in bpy.data.materials
                 else None, bpy.data.node_groups[nodes.INSTANCER_GROUP]]
        for tree in filter(None, trees):
            tones = _tones(tree)
            assert tones, tree.name
            for label, value in tones.items():
                expected = t.ghost if label.endswith("Ghost") else t.dim
                np.testing.assert_allclose(value, expected, atol=1e-6, err_msg=f"{tree.name} {label}")
    light, dark = THEMES["light"], THEMES["dark"]
    assert np.mean(light.ghost) > 0.3 > np.mean(dark.ghost)  # faint on paper, dark on black
    assert np.mean(light.dim) > np.mean(light.ghost) and np.mean(dark.dim) < 0.2
