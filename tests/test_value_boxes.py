"""Value boxes: big blocks showing every cell's value shade from 8-bit textures (issue 13)."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from llmviz_blender import layout as lay
from llmviz_blender import model
from llmviz_blender.defaults import NEVER
from llmviz_blender.layout import texels
from llmviz_blender.timeline import reveal as reveal_order


@pytest.fixture(scope="module")
def nano():
    config = model.load_preset("nano-gpt")
    weights = model.default_weights(config)
    tokens = config.default_input
    ids = model.encode(config, tokens)
    return weights, model.forward(weights, ids), lay.model_layout(config, len(ids))


# --- pure: packing ---------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["h0.fc_weight", "wte", "h0.fc", "h1.head2.att_sm", "logits"])
def test_sampled_texels_decode_to_the_values(nano, key):
    weights, trace, layout = nano
    block = layout[key]
    data = texels.block_bytes(block, trace, weights)
    [tile] = texels.tiles(block.shape)
    image = texels.tile_texels(data, tile)
    assert image.shape == (block.rows.size, math.ceil(block.cols.size / 4), 4) and image.dtype == np.uint8
    rows, cols = block.cells()
    pick = np.random.default_rng(0).choice(len(rows), min(500, len(rows)), replace=False)
    r, c = rows[pick], cols[pick]
    x, y, ch = texels.texel_of(r, c, tile)
    got = texels.decode(image[y, x, ch])
    values = lay.block_values(block, trace, weights, r, c)
    want = lay.shade(lay.block_values(block, trace, weights))[pick]  # the block's own scale
    assert np.abs(got - want).max() <= texels.STEP / 2 + 1e-6
    scale = lay.values.shade_scale(lay.block_values(block, trace, weights))
    inside = np.abs(values) <= scale  # clipped outliers read back as +-scale
    # shade s = sqrt(|v| / scale): a shade step of d is a value step of at most (2 |s| + d) d scale
    bound = (2 * np.abs(want) + texels.STEP) * texels.STEP / 2 * scale + 1e-7
    assert (np.abs(texels.unshade(got, scale) - values) <= bound)[inside].all()
    if block.triangle:  # the masked half holds no cell
        assert np.isnan(texels.decode(image[0, 0, 1:2])).all()


def test_tiling_edge_is_exact():
    shape, limit = (7, 26), 5
    tiles = texels.tiles(shape, limit)  # 5 rows, 4 columns (a whole texel) at most
    assert len(tiles) == 2 * 7 and tiles[:2] == [texels.Tile(0, 0, 5, 4), texels.Tile(0, 4, 5, 4)]
    assert tiles[6] == texels.Tile(0, 24, 5, 2) and tiles[-1] == texels.Tile(5, 24, 2, 2)
    assert all(max(t.rows, t.cols) <= limit for t in tiles)  # cells: the draft's one texel per cell fits too
    data = np.random.default_rng(1).integers(1, 256, shape, dtype=np.uint8)
    seen = np.zeros(shape, int)
    for t in tiles:
        image = texels.tile_texels(data, t)
        rows, cols = np.mgrid[t.row0:t.row0 + t.rows, t.col0:t.col0 + t.cols]
        x, y, ch = texels.texel_of(rows, cols, t)
        assert np.array_equal(image[y, x, ch], data[rows, cols])
        seen[rows, cols] += 1
    assert (seen == 1).all()  # every cell in exactly one tile
    assert (texels.tile_texels(data, tiles[6])[:, 0, 2:] == texels.NO_CELL).all()  # padding past the last column
    # the edge: cell (5, 4) is texel (0, 0) channel 0 of tile (1, 1); cell (4, 3) the last of tile (0, 0)
    assert texels.texel_of(5, 4, tiles[8]) == (0, 0, 0) and texels.texel_of(4, 3, tiles[0]) == (0, 4, 3)


def test_draft_palette_is_the_colour_formula():
    """Draft colours come from the one formula (texels.cell_colour): a value box's texels by shade
    byte, and the palette the cubes' draft colours are looked up in holds any colour within 2/255."""
    kind, light, ghost = (0.3, 0.3, 1.0), 0.9, (0.05, 0.05, 0.06)
    palette = texels.draft_palette(kind, light, ghost)
    shade = texels.decode(np.arange(1, 256, dtype=np.uint8))  # byte 0: no cell
    grey = np.add(texels.GREY, np.subtract(kind, texels.GREY) * texels.NEUTRAL_TINT)
    dark = np.add(texels.DARK, np.subtract(kind, texels.DARK) * texels.DARK_TINT)
    pos, neg = np.clip(shade, 0, 1)[:, None], np.clip(-shade, 0, 1)[:, None]
    c = grey + (np.array(kind) - grey) * pos
    c = c + (dark - c) * neg
    want = texels.srgb_bytes(c * (light + texels.EMISSION))
    assert np.abs(palette[1:, :3].astype(int) - want).max() <= 1
    assert np.array_equal(palette[texels.NO_CELL, :3], texels.srgb_bytes(np.array(ghost) * light))
    assert palette[texels.ZERO + texels.LEVELS, 2] > palette[texels.ZERO, 2] > palette[texels.ZERO - texels.LEVELS, 2]
    image = texels.palette_image()
    rgb = np.random.default_rng(0).random((2000, 3)) ** 2
    u, v = texels.palette_uv(texels.NumpyOps(), *rgb.T)
    got = image[(v * image.shape[0]).astype(int), (u * image.shape[1]).astype(int), :3]
    assert np.abs(got.astype(int) - texels.srgb_bytes(rgb)).max() <= 2


def test_memory_estimate_and_refusal():
    config = model.load_preset("gpt2-xl")
    layout = lay.model_layout(config, 32)
    plan = lay.plan_lod(layout.blocks)
    need = texels.memory_estimate(config, layout, plan)
    assert need > 4 * model.param_count(config)
    with pytest.raises(lay.LayoutError, match=r"^GPT-2 XL with values needs ~\d+\.\d GiB of memory .* over the 4\.0 "
                       r"GiB value budget: raise it with --value-budget GB"):
        texels.check_budget(config, layout, plan)
    assert texels.check_budget(config, layout, plan, budget=need) == need
    small = model.load_preset("gpt2-small")
    layout = lay.model_layout(small, 32)
    assert texels.check_budget(small, layout, lay.plan_lod(layout.blocks)) < 2 * 2**30


def test_progress_keys_reveal_each_cell_at_its_frame(nano):
    weights, trace, layout = nano
    for key in ("h0.fc", "h1.head0.att", "logits", "h0.ln1.mean"):
        block = layout[key]
        reveal = np.full(block.n_cells, NEVER, np.float32)
        u = reveal_order.n_units(block)
        reveal_order.schedule(block, reveal, 0, 1, 10.0, 20.0)  # one unit first, a pause, the rest
        reveal_order.schedule(block, reveal, 1, u - 1, 40.0, 90.0)  # the last unit never
        frames, orders = reveal_order.progress_keys(block, reveal)
        rows, cols = block.cells()
        order = reveal_order.cell_order(block, rows, cols)
        for f in np.arange(0.0, 100.0, 0.25):
            shown = np.interp(f, frames, orders, left=orders[0]) + 1e-4 >= order
            assert np.array_equal(shown, reveal <= f + 1e-4), (key, f)


# --- Blender ---------------------------------------------------------------------------------

bpy = pytest.importorskip("bpy")

from llmviz_blender import scene as scene_api  # noqa: E402
from llmviz_blender.scene import materials, quality, render, session, value_boxes  # noqa: E402

SIZE = (96, 96)


def _front_camera(sc, block, r0: int, c0: int, cells: int) -> None:
    """A camera square-on to `cells` x `cells` cells of `block` from (r0, c0), filling the frame."""
    cam = sc.camera
    for c in list(cam.constraints):
        cam.constraints.remove(c)
    cam.animation_data_clear()
    x, y, z = block.origin
    half, distance = (cells - 1) / 2, 80.0
    cam.location = (x + (c0 + half) * lay.PITCH, y - distance, z - (r0 + half) * lay.PITCH)
    cam.rotation_euler = (math.pi / 2, 0.0, 0.0)
    cam.data.sensor_fit = "AUTO"
    cam.data.angle = 2 * math.atan(cells * lay.PITCH / 2 / (distance - lay.CELL / 2))
    cam.data.shift_x = cam.data.shift_y = 0.0
    cam.data.clip_start, cam.data.clip_end = 1.0, 200.0


def _render(sc, path, block, r0=0, c0=0, cells=12):
    render.configure(sc, quality="final", device="cpu", resolution=SIZE, samples=4)
    _front_camera(sc, block, r0, c0, cells)
    materials.sync_grid_pixel_angle(sc)
    return render.read_png(render.still(sc, path))[..., :3]


def _cells(img: np.ndarray, cells: int) -> np.ndarray:
    """The colour at each cell's centre (square-on picture of cells x cells)."""
    step = img.shape[0] // cells
    return img[step // 2::step, step // 2::step][:cells, :cells]


def _patches(img: np.ndarray, cells: int, group: int) -> np.ndarray:
    """Mean colour of each `group` x `group` patch of cells."""
    n = cells // group
    h = img.shape[0] // n
    return img[:n * h, :n * h].reshape(n, h, n, h, 3).mean(axis=(1, 3))


def test_value_box_renders_like_cubes(fresh_blend, tmp_path):
    key = "h0.fc_weight"
    images = {}
    for lod in ("cells", "boxes"):
        coll = scene_api.build("nano-gpt", lod=lod, labels=False, card=False)
        block = session.model_of(coll).layout[key]
        obj = next(o for o in coll.all_objects if o.get("llmviz_key") == key)
        assert value_boxes.is_value_box(obj) == (lod == "boxes")
        images[lod] = _render(bpy.context.scene, tmp_path / f"{lod}.png", block, 8, 4, 12)
    cubes, box = (_cells(images[k], 12) for k in ("cells", "boxes"))
    assert cubes.std(axis=(0, 1)).max() > 0.05  # the cells differ: values, not a flat colour
    assert np.abs(cubes - box).max() <= 0.06, np.abs(cubes - box).max()  # each cell's colour
    # patches of 3 x 3 cells: the same picture (the cubes' gaps are darker than the box's grid lines)
    cubes, box = (_patches(images[k], 12, 3).mean(-1).ravel() for k in ("cells", "boxes"))
    assert np.corrcoef(cubes, box)[0, 1] > 0.9


def test_tiled_value_box_renders_like_one_image(fresh_blend, tmp_path):
    m = scene_api.prepare("nano-gpt", lod="boxes")
    key = "h0.fc_weight"  # 192 x 48 cells
    block = m.layout[key]
    sc = bpy.context.scene
    pictures = []
    for limit in (texels.MAX_TEXTURE, 12):
        scene_api.build(m, labels=False, card=False)
        coll = bpy.data.collections[f"LLMViz {m.config.name}"]
        old = next(o for o in coll.all_objects if o.get("llmviz_key") == key)
        bpy.data.objects.remove(old)
        obj = value_boxes.add_value_box("LLMViz tiled", block, m.trace, m.weights, coll, max_texture=limit)
        tiles = texels.tiles(block.shape, limit)
        assert obj["llmviz_tiles"] == len(tiles) == (1 if limit > 200 else math.ceil(192 / 12) * math.ceil(48 / 12))
        if limit == 12:  # each image holds its tile's bytes
            data = texels.block_bytes(block, m.trace, m.weights)
            for tile, image in zip(tiles, value_boxes.images_of(obj)):
                px = np.empty(image.size[0] * image.size[1] * 4, np.float32)
                image.pixels.foreach_get(px)
                want = texels.tile_texels(data, tile)
                assert np.array_equal(np.rint(px * 255).astype(np.uint8).reshape(want.shape), want)
        # around a tile corner: rows 12 and columns 24 start new tiles
        pictures.append(_render(sc, tmp_path / f"{limit}.png", block, 2, 14, 12))
    one, tiled = (_cells(p, 12) for p in pictures)
    assert np.abs(one - tiled).max() <= 0.03, np.abs(one - tiled).max()


def test_draft_value_box_shows_each_cells_value(fresh_blend, tmp_path):
    """Draft (Workbench) draws a value box's cells in their own colours, as the formula gives them
    (texels.draft_palette of each cell's shade byte), not one flat colour; other renders drop the images."""
    coll = scene_api.build("nano-gpt", lod="boxes", labels=False, card=False)
    m = session.model_of(coll)
    sc = bpy.context.scene
    key, r0, c0, cells = "h0.fc_weight", 8, 4, 12
    block = m.layout[key]
    render.configure(sc, quality="draft", resolution=SIZE)
    _front_camera(sc, block, r0, c0, cells)
    img = render.read_png(render.still(sc, tmp_path / "draft.png"))[..., :3]
    got = np.rint(_cells(img, cells) * 255).astype(int)
    obj = next(o for o in coll.all_objects if o.get("llmviz_key") == key)
    [image] = [n.image for n in obj.material_slots[0].material.node_tree.nodes if n.name == materials.DRAFT_NODE]
    assert image is not None and image.size[:] == (block.cols.size, block.rows.size)
    light = quality.face_light(sc)[1][1]
    palette = texels.draft_palette(materials.KIND_COLORS[block.kind], light, materials.GHOST)
    data = texels.block_bytes(block, m.trace, m.weights)[r0:r0 + cells, c0:c0 + cells]
    want = palette[data][..., :3].astype(int)
    assert len(np.unique(want.reshape(-1, 3), axis=0)) > 20  # the cells differ: values, not a flat colour
    assert np.abs(got - want).max() <= 3, np.abs(got - want).max()
    render.configure(sc, quality="final", device="cpu", resolution=SIZE, samples=1)
    render.still(sc, tmp_path / "final.png")
    assert not [i for i in bpy.data.images if i.get(value_boxes.DRAFT_IMAGE)]


def test_refused_over_the_value_budget_before_anything_changes(fresh_blend):
    with pytest.raises(lay.LayoutError, match="^nano-gpt.* over the 1 MiB value budget: raise it with --value-budget"):
        scene_api.build("nano-gpt", value_budget=2**20)
    assert not bpy.data.objects


def test_boxes_reveal_as_computed(fresh_blend):
    coll = scene_api.build("nano-gpt", lod="boxes", labels=False, card=False)
    from llmviz_blender.scene import walkthrough
    tl, m = walkthrough.walk(session.model_of(coll), bpy.context.scene)  # with the generation's columns
    scene_api.animate(coll)
    sc = bpy.context.scene
    checked = 0
    for obj in coll.all_objects:
        if not value_boxes.is_value_box(obj):
            continue
        block = m.layout[obj["llmviz_key"]]
        reveal = tl.reveal[block.key]
        rows, cols = block.cells()
        order = reveal_order.cell_order(block, rows, cols)
        if block.kind == "weight":
            assert obj[value_boxes.PROGRESS] >= value_boxes.DONE
            continue
        finite = reveal[reveal < 1e8]
        for f in {int(finite.min()), int(np.median(finite)), int(finite.max()) + 1} if len(finite) else {1}:
            sc.frame_set(f)
            shown = obj[value_boxes.PROGRESS] + value_boxes.EPSILON >= order
            clear = np.abs(reveal - f) > 0.05  # float32 keys and EPSILON: a cell due within a twentieth of a frame may go either way
            assert np.array_equal(shown[clear], (reveal <= f)[clear]), (block.key, f)
            checked += 1
    assert checked >= 20


def test_blend_round_trip_without_the_add_on(fresh_blend, tmp_path):
    coll = scene_api.build("nano-gpt", lod="boxes", labels=False)
    sc = bpy.context.scene
    render.configure(sc, quality="final", device="cpu", resolution=(80, 45), samples=4)
    ours = render.read_png(render.still(sc, tmp_path / "ours.png"))[..., :3]
    blend = render.save_blend(tmp_path / "boxes.blend")
    assert all(img.packed_file is not None for img in bpy.data.images if img.get("llmviz_owned"))
    assert len(coll.all_objects) > 10
    code = ("import sys, bpy; bpy.ops.wm.open_mainfile(filepath=sys.argv[1]); s = bpy.context.scene; "
            "s.render.filepath = sys.argv[2]; bpy.ops.render.render(write_still=True)")
    r = subprocess.run([sys.executable, "-c", code, str(blend), str(tmp_path / "theirs.png")], capture_output=True,
                       text=True, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    theirs = render.read_png(tmp_path / "theirs.png")[..., :3]
    assert theirs.shape == ours.shape and theirs.std() > 0.01
    assert float((np.abs(theirs - ours).max(axis=-1) > 4 / 255).mean()) <= 0.01


def test_gpt2_shaped_model_from_a_hugging_face_folder_shows_every_value(fresh_blend, tmp_path):
    """A GPT-2-shaped model (GPT-2's vocabulary, so the LM head and logits exceed one texture) saved in
    Hugging Face layout: every block is cubes or a value box, none a kind-colour box."""
    config = model.load_preset("gpt2-small").replace(name="gpt2-mini", n_layer=1, n_head=2, n_embd=32,
                                                     block_size=64)
    model.save_weights(model.random_weights(config, seed=3), tmp_path / "model.safetensors", naming="hf")
    coll = scene_api.build(weights=str(tmp_path), tokens=list(range(32)), labels=False)
    m = session.model_of(coll)
    objs = {o["llmviz_key"]: o for o in coll.all_objects if "llmviz_key" in o}
    assert set(objs) == {b.key for b in m.layout.blocks}
    assert not [o for o in coll.all_objects if "llmviz_blocks" in o]  # no kind-colour boxes
    assert objs["lm_head"]["llmviz_tiles"] == math.ceil(config.vocab_size / texels.MAX_TEXTURE)
    assert value_boxes.is_value_box(objs["wte"]) and value_boxes.is_value_box(objs["probs"])


def test_cli_refuses_gpt2_xl_by_value_before_loading_it(tmp_path):
    script = __import__("pathlib").Path(__file__).resolve().parents[1] / "scripts" / "render.py"
    r = subprocess.run([sys.executable, str(script), "--preset", "gpt2-xl", "--weights", "random", "--still",
                        str(tmp_path / "x.png")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and not (tmp_path / "x.png").exists()
    [line] = [x for x in r.stderr.splitlines() if x.strip()]
    assert "GPT-2 XL with values needs ~" in line and "--value-budget GB" in line


def test_a_draft_render_counts_its_colour_images_in_the_value_budget(tmp_path):
    small = model.load_preset("gpt2-small")
    layout = lay.model_layout(small, 32)
    plan = lay.plan_lod(layout.blocks)
    final, draft = (texels.memory_estimate(small, layout, plan, d) for d in (False, True))
    assert draft - final == texels.DRAFT_BYTES_PER_CELL * texels.value_cells(layout, plan)
    assert texels.check_budget(small, layout, plan) == final  # a final render fits the default budget
    with pytest.raises(lay.LayoutError, match=r"^GPT-2 small with values needs ~\d+\.\d GiB of memory \(weights, value "
                       r"textures, cubes, draft colour images\), over the 4\.0 GiB value budget"):
        texels.check_budget(small, layout, plan, draft=True)
    script = __import__("pathlib").Path(__file__).resolve().parents[1] / "scripts" / "render.py"
    r = subprocess.run([sys.executable, str(script), "--preset", "gpt2-small", "--weights", "random", "--quality",
                        "draft", "--still", str(tmp_path / "x.png")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and not (tmp_path / "x.png").exists()
    [line] = [x for x in r.stderr.splitlines() if x.strip()]
    assert "draft colour images" in line and "--value-budget GB" in line
