"""The numbers captions and close-ups quote: cell values of a traced layout, and their text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..i18n import ENGLISH, Language
from ..layout import CellReader
from ..model import ModelConfig, decode, token_text


@dataclass
class Facts(CellReader):
    """A layout's cell values with the trace (and optionally the weights), and the text of its
    tokens. The first pass reads the first `n_input` columns (None: all); later columns hold
    generated tokens fed back (each computed by a pass of its own). `lang`: the captions' language."""

    n_input: int | None = None
    lang: Language = ENGLISH

    @property
    def config(self) -> ModelConfig:
        return self.layout.config

    @property
    def t(self) -> int:
        """Tokens the first pass reads."""
        return self.layout.n_tokens if self.n_input is None else self.n_input

    @property
    def sequence(self) -> list[int]:
        """Every column's token: the input, then those fed back."""
        return [int(t) for t in self.trace["tokens"]]

    @property
    def tokens(self) -> list[int]:
        """The input: the first pass's tokens."""
        return self.sequence[:self.t]

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
            return self.lang.tr("position {t}", t=t)
        return self.lang.tr("position {t} ({token})", t=t, token=token_text(self.config, self.sequence[t], quoted=False))
