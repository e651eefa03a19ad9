"""What each chapter tells: its steps (caption, blocks computed, focus, close-up) before timing.

One layer (`Story.layer`) is told in detail: layer norm 1, the attention heads in turn,
projection, layer norm 2 and the MLP. The stack chapter runs the later layers one step each.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from ..layout import Block, Layout
from ..layout.formula import num
from ..layout.place import sequence_box
from ..model import Generation, family_of, param_count, sequence_text, token_text
from . import closeups, facts_chapter
from .closeups import CloseUp
from .facts import Facts
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
#: A caption longer than two subtitle cues (2 lines of 42 characters each) is told in two steps.
SPLIT_OVER = 2 * 2 * 42
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass
class Plan:
    """One step before timing. `weight` is its share of the chapter's duration (unless `seconds`
    fixes it); focus / sources / box default to what the work computes and reads."""

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


def split_caption(caption: str) -> list[str]:
    """The caption as one part, or, when longer than SPLIT_OVER, as two at the sentence end
    nearest its middle (one part when it has no sentence end inside)."""
    ends = list(_SENTENCE_END.finditer(caption)) if len(caption) > SPLIT_OVER else []
    if not ends:
        return [caption]
    cut = min(ends, key=lambda m: abs(m.start() - len(caption) / 2))
    return [caption[:cut.start()], caption[cut.end():]]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@dataclass
class Story:
    """The chapters' plans for one traced layout; `layer` is the layer told in detail."""

    facts: Facts
    layer: int
    generation: Generation | None = None
    sampling: str = ""  # how the generation sampled ("temperature 0.8, top-k 3"); "" when greedy

    # what a family's captions (model/families) tell with
    Plan, closeups, CLOSEUP_WINDOW = Plan, closeups, CLOSEUP_WINDOW
    num, plural, token_text = staticmethod(num), staticmethod(_plural), staticmethod(token_text)

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
                out.append(replace(plan, work=work))
        return out

    def overview(self) -> list[Plan]:
        cfg, f = self.facts.config, self.facts
        layers = [f"Transformer {i}" for i in range(cfg.n_layer)]
        t = self.facts.t
        heads = _plural(cfg.n_head, "head") if cfg.kv_heads == cfg.n_head else \
            f"{cfg.n_head} query heads sharing {cfg.kv_heads} K/V heads"
        return [
            Plan(f"This is {cfg.title}: {_plural(cfg.n_layer, 'layer')}, {heads} per layer, "
                 f"{param_count(cfg):,} parameters.", focus=[], box=self.layout.bounds()),
            Plan(f"The input {f.text(f.tokens)} enters at the top as {_plural(t, 'token')}.", focus=[],
                 box=self.region("Embedding")),
            Plan(f"It passes through {_plural(cfg.n_layer, 'transformer layer')}, one after the other.",
                 weight=1.5, focus=[], box=self.region(*layers)),
            Plan(f"At the end, {cfg.vocab_size} probabilities per position say which token comes next.",
                 focus=[], box=self.region("Output")),
        ]

    def embedding(self) -> list[Plan]:
        f, cfg, t = self.facts, self.facts.config, self.facts.t
        ids = " ".join(str(i) for i in f.tokens[:16]) + (" ..." if t > 16 else "")
        first = f"The input {f.text(f.tokens)} becomes token ids: {ids}." if cfg.vocab else \
            f"The input is {_plural(t, 'token id')}: {ids}."
        return [Plan(first, self.whole("tokens"), focus=["tokens"]), *self.family.tell_embedding(self)]

    def layer_norm(self) -> list[Plan]:
        return self.family.tell_layer_norm(self)

    def attention(self) -> list[Plan]:
        """The first head in detail (its queries, keys and values as the family makes them, then one
        attention row), then each other head in one step."""
        f, t = self.facts, self.facts.t
        p, r = f"h{self.layer}.", t // 2
        h0 = f"{p}head0."
        row = closeups.attention_row(f, self.layer, 0, r)
        top, where = row.target[2], f.position(r)
        plans = [
            *self.family.tell_attention_inputs(self),
            Plan(f"{where[0].upper()}{where[1:]} compares its query with the keys up to itself: "
                 f"q.k / sqrt({f.config.head_size}). Later positions are masked. Softmax turns the scores into "
                 f"weights that sum to 1: {num(row.value)} go to {f.position(top)}.",
                 self.whole(f"{h0}att", f"{h0}att.max", f"{h0}att.sumexp", f"{h0}att_sm"), weight=3.0,
                 closeup=row, window=CLOSEUP_WINDOW),
            Plan("Each position's output is the weighted sum of the V vectors.", self.whole(f"{h0}y"), weight=1.5),
        ]
        for h in range(1, f.config.n_head):
            hp = f"{p}head{h}."
            done = {w[0] for plan in plans for w in plan.work}  # what the family's steps computed already
            keys = [f"{hp}{k}" for k in _HEAD_BLOCKS if f"{hp}{k}" in self.layout.by_key and f"{hp}{k}" not in done]
            owner = self.layout[f"{hp}att"].reads[1].split(".")[1]  # the head whose keys it reads
            caption = f"Head {h} does the same with its own weights." if owner == f"head{h}" else \
                f"Head {h} has its own queries and shares {owner.replace('head', 'head ')}'s keys and values."
            plans.append(Plan(caption, self.whole(*keys)))
        return plans

    def projection(self) -> list[Plan]:
        cfg, p = self.facts.config, f"h{self.layer}."
        return [
            Plan(f"The {_plural(cfg.n_head, 'head')}' outputs are stacked back into {cfg.n_embd} numbers per "
                 f"position and multiplied by the projection weights.", self.whole(f"{p}attn_proj"), weight=1.5),
            Plan("The result is added to the layer's input: the residual connection.", self.whole(f"{p}attn_resid")),
        ]

    def mlp(self) -> list[Plan]:
        return self.family.tell_mlp(self)

    def stack(self) -> list[Plan]:
        plans = []
        for i in range(self.layer + 1, self.facts.config.n_layer):
            keys = [b.key for b in self.layout.blocks if b.layer == i and b.kind != "weight"]
            plans.append(Plan(f"Layer {i} repeats the same steps with its own weights.", self.whole(*keys),
                              box=self.region(f"Transformer {i}")))
        return plans

    def output(self) -> list[Plan]:
        f, cfg, t = self.facts, self.facts.config, self.facts.t
        probs = f.cells("probs", np.arange(cfg.vocab_size), t - 1)
        best = int(np.argmax(probs))
        per = "one per letter" if cfg.letters else "one per token of the vocabulary"
        spread = self._spread(probs)
        return [
            self.family.tell_final_norm(self),
            Plan(f"The LM head turns each column into {cfg.vocab_size} scores (logits), {per}.",
                 self.whole("logits"), weight=1.5),
            Plan("Softmax turns the scores into probabilities.", self.whole("logits.max", "logits.sumexp", "probs"),
                 weight=1.5),
            Plan(f"At the last position the model predicts {token_text(cfg, best)} with probability "
                 f"{num(probs[best])}{spread}.", weight=2.0, focus=["probs"], sources=["probs"],
                 box=self.box(["probs", "logits"])),
        ]

    def _spread(self, probs: np.ndarray) -> str:
        """' ('A' 1.00, 'B' 0.00, 'C' 0.00)': every probability, for a vocabulary of a few tokens."""
        cfg = self.facts.config
        if cfg.vocab_size > SPREAD_VOCAB:
            return ""
        return " (" + ", ".join(f"{token_text(cfg, i)} {v:.2f}" for i, v in enumerate(probs)) + ")"

    def facts_stored(self) -> list[Plan]:
        assert self.facts.weights is not None
        return facts_chapter.plans(self.facts, self.facts.weights, Plan)

    def generations(self) -> list[Plan]:
        """Each generated token joins the input as a new column, and the next pass computes only that
        column through the whole stack (one step, the whole model in view): its query reads the keys
        and values the earlier columns kept (a KV cache), and nothing before it is computed again.
        Then that column's probabilities and the pass's choice (a step on the output). The last
        token is only appended."""
        f, gen, cfg = self.facts, self.generation, self.facts.config
        assert gen is not None
        n_in, passes = f.t, len(gen.traces)
        computed = [b.key for b in self.layout.blocks if b.kind != "weight" and b.key not in PASS_OUTPUT]
        whole, out = self.layout.bounds(), sequence_box(self.layout, len(sequence_text(cfg, gen.tokens[:n_in],
                                                                                        gen.tokens[n_in:])))
        plans = []
        for j in range(1, passes):  # pass j + 1 computes column c, fed the token pass j chose
            c = n_in + j - 1
            fed = token_text(cfg, gen.tokens[c])
            att = np.asarray(gen.traces[j][f"h{self.layer}.att_sm"][0, -1], np.float64)  # head 0, the new row
            top = int(np.argmax(att))
            if j == 1:
                caption = (f"{fed} joins the input as column {c}, and the model runs again on that column alone. "
                           f"Its query reads the {c + 1} keys and values kept from before (a KV cache: layer "
                           f"{self.layer}, head 0 gives {num(att[top])} to {f.position(top)}); no earlier column is "
                           f"computed again.")
            else:
                caption = (f"Pass {j + 1}: {fed} joins as column {c}. Only that column is computed, its query "
                           f"reading {c + 1} cached keys and values.")
            plans.append(Plan(caption, [(k, c, c + 1) for k in computed], focus=[], sources=[], box=whole))
            plans.append(Plan(f"Pass {j + 1} {self._choice(j)}.", [(k, c, c + 1) for k in PASS_OUTPUT],
                              focus=["probs"], sources=["probs"], box=out))
        last = token_text(cfg, gen.tokens[-1])
        runs = "one pass over the input" if passes == 1 else f"{passes} passes: the input's, then one column each"
        plans.append(Plan(f"{last} is appended. After {runs}, the sequence reads {f.text(gen.tokens)}.",
                          focus=["probs"], sources=["probs"], box=out))
        return plans

    def _choice(self, i: int) -> str:
        """How pass i + 1 chose its token, with the numbers: 'predicts 'B' (0.97)' or the sampling."""
        f, gen = self.facts, self.generation
        assert gen is not None
        tok = gen.tokens[len(gen.tokens) - len(gen.traces) + i]
        choice = gen.choices[i] if i < len(gen.choices) else None
        if choice is not None and choice.draw is not None:
            shown = ", ".join(f"{token_text(f.config, c, quoted=False)} {num(p)}"
                              for c, p in choice.candidates[:SAMPLED_SHOWN])
            more = f" and {choice.kept - SAMPLED_SHOWN} more" if choice.kept > SAMPLED_SHOWN else ""
            return (f"samples {token_text(f.config, tok)} (p {num(choice.probability)}) from {shown}{more} "
                    f"({self.sampling})")
        probs = np.asarray(gen.traces[i]["probs"][-1], np.float64)
        return f"predicts {token_text(f.config, tok)}{self._spread(probs) or f' ({num(probs[tok])})'}"
