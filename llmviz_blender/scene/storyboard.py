"""`storyboard`: one small frame per walkthrough step in a grid, each with its chapter and caption.

How a video maker reviews the story before the full render, and how a change is seen in every
frame at once. Each step's key frame is rendered at a small size with a fast engine; the frames are
copied pixel for pixel into the sheet, and the text strips under them are rendered once by
Blender itself (FONT objects in a temporary scene under an orthographic camera, flat colours on a
transparent film), then laid over the sheet's background. Everything temporary is removed.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from pathlib import Path

import bpy
import numpy as np

from .. import i18n
from ..composition.theme import THEMES
from ..defaults import QUALITIES, QUALITY_ENGINES, RESOLUTION_RANGE, STORYBOARD_WIDTH, THEME
from ..files import atomic_path
from . import quality, render
from .builder import THEME_PROP, in_its_language
from .render_core import run as run_render
from .walkthrough import steps_of

Log = Callable[[str], None]

MARGIN = 16  # px around the sheet
GUTTER = 16  # px between cells
PAD = 6  # px between a frame and its text, and under the text
TITLE_SIZE = 15  # px: "3. Self-attention"
CAPTION_SIZE = 13  # px: the step's caption
LINE_GAP = 4  # px between the title and the caption
SHEET_ASPECT = 16 / 9
#: Theme role of the sheet's background, each step's title, its key frame's number (right of the
#: title when it fits) and its caption (composition.theme).
BACKGROUND, TITLE_COLOR, FRAME_COLOR, CAPTION_COLOR = "sheet", "section", "muted", "text"
TEXT_AA = "16"
NAME = "LLMViz Storyboard"


@in_its_language
def storyboard(collection: bpy.types.Collection, path: str | Path, *, width: int = STORYBOARD_WIDTH,
               columns: int | None = None, engine: str = "workbench", scene: bpy.types.Scene | None = None,
               log: Log | None = None, progress: Callable[[int], None] | None = None) -> Path:
    """Render each walkthrough step's key frame `width` px wide (the scene's aspect) with `engine`
    (Workbench: the draft quality) and write one PNG at `path`: the frames in a grid (`columns`,
    or as many as make the sheet about 16:9), each with "N. Chapter" and the step's caption under
    it. The scene's render settings are restored afterwards. TimelineError without a walkthrough, RenderSettingsError for
    a bad path or size; `log` gets "storyboard: frame 3/37" lines, `progress(n)` is called after
    the n-th frame. Returns the path."""
    scene = scene or bpy.context.scene
    steps = steps_of(collection)
    path = render.check_output(path, "still", make_folder=True)
    if columns is not None and not (isinstance(columns, int) and columns > 0):
        raise render.RenderSettingsError(f"columns must be a positive integer, got {columns!r}")
    if not (isinstance(width, int) and RESOLUTION_RANGE[0] <= width <= RESOLUTION_RANGE[1]):
        raise render.RenderSettingsError(f"storyboard width must be an integer in {RESOLUTION_RANGE[0]}.."
                                         f"{RESOLUTION_RANGE[1]}, got {width!r}")
    r = scene.render
    height = max(RESOLUTION_RANGE[0], round(width * r.resolution_y / r.resolution_x))
    images = set(bpy.data.images)
    try:
        with tempfile.TemporaryDirectory(prefix="llmviz-storyboard-") as tmp:
            frames = _render_frames(scene, steps, Path(tmp), (width, height), engine, log, progress)
            colours = THEMES[collection.get(THEME_PROP, THEME)].roles
            sheet = _compose(steps, frames, (width, height), columns, Path(tmp), colours)
            _write_png(sheet, path)
    finally:  # the Render Result image our renders made
        bpy.data.batch_remove([i for i in bpy.data.images if i not in images and i.type == "RENDER_RESULT"])
    if log is not None:
        log(f"storyboard: wrote {path} ({sheet.shape[1]}x{sheet.shape[0]}, {len(steps)} steps)")
    return path


def grid(n: int, cell: tuple[int, int], columns: int | None = None) -> tuple[int, int]:
    """(columns, rows) for `n` cells of `cell` (w, h) px: `columns` when given, else the count that
    brings the sheet closest to 16:9."""
    if columns is None:
        def misfit(c: int) -> float:
            rows = math.ceil(n / c)
            return abs(math.log((c * cell[0]) / (rows * cell[1]) / SHEET_ASPECT))
        columns = min(range(1, n + 1), key=misfit)
    columns = min(columns, n)
    return columns, math.ceil(n / columns)


# ------------------------------------------------------------------------------ frames

def _render_frames(scene: bpy.types.Scene, steps: list[dict], folder: Path, size: tuple[int, int],
                   engine: str, log: Log | None, progress: Callable[[int], None] | None) -> list[np.ndarray]:
    """Each step's key frame as RGB floats (rows top-down), the scene's settings kept."""
    kept, current = _Kept(scene), scene.frame_current
    try:
        quality = next(q for q in QUALITIES if str(engine).lower() in QUALITY_ENGINES[q])
        render.configure(scene, engine=engine, quality=quality, resolution=size)
        out = []
        for i, step in enumerate(steps, 1):
            if log is not None:
                log(f"storyboard: frame {i}/{len(steps)} ({step['title']}, frame {step['key']})")
            scene.frame_set(int(step["key"]))  # here, not in still(), which would set the frame back each time
            out.append(render.read_png(render.still(scene, folder / f"step_{i:03d}.png"))[..., :3])
            if progress is not None:
                progress(i)
        return out
    finally:
        scene.frame_set(current)
        kept.restore()


class _Kept:
    """The scene's render settings that `render.configure` may change, put back by `restore`."""

    SETTINGS = {"render": ("engine", "resolution_x", "resolution_y", "resolution_percentage"),
                "display": ("render_aa",),
                "display.shading": ("light", "color_type", "show_shadows", "show_cavity", "show_object_outline",
                                    "show_xray", "show_specular_highlight", "show_backface_culling"),
                "cycles": ("samples", "preview_samples", "device", "use_adaptive_sampling", "adaptive_threshold",
                           "use_denoising", "denoiser", "denoising_input_passes", *quality.BOUNCES,
                           "caustics_reflective", "caustics_refractive"),
                "eevee": ("taa_render_samples",)}

    def __init__(self, scene: bpy.types.Scene):
        self.scene = scene
        self.values = []
        for path, attrs in self.SETTINGS.items():
            owner = scene.path_resolve(path) if hasattr(scene, path.split(".")[0]) else None
            if owner is not None:
                self.values += [(owner, a, getattr(owner, a)) for a in attrs if hasattr(owner, a)]
        self.values.append((scene.render, "use_persistent_data", scene.render.use_persistent_data))
        self.quality = scene.get(quality.PROP)

    def restore(self) -> None:
        for owner, attr, value in self.values:
            if getattr(owner, attr) != value:
                setattr(owner, attr, value)
        if self.quality is None:
            self.scene.pop(quality.PROP, None)
        else:
            self.scene[quality.PROP] = self.quality
        quality.prepare(self.scene)


# ------------------------------------------------------------------------------ sheet

def _compose(steps: list[dict], frames: list[np.ndarray], tile: tuple[int, int], columns: int | None,
             folder: Path, colours: dict[str, str]) -> np.ndarray:
    """The sheet as RGB floats (rows top-down): background, text strips, frames copied exactly;
    `colours`: sRGB hex by theme role."""
    with _TextScene(colours) as text:
        labels = [text.label(f"{i}. {s['title']}", i18n.current().tr("frame {n}", n=s['key']), s["caption"],
                             tile[0] - 2 * PAD)
                  for i, s in enumerate(steps, 1)]
        text.evaluate()
        strip = PAD + max(lab.height() for lab in labels) + PAD
        cell = (tile[0], tile[1] + strip)
        cols, rows = grid(len(steps), (cell[0] + GUTTER, cell[1] + GUTTER), columns)
        size = (2 * MARGIN + cols * cell[0] + (cols - 1) * GUTTER, 2 * MARGIN + rows * cell[1] + (rows - 1) * GUTTER)
        corners = [(MARGIN + (i % cols) * (cell[0] + GUTTER), MARGIN + (i // cols) * (cell[1] + GUTTER))
                   for i in range(len(steps))]
        for lab, (x, y) in zip(labels, corners):
            lab.place(x + PAD, y + tile[1] + PAD, tile[0] - 2 * PAD)
        bands = [(MARGIN + r * (cell[1] + GUTTER) + tile[1], strip) for r in range(rows)]
        overlay = text.render(size, bands, folder)
    sheet = np.empty((size[1], size[0], 3), np.float32)
    sheet[:] = _srgb(colours[BACKGROUND])
    alpha = overlay[..., 3:]
    sheet = sheet * (1 - alpha) + overlay[..., :3] * alpha
    for frame, (x, y) in zip(frames, corners):
        sheet[y:y + tile[1], x:x + tile[0]] = frame
    return sheet


class _Label:
    """One step's text: the title line (with the key frame's number right of it when it fits) and
    the caption, wrapped by Blender's text box to the tile's width."""

    def __init__(self, title: bpy.types.Object, frame: bpy.types.Object, caption: bpy.types.Object):
        self.title, self.frame, self.caption = title, frame, caption

    def height(self) -> int:
        """px from the title's top to the caption's last line's bottom (objects evaluated)."""
        return math.ceil(_depth(self.title) + LINE_GAP + _depth(self.caption))

    def place(self, x: float, y: float, width: float) -> None:
        """Put the label's top-left corner at (x, y) px (y down from the sheet's top)."""
        self.title.location = (x, -y, 0.0)
        self.frame.location = (x + width, -y, 0.0)
        self.caption.location = (x, -(y + _depth(self.title) + LINE_GAP), 0.0)
        title_w, frame_w = (o.dimensions.x for o in (self.title, self.frame))
        self.frame.hide_render = title_w + 2 * PAD + frame_w > width or _depth(self.title) > TITLE_SIZE * 1.5


def _depth(obj: bpy.types.Object) -> float:
    """How far an evaluated top-aligned text reaches below its origin, in px."""
    return max(0.0, -min(v[1] for v in obj.bound_box))


class _TextScene:
    """A temporary scene of text objects (1 world unit = 1 px, y up, the sheet's top-left at the
    origin) rendered with flat colours on a transparent film; removed with all it made on exit."""

    def __init__(self, colours: dict[str, str]):
        self.colours = colours

    def __enter__(self) -> _TextScene:
        self.fonts = set(bpy.data.fonts)
        self.scene = bpy.data.scenes.new(NAME)
        self.ids: list[bpy.types.ID] = []
        return self

    def __exit__(self, *exc) -> None:
        bpy.data.scenes.remove(self.scene)
        bpy.data.batch_remove(self.ids)
        bpy.data.batch_remove([f for f in bpy.data.fonts if f not in self.fonts and f.users == 0])

    def _text(self, body: str, size: int, color: str, width: float, align: str = "LEFT") -> bpy.types.Object:
        curve = bpy.data.curves.new(NAME, "FONT")
        if align == "LEFT":
            body = i18n.current().text_box(body, width / size)
        curve.body = body
        curve.size = size
        curve.align_x, curve.align_y = align, "TOP"
        if align == "LEFT":
            curve.text_boxes[0].width = width
        obj = bpy.data.objects.new(NAME, curve)
        obj.color = (*_linear(self.colours[color]), 1.0)
        self.scene.collection.objects.link(obj)
        self.ids += [obj, curve]
        return obj

    def label(self, title: str, frame: str, caption: str, width: float) -> _Label:
        label = _Label(self._text(title, TITLE_SIZE, TITLE_COLOR, width),
                       self._text(frame, CAPTION_SIZE, FRAME_COLOR, width, align="RIGHT"),
                       self._text(caption, CAPTION_SIZE, CAPTION_COLOR, width))
        return label

    def evaluate(self) -> None:
        """Evaluate the texts: their wrapped sizes become known."""
        with bpy.context.temp_override(scene=self.scene, view_layer=self.scene.view_layers[0]):
            bpy.context.evaluated_depsgraph_get().update()

    def render(self, size: tuple[int, int], bands: list[tuple[int, int]], folder: Path) -> np.ndarray:
        """The texts over a transparent `size` (w, h) px sheet as RGBA floats (rows top-down),
        rendered only in the `bands` (top, height) px that hold them."""
        s = self.scene
        cam_data = bpy.data.cameras.new(NAME)
        cam_data.type = "ORTHO"
        cam = bpy.data.objects.new(NAME, cam_data)
        s.collection.objects.link(cam)
        self.ids += [cam, cam_data]
        s.camera = cam
        r = s.render
        r.engine = "BLENDER_WORKBENCH"
        r.resolution_percentage = 100
        r.film_transparent = True
        r.dither_intensity = 0.0
        s.view_settings.view_transform, s.view_settings.look = "Standard", "None"
        s.view_settings.exposure, s.view_settings.gamma = 0.0, 1.0
        s.display.render_aa = TEXT_AA
        shading = s.display.shading
        shading.light, shading.color_type = "FLAT", "OBJECT"
        shading.show_object_outline = shading.show_cavity = shading.show_shadows = False
        shading.show_specular_highlight = False
        image = r.image_settings
        if hasattr(image, "media_type"):  # Blender 5.0
            image.media_type = "IMAGE"
        image.file_format, image.color_mode, image.color_depth = "PNG", "RGBA", "8"
        out = np.zeros((size[1], size[0], 4), np.float32)
        for i, (top, height) in enumerate(bands):
            r.resolution_x, r.resolution_y = size[0], height
            cam_data.ortho_scale = max(size[0], height)
            cam.location = (size[0] / 2, -(top + height / 2), 10.0)
            r.filepath = str(folder / f"text_{i:03d}.png")
            run_render(s, write_still=True)
            out[top:top + height] = render.read_png(Path(r.filepath))
        return out


# ------------------------------------------------------------------------------ pixels



def _write_png(rgb: np.ndarray, path: Path) -> None:
    """Write RGB floats (rows top-down) as an 8-bit RGB PNG, atomically."""
    h, w = rgb.shape[:2]
    rgba = np.ones((h, w, 4), np.float32)
    rgba[..., :3] = np.round(np.clip(rgb[::-1], 0.0, 1.0) * 255) / 255
    img = bpy.data.images.new(NAME, w, h, alpha=False)
    try:
        img.pixels.foreach_set(rgba.ravel())
        with atomic_path(path) as tmp:
            img.filepath_raw, img.file_format = str(tmp), "PNG"
            img.save()
    finally:
        bpy.data.images.remove(img)


def _srgb(hex_color: str) -> np.ndarray:
    return np.array([int(hex_color[i:i + 2], 16) / 255 for i in (1, 3, 5)], np.float32)


def _linear(hex_color: str) -> tuple[float, float, float]:
    c = _srgb(hex_color).astype(np.float64)
    return tuple(float(v) for v in np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4))
