"""Reading predictions: the top-k tokens of a distribution, and the logit lens (what the residual
stream would predict if the model stopped after each attention and each MLP)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import ModelConfig
from .errors import ModelError
from .families import family_of
from .forward import Trace
from .tokens import encode, token_text
from .weights import Weights


def _check_k(k) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ModelError(f"k: must be a positive integer, got {k!r}")


def top_k(config: ModelConfig, probs_row: np.ndarray, k: int = 5) -> list[tuple[int, str, float]]:
    """The k most likely tokens of one distribution (V,), best first, as (id, text, probability);
    text as token_text writes it, unquoted."""
    _check_k(k)
    row = np.asarray(probs_row, np.float64)
    if row.shape != (config.vocab_size,):
        raise ModelError(f"probs_row: expected shape ({config.vocab_size},) for {config.name}, got {row.shape}")
    best = np.argsort(-row, kind="stable")[:k]
    return [(int(i), token_text(config, int(i), quoted=False), float(row[i])) for i in best]


@dataclass(frozen=True)
class LensRow:
    """The logit lens at one point of the stack: after layer `layer`'s attention ("attn") or MLP ("mlp"),
    or the input embedding (layer -1, stage "embed")."""

    layer: int
    stage: str
    top: list[tuple[int, str, float]]  # (id, text, probability), best first
    target_rank: int | None = None  # 1 = the most likely token
    target_prob: float | None = None

    @property
    def source(self) -> str:
        """The trace name of the residual stream read here (x / h{layer}.attn_resid / h{layer}.mlp_resid)."""
        return "x" if self.stage == "embed" else f"h{self.layer}.{self.stage}_resid"


def _target_id(config: ModelConfig, target: int | str) -> int:
    if isinstance(target, str):
        ids = encode(config, target)
        if len(ids) != 1:
            raise ModelError(f"target: '{target}' is {len(ids)} tokens, expected one")
        return ids[0]
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or not 0 <= target < config.vocab_size:
        raise ModelError(f"target: expected a token id in 0..{config.vocab_size - 1} or a text, got {target!r}")
    return int(target)


def logit_lens(weights: Weights, trace: Trace, position: int = -1, k: int = 5,
               target: int | str | None = None, embedding: bool = False) -> list[LensRow]:
    """For each layer, after attention then after the MLP: the residual stream at `position` through
    the final norm (the family's: LayerNorm or RMSNorm) and the LM head, as top-k tokens with probabilities,
    and the rank and probability of `target` (a token id, or a text that encodes to one token).
    The last row (the last layer's MLP) is the model's own prediction; with `embedding`, a first row
    reads the input embedding (what the tokens alone predict)."""
    cfg = weights.config
    _check_k(k)
    t = len(trace["tokens"])
    if isinstance(position, bool) or not isinstance(position, (int, np.integer)) or not -t <= position < t:
        raise ModelError(f"position: expected an integer in {-t}..{t - 1} for {t} tokens, got {position!r}")
    goal = None if target is None else _target_id(cfg, target)
    names = [(-1, "embed")] if embedding else []
    names += [(i, stage) for i in range(cfg.n_layer) for stage in ("attn", "mlp")]
    x = np.stack([trace[LensRow(i, stage, []).source][position] for i, stage in names]).astype(np.float64)
    h = family_of(cfg).final_norm(weights.params, cfg, x)  # float64, as the final norm computes it
    logits = (h.astype(np.float32) @ weights["lm_head.weight"].T).astype(np.float64)  # (2L, V)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    rows = []
    for (layer, stage), z, p in zip(names, logits, probs):
        rank = None if goal is None else int((z > z[goal]).sum()) + 1
        rows.append(LensRow(layer, stage, top_k(cfg, p, k), rank, None if goal is None else float(p[goal])))
    return rows
