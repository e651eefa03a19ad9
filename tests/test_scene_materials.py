"""Scene building blocks against the bpy module: instancer, materials, ownership, tiny renders."""

import math

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from llmviz_blender.defaults import ALWAYS  # noqa: E402
from llmviz_blender.layout import Block, Dim  # noqa: E402
from llmviz_blender.scene import compat, datablocks, materials, nodes  # noqa: E402
from llmviz_blender.scene.boxes import add_boxes_object  # noqa: E402

HAS_GEOMETRY_SET = hasattr(bpy.types.Object, "evaluated_geometry")  # 4.3+


def _block(rows: int, cols: int) -> Block:
    """A weight block of rows x cols cells at the origin (for LOD boxes)."""
    return Block("w", "W", "weight", "param:w", "param", Dim("C", rows), Dim("C", cols), 0, cols, 1)


def _collection(name="LLMViz Test"):
    coll = datablocks.tag(bpy.data.collections.new(name))
    bpy.context.scene.collection.children.link(coll)
    return coll


def _row(n, reveal=None, kind="intermediate", name="LLMViz Block", coll=None):
    pos = np.zeros((n, 3), np.float32)
    pos[:, 0] = np.arange(n) * 1.5
    attrs = {"value": np.linspace(-2, 2, n, dtype=np.float32),
             "src_index": np.arange(n, dtype=np.int32) * 7}
    if reveal is not None:
        attrs["reveal"] = np.asarray(reveal, np.float32)
    return nodes.add_cell_object(name, pos, attrs, materials.kind_material(kind), coll or _collection())


def _instances(obj):
    """World matrices of the instances the depsgraph makes for `obj`, in point order."""
    dg = bpy.context.evaluated_depsgraph_get()
    return [np.array(i.matrix_world) for i in dg.object_instances
            if i.is_instance and i.parent and i.parent.original == obj]


def _instance_attrs(obj):
    geo = obj.evaluated_get(bpy.context.evaluated_depsgraph_get()).evaluated_geometry()
    cloud = geo.instances_pointcloud()
    out = {}
    for a in cloud.attributes:
        if a.domain == "POINT" and not a.name.startswith("."):
            arr = np.zeros(len(cloud.points), np.int32 if a.data_type == "INT" else np.float32)
            if a.data_type in ("FLOAT", "INT"):
                a.data.foreach_get("value", arr)
                out[a.name] = arr
    return out


def test_instance_count_equals_point_count(fresh_blend):
    obj = _row(37)
    mats = _instances(obj)
    assert len(mats) == 37
    positions = np.array([m[:3, 3] for m in mats])
    np.testing.assert_allclose(positions[:, 0], np.arange(37) * 1.5, atol=1e-5)
    ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    assert len(ev.data.vertices) == 0  # the points themselves are not drawn


@pytest.mark.skipif(not HAS_GEOMETRY_SET, reason="Object.evaluated_geometry needs Blender 4.3+")
def test_attributes_survive_to_instances(fresh_blend):
    obj = _row(10, reveal=np.full(10, ALWAYS))
    attrs = _instance_attrs(obj)
    for name in ("value", "src_index", "shade", "reveal", "state", "highlight"):
        assert name in attrs, name
    np.testing.assert_allclose(attrs["value"], np.linspace(-2, 2, 10), atol=1e-6)
    np.testing.assert_array_equal(attrs["src_index"], np.arange(10) * 7)
    np.testing.assert_allclose(attrs["shade"], np.linspace(-1, 1, 10), atol=1e-6)  # value / max|value|
    np.testing.assert_array_equal(attrs["state"], 1.0)
    np.testing.assert_array_equal(attrs["highlight"], 0.0)


def test_state_and_highlight_follow_frame(fresh_blend):
    scene = bpy.context.scene
    obj = _row(3, reveal=[5, 10, 15])

    def scales():
        return np.array([np.linalg.norm(m[:3, 0]) for m in _instances(obj)])

    scene.frame_set(9)
    np.testing.assert_allclose(scales(), [1.0, nodes.GHOST_SCALE, nodes.GHOST_SCALE], atol=1e-5)
    scene.frame_set(10)
    np.testing.assert_allclose(scales(), [1.0, 1.0, nodes.GHOST_SCALE], atol=1e-5)
    if HAS_GEOMETRY_SET:
        a = _instance_attrs(obj)
        np.testing.assert_array_equal(a["state"], [1, 1, 0])
        np.testing.assert_array_equal(a["highlight"], [1, 1, 0])  # 10 - 5 < 6 frames
        scene.frame_set(11)
        a = _instance_attrs(obj)
        np.testing.assert_array_equal(a["highlight"], [0, 1, 0])
    scene.frame_set(100)
    np.testing.assert_allclose(scales(), 1.0, atol=1e-5)
    assert obj.animation_data is None  # no drivers: the scene time does it


def test_missing_reveal_means_computed_and_cell_size_scales(fresh_blend):
    obj = _row(4)  # no reveal attribute at all
    compat.set_modifier_input(obj.modifiers[0], "Cell Size", 0.5)
    obj.update_tag()
    bpy.context.scene.frame_set(-50)
    scales = [np.linalg.norm(m[:3, 0]) for m in _instances(obj)]
    np.testing.assert_allclose(scales, 0.5, atol=1e-5)


def test_modifier_and_material_wiring(fresh_blend):
    obj = _row(2, kind="aggregate")
    mod = obj.modifiers[nodes.MODIFIER_NAME]
    assert mod.node_group == nodes.instancer_group()
    assert compat.get_modifier_input(mod, "Material") == materials.kind_material("aggregate")
    assert obj[nodes.DIM_PROP] == 0.0
    mat = materials.kind_material("aggregate")
    looked_up = {(n.attribute_type, n.attribute_name) for n in mat.node_tree.nodes
                 if n.bl_idname == "ShaderNodeAttribute"}
    assert looked_up == {("INSTANCER", "shade"), ("INSTANCER", "state"),
                         ("INSTANCER", "highlight"), ("OBJECT", "llmviz_dim")}
    assert tuple(mat.diffuse_color)[:3] == pytest.approx(materials.KIND_COLORS["aggregate"])
    with pytest.raises(ValueError):
        materials.kind_material("bias")


def test_shared_blocks_are_reused(fresh_blend):
    user_mat = bpy.data.materials.new("LLMViz Weight")  # a user's block with our name
    coll = _collection()
    for i in range(3):
        _row(3, kind="weight", name=f"LLMViz W{i}", coll=coll)
        materials.grid_material("weight")
    assert len([g for g in bpy.data.node_groups if g.name.startswith(nodes.INSTANCER_GROUP)]) == 1
    ours = datablocks.owned("materials")
    assert sorted(m.get(datablocks.KEY) for m in ours) == ["LLMViz Weight", "LLMViz Weight Grid"]
    assert materials.kind_material("weight") != user_mat
    assert not datablocks.is_owned(user_mat) and len(user_mat.keys()) == 0


def test_outdated_group_is_rebuilt_in_place(fresh_blend):
    group = nodes.instancer_group()
    group[datablocks.VERSION_KEY] = -1
    group.nodes.clear()
    again = nodes.instancer_group()
    assert again == group and len(group.nodes) > 10
    assert group[datablocks.VERSION_KEY] == nodes.INSTANCER_VERSION


def test_remove_all_owned_spares_user_data(fresh_blend):
    user_mesh = bpy.data.meshes.new("Cube")
    user_mat = bpy.data.materials.new("Material")
    user_mesh.materials.append(user_mat)
    user_obj = bpy.data.objects.new("Cube", user_mesh)
    bpy.context.scene.collection.objects.link(user_obj)
    orphan_user = bpy.data.meshes.new("LLMViz Not Ours")  # our prefix but no tag

    coll = _collection()
    _row(5, coll=coll)
    add_boxes_object("LLMViz Box", [_block(8, 12)], materials.grid_material("weight"), coll)
    datablocks.tag(bpy.data.images.new("LLMViz Orphan", 4, 4))
    datablocks.tag(bpy.data.actions.new("LLMViz Action"))
    assert len(list(datablocks.iter_owned())) > 8

    removed = datablocks.remove_all_owned()
    assert removed > 8
    assert list(datablocks.iter_owned()) == []
    assert bpy.data.objects.get("Cube") == user_obj and user_obj.data == user_mesh
    assert user_mesh.materials[0] == user_mat
    assert bpy.data.meshes.get("LLMViz Not Ours") == orphan_user
    assert not any(n.startswith("LLMViz") for n in bpy.data.node_groups.keys())


def test_lod_box_cell_uv(fresh_blend):
    obj = add_boxes_object("LLMViz Box", [_block(768, 3072)], materials.grid_material("weight"), _collection())
    me = obj.data
    assert len(me.vertices) == 8 and len(me.polygons) == 6
    uv = np.zeros(len(me.loops) * 2, np.float32)
    me.uv_layers["cell_uv"].data.foreach_get("uv", uv)
    uv = uv.reshape(-1, 2)
    gap = 0.5 * (1 - 1.0 / 1.5)
    assert uv[:, 0].max() == pytest.approx(3072 - gap) and uv[:, 1].max() == pytest.approx(768 - gap)
    assert uv.min() == pytest.approx(0.0)
    lo, hi = np.min([v.co for v in me.vertices], 0), np.max([v.co for v in me.vertices], 0)
    np.testing.assert_allclose(lo, [-0.5, -0.5, -767 * 1.5 - 0.5])
    np.testing.assert_allclose(hi, [3071 * 1.5 + 0.5, 0.5, 0.5])
    assert obj[nodes.PITCH_PROP] == 1.5 and obj[nodes.GAP_PROP] == pytest.approx(1 / 3)
    assert me.materials[0] == materials.grid_material("weight")


def test_eevee_engine_id():
    assert compat.eevee_engine_id() == ("BLENDER_EEVEE" if bpy.app.version >= (5, 0, 0)
                                        else "BLENDER_EEVEE_NEXT")


# --- tiny renders --------------------------------------------------------------------------

def _render_scene(engine, tmp_path, size=(96, 54)):
    """Weights, intermediates, aggregates left to right (all positive: kind colour) + an LOD box."""
    coll = _collection()
    for i, kind in enumerate(materials.KINDS):
        r, c = np.mgrid[0:4, 0:4]
        pos = np.stack([i * 8 + c.ravel() * 1.5, np.zeros(16), -r.ravel() * 1.5], 1)
        nodes.add_cell_object(f"LLMViz {kind}", pos, {"value": np.ones(16, np.float32)},
                              materials.kind_material(kind), coll)
    box = add_boxes_object("LLMViz Box", [_block(40, 200)], materials.grid_material("weight"), coll)
    box.location = (-2, 4, -6.5)
    cam = datablocks.tag(bpy.data.objects.new("LLMViz Cam", datablocks.tag(bpy.data.cameras.new("LLMViz Cam"))))
    coll.objects.link(cam)
    cam.data.type = "ORTHO"
    cam.data.ortho_scale = 24
    cam.location = (9.75, -30, -2.25)
    cam.rotation_euler = (math.radians(90), 0, 0)
    sun = datablocks.tag(bpy.data.objects.new("LLMViz Sun", datablocks.tag(bpy.data.lights.new("LLMViz Sun", "SUN"))))
    coll.objects.link(sun)
    sun.rotation_euler = (math.radians(60), 0, math.radians(-20))
    sun.data.energy = 3.0
    scene = bpy.context.scene
    scene.camera = cam
    scene.view_settings.view_transform = "Standard"  # AgX (the default) desaturates the kind colours
    r = scene.render
    r.resolution_x, r.resolution_y, r.resolution_percentage = *size, 100
    r.image_settings.file_format = "PNG"
    r.filepath = str(tmp_path / f"{engine}.png")
    if engine == "CYCLES":
        r.engine = "CYCLES"
        scene.cycles.device = "CPU"
        scene.cycles.samples = 2
        scene.cycles.use_denoising = False
    else:
        r.engine = "BLENDER_WORKBENCH"
        scene.display.shading.color_type = "MATERIAL"
    bpy.ops.render.render(write_still=True)
    return _load_png(r.filepath)


def _load_png(path):
    """RGB pixels as floats, top row first."""
    from llmviz_blender.scene.render import read_png
    return read_png(path)[..., :3]


@pytest.mark.parametrize("engine", ["CYCLES", "WORKBENCH"])
def test_render_shows_kind_colours(fresh_blend, tmp_path, engine):
    img = _render_scene(engine, tmp_path)
    assert img.std() > 0.02, "image is one flat colour"
    h, w, _ = img.shape
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    blue = (b > r + 0.1) & (b > g + 0.1)
    green = (g > r + 0.05) & (g > b + 0.05)
    orange = (r > b + 0.15) & (g > b + 0.05)
    top = slice(0, int(h * 0.72))  # the cell blocks; the LOD box lies below them
    thirds = [slice(0, w // 3), slice(w // 3, 2 * w // 3), slice(2 * w // 3, w)]
    for mask, cols, name in ((blue, thirds[0], "blue"), (green, thirds[1], "green"),
                             (orange, thirds[2], "orange")):
        assert mask[top, cols].mean() > 0.05, f"no {name} cells where expected ({engine})"
    assert blue[int(h * 0.8):].mean() > 0.3, "LOD box (weight grid) missing"
    assert not green[:, thirds[0]].any() and not blue[top, thirds[2]].any()


def test_keyframed_dim_fades_blocks(fresh_blend, tmp_path):
    """llmviz_dim is an ordinary animatable custom property read by the material."""
    scene = bpy.context.scene
    normal = _render_scene("CYCLES", tmp_path, size=(48, 27))
    for obj in datablocks.owned("objects"):
        if obj.type == "MESH":
            for frame, dim in ((1, 0.0), (2, 1.0)):
                obj[nodes.DIM_PROP] = dim
                obj.keyframe_insert(f'["{nodes.DIM_PROP}"]', frame=frame)
    scene.frame_set(2)
    bpy.ops.render.render(write_still=True)
    dimmed = _load_png(scene.render.filepath)
    assert dimmed.std() < 0.6 * normal.std()
    assert dimmed.max() < 0.6 * normal.max()


def test_grid_pixel_angle_follows_the_render_resolution(fresh_blend):
    from llmviz_blender import scene
    from llmviz_blender.scene import render
    sc = bpy.context.scene
    scene.build("gpt2-small", lod="boxes", labels=False, card=False, scene=sc)
    grid = materials.grid_material("weight").node_tree.nodes[materials.PIXEL_ANGLE_NODE].outputs[0]
    for height in (1080, 540):
        render.configure(sc, resolution=(height * 16 // 9, height))
        assert grid.default_value == pytest.approx(sc.camera.data.angle_y / height)
