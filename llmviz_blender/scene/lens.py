"""The logit lens strip in the scene: a small table per layer and stage beside the residual stream,
read with model.logit_lens at the last position, the target being the model's own prediction."""

from __future__ import annotations

import bpy
import numpy as np

from .. import model
from ..defaults import LENS_K
from ..layout.lens import lens_anchor, lens_size, lens_text
from .labels import TEXT_COLOR, add_text
from .session import Model

LENS = "llmviz_lens"  # the residual block a table reads (h0.attn_resid), on each table


def add_lens_strip(m: Model, collection: bpy.types.Collection, prefix: str, k: int = LENS_K) -> list[bpy.types.Object]:
    """One text table per layer and stage ('<prefix> lens h0.attn_resid'): top-k tokens with their
    probabilities and the rank of the model's prediction, right of the block it reads."""
    last = len(m.tokens) - 1  # the input's last position (later columns are fed-back tokens)
    target = int(np.argmax(m.trace["probs"][last]))
    tables = []
    for row in model.logit_lens(m.weights, m.trace, last, k, target):
        body = lens_text(m.config, row, target)
        obj = add_text(f"{prefix} lens {row.source}", body, lens_anchor(m.layout, row.source),
                       lens_size(m.layout, row.source, body.count("\n") + 1), TEXT_COLOR, collection,
                       align_y="TOP")
        obj[LENS] = row.source
        obj["llmviz_lens_rank"] = row.target_rank
        tables.append(obj)
    return tables
