"""Render qualities: draft (Workbench, colours from the draft palette and value textures) looks like final (Cycles)."""

from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from llmviz_blender import scene as scene_api  # noqa: E402
from llmviz_blender.defaults import QUALITIES, QUALITY_DEFAULTS  # noqa: E402
from llmviz_blender.layout import texels  # noqa: E402
from llmviz_blender.scene import environment, materials, nodes, quality, render  # noqa: E402

GLOWING = "h0.head0.k"  # the test frame: half of this block computed, its newest cells glowing
SIZE = (160, 90)
#: Draft vs final, mean colour of a block's picture rectangle (display values 0..1): every block
#: within MAX_ERROR on every channel, MEAN_ERROR on average. Draft has no cast shadows: the heads
#: stacked behind head 0 are the worst blocks (0.083 on Blender 4.2's Cycles, 0.07 on 4.5).
MAX_ERROR = 0.09
MEAN_ERROR = 0.035


@pytest.fixture
def walk(fresh_blend):
    coll = scene_api.build("nano-gpt")
    scene_api.animate(coll)
    return coll


def reveal(coll, key: str) -> np.ndarray:
    obj = next(o for o in coll.all_objects if o.get("llmviz_key") == key)
    out = np.empty(len(obj.data.vertices), np.float32)
    obj.data.attributes["reveal"].data.foreach_get("value", out)
    return out


def mid_frame(coll) -> int:
    """A frame in the middle of computing GLOWING (the walkthrough's focus then: dimming is on)."""
    return int(np.median(reveal(coll, GLOWING))) + 2


def pixels(path) -> np.ndarray:
    """(H, W, 3) floats of a PNG, top row first."""
    return render.read_png(path)[..., :3]


def block_rects(coll, sc, size) -> dict[str, tuple[int, int, int, int]]:
    """Each visible block's bounding box projected through the camera: (x0, y0, x1, y1) pixels."""
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    w, h = size
    out = {}
    for o in coll.all_objects:
        if "llmviz_key" not in o or o.hide_render:
            continue
        co = np.empty(3 * len(o.data.vertices), np.float32)
        o.data.vertices.foreach_get("co", co)
        lo, hi = co.reshape(-1, 3).min(0) - 0.5, co.reshape(-1, 3).max(0) + 0.5
        pts = np.array([world_to_camera_view(sc, sc.camera, o.matrix_world @ Vector((x, y, z)))
                        for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        if (pts[:, 2] <= 0).any():
            continue
        x0, x1 = np.clip([pts[:, 0].min() * w, pts[:, 0].max() * w], 0, w).astype(int)
        y0, y1 = np.clip([(1 - pts[:, 1].max()) * h, (1 - pts[:, 1].min()) * h], 0, h).astype(int)
        if x1 - x0 >= 3 and y1 - y0 >= 3:
            out[o["llmviz_key"]] = (x0, y0, x1, y1)
    return out


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_draft_matches_final_block_by_block(fresh_blend, tmp_path, theme):
    walk = scene_api.build("nano-gpt", theme=theme)
    scene_api.animate(walk)
    sc = bpy.context.scene
    frame = mid_frame(walk)
    images = {}
    for q in QUALITIES:
        render.configure(sc, quality=q, device="cpu", resolution=SIZE)
        images[q] = pixels(render.still(sc, tmp_path / f"{q}.png", frame=frame))
    sc.frame_set(frame)
    rects = block_rects(walk, sc, SIZE)
    assert len(rects) >= 10
    errors, spread = {}, {}
    for key, (x0, y0, x1, y1) in rects.items():
        d, f = (images[q][y0:y1, x0:x1].reshape(-1, 3) for q in ("draft", "final"))
        errors[key] = float(np.abs(d.mean(0) - f.mean(0)).max())
        spread[key] = (float(d.std(0).mean()), float(f.std(0).mean()))
    worst = max(errors, key=errors.get)
    assert errors[worst] <= MAX_ERROR, (worst, errors[worst])
    assert np.mean(list(errors.values())) <= MEAN_ERROR
    # value shading, not flat kind colours: the cells of the biggest block differ as much as in final
    d_std, f_std = spread[max(rects, key=lambda k: (rects[k][2] - rects[k][0]) * (rects[k][3] - rects[k][1]))]
    assert d_std > 0.5 * f_std > 0


def test_draft_colours_glow_and_ghosts(walk):
    """The draft colours (UV map into the palette): cells being computed glow, cells not yet computed
    are dark and small."""
    sc = bpy.context.scene
    render.configure(sc, quality="draft", resolution=SIZE)
    frame = mid_frame(walk)
    sc.frame_set(frame)
    obj = next(o for o in walk.all_objects if o.get("llmviz_key") == GLOWING)
    mesh = obj.evaluated_get(bpy.context.evaluated_depsgraph_get()).data
    uv = np.empty(2 * len(mesh.loops), np.float32)
    mesh.attributes[nodes.DRAFT_UV].data.foreach_get("vector", uv)
    palette = texels.palette_image()
    h, w, _ = palette.shape
    uv = uv.reshape(-1, 2)
    corners = palette[(uv[:, 1] * h).astype(int), (uv[:, 0] * w).astype(int), :3] / 255.0
    brightness = corners.reshape(-1, 24, 3).mean(axis=(1, 2))  # per cube, in cell order
    since = frame - reveal(walk, GLOWING)
    glowing, done, ghost = since < nodes.HIGHLIGHT_FRAMES, since >= nodes.HIGHLIGHT_FRAMES, since < 0
    glowing &= ~ghost
    assert glowing.any() and done.any() and ghost.any()
    assert brightness[glowing].mean() > 1.5 * brightness[done].mean() > 3 * brightness[ghost].mean()
    shade = np.empty(len(obj.data.vertices), np.float32)
    obj.data.attributes["shade"].data.foreach_get("value", shade)
    assert np.corrcoef(shade[done], brightness[done])[0, 1] > 0.9  # each cell shaded by its value
    co = np.empty(3 * len(mesh.vertices), np.float32)
    mesh.vertices.foreach_get("co", co)
    edge = np.ptp(co.reshape(-1, 8, 3), axis=1).max(axis=1)
    np.testing.assert_allclose(edge[ghost], nodes.GHOST_SCALE, rtol=1e-4)
    np.testing.assert_allclose(edge[~ghost], 1.0, rtol=1e-4)


@pytest.mark.parametrize("location", [(6.0, -9.0, 5.0), (-7.0, 8.0, -4.0), (1.5, -10.0, 0.2)])
def test_draft_draws_the_faces_the_camera_sees(fresh_blend, tmp_path, location):
    """Draft renders keep the three cube faces toward the camera (mirrored per cell): from any side,
    also level with a row or a column of cells, the cells cover what Cycles' whole cubes cover."""
    sc = bpy.context.scene
    grid = np.stack(np.meshgrid(np.arange(3), np.arange(3), [0]), -1).reshape(-1, 3) * 1.5
    nodes.add_cell_object("cells", grid.astype(np.float32), {"value": np.ones(9, np.float32)},
                          materials.kind_material("intermediate"), sc.collection)
    cam = bpy.data.objects.new("cam", bpy.data.cameras.new("cam"))
    sc.collection.objects.link(cam)
    sc.camera = cam
    environment.aim(cam, location, (1.5, 1.5, 0.0))
    masks = {}
    for q in QUALITIES:
        render.configure(sc, quality=q, device="cpu", resolution=(64, 64))
        masks[q] = pixels(render.still(sc, tmp_path / f"{q}.png")).max(-1) > 0.03
    overlap = (masks["draft"] & masks["final"]).sum() / (masks["draft"] | masks["final"]).sum()
    assert masks["final"].mean() > 0.05 and overlap > 0.9, overlap


def test_quality_settings(fresh_blend):
    sc = bpy.context.scene
    assert render.configure(sc, quality="draft", resolution=(64, 36)) == "Workbench draft, anti-aliasing 5"
    shading = sc.display.shading
    assert (sc.render.engine, shading.color_type, shading.light) == ("BLENDER_WORKBENCH", "TEXTURE", "FLAT")
    cells = materials.kind_material("weight")
    text = render.configure(sc, quality="final", device="cpu")
    assert text == f"Cycles final CPU, {QUALITY_DEFAULTS['final']['samples']} samples"
    c = sc.cycles
    assert c.use_denoising and c.denoiser == "OPENIMAGEDENOISE" and c.use_adaptive_sampling
    assert (c.max_bounces, c.diffuse_bounces, c.glossy_bounces) == (0, 0, 0)  # direct light only
    assert (c.denoising_input_passes, c.denoising_prefilter) == ("RGB_ALBEDO_NORMAL", "FAST")
    assert not c.use_light_tree and sc.render.use_persistent_data
    assert cells.cycles.emission_sampling == "NONE"  # glowing cells are no lamps
    assert render.configure(sc, quality="final", engine="cycles", samples=3, device="cpu").endswith(", 3 samples")
    assert render.configure(sc, engine="workbench") == "Workbench, anti-aliasing 5"  # plain: no quality


@pytest.mark.parametrize("kwargs, message", [
    ({"quality": "best"}, "quality must be one of draft, final, got 'best'"),
    ({"quality": "draft", "engine": "cycles"}, "quality draft renders with workbench, not cycles"),
    ({"quality": "final", "engine": "workbench"}, "quality final renders with cycles or eevee, not workbench"),
])
def test_bad_quality_is_one_line_and_changes_nothing(fresh_blend, kwargs, message):
    sc = bpy.context.scene
    before = sc.render.engine
    with pytest.raises(render.RenderSettingsError) as err:
        render.configure(sc, **kwargs)
    assert str(err.value) == message
    assert sc.render.engine == before


def test_draft_state_is_plain_data(walk, tmp_path):
    """No drivers or handlers: the switch and lights are node values, Dim is keyed like llmviz_dim."""
    sc = bpy.context.scene
    render.configure(sc, quality="draft", resolution=(64, 36))
    group = nodes.instancer_group()
    assert group.nodes[nodes.DRAFT_NODE].boolean
    obj = next(o for o in walk.all_objects if o.get("llmviz_key") == "h0.head0.v")
    mod = obj.modifiers[nodes.MODIFIER_NAME]
    ident = render.compat.interface_identifier(group, "Dim")
    dims = set()
    for frame in range(1, sc.frame_end, 331):
        sc.frame_set(frame)
        assert mod[ident] == pytest.approx(obj[nodes.DIM_PROP], abs=1e-6)
        dims.add(round(obj[nodes.DIM_PROP], 3))
    assert len(dims) > 1
    ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get()).data
    assert ev.uv_layers.active.name == nodes.DRAFT_UV
    assert all(not (getattr(i, "animation_data", None) and i.animation_data.drivers)
               for c in (bpy.data.objects, bpy.data.node_groups, bpy.data.materials, bpy.data.scenes) for i in c)
    render.configure(sc, quality="final", device="cpu")
    assert not group.nodes[nodes.DRAFT_NODE].boolean
    assert quality.quality_of(sc) == "final"
