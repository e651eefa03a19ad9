"""The logit lens strip (pure): one small table per layer and stage, standing right of the residual
stream block it reads (h{i}.attn_resid, h{i}.mlp_resid); its text and world box."""

from __future__ import annotations

import numpy as np

from .. import i18n
from ..model import LensRow, ModelConfig, token_text
from .blocks import CELL, PITCH
from .place import Layout, label_size

LENS_LINES = 5  # lines of a table with k = 3: title, 3 tokens, the target's rank
LENS_FILL = 0.8  # a table is at most this share of its residual block's height tall
LINE = 1.25  # line advance of Blender's default font, in text heights
def lens_text(config: ModelConfig, row: LensRow, target: int | None = None) -> str:
    """A table: where it reads, the top tokens with probabilities, and the target's rank (in the
    current language, i18n)."""
    L = i18n.current()
    lines = [L.tr("lens after attention {i}", i=row.layer) if row.stage == "attn" else
             L.tr("lens after MLP {i}", i=row.layer)]
    lines += [f"{text} {L.percent_of(p)}" for _, text, p in row.top]
    if target is not None and row.target_rank is not None:
        lines.append(L.tr("{token}: rank {r}", token=token_text(config, target, quoted=False), r=row.target_rank))
    return "\n".join(lines)


def lens_size(layout: Layout, source: str, lines: int = LENS_LINES) -> float:
    """Text height of the table beside `source`: as large as fits beside its block, at least a label."""
    rows = layout[source].rows.size
    height = (rows - 1) * PITCH + CELL
    return max(label_size(layout.config), LENS_FILL * height / (lines * LINE))


def lens_anchor(layout: Layout, source: str) -> np.ndarray:
    """Top-left of the table beside residual block `source` (a little right of its right edge)."""
    lo, hi = layout.bounds([layout[source]])
    return np.array([hi[0] + 2 * label_size(layout.config), -CELL, hi[2]])


def lens_box(layout: Layout, source: str, text: str) -> tuple[np.ndarray, np.ndarray]:
    """World box of the table `text` beside `source`."""
    size = lens_size(layout, source, text.count("\n") + 1)
    top_left = lens_anchor(layout, source)
    width = max(i18n.text_width(line) for line in text.split("\n")) * size
    height = (text.count("\n") + 1) * LINE * size
    return top_left - [0.0, 0.0, height], top_left + [width, 0.0, 0.0]
