"""The 3D Viewport sidebar tab "LLM Viz": Model, Options, Animation, Render and Inspector panels."""

from __future__ import annotations

import bpy

from .properties import SHAPE_FIELDS, model_collection

CATEGORY = "LLM Viz"


class _Panel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = CATEGORY

    @classmethod
    def poll(cls, context):
        return getattr(context.scene, "llmviz", None) is not None


class _ClosedPanel(_Panel):
    """A panel that starts closed."""

    bl_options = {"DEFAULT_CLOSED"}


def _column(layout, settings, *props: str):
    """An aligned column of settings."""
    col = layout.column(align=True)
    for prop in props:
        col.prop(settings, prop)
    return col


def _split(layout, context):
    """`layout` with labels beside the fields, and the scene's llmviz settings."""
    layout.use_property_split = True
    layout.use_property_decorate = False
    return layout, context.scene.llmviz


def _prop_with_button(layout, settings, prop: str, operator: str, icon: str) -> None:
    """A setting with a small operator button at its right."""
    row = layout.row(align=True)
    row.prop(settings, prop)
    row.operator(operator, text="", icon=icon)


def _error(layout, settings) -> None:
    if settings.last_error:
        box = layout.box()
        box.alert = True
        box.label(text=settings.last_error, icon="ERROR")


class LLMVIZ_PT_model(_Panel, bpy.types.Panel):
    bl_label = "Model"
    bl_order = 0

    def draw(self, context):
        layout, s = _split(self.layout, context)
        _prop_with_button(layout, s, "preset", "llmviz.save_preset", "FILE_TICK")
        layout.prop(s, "edit_shape")
        col = layout.column(align=True)
        col.enabled = s.edit_shape
        for field in SHAPE_FIELDS:
            col.prop(s, field)
        layout.prop(s, "weights_source")
        if s.weights_source == "FILE":
            _prop_with_button(layout, s, "weights_path", "llmviz.pick_weights", "FILEBROWSER")
        layout.prop(s, "tokens")
        layout.prop(s, "prompt")
        layout.prop(s, "tokenizer_path")
        layout.prop(s, "language")
        row = layout.row(align=True)
        row.scale_y = 1.4
        row.operator("llmviz.generate", icon="MESH_GRID")
        row.operator("llmviz.clear", icon="TRASH")
        coll = model_collection(context.scene)
        if coll is not None:
            tokens = coll.get("llmviz_tokens", [])
            layout.label(text=f"Scene: {coll.get('llmviz_preset', '?')}, {len(tokens)} tokens", icon="INFO")
        _error(layout, s)


class LLMVIZ_PT_options(_ClosedPanel, bpy.types.Panel):
    bl_label = "Options"
    bl_order = 1

    def draw(self, context):
        layout, s = _split(self.layout, context)
        layout.prop(s, "lod")
        _column(layout, s, "max_cells", "budget_gb").active = s.lod != "boxes"
        layout.prop(s, "value_budget_gb")
        layout.prop(s, "labels")
        layout.prop(s, "card")
        layout.prop(s, "theme", expand=True)
        layout.prop(s, "top_k")
        layout.prop(s, "logit_lens")


class LLMVIZ_PT_animation(_Panel, bpy.types.Panel):
    bl_label = "Animation"
    bl_order = 2

    def draw(self, context):
        layout, s = _split(self.layout, context)
        _column(layout, s, "fps", "speed", "reading_speed")
        layout.prop(s, "timing_path")
        layout.prop(s, "start_layer")
        _column(layout, s, "temperature", "top_p", "seed")
        layout.label(text="Chapters")
        flow = layout.grid_flow(columns=2, align=True)
        flow.prop(s, "chapters")
        row = layout.row()
        row.scale_y = 1.4
        row.enabled = model_collection(context.scene) is not None
        row.operator("llmviz.animate", icon="PLAY")
        coll = model_collection(context.scene)
        if coll is not None and "llmviz_frames" in coll:
            start, end = coll["llmviz_frames"]
            layout.label(text=f"Keyed: frames {start}-{end}", icon="KEYFRAME")


class LLMVIZ_PT_render(_ClosedPanel, bpy.types.Panel):
    bl_label = "Render"
    bl_order = 3

    def draw(self, context):
        layout, s = _split(self.layout, context)
        layout.prop(s, "quality", expand=True)
        layout.prop(s, "engine")
        layout.prop(s, "device")
        layout.prop(s, "samples")
        _column(layout, s, "resolution_x", "resolution_y")
        layout.prop(s, "still_path")
        layout.prop(s, "animation_path")
        row = layout.row(align=True)
        row.operator("llmviz.render_still", icon="RENDER_STILL")
        row.operator("llmviz.render_animation", icon="RENDER_ANIMATION")
        col = layout.column(align=True)
        col.prop(s, "storyboard_path")
        col.prop(s, "storyboard_width")
        col.operator("llmviz.render_storyboard", icon="IMGDISPLAY")


class LLMVIZ_PT_inspector(_Panel, bpy.types.Panel):
    bl_label = "Inspector"
    bl_order = 4

    def draw(self, context):
        layout = self.layout
        s = context.scene.llmviz
        has_model = model_collection(context.scene) is not None
        row = layout.row()
        row.enabled = has_model
        row.operator("llmviz.inspect", text="Inspect (hover)", icon="EYEDROPPER")
        col = layout.column(align=True)
        col.prop(s, "inspect_block")
        row = col.row(align=True)
        row.prop(s, "inspect_row")
        row.prop(s, "inspect_col")
        row = layout.row()
        row.enabled = has_model
        op = row.operator("llmviz.inspect", text="Read Cell", icon="VIEWZOOM")
        op.typed = True
        row = layout.row(align=True)
        row.enabled = has_model
        row.prop(s, "zoom_seconds", text="Seconds")
        row.operator("llmviz.zoom_to", icon="ZOOM_IN")
        if s.readout:
            box = layout.box()
            col = box.column(align=True)
            for line in s.readout.splitlines():
                col.label(text=line)


CLASSES = (LLMVIZ_PT_model, LLMVIZ_PT_options, LLMVIZ_PT_animation, LLMVIZ_PT_render, LLMVIZ_PT_inspector)
