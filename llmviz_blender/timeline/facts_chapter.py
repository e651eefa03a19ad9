"""The "How facts are stored" chapter (pure): the logit lens at the prompt's last position finds
where the model's answer first becomes the top prediction; the chapter tells that stage from the
numbers: an MLP (up projection rows as feature detectors, the strongest GELU neurons, the down
projection writing back) or an attention layer (the heads moving information into the last column)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..i18n import Language
from ..layout import Layout
from ..layout.lens import lens_box, lens_text
from ..model import LensRow, Trace, Weights, decode, family_of, logit_lens, token_text
from . import closeups, referents
from .facts import Facts

TOP_NEURONS = 3  # neurons, rows and heads named in a caption
LENS_K = 3


@dataclass(frozen=True)
class Finding:
    """Where the answer appears: the lens before and after the stage that first makes it rank 1."""

    target: int
    before: LensRow
    after: LensRow

    @property
    def stage(self) -> str:
        return self.after.stage

    @property
    def layer(self) -> int:
        return self.after.layer


def find(weights: Weights, trace: Trace, position: int = -1) -> Finding:
    """The lens row where the model's own prediction at `position` (the input's last) first becomes
    rank 1, with the row before it (the input embedding before layer 0's attention)."""
    target = int(np.argmax(trace["probs"][position]))
    rows = logit_lens(weights, trace, position, LENS_K, target, embedding=True)
    first = next(i for i, r in enumerate(rows) if r.target_rank == 1)
    return Finding(target, rows[max(first - 1, 0)], rows[first])


def _where(L: Language, row: LensRow) -> str:
    if row.stage == "embed":
        return L.tr("the input embedding")
    return L.tr("layer {i}'s attention", i=row.layer) if row.stage == "attn" else L.tr("layer {i}'s MLP", i=row.layer)


def _rank(L: Language, row: LensRow) -> str:
    return L.tr("rank {r} (p {p})", r=row.target_rank, p=float(row.target_prob))


def plans(facts: Facts, weights: Weights, plan_type) -> list:
    """The chapter's steps as `plan_type` (story.Plan) instances."""
    layout, trace, cfg, L = facts.layout, facts.trace, facts.config, facts.lang
    t = facts.t - 1
    found = find(weights, trace, t)
    word = token_text(cfg, found.target)
    before, after = found.before, found.after
    lens = L.tr("The logit lens: read the residual stream through the final layer norm and the LM head. For "
                "'{prompt}', {word} goes from {before} before {where} to {after} after it.",
                prompt=decode(cfg, facts.tokens), word=word, before=_rank(L, before), where=_where(L, after),
                after=_rank(L, after))
    close = L.tr("Features are directions, not single neurons: many neurons share each fact, and each neuron takes "
                 "part in many (superposition).")
    if before.target_rank == 1 and before.stage == "embed":
        return [plan_type(L.tr("{word} is already the top prediction from the input embedding alone: {rank}.",
                               word=word, rank=_rank(L, before)), focus=["x"], sources=[]),
                plan_type(close, focus=[], box=layout.body())]
    if found.stage == "attn":
        steps = _attention(facts, found, word, plan_type)
    else:
        steps = _mlp(facts, weights, found, word, t, plan_type)
    keys = [r.source for r in (before, after)]
    box = _lens_box(layout, [before, after], found.target)  # the residuals read and their tables
    marked = [_lens_mark(facts, r, word, t) for r in (before, after)]
    return [*steps, plan_type(lens, focus=keys, sources=[], box=box, weight=1.5, referents=marked),
            plan_type(close, focus=[], box=layout.body())]


def _lens_mark(facts: Facts, row: LensRow, word: str, t: int) -> referents.Referent:
    """The residual column a lens row reads, marked with the answer's rank and probability there."""
    return referents.column(facts.layout, row.source, t, f"{word} #{row.target_rank} {facts.lang.num(float(row.target_prob))}")


def _lens_box(layout: Layout, rows: list[LensRow], target: int):
    """The residual blocks read and their lens tables (when the strip is shown)."""
    boxes = [layout.bounds([layout[r.source]]) for r in rows]
    boxes += [lens_box(layout, r.source, lens_text(layout.config, r, target)) for r in rows if r.stage != "embed"]
    return np.min([b[0] for b in boxes], axis=0), np.max([b[1] for b in boxes], axis=0)


def _attention(facts: Facts, found: Finding, word: str, plan_type) -> list:
    """The answer appears after an attention layer: say so, and where the last column looks."""
    p, t, L = f"h{found.layer}.", facts.t - 1, facts.lang
    att = np.asarray(facts.trace[f"{p}att_sm"], np.float64)[:, t, :]  # (heads, T): the last row
    h, j = np.unravel_index(int(np.argmax(att)), att.shape)
    return [
        plan_type(L.tr("The answer is already the top prediction after {where}: {word} goes from rank {r} to rank 1. "
                       "Attention, not an MLP, puts it there.", where=_where(L, found.after), word=word,
                       r=found.before.target_rank),
                  focus=[f"{p}attn_proj", f"{p}attn_resid"], weight=1.5,
                  referents=[_lens_mark(facts, found.after, word, t)]),
        plan_type(L.tr("From the last position, head {h} gives weight {w} to position {j} ({token}): attention copies "
                       "what the model knows about that token into the last column.", h=int(h), w=float(att[h, j]),
                       j=int(j), token=token_text(facts.config, facts.tokens[j])),
                  focus=[f"{p}head{h}.att_sm", f"{p}head{h}.y"], weight=1.5,
                  referents=[referents.cell(f"{p}head{h}.att_sm", t, int(j), L.num(float(att[h, j])))]),
    ]


def _mlp(facts: Facts, weights: Weights, found: Finding, word: str, t: int, plan_type) -> list:
    """The answer appears after an MLP: up projection, the strongest neurons, down projection."""
    p, i, L = f"h{found.layer}.", found.layer, facts.lang
    mlp = family_of(facts.config).NEURONS  # the family's names for the MLP's neurons
    fc = np.asarray(facts.trace[f"{p}{mlp['pre']}"][t], np.float64)
    gelu = np.asarray(facts.trace[f"{p}{mlp['act']}"][t], np.float64)
    rows = np.argsort(-fc, kind="stable")[:TOP_NEURONS]
    neurons = np.argsort(-gelu, kind="stable")[:TOP_NEURONS]
    w_out = weights[facts.layout[f"{p}{mlp['down_weight']}"].source[len("param:"):]]  # (C, 4C)
    resid = facts.trace[f"{p}mlp_resid"]
    without = []  # the target's probability after this MLP without each neuron's column
    for n in neurons:
        cut = resid.copy()
        cut[t] -= gelu[n] * w_out[:, n]
        row = logit_lens(weights, {**facts.trace, f"{p}mlp_resid": cut}, t, 1, found.target)[2 * i + 1]
        without.append(row.target_prob)
    n4 = fc.size
    strong = int((gelu > 0.5 * gelu.max()).sum()) if gelu.max() > 0 else 0
    effects = L.join(L.tr("{p} (neuron {n})", p=float(q), n=int(n)) for q, n in zip(without, neurons))
    up, pre, act, down = (f"{p}{mlp[k]}" for k in ("up_weight", "pre", "act", "down_weight"))
    directions = [referents.row(facts.layout, up, int(r), f"#{r}") for r in rows]
    responses = [referents.cell(pre, int(r), t, L.num(float(fc[r]))) for r in rows]
    fired = [referents.cell(act, int(n), t, f"#{n} {L.num(float(gelu[n]))}") for n in neurons]
    written = [referents.column(facts.layout, down, int(n), f"#{n}") for n in neurons]
    return [
        plan_type(L.tr("Layer {i}'s MLP: each of its {n} weight rows is a direction. Its dot product with the last "
                       "column says how much the column points that way: rows {rows} respond most.", i=i, n=n4,
                       rows=L.join(f"{r} ({L.num(float(fc[r]))})" for r in rows)),
                  focus=[up, f"{p}ln2", pre], weight=2.0, referents=[*directions, *responses],
                  closeup=getattr(closeups, mlp["closeup"])(facts, i, int(rows[0]), t)),
        plan_type(L.tr("{act} lets the strongest through: neurons {neurons} fire; {strong} of {n} reach half the "
                       "strongest.", act=mlp["act_name"], strong=strong, n=n4,
                       neurons=L.join(f"{n} ({L.num(float(gelu[n]))})" for n in neurons)),
                  focus=[act], weight=1.5, referents=fired),
        plan_type(L.tr("The down projection adds each neuron's column, scaled by its output, back into the residual "
                       "stream. Without its column, p({word}) after this MLP would be {without} instead of {p}.",
                       word=word, p=float(found.after.target_prob),
                       without=effects),
                  focus=[down, f"{p}mlp", f"{p}mlp_resid"], weight=1.5,
                  referents=[*written, _lens_mark(facts, found.after, word, t)]),
    ]
