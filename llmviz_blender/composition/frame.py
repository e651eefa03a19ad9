"""A picture's regions, in frame heights: x from 0 to the aspect ratio, y from 0 (bottom) to 1.

The caption band runs along the bottom, the chapter title sits in a band along the top, a close-up's
formula plate stands on the caption band, and a safe margin runs round the edge. What is left is
the free region, where a step's subject goes. A wide picture may instead carry its captions in a
panel along the right edge, the chapter title at the panel's top and a close-up's formula under
the caption: the free region is then the rest of the picture at its full height (a tall subject
shows larger). A narrower picture may instead raise its caption band (larger captions) where the
subject, bound by the picture's width, loses (almost) nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..defaults import CHAR_WIDTH

BAR = 0.2  # caption band: this share of the frame height at the bottom
TALL_BAR = 0.35  # a tall caption band (larger captions where the subject has height to spare)
FORMULA_BAR = 0.1  # a close-up's formula plate: this share of the height above the caption band
TITLE_BAND = 0.085  # chapter titles: a band of this share of the height along the top
SAFE = 0.03  # safe margin round the picture, in frame heights
MIN_LABEL = 0.01  # a label is shown only when a line of it is at least this share of the frame height
MAX_LABEL = 0.024  # resizable labels (block names, dimensions, headings) are shrunk to at most this
CAPTION_SIZE = 0.032  # caption text height (at most), frame heights
CAPTION_TOP = 0.72  # captions start this share of the band's height above the picture's bottom
TEXT_WIDTH = 0.86  # captions wrap at this share of the picture's width
FORMULA_SCALE = 0.85  # formula text: at most this many caption heights
FORMULA_WIDTH = 0.9  # formulas wrap at this share of the picture's width
TITLE_SCALE = 1.4  # chapter titles: this many caption heights, centred in the title band
LINE_PITCH = 1.25  # line spacing, in text heights
WRAP_SLACK = 1.15  # words wrap early: lines hold this much less than their width
PANEL = 0.32  # side caption panel: this share of the picture's width, along its right edge
PANEL_PAD = 0.035  # text stands this far (frame heights) inside the panel's edges
PANEL_CAPTION = 0.038  # caption text height in the side panel (at most), frame heights
SIDE_ASPECT = 1.2  # pictures at least this wide (width / height) may carry the side panel


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle of the picture (frame heights)."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2

    def contains(self, other: Rect, tol: float = 1e-9) -> bool:
        return (other.x0 >= self.x0 - tol and other.y0 >= self.y0 - tol and other.x1 <= self.x1 + tol
                and other.y1 <= self.y1 + tol)

    def overlaps(self, other: Rect) -> bool:
        return self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1

    def intersection(self, other: Rect) -> Rect:
        return Rect(max(self.x0, other.x0), max(self.y0, other.y0), min(self.x1, other.x1), min(self.y1, other.y1))

    def inset(self, d: float) -> Rect:
        return Rect(self.x0 + d, self.y0 + d, self.x1 - d, self.y1 - d)


@dataclass(frozen=True)
class Frame:
    """A picture of `aspect` (width / height) and which overlays it carries."""

    aspect: float
    caption: bool = True
    title: bool = True
    formula: bool = False
    side: bool = False  # the captions and the chapter title stand in a panel along the right edge
    tall: bool = False  # the caption band is TALL_BAR high

    @property
    def bar(self) -> float:
        """The caption band's height (frame heights)."""
        return TALL_BAR if self.tall else BAR

    @property
    def whole(self) -> Rect:
        return Rect(0.0, 0.0, self.aspect, 1.0)

    @property
    def panel(self) -> Rect | None:
        """The side caption panel (full height), when the frame carries one."""
        return Rect(self.aspect * (1.0 - PANEL), 0.0, self.aspect, 1.0) if self.side and self.caption else None

    def reserved(self) -> dict[str, Rect]:
        """The overlays' regions by name (only those the frame carries)."""
        panel = self.panel
        if panel is not None:  # the title, the caption and a formula share the panel
            return {"caption": panel}
        out = {}
        if self.caption:
            out["caption"] = Rect(0.0, 0.0, self.aspect, self.bar)
        if self.formula:
            bottom = self.bar if self.caption else 0.0
            out["formula"] = Rect(0.0, bottom, self.aspect, bottom + FORMULA_BAR)
        if self.title:
            out["title"] = Rect(0.0, 1.0 - TITLE_BAND, self.aspect, 1.0)
        return out

    def free(self) -> Rect:
        """Where the subject goes: inside the safe margin, between the bottom and top overlays."""
        panel = self.panel
        if panel is not None:
            return Rect(0.0, 0.0, panel.x0, 1.0).inset(SAFE)
        reserved = self.reserved()
        bottom = max((r.y1 for name, r in reserved.items() if name != "title"), default=0.0)
        top = reserved["title"].y0 if "title" in reserved else 1.0
        return Rect(0.0, bottom, self.aspect, top).inset(SAFE)


def lines(aspect: float, chars: int, width_share: float, size: float) -> int:
    """How many lines `chars` characters `size` tall take, wrapped at `width_share` of the width."""
    return math.ceil(chars * WRAP_SLACK * CHAR_WIDTH * size / (width_share * aspect))


def fit_text(aspect: float, chars: int, width_share: float, space: float, size: float) -> float:
    """The largest text height (frame heights) up to `size` at which `chars` characters, wrapped at
    `width_share` of the picture's width, fit in `space` frame heights."""
    while size > MIN_LABEL:
        if lines(aspect, chars, width_share, size) * LINE_PITCH * size <= space:
            return size
        size *= 0.95
    return MIN_LABEL


def caption_size(aspect: float, chars: int, bar: float = BAR) -> float:
    """Caption text height (frame heights) at which the longest caption, `chars` long, fits its band
    (`bar` high)."""
    return fit_text(aspect, chars, TEXT_WIDTH, CAPTION_TOP * bar - SAFE / 2, CAPTION_SIZE)


@dataclass(frozen=True)
class PanelText:
    """The side panel's text (frame heights): lines start at `left` and wrap at `width`; the chapter
    title (`title` tall) stands at the top, the caption (`caption` tall) from `top` down."""

    left: float
    width: float
    title: float
    caption: float
    top: float

    def formula(self, aspect: float, chars: int, caption_chars: int) -> float:
        """Height of a formula `chars` long standing at the panel's bottom, under a caption
        `caption_chars` long."""
        used = lines(aspect, caption_chars, self.width / aspect, self.caption) * LINE_PITCH * self.caption
        space = self.top - used - self.caption - PANEL_PAD
        return fit_text(aspect, chars, self.width / aspect, space, FORMULA_SCALE * CAPTION_SIZE)


def panel_text(aspect: float, chars: int, title_chars: int) -> PanelText:
    """The side panel's text in a picture of `aspect`: the longest title (`title_chars`) on one
    line, the longest caption (`chars`) in at most half the panel under it (a formula may follow)."""
    left = aspect * (1.0 - PANEL) + PANEL_PAD
    width = aspect - PANEL_PAD - left
    title = min(TITLE_SCALE * CAPTION_SIZE, width / (CHAR_WIDTH * WRAP_SLACK * max(title_chars, 1)))
    top = 1.0 - PANEL_PAD - LINE_PITCH * title - CAPTION_SIZE / 2
    return PanelText(left, width, title, fit_text(aspect, chars, width / aspect, top / 2, PANEL_CAPTION), top)


def formula_size(aspect: float, chars: int) -> float:
    """Formula text height (frame heights) at which a formula `chars` long fits its plate."""
    return fit_text(aspect, chars, FORMULA_WIDTH, FORMULA_BAR - SAFE / 2, FORMULA_SCALE * CAPTION_SIZE)
