"""Camera, lights and world: a rig that frames the model and reads well in Cycles and EEVEE."""

from __future__ import annotations

import math

import bpy
import numpy as np
from mathutils import Vector

from ..layout import Layout
from ..composition import Frame, Pose
from ..composition.theme import theme
from ..composition.camera import FOV_Y, framed, still_view
from . import compat, datablocks, label_keys, materials
from .compat import socket
from .labels import set_flat_color
from .shading import THEME_NODES

CAMERA = "LLMViz Camera"
AMBIENT_COLOR = (0.012, 0.012, 0.016)  # the faint ambient light (in both themes)
AMBIENT = 0.6
BACKDROP = "LLMViz Backdrop"  # the world's node that camera rays see
BODY_LABELS = 0.25  # a body's labels (Layout.body) are those centred within this share of its size round it


def bounds(layouts: list[Layout]) -> tuple[np.ndarray, np.ndarray]:
    lo = np.min([lay.bounds()[0] for lay in layouts], axis=0)
    hi = np.max([lay.bounds()[1] for lay in layouts], axis=0)
    return lo, hi


def text_bounds(collection: bpy.types.Collection, near=None) -> tuple[np.ndarray, np.ndarray] | None:
    """World box around the text objects of `collection` (cards and headings stand outside the model),
    those centred in the world box `near` only when given; captions and other overlays parented to
    the camera are not part of it."""
    texts = [o for o in collection.all_objects if o.type == "FONT" and o.parent is None]
    if not texts:
        return None
    bpy.context.view_layer.update()
    corners = np.array([[tuple(o.matrix_world @ Vector(c)) for c in o.bound_box] for o in texts])  # (N, 8, 3)
    if near is not None:
        centres = corners.mean(axis=1)
        corners = corners[np.all((centres >= near[0]) & (centres <= near[1]), axis=1)]
        if not len(corners):
            return None
    return corners.reshape(-1, 3).min(axis=0), corners.reshape(-1, 3).max(axis=0)


def aim(obj: bpy.types.Object, location, target) -> None:
    """Put `obj` at `location` looking at `target` (+Z up)."""
    obj.location = Vector([float(v) for v in location])
    direction = Vector([float(v) for v in target]) - obj.location
    obj.rotation_euler = direction.to_track_quat("-Z", "Y").to_euler()


def aspect(scene: bpy.types.Scene) -> float:
    """Width / height of the rendered picture."""
    r = scene.render
    return r.resolution_x * r.pixel_aspect_x / (r.resolution_y * r.pixel_aspect_y)


def frame(scene: bpy.types.Scene, cam: bpy.types.Object, lo, hi, direction=None,
          labels: bpy.types.Collection | None = None, room=(0.0, 0.0, 0.0), label: float = 0.0) -> Pose:
    """Aim `cam` at the box lo..hi so that it fills the picture (a still: no overlays) with `room`
    round it for labels `label` tall (composition.framed: sized by the labels as drawn, as a
    walkthrough step's), from `direction` or the view that suits the box's shape best
    (composition.compose; a box of a big model square on through a long lens: still_view); the
    labels of `labels` (a model's collection) are then shown only where that picture places them."""
    still = Frame(aspect(scene), caption=False, title=False)
    view = {"direction": direction} if direction is not None else still_view([(lo, hi)])
    pose, _ = framed((lo, hi), still, room, label, **view)
    set_pose(cam, pose)
    distance = float(np.linalg.norm(np.subtract(pose.location, pose.target)))
    cam.data.clip_end = max(cam.data.clip_end, 2.0 * distance + float(np.linalg.norm(np.subtract(hi, lo))))
    materials.sync_grid_pixel_angle(scene)
    if labels is not None:
        label_keys.show_still(labels, pose, still)
    return pose


def set_pose(cam: bpy.types.Object, pose: Pose) -> None:
    """Put `cam` where `pose` says (location, aim, field of view, lens shift)."""
    aim(cam, pose.location, pose.target)
    cam.data.angle_y = pose.fov_y
    cam.data.shift_x, cam.data.shift_y = pose.blender_shift()


def _world(scene: bpy.types.Scene) -> None:
    """Our world, unless the user already chose a world of their own: a faint ambient light, and
    behind the model (camera rays only) the theme's backdrop, set by `apply_theme`."""
    if scene.world is not None and not datablocks.is_owned(scene.world):
        return
    world = scene.world or datablocks.tag(bpy.data.worlds.new("LLMViz World"))
    tree = compat.ensure_node_tree(world)
    tree.nodes.clear()
    ambient = tree.nodes.new("ShaderNodeBackground")
    ambient.inputs["Color"].default_value = (*AMBIENT_COLOR, 1.0)
    ambient.inputs["Strength"].default_value = AMBIENT
    backdrop = tree.nodes.new("ShaderNodeBackground")
    backdrop.name = BACKDROP
    path = tree.nodes.new("ShaderNodeLightPath")
    mix = tree.nodes.new("ShaderNodeMixShader")
    out = tree.nodes.new("ShaderNodeOutputWorld")
    tree.links.new(path.outputs["Is Camera Ray"], mix.inputs["Fac"])
    tree.links.new(ambient.outputs["Background"], mix.inputs[1])
    tree.links.new(backdrop.outputs["Background"], mix.inputs[2])
    tree.links.new(mix.outputs["Shader"], out.inputs["Surface"])
    scene.world = world


def apply_theme(scene: bpy.types.Scene, name: str) -> None:
    """Colour the backdrop (our world only) and the text and overlay materials by the theme `name`
    (composition.theme); ValueError for an unknown name."""
    t = theme(name)
    world = scene.world
    if world is not None and datablocks.is_owned(world):
        world.color = t.background
        backdrop = world.node_tree.nodes.get(BACKDROP)
        if backdrop is not None:
            backdrop.inputs["Color"].default_value = (*t.background, 1.0)
    for role, hex_color in t.roles.items():
        set_flat_color(role, hex_color)
    trees = [m.node_tree for m in datablocks.owned("materials") if m.node_tree is not None]
    for tree in trees + list(datablocks.owned("node_groups")):
        for node in tree.nodes:
            if node.label in THEME_NODES:
                name, tone = THEME_NODES[node.label]
                value = (*getattr(t, tone), 1.0)
                sock = socket(node.inputs, name)
                if tuple(sock.default_value) != value:
                    sock.default_value = value


def _sun(name: str, rotation, energy: float, collection: bpy.types.Collection) -> None:
    light = datablocks.tag(bpy.data.lights.new(name, "SUN"))
    light.energy = energy
    light.angle = math.radians(10)
    obj = datablocks.tag(bpy.data.objects.new(name, light))
    obj.rotation_euler = rotation
    collection.objects.link(obj)


def add_camera(scene: bpy.types.Scene, lo, hi, collection: bpy.types.Collection, direction=None,
               labels: bpy.types.Collection | None = None, extent: float | None = None) -> bpy.types.Object:
    """Our camera framing the box lo..hi (see `frame`), made the scene camera; its clip range fits
    the model's size `extent` (default: the box's diagonal; a body's model reaches beyond it)."""
    cam = datablocks.tag(bpy.data.cameras.new(CAMERA))
    cam.sensor_fit = "VERTICAL"
    cam.angle_y = FOV_Y
    extent = extent or float(np.linalg.norm(np.subtract(hi, lo)))
    cam.clip_start = max(0.05, extent * 1e-5)
    cam.clip_end = extent * 10
    obj = datablocks.tag(bpy.data.objects.new(CAMERA, cam))
    collection.objects.link(obj)
    scene.camera = obj
    frame(scene, obj, lo, hi, direction, labels)
    return obj


def setup(scene: bpy.types.Scene, layouts: list[Layout], parent: bpy.types.Collection,
          direction=None, extra: list[tuple[np.ndarray, np.ndarray]] = ()) -> bpy.types.Object:
    """World, a key and a fill light, and the overview camera for `layouts` (and the world boxes
    `extra`, e.g. a comparison's insets) seen from `direction`."""
    rig = datablocks.tag(bpy.data.collections.new("LLMViz Rig"))
    parent.children.link(rig)
    _world(scene)
    _sun("LLMViz Key Light", (math.radians(50), math.radians(-20), math.radians(-30)), 3.0, rig)
    _sun("LLMViz Fill Light", (math.radians(110), 0.0, math.radians(140)), 0.8, rig)
    scene.view_settings.view_transform = "Standard"  # AgX washes the kind colours out
    lo, hi = overview_box(layouts, parent)
    whole = bounds(layouts)
    for a, b in extra:
        lo, hi = np.minimum(lo, a), np.maximum(hi, b)
        whole = np.minimum(whole[0], a), np.maximum(whole[1], b)
    extent = float(np.linalg.norm(np.subtract(np.maximum(hi, whole[1]), np.minimum(lo, whole[0]))))
    return add_camera(scene, lo, hi, rig, direction, labels=parent, extent=extent)


def overview_box(layouts: list[Layout], collection: bpy.types.Collection) -> tuple[np.ndarray, np.ndarray]:
    """World box of the whole picture: the models and their labels and cards; one model alone is
    framed by its body (Layout.body: vocabulary-wide blocks that dwarf it run off the edges, and the
    labels far along them with them), models compared at true scale whole."""
    near = None
    if len(layouts) == 1:
        lo, hi = layouts[0].body()
        if layouts[0].dwarfing():
            near = lo - BODY_LABELS * (hi - lo), hi + BODY_LABELS * (hi - lo)
    else:
        lo, hi = bounds(layouts)
    text = text_bounds(collection, near)
    if text is not None:
        lo, hi = np.minimum(lo, text[0]), np.maximum(hi, text[1])
    return lo, hi
