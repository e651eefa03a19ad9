"""A picture's regions, in frame heights: x from 0 to the aspect ratio, y from 0 (bottom) to 1.

The caption band runs along the bottom, the chapter title sits in a band along the top, a close-up's
formula plate stands on the caption band, and a safe margin runs round the edge. What is left is
the free region, where a step's subject goes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..defaults import CHAR_WIDTH

BAR = 0.2  # caption band: this share of the frame height at the bottom
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

    @property
    def whole(self) -> Rect:
        return Rect(0.0, 0.0, self.aspect, 1.0)

    def reserved(self) -> dict[str, Rect]:
        """The overlays' regions by name (only those the frame carries)."""
        out = {}
        if self.caption:
            out["caption"] = Rect(0.0, 0.0, self.aspect, BAR)
        if self.formula:
            bottom = BAR if self.caption else 0.0
            out["formula"] = Rect(0.0, bottom, self.aspect, bottom + FORMULA_BAR)
        if self.title:
            out["title"] = Rect(0.0, 1.0 - TITLE_BAND, self.aspect, 1.0)
        return out

    def free(self) -> Rect:
        """Where the subject goes: inside the safe margin, between the bottom and top overlays."""
        reserved = self.reserved()
        bottom = max((r.y1 for name, r in reserved.items() if name != "title"), default=0.0)
        top = reserved["title"].y0 if "title" in reserved else 1.0
        return Rect(0.0, bottom, self.aspect, top).inset(SAFE)


def fit_text(aspect: float, chars: int, width_share: float, space: float, size: float) -> float:
    """The largest text height (frame heights) up to `size` at which `chars` characters, wrapped at
    `width_share` of the picture's width, fit in `space` frame heights."""
    while size > MIN_LABEL:
        per_line = width_share * aspect / (CHAR_WIDTH * size)
        lines = math.ceil(chars * WRAP_SLACK / per_line)
        if lines * LINE_PITCH * size <= space:
            return size
        size *= 0.95
    return MIN_LABEL


def caption_size(aspect: float, chars: int) -> float:
    """Caption text height (frame heights) at which the longest caption, `chars` long, fits its band."""
    return fit_text(aspect, chars, TEXT_WIDTH, CAPTION_TOP * BAR - SAFE / 2, CAPTION_SIZE)


def formula_size(aspect: float, chars: int) -> float:
    """Formula text height (frame heights) at which a formula `chars` long fits its plate."""
    return fit_text(aspect, chars, FORMULA_WIDTH, FORMULA_BAR - SAFE / 2, FORMULA_SCALE * CAPTION_SIZE)
