"""Render qualities: ``draft`` (Workbench, fast on a CPU) and ``final`` (Cycles tuned for this subject).

draft shows what final shows: every cell's value shade, the reveal, the glow of the cells being
computed, focus dimming, captions and labels on the world's background. Workbench draws in its
Texture colour mode: each material's active Image Texture node through the mesh's active UV map,
objects without either in their material's colour (text, caption plates). The instancer's draft
branch (nodes.py) realises the cubes and points each face corner into the draft palette at the
cell's colour (the material's colour recipe, shading.cell_colour, lit by the scene's sun lights
baked into the node group). Value boxes show draft images, one texel per cell pre-shaded by the
same recipe (scene.value_boxes.make_draft_images: made here only for draft renders, dropped for
others); they show every value from the start, undimmed (a static texture cannot follow the
reveal or the dimming). LOD boxes show their grid fill, lit like a front face, without lines.

:func:`prepare` brings the file in line with the scene's quality right before a render or a save
(the renders in scene.render call it): the group's draft switch, the baked lights, the draft
``Dim`` input keyed as a copy of each block's ``llmviz_dim`` keys, the value boxes' draft images,
the grid materials' colours. Everything is plain data (keys, node values, images, material
colours): a saved .blend renders the same without the add-on, with no drivers or handlers.

final: Cycles with few samples and OpenImageDenoise (fast prefilter and quality), adaptive
sampling, direct light only (the look is flat: emission and two suns), no light tree, emissive
materials not sampled as lights (100k glowing cubes and the text are no lamps: -20% time),
persistent data.
"""

from __future__ import annotations

import math

import bpy
import numpy as np
from mathutils import Vector

from ..defaults import QUALITIES, QUALITY_DEFAULTS, QUALITY_ENGINES  # noqa: F401 (re-exported)
from . import compat, datablocks, nodes, value_boxes
from .keys import fcurve, find_fcurve
from .materials import grid_fill
from .shading import GHOST, GHOST_NODE

PROP = "llmviz_quality"
ADAPTIVE_THRESHOLD = 0.05
#: Direct light only: the look is emission plus two suns; a bounce cost a third of the samples' time.
BOUNCES = {"max_bounces": 0, "diffuse_bounces": 0, "glossy_bounces": 0, "transmission_bounces": 0,
           "volume_bounces": 0, "transparent_max_bounces": 2}
#: OIDN with albedo and normal; the FAST prefilter and quality cost ~4 s of CPU at 1920x1080
#: (ACCURATE + HIGH: ~40 s) and keep text edges, which the albedo and normal passes carry.
DENOISE = {"denoiser": "OPENIMAGEDENOISE", "denoising_input_passes": "RGB_ALBEDO_NORMAL",
           "denoising_prefilter": "FAST", "denoising_quality": "FAST"}
DIFFUSE = 1.0  # share of sunlight the surface (materials.bsdf: a Diffuse BSDF) sends back diffusely
_DIM_PATH = f'["{nodes.DIM_PROP}"]'


def apply(scene: bpy.types.Scene, quality: str, engine: str) -> None:
    """Quality-specific settings for `engine` ("cycles" | "eevee" | "workbench"); remembered on the
    scene for :func:`prepare`."""
    scene[PROP] = quality
    if engine == "workbench":
        shading = scene.display.shading
        shading.light = "FLAT"
        shading.color_type = "TEXTURE"  # the active Image Texture node through the active UV map
        shading.show_shadows = shading.show_cavity = shading.show_object_outline = False
        shading.show_xray = shading.show_specular_highlight = False
        shading.show_backface_culling = False  # the draft cubes keep only faces toward the camera (nodes.py)
    elif engine == "cycles":
        c = scene.cycles
        c.use_adaptive_sampling, c.adaptive_threshold = True, ADAPTIVE_THRESHOLD
        c.use_denoising = True
        for key, value in {**DENOISE, **BOUNCES}.items():
            if hasattr(c, key):  # denoising_quality: 4.1+
                setattr(c, key, value)
        c.use_light_tree = False  # two suns: the tree costs ~2 s of CPU a frame to build and walk
        c.caustics_reflective = c.caustics_refractive = False
        scene.render.use_persistent_data = True
    prepare(scene)


def quality_of(scene: bpy.types.Scene) -> str | None:
    """The quality the scene was configured for, or None."""
    q = scene.get(PROP)
    return q if q in QUALITIES else None


def prepare(scene: bpy.types.Scene) -> None:
    """Bring the file's draft state in line with `scene`'s quality (see the module docstring)."""
    draft = quality_of(scene) == "draft" and scene.render.engine == "BLENDER_WORKBENCH"
    if quality_of(scene) == "final" and scene.render.engine == "CYCLES":
        for mat in datablocks.owned("materials"):
            if mat.cycles.emission_sampling != "NONE":
                mat.cycles.emission_sampling = "NONE"  # cells and text glow, they light nothing
    group = datablocks.find_shared("node_groups", nodes.INSTANCER_GROUP)
    if group is not None:  # none when every block is a box (large models)
        group = nodes.instancer_group()  # rebuilt if outdated
        switch = group.nodes[nodes.DRAFT_NODE]
        if switch.boolean != draft:
            switch.boolean = draft
    if not draft:
        value_boxes.drop_draft_images()
        return
    plus, minus = face_light(scene)
    if group is not None:
        for name, vector in zip(nodes.LIGHT_NODES, (plus, minus)):
            _set(group.nodes[name], "vector", vector)
    ghost = _ghost()
    for mat in datablocks.owned("materials"):
        if mat.name.endswith(" Grid") and "llmviz_kind" in mat:
            _set(mat, "diffuse_color", (*(min(1.0, c * minus[1]) for c in grid_fill(mat["llmviz_kind"])), 1.0))
    for obj in scene.objects:
        if not datablocks.is_owned(obj):
            continue
        if value_boxes.is_value_box(obj):
            value_boxes.make_draft_images(obj, minus[1], ghost)
        mod = obj.modifiers.get(nodes.MODIFIER_NAME)
        if mod is not None and mod.type == "NODES" and mod.node_group == group:
            _copy_dim(obj, mod)
            material = compat.get_modifier_input(mod, "Material")
            colour = compat.interface_identifier(group, "Colour")
            if material is not None and not np.allclose(tuple(mod[colour]), tuple(material.diffuse_color)):
                mod[colour] = tuple(material.diffuse_color)  # blocks made before the draft input existed


def _ghost() -> tuple[float, ...]:
    """The theme's ghost tone, as the value boxes' shader has it (scene.environment sets it)."""
    group = datablocks.find_shared("node_groups", value_boxes.BOX_GROUP)
    node = next((n for n in group.nodes if n.label == GHOST_NODE), None) if group is not None else None
    return tuple(compat.socket(node.inputs, "A_Color").default_value) if node is not None else GHOST


def _set(owner, attr: str, value) -> None:
    """Assign only a changed value: every assignment makes Blender evaluate the users again."""
    if not np.allclose(tuple(getattr(owner, attr)), value, rtol=0.0, atol=1e-6):
        setattr(owner, attr, value)


def face_light(scene: bpy.types.Scene) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Light reaching faces that face +X, +Y, +Z and -X, -Y, -Z, as a factor on the base colour:
    the scene's sun lights on a Lambert surface (times :data:`DIFFUSE`) plus the world's ambient."""
    plus, minus = np.zeros(3), np.zeros(3)
    for obj in scene.objects:
        if obj.type != "LIGHT" or obj.data.type != "SUN" or obj.hide_render:
            continue
        towards = (obj.matrix_world.to_3x3() @ Vector((0.0, 0.0, 1.0))).normalized()
        power = obj.data.energy * float(np.mean(obj.data.color)) * DIFFUSE / math.pi
        d = np.array(towards)
        plus += power * np.maximum(d, 0.0)
        minus += power * np.maximum(-d, 0.0)
    ambient = _ambient(scene.world)
    return tuple(plus + ambient), tuple(minus + ambient)  # type: ignore[return-value]


def _ambient(world: bpy.types.World | None) -> float:
    if world is None:
        return 0.0
    bg = world.node_tree.nodes.get("Background") if world.node_tree is not None else None
    if bg is None:
        return float(np.mean(world.color))
    colour = compat.socket(bg.inputs, "Color").default_value
    return float(np.mean(colour[:3])) * float(compat.socket(bg.inputs, "Strength").default_value)


def _copy_dim(obj: bpy.types.Object, mod: bpy.types.NodesModifier) -> None:
    """The modifier's Dim input follows the object's ``llmviz_dim`` (its keys copied, or its value)."""
    ident = compat.interface_identifier(mod.node_group, "Dim")
    path = f'modifiers["{mod.name}"]["{ident}"]'
    source = find_fcurve(obj, _DIM_PATH)
    target = find_fcurve(obj, path)
    if source is None:
        if target is not None and len(target.keyframe_points):
            target.keyframe_points.clear()
        if mod[ident] != float(obj.get(nodes.DIM_PROP, 0.0)):
            mod[ident] = float(obj.get(nodes.DIM_PROP, 0.0))
        return
    n = len(source.keyframe_points)
    bufs = {attr: np.empty(2 * n, np.float32) for attr in ("co", "handle_left", "handle_right")}
    for attr, buf in bufs.items():
        source.keyframe_points.foreach_get(attr, buf)
    if target is not None and len(target.keyframe_points) == n:
        co = np.empty(2 * n, np.float32)
        target.keyframe_points.foreach_get("co", co)
        if np.array_equal(co, bufs["co"]):
            return
    target = fcurve(obj, path)
    points = target.keyframe_points
    points.clear()
    points.add(n)
    for attr, buf in bufs.items():
        points.foreach_set(attr, buf)
    for src, dst in zip(source.keyframe_points, points):
        dst.interpolation = src.interpolation
        dst.handle_left_type, dst.handle_right_type = src.handle_left_type, src.handle_right_type
    target.update()
