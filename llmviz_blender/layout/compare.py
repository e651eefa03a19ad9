"""The comparison's picture (pure): models side by side at one cell scale, tops aligned, each with
its card above it; a model too small to see (a speck) is ringed, and shown magnified in an inset
placed in the largest free space of the picture (x-z plane, seen from the front): e.g. under the
small models that hang beside GPT-3's wall, or beside them where the frame's aspect leaves room.

An inset is the copy (the model's box times `scale`), an outline `pad` around it and the model's
card under the outline (title, parameters, "shown xN"). All sizes are world units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import i18n
from ..defaults import CHAR_WIDTH
from ..model import ModelConfig, param_count
from .place import Layout, model_layout, side_by_side

Box = tuple[np.ndarray, np.ndarray]  # (lo, hi) world corners; x and z are used

CARD_SHARE = 0.03  # a line of card text is this share of the tallest model's height
CARD_GAP = 2.0  # cards stand at least this many text heights apart
CARD_LIFT = 2.5  # cards stand this many text heights above the models' tops
LINE = 0.9  # a card's height per line, in text heights (Blender's font, measured)
SPECK = 0.02  # models smaller than this share of the tallest one's height are ringed
RING = 0.8  # a speck's ring: radius in card text heights
INSET_SHARE = 0.5  # an inset's copy is at most this share of the picture's height
MIN_SCALE = 2.0  # below this magnification an inset shows nothing new


@dataclass(frozen=True)
class Inset:
    """A placed inset: the magnification, the copy's world centre, its outline (lo, hi) and the
    top centre of its card (`pad` under the outline); `fit` is the magnification the space allowed before rounding."""

    scale: float
    fit: float
    centre: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    card: np.ndarray


@dataclass
class Picture:
    """The comparison: the placed layouts, the card text size, which models are specks and their
    insets (None: none, or no room for one; the speck then keeps its card above it)."""

    layouts: list[Layout]
    card_size: float
    specks: list[bool]
    insets: list[Inset | None]

    def card_lines(self, i: int) -> list[str]:
        """The text of model i's card, line by line."""
        config, L = self.layouts[i].config, i18n.current()
        lines = [config.title, parameters(config)]
        inset = self.insets[i]
        return lines + [L.tr("shown ×{scale}", scale=L.count(round(inset.scale)) if inset.scale >= 10 else
                             L.num(f"{inset.scale:.4g}"))] if inset is not None else lines

    def boxes(self) -> list[Box]:
        """World boxes of the insets' outlines and cards (the camera frames them too)."""
        return [(inset.lo - [0.0, 0.0, self.card_size * (1 + 3 * LINE)], inset.hi)
                for inset in self.insets if inset is not None]


def card_width(config: ModelConfig, size: float, inset: bool = False) -> float:
    """Rough width of a model's card text at `size` (with an inset's "shown xN" line)."""
    return max(i18n.text_width(config.title), i18n.text_width(parameters(config)), 16 * CHAR_WIDTH if inset else 0) * size


def parameters(config: ModelConfig) -> str:
    """'124,439,808 parameters' (in the current language, i18n)."""
    L = i18n.current()
    return L.trn("{count} parameter", "{count} parameters", param_count(config), count=L.count(param_count(config)))


def nice_floor(x: float) -> float:
    """`x` (> 0) rounded down to two significant digits: a magnification that reads (1,400)."""
    power = 10.0 ** (math.floor(math.log10(x)) - 1)
    return math.floor(x / power * (1 + 1e-9)) * power


def free_spaces(obstacles: list[Box], picture: Box, gap: float) -> list[Box]:
    """Empty rectangles (x-z) of `picture` kept `gap` clear of every obstacle: for every pair of
    obstacle edges across x, the z-intervals that no obstacle in that x-range covers."""
    lo, hi = np.asarray(picture[0], float), np.asarray(picture[1], float)
    grown = [(np.asarray(a, float) - gap, np.asarray(b, float) + gap) for a, b in obstacles]
    xs = sorted({lo[0], hi[0], *(float(np.clip(v, lo[0], hi[0])) for a, b in grown for v in (a[0], b[0]))})
    out = []
    for i, x0 in enumerate(xs):
        for x1 in xs[i + 1:]:
            z = lo[2]
            for z0, z1 in sorted((a[2], b[2]) for a, b in grown if a[0] < x1 and b[0] > x0) + [(hi[2], hi[2])]:
                if min(z0, hi[2]) > z:
                    out.append((np.array([x0, 0.0, z]), np.array([x1, 0.0, min(z0, hi[2])])))
                z = max(z, z1)
    return out


def place_inset(size, y: float, obstacles: list[Box], picture: Box, aspect: float, pad: float,
                card_height: float, card_wide: float, gap: float) -> Inset | None:
    """The inset that magnifies a model of world `size` (x, y, z) most in the free space of
    `picture` (widened to the frame `aspect` on one side where it is narrower), its copy at most
    INSET_SHARE of the picture's height, by a factor of two significant digits; None under MIN_SCALE. `pad` is the room
    round the copy inside the outline and between the outline and the card; `card_wide` the card's
    width and `gap` the room kept round obstacles. The copy's front stands at depth `y`."""
    size = np.asarray(size, float)
    lo, hi = np.asarray(picture[0], float), np.asarray(picture[1], float)
    height = hi[2] - lo[2]
    spare = max(0.0, aspect * height - (hi[0] - lo[0]))
    best: tuple[float, Box] | None = None
    for side in (-1.0, 1.0):  # the spare width goes to one side or the other
        wide = (lo - [spare * (side < 0), 0, 0], hi + [spare * (side > 0), 0, 0])
        for a, b in free_spaces(obstacles, wide, gap):
            w, h = b[0] - a[0], b[2] - a[2]
            if w < card_wide:
                continue
            fit = min((w - 2 * pad) / size[0], (h - 3 * pad - card_height) / size[2],
                      INSET_SHARE * height / size[2])
            if best is None or fit > best[0] * (1 + 1e-9):
                best = (fit, (a, b))
    if best is None or best[0] < MIN_SCALE:
        return None
    fit, (a, b) = best
    scale = nice_floor(fit)
    half = np.array([size[0] * scale / 2 + pad, 0.0, size[2] * scale / 2 + pad])
    stack = 2 * half[2] + pad + card_height  # outline over card, centred in the space
    centre = np.array([(a[0] + b[0]) / 2, y + size[1] * scale / 2, (a[2] + b[2]) / 2 + stack / 2 - half[2]])
    front = np.array([0.0, centre[1] - y, 0.0])  # outline and card stand at the copy's front
    card = np.array([centre[0], y, centre[2] - half[2] - pad])
    return Inset(scale, fit, centre, centre - half - front, centre + half - front, card)


def _obstacles(layouts: list[Layout], ringed: list[bool], card_size: float, top: float) -> list[Box]:
    """Each model with the column up to the picture's top: its card, or the ring of a speck whose
    card stands at its inset."""
    out = []
    for layout, speck in zip(layouts, ringed):
        lo, hi = layout.bounds()
        mid = (lo + hi) / 2
        half = RING * card_size if speck else max(hi[0] - lo[0], card_width(layout.config, card_size)) / 2
        bottom = mid[2] - RING * card_size if speck else lo[2]
        out.append((np.array([mid[0] - half, 0.0, bottom]), np.array([mid[0] + half, 0.0, top])))
    return out


def arrange(layouts: list[Layout], aspect: float, insets: bool = True) -> Picture:
    """Place `layouts` side by side (see `side_by_side`) with room for their cards; ring the specks
    and, with `insets`, give each an inset where there is room (laying a speck's layers out in the
    number of columns that magnifies it most). Layouts of specks may be replaced."""
    layouts = list(layouts)
    sizes = [hi - lo for lo, hi in (layout.bounds() for layout in layouts)]
    tallest = max(float(s[2]) for s in sizes)
    card_size = CARD_SHARE * tallest
    specks = [max(s[0], s[2]) < SPECK * tallest for s in sizes]
    top = CARD_LIFT * card_size + 2 * LINE * card_size
    gap = CARD_GAP * card_size

    def reserve(with_inset: list[bool]) -> list[float]:
        return [2 * RING * card_size + gap if inset else card_width(layout.config, card_size) + gap
                for layout, inset in zip(layouts, with_inset)]

    def inset_of(i: int, placed: list[Inset], flags: list[bool]) -> Inset | None:
        obstacles = _obstacles(layouts, flags, card_size, top)
        obstacles += [(p.lo - [0.0, 0.0, card_size * (1 + 3 * LINE)], p.hi) for p in placed]
        lo = np.min([o[0] for o in obstacles], axis=0)
        hi = np.max([o[1] for o in obstacles], axis=0)
        lo[2] = min(layout.bounds()[0][2] for layout in layouts)
        lo_i, hi_i = layouts[i].bounds()
        return place_inset(hi_i - lo_i, lo_i[1], obstacles, (lo, hi), aspect, card_size, 3 * LINE * card_size,
                           card_width(layouts[i].config, card_size, inset=True), gap)

    def place_all(flags: list[bool]) -> list[Inset | None]:
        side_by_side(layouts, reserve(flags))
        out: list[Inset | None] = []
        for i, flag in enumerate(flags):
            out.append(inset_of(i, [p for p in out if p is not None], flags) if flag else None)
        return out

    flags = [s and insets for s in specks]
    for i in np.flatnonzero(flags):
        config, n_tokens = layouts[i].config, layouts[i].n_tokens
        best = None
        for k in range(1, config.n_layer + 1):  # the speck's columns that fill the space best
            layouts[i] = model_layout(config, n_tokens, layers_per_column=k, headings=False)
            side_by_side(layouts, reserve(flags))
            inset = inset_of(i, [], flags)
            if inset is not None and (best is None or inset.fit > best[1] * (1 + 1e-9)):
                best = (layouts[i], inset.fit)
        if best is not None:
            layouts[i] = best[0]
    placed = place_all(flags)
    while any(f and p is None for f, p in zip(flags, placed)):  # no room: those specks keep their cards on top
        flags = [p is not None for p in placed]
        placed = place_all(flags)
    return Picture(layouts, card_size, specks, placed)
