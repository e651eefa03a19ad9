"""What each chapter tells: its steps (caption, blocks computed, focus, close-up) before timing.

One layer (`Story.layer`) is told in detail: layer norm 1, the attention heads in turn,
projection, layer norm 2 and the MLP. The stack chapter runs the later layers one step each.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from ..i18n import Language, columns
from ..layout import Block, Layout
from ..layout.place import sequence_box
from ..model import Generation, family_of, param_count, sequence_text, token_text
from . import closeups, facts_chapter, referents
from .closeups import CloseUp
from .facts import Facts
from .referents import Referent
from .reveal import n_units

Work = tuple[str, int, int]  # (block key, first unit, end unit): columns or rows computed
Box = tuple[np.ndarray, np.ndarray]

#: Chapter of each group of the layer told in detail.
_DETAIL_GROUPS = {"Layer Norm 1": "layer_norm", "Self-attention": "attention", "Projection": "projection",
                  "Layer Norm 2": "mlp", "MLP": "mlp"}
#: A head's computed blocks in the order a step computes them (those the layout has).
_HEAD_BLOCKS = ("q", "q_rot", "k", "k_rot", "v", "att", "att.max", "att.sumexp", "att_sm", "y")
SAMPLED_SHOWN = 5  # candidates a sampling caption names
#: A generation pass's last blocks: computed in a step of their own, with the output in view.
PASS_OUTPUT = ("logits.max", "logits.sumexp", "probs")
SPREAD_VOCAB = 8  # a vocabulary this small gets every probability in the captions
#: Compute window of a step (fractions of its frames): after the camera arrives, before it leaves.
WINDOW = (0.15, 0.9)
#: A close-up step computes late: the formula builds up first, then the value lands.
CLOSEUP_WINDOW = (0.6, 0.92)
#: A caption longer than this many subtitle cues (of 2 lines each) is told in two steps.
SPLIT_CUES = 2
_SENTENCE_END = re.compile(r"(?<=[.!?])[ \n]+|(?<=[。！？])[ \n]*(?=\S)")


@dataclass
class Plan:
    """One step before timing. `weight` is its share of the chapter's duration (unless `seconds`
    fixes it); focus / sources / box default to what the work computes and reads; `referents` are
    the cells, rows and columns the caption names (marked on screen)."""

    caption: str
    work: list[Work] = field(default_factory=list)
    weight: float = 1.0
    focus: list[str] | None = None
    sources: list[str] | None = None
    box: Box | None = None
    closeup: CloseUp | None = None
    window: tuple[float, float] = WINDOW
    seconds: float | None = None
    catch_up: bool = False  # a fast-forward through chapters not told
    referents: list[Referent] = field(default_factory=list)  # what the caption names, marked on screen
    closer: bool = True  # the camera may come closer than the plan's view to show the referents' cells


def home(block: Block, start_layer: int) -> str | None:
    """The chapter that computes `block` ("before" when it precedes start_layer; None for weights)."""
    if block.kind == "weight":
        return None
    if block.section == "Output":
        return "output"
    if block.layer < 0:
        return "embedding" if start_layer == 0 else "before"
    if block.layer < start_layer:
        return "before"
    return _DETAIL_GROUPS[block.group] if block.layer == start_layer else "stack"


def split_caption(caption: str, lang: Language) -> list[str]:
    """The caption as one part, or, when longer than SPLIT_CUES subtitle cues of two of the
    language's lines, as two at the sentence end nearest its middle (one part when it has no
    sentence end inside)."""
    ends = list(_SENTENCE_END.finditer(caption)) if columns(caption) > SPLIT_CUES * 2 * lang.line else []
    if not ends:
        return [caption]
    cut = min(ends, key=lambda m: abs(m.start() - len(caption) / 2))
    return [caption[:cut.start()], caption[cut.end():]]


@dataclass
class Story:
    """The chapters' plans for one traced layout; `layer` is the layer told in detail."""

    facts: Facts
    layer: int
    generation: Generation | None = None
    sampling: str = ""  # how the generation sampled ("temperature 0.8, top-k 3"); "" when greedy

    # what a family's captions (model/families) tell with
    Plan, closeups, CLOSEUP_WINDOW = Plan, closeups, CLOSEUP_WINDOW
    token_text = staticmethod(token_text)

    @property
    def lang(self) -> Language:
        """The captions' language."""
        return self.facts.lang

    @property
    def layout(self) -> Layout:
        return self.facts.layout

    @property
    def family(self):
        """The module describing the model's family: its own chapters' captions."""
        return family_of(self.facts.config)

    def whole(self, *keys: str) -> list[Work]:
        """Every unit the first pass computes of each block (its first `t` columns or rows)."""
        return [(k, 0, min(n_units(self.layout[k]), self.facts.t)) for k in keys]

    def box(self, keys: list[str]) -> Box:
        return self.layout.bounds([self.layout[k] for k in keys])

    def region(self, *sections: str) -> Box:
        regions = self.layout.regions("section")
        boxes = [regions[s] for s in sections]
        return np.min([b[0] for b in boxes], axis=0), np.max([b[1] for b in boxes], axis=0)

    def chapter(self, chapter_id: str) -> list[Plan]:
        plans: dict[str, Callable[[], list[Plan]]] = {
            "overview": self.overview, "embedding": self.embedding, "layer_norm": self.layer_norm,
            "attention": self.attention, "projection": self.projection, "mlp": self.mlp, "stack": self.stack,
            "output": self.output, "facts": self.facts_stored, "generation": self.generations}
        out = []
        for plan in plans[chapter_id]():  # with one token, "the other columns" are none: drop such steps
            work = [w for w in plan.work if w[2] > w[1]]
            if work or not plan.work:
                named = plan.referents or ([self.computed(plan.closeup)] if plan.closeup is not None else [])
                out.append(replace(plan, work=work, referents=named))
        return out

    def computed(self, closeup: CloseUp) -> Referent:
        """What a close-up computes, marked: its cell with the value, or the attention row with its index."""
        key, r, c = closeup.target
        if closeup.kind == "attention_row":
            return referents.row(self.layout, key, r, f"#{r}")
        return referents.cell(key, r, c, self.lang.num(closeup.value))

    def token_mark(self, key: str, token: int, column: int, p: float) -> Referent:
        """A token's cell of an output block (probs) marked with its text and probability."""
        return referents.cell(key, token, column, f"{token_text(self.facts.config, token)} {self.lang.num(p)}")

    def overview(self) -> list[Plan]:
        cfg, f, L = self.facts.config, self.facts, self.lang
        layers = [f"Transformer {i}" for i in range(cfg.n_layer)]
        t = self.facts.t
        heads = L.trn("{n} head", "{n} heads", cfg.n_head) if cfg.kv_heads == cfg.n_head else \
            L.tr("{n} query heads sharing {kv} K/V heads", n=cfg.n_head, kv=cfg.kv_heads)
        return [
            Plan(L.tr("This is {model}: {layers}, {heads} per layer, {params} parameters.", model=cfg.title,
                      layers=L.trn("{n} layer", "{n} layers", cfg.n_layer), heads=heads,
                      params=L.count(param_count(cfg))), focus=[], box=self.layout.body()),
            Plan(L.tr("The input {text} enters at the top as {tokens}.", text=f.text(f.tokens),
                      tokens=L.trn("{n} token", "{n} tokens", t)), focus=[], box=self.region("Embedding")),
            Plan(L.trn("It passes through {n} transformer layer.", "It passes through {n} transformer layers, one "
                       "after the other.", cfg.n_layer), weight=1.5, focus=[], box=self.region(*layers)),
            Plan(L.tr("At the end, {v} probabilities per position say which token comes next.", v=cfg.vocab_size),
                 focus=[], box=self.region("Output")),
        ]

    def embedding(self) -> list[Plan]:
        f, cfg, t, L = self.facts, self.facts.config, self.facts.t, self.lang
        ids = " ".join(str(i) for i in f.tokens[:16]) + (" ..." if t > 16 else "")
        first = L.tr("The input {text} becomes token ids: {ids}.", text=f.text(f.tokens), ids=ids) if cfg.vocab else \
            L.trn("The input is {n} token id: {ids}.", "The input is {n} token ids: {ids}.", t, ids=ids)
        return [Plan(first, self.whole("tokens"), focus=["tokens"]), *self.family.tell_embedding(self)]

    def layer_norm(self) -> list[Plan]:
        return self.family.tell_layer_norm(self)

    def attention(self) -> list[Plan]:
        """The first head in detail (its queries, keys and values as the family makes them, then one
        attention row), then each other head in one step."""
        f, t, L = self.facts, self.facts.t, self.lang
        p, r = f"h{self.layer}.", t // 2
        h0 = f"{p}head0."
        row = closeups.attention_row(f, self.layer, 0, r)
        top, where = row.target[2], f.position(r)
        plans = [
            *self.family.tell_attention_inputs(self),
            Plan(L.tr("{where} compares its query with the keys up to itself: q.k / sqrt({a}). Later positions are "
                      "masked. Softmax turns the scores into weights that sum to 1: {w} go to {top}.",
                      where=where[:1].upper() + where[1:], a=f.config.head_size, w=row.value, top=f.position(top)),
                 self.whole(f"{h0}att", f"{h0}att.max", f"{h0}att.sumexp", f"{h0}att_sm"), weight=3.0,
                 closeup=row, window=CLOSEUP_WINDOW),
            Plan(L.tr("Each position's output is the weighted sum of the V vectors."), self.whole(f"{h0}y"), weight=1.5),
        ]
        for h in range(1, f.config.n_head):
            hp = f"{p}head{h}."
            done = {w[0] for plan in plans for w in plan.work}  # what the family's steps computed already
            keys = [f"{hp}{k}" for k in _HEAD_BLOCKS if f"{hp}{k}" in self.layout.by_key and f"{hp}{k}" not in done]
            owner = self.layout[f"{hp}att"].reads[1].split(".")[1]  # the head whose keys it reads
            caption = L.tr("Head {h} does the same with its own weights.", h=h) if owner == f"head{h}" else \
                L.tr("Head {h} has its own queries and shares head {owner}'s keys and values.", h=h,
                     owner=owner.removeprefix("head"))
            plans.append(Plan(caption, self.whole(*keys)))
        return plans

    def projection(self) -> list[Plan]:
        cfg, p, L = self.facts.config, f"h{self.layer}.", self.lang
        return [
            Plan(L.trn("The {n} head's output is stacked back into {c} numbers per position and multiplied by the "
                       "projection weights.", "The {n} heads' outputs are stacked back into {c} numbers per position "
                       "and multiplied by the projection weights.", cfg.n_head, c=cfg.n_embd),
                 self.whole(f"{p}attn_proj"), weight=1.5),
            Plan(L.tr("The result is added to the layer's input: the residual connection."),
                 self.whole(f"{p}attn_resid")),
        ]

    def mlp(self) -> list[Plan]:
        return self.family.tell_mlp(self)

    def stack(self) -> list[Plan]:
        plans = []
        for i in range(self.layer + 1, self.facts.config.n_layer):
            keys = [b.key for b in self.layout.blocks if b.layer == i and b.kind != "weight"]
            plans.append(Plan(self.lang.tr("Layer {i} repeats the same steps with its own weights.", i=i),
                              self.whole(*keys), box=self.region(f"Transformer {i}")))
        return plans

    def output(self) -> list[Plan]:
        f, cfg, t, L = self.facts, self.facts.config, self.facts.t, self.lang
        probs = f.cells("probs", np.arange(cfg.vocab_size), t - 1)
        best = int(np.argmax(probs))
        per = L.tr("one per letter") if cfg.letters else L.tr("one per token of the vocabulary")
        spread = self._spread(probs)
        return [
            self.family.tell_final_norm(self),
            Plan(L.tr("The LM head turns each column into {v} scores (logits), {per}.", v=cfg.vocab_size, per=per),
                 self.whole("logits"), weight=1.5),
            Plan(L.tr("Softmax turns the scores into probabilities."),
                 self.whole("logits.max", "logits.sumexp", "probs"), weight=1.5),
            Plan(L.tr("At the last position the model predicts {token} with probability {p}{spread}.",
                      token=token_text(cfg, best), p=float(probs[best]), spread=spread),
                 weight=2.0, focus=["probs"], sources=["probs"], box=self.box(["probs", "logits"]),
                 referents=[self.token_mark("probs", best, t - 1, float(probs[best]))]),
        ]

    def _spread(self, probs: np.ndarray) -> str:
        """' ('A' 1.00, 'B' 0.00, 'C' 0.00)': every probability, for a vocabulary of a few tokens."""
        cfg, L = self.facts.config, self.lang
        if cfg.vocab_size > SPREAD_VOCAB:
            return ""
        return " (" + L.join(f"{token_text(cfg, i)} {L.num(f'{v:.2f}')}" for i, v in enumerate(probs)) + ")"

    def facts_stored(self) -> list[Plan]:
        assert self.facts.weights is not None
        return facts_chapter.plans(self.facts, self.facts.weights, Plan)

    def generations(self) -> list[Plan]:
        """Each generated token joins the input as a new column, and the next pass computes only that
        column through the whole stack (one step, the whole model in view): its query reads the keys
        and values the earlier columns kept (a KV cache), and nothing before it is computed again.
        Then that column's probabilities and the pass's choice (a step on the output). The last
        token is only appended."""
        f, gen, cfg, L = self.facts, self.generation, self.facts.config, self.lang
        assert gen is not None
        n_in, passes = f.t, len(gen.traces)
        computed = [b.key for b in self.layout.blocks if b.kind != "weight" and b.key not in PASS_OUTPUT]
        whole, out = self.layout.body(), sequence_box(self.layout, len(sequence_text(cfg, gen.tokens[:n_in],
                                                                                        gen.tokens[n_in:])))
        plans = []
        for j in range(1, passes):  # pass j + 1 computes column c, fed the token pass j chose
            c = n_in + j - 1
            fed = token_text(cfg, gen.tokens[c])
            att = np.asarray(gen.traces[j][f"h{self.layer}.att_sm"][0, -1], np.float64)  # head 0, the new row
            top = int(np.argmax(att))
            if j == 1:
                caption = L.tr("{token} joins the input as column {c}, and the model runs again on that column alone. "
                               "Its query reads the {n} keys and values kept from before (a KV cache: layer {layer}, "
                               "head 0 gives {w} to {top}); no earlier column is computed again.",
                               token=fed, c=c, n=c + 1, layer=self.layer, w=float(att[top]), top=f.position(top))
            else:
                caption = L.tr("Pass {k}: {token} joins as column {c}. Only that column is computed, its query reading "
                               "{n} cached keys and values.", k=j + 1, token=fed, c=c, n=c + 1)
            column = referents.cell("tokens", 0, c, f"#{c} {fed}")
            plans.append(Plan(caption, [(k, c, c + 1) for k in computed], focus=[], sources=[], box=whole,
                              referents=[column], closer=False))  # the whole stack computes it: stay wide
            chosen = gen.tokens[c + 1]
            plans.append(Plan(L.tr("Pass {k} {choice}.", k=j + 1, choice=self._choice(j)),
                              [(k, c, c + 1) for k in PASS_OUTPUT], focus=["probs"], sources=["probs"], box=out,
                              referents=[self.token_mark("probs", chosen, c, float(gen.traces[j]["probs"][-1][chosen]))]))
        last = token_text(cfg, gen.tokens[-1])
        caption = L.tr("{token} is appended. After one pass over the input, the sequence reads {text}.", token=last,
                       text=f.text(gen.tokens)) if passes == 1 else \
            L.tr("{token} is appended. After {n} passes: the input's, then one column each, the sequence reads "
                 "{text}.", token=last, n=passes, text=f.text(gen.tokens))
        plans.append(Plan(caption, focus=["probs"], sources=["probs"], box=out))
        return plans

    def _choice(self, i: int) -> str:
        """How pass i + 1 chose its token, with the numbers: 'predicts 'B' (0.97)' or the sampling."""
        f, gen, L = self.facts, self.generation, self.lang
        assert gen is not None
        tok = gen.tokens[len(gen.tokens) - len(gen.traces) + i]
        choice = gen.choices[i] if i < len(gen.choices) else None
        if choice is not None and choice.draw is not None:
            shown = L.join(f"{token_text(f.config, c, quoted=False)} {L.num(float(p))}"
                           for c, p in choice.candidates[:SAMPLED_SHOWN])
            more = L.tr(" and {n} more", n=choice.kept - SAMPLED_SHOWN) if choice.kept > SAMPLED_SHOWN else ""
            return L.tr("samples {token} (p {p}) from {shown}{more} ({how})", token=token_text(f.config, tok),
                        p=float(choice.probability), shown=shown, more=more, how=self.sampling)
        probs = np.asarray(gen.traces[i]["probs"][-1], np.float64)
        how = self._spread(probs) or " (" + L.num(float(probs[tok])) + ")"
        return L.tr("predicts {token}{how}", token=token_text(f.config, tok), how=how)
