"""Text <-> token ids, and the one way a token is written on screen or in a caption."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .config import ModelConfig
from .errors import ModelError
from .forward import check_vocab


def encode(config: ModelConfig, text: str) -> list[int]:
    """Text -> token ids: letters of the vocabulary (spaces ignored), or ids written as numbers."""
    if config.vocab is not None and not re.fullmatch(r"[\d\s,]+", text or ""):
        ids = []
        for ch in text:
            if ch.isspace():
                continue
            if ch not in config.vocab:
                raise ModelError(f"tokens: '{ch}' is not in the vocabulary {''.join(config.vocab)} of {config.name}")
            ids.append(config.vocab.index(ch))
        if not ids:
            raise ModelError("tokens: input is empty")
        return ids
    parts = [p for p in re.split(r"[\s,]+", text.strip()) if p]
    if not parts:
        raise ModelError("tokens: input is empty")
    ids = []
    for part in parts:
        if not part.isdigit():
            raise ModelError(f"tokens: '{part}' is not a token id (write ids as numbers separated by spaces)")
        ids.append(int(part))
    check_vocab(config, ids)
    return ids


def decode(config: ModelConfig, ids: Sequence[int]) -> str:
    """Token ids -> text: letters for a letter vocabulary, else ids separated by spaces."""
    ids = [int(i) for i in ids]
    check_vocab(config, ids)
    if config.vocab is not None:
        return "".join(config.vocab[i] for i in ids)
    return " ".join(str(i) for i in ids)


def token_text(config: ModelConfig, token_id: int, quoted: bool = True) -> str:
    """One token as a caption, label or readout writes it: 'A' (quoted) for a letter vocabulary,
    else its id ('17')."""
    text = decode(config, [int(token_id)])
    return f"'{text}'" if quoted and config.vocab is not None else text
