"""The numbers captions and close-ups quote: cell values of a traced layout, and their text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..layout import Layout, block_values
from ..model import ModelConfig, Weights, decode


@dataclass
class Facts:
    """A layout with the trace (and optionally the weights) whose numbers it shows."""

    layout: Layout
    trace: Mapping[str, np.ndarray]
    weights: Weights | None = None

    @property
    def config(self) -> ModelConfig:
        return self.layout.config

    @property
    def tokens(self) -> list[int]:
        return [int(t) for t in self.trace["tokens"]]

    def cells(self, key: str, rows: Sequence[int] | np.ndarray, cols: Sequence[int] | np.ndarray) -> np.ndarray:
        """float64 values of cells (rows[i], cols[i]) of block `key` (broadcast); ValueError
        when the block shows weights and no weights were given."""
        r, c = np.broadcast_arrays(np.asarray(rows, np.int64), np.asarray(cols, np.int64))
        values = block_values(self.layout[key], self.trace, self.weights, r.ravel(), c.ravel())
        if values is None:
            raise ValueError(f"{key}: needs the weights")
        return values.astype(np.float64).reshape(r.shape)

    def cell(self, key: str, row: int, col: int) -> float:
        return float(self.cells(key, [row], [col])[0])

    def has_values(self, key: str) -> bool:
        return self.weights is not None or not self.layout[key].source.startswith("param:")

    def token(self, token_id: int) -> str:
        """'A' for a letter vocabulary, else 'token 17'."""
        text = decode(self.config, [token_id])
        return f"'{text}'" if self.config.vocab is not None else f"token {text}"

    def text(self, ids: Sequence[int], limit: int = 16) -> str:
        """A token sequence for a caption: 'CBABBC' or '15 42 7', the last `limit` tokens."""
        ids = list(ids)
        short = ids[-limit:]
        text = decode(self.config, short)
        text = f"'{text}'" if self.config.vocab is not None else text
        return ("... " if len(short) < len(ids) else "") + text

    def position(self, t: int) -> str:
        """'position 3 (B)' naming the token there when the vocabulary has letters."""
        if self.config.vocab is None:
            return f"position {t}"
        return f"position {t} ({decode(self.config, [self.tokens[t]])})"
