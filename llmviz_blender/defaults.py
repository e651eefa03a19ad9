"""One home for the defaults and limits that the library, the CLI and the panel share (pure: no bpy).

Each fact is written here once; `scene.render`, `scripts/render.py` and `ui.properties` import it,
and a test checks that all three agree.
"""

from __future__ import annotations

# --- picture and render -----------------------------------------------------------------------
ENGINES = ("cycles", "eevee", "workbench")
DEVICES = ("cpu", "gpu", "auto")
DEVICE = "auto"
SAMPLES_MAX = 65536  # samples per pixel (Workbench: anti-aliasing passes, 1 = off); defaults by quality below
RESOLUTION = (1920, 1080)
RESOLUTION_RANGE = (4, 65536)  # Blender's own limits on a render's width and height
ASPECT = RESOLUTION[0] / RESOLUTION[1]
FPS = 24
FPS_RANGE = (1, 1000)
STORYBOARD_WIDTH = 480  # px: one walkthrough step's frame on a storyboard sheet
#: Render qualities (scene.quality): draft = Workbench showing the cells' colours (fast on a CPU),
#: final = Cycles denoised (or EEVEE). Engine and samples of each unless given; engines each allows.
QUALITIES = ("draft", "final")
QUALITY = "final"
QUALITY_DEFAULTS: dict[str, dict[str, str | int]] = {
    "draft": {"engine": "workbench", "samples": 5},  # 5 anti-aliasing samples (fewer: moiré on far cells)
    "final": {"engine": "cycles", "samples": 8},  # denoised (scene.quality); 4 mottle dense blocks
}
QUALITY_ENGINES = {"draft": ("workbench",), "final": ("cycles", "eevee")}


THEME = "dark"  # the picture's theme (composition.theme.THEMES: dark for video, light for slides)

# --- cells --------------------------------------------------------------------------------------
PITCH = 1.5  # distance between neighbouring cell centres (world units)
CELL = 1.0  # edge of one cell cube
KINDS = ("weight", "intermediate", "aggregate")
#: Linear RGB of each kind (DESIGN.md): parameters blue, computed values green, aggregates orange.
KIND_COLORS: dict[str, tuple[float, float, float]] = {
    "weight": (0.3, 0.3, 1.0),
    "intermediate": (0.4, 0.8, 0.4),
    "aggregate": (1.0, 0.8, 0.3),
}
#: Dimension label colours (DESIGN.md); the Llama family's MLP width F and rotary pairs A/2 as 4C and A.
DIM_COLORS = {"T": "#359da8", "C": "#ce2983", "4C": "#ce2983", "F": "#ce2983", "A": "#d368a4", "A/2": "#d368a4",
              "n_vocab": "#7c3c8d", "block_size": "#359da8"}

# --- text -----------------------------------------------------------------------------------------
CHAR_WIDTH = 0.6  # rough advance of one character of Blender's default font, in text heights
READING_SPEED = 14.0  # characters a second a viewer reads captions at (broadcast subtitles: 12-15)

# --- reveal frames --------------------------------------------------------------------------------
ALWAYS = -1.0e9  # reveal frame of cells shown from the start (weights)
NEVER = 1.0e9  # reveal frame of cells the walkthrough never computes
HIGHLIGHT_FRAMES = 6.0  # a computed cell glows this many frames after its reveal frame

# --- predictions and sampling ---------------------------------------------------------------------
PRESET = "nano-gpt"  # the model built when neither a preset nor a weights file is given
TOP_K = 3  # next tokens listed under the output; when sampling, the most likely tokens kept
TEMPERATURE = 0.0  # 0 picks the most likely token (greedy); above 0 samples
TOP_P = 1.0  # when sampling, the smallest set of tokens reaching this probability (1: all)
SEED = 0  # the sampling generator's seed
LENS_K = 3  # tokens in each table of the logit lens strip
