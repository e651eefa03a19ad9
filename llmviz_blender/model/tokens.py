"""Text <-> token ids, and the one way a token is written on screen or in a caption.

A config reads text in one of three ways: letter by letter (a letter vocabulary such as nano-gpt's
A, B, C), through a tokenizer (`config.tokenizer`, or a preset's word list), or as token ids written
as numbers ("464 3290"), which every config accepts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .config import ModelConfig
from .errors import ModelError
from .forward import check_vocab
from .tokenizer import TextTokenizer, load_tokenizer, word_tokenizer

_IDS = re.compile(r"[\d\s,]+")
#: how whitespace inside a token is drawn, so a space is never invisible ('␣basketball')
_MARKS = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}


def tokenizer_of(config: ModelConfig) -> TextTokenizer | None:
    """The config's tokenizer (its file, or a word list from its preset), checked against vocab_size;
    None for a letter vocabulary or a model read as ids only."""
    if config.tokenizer is not None:
        tok = load_tokenizer(config.tokenizer)
    elif config.vocab is not None and not config.letters:
        tok = word_tokenizer(tuple(config.vocab), f"the vocab of {config.name}")
    else:
        return None
    if tok.vocab_size != config.vocab_size:
        raise ModelError(f"{tok.source}: tokenizer has {tok.vocab_size} tokens but {config.name} "
                         f"has vocab_size {config.vocab_size}")
    return tok


def encode(config: ModelConfig, text: str, as_ids: bool = True) -> list[int]:
    """Text -> token ids: ids written as numbers (unless `as_ids` is False: a prompt such as "1984"
    is text), else letters of the vocabulary (spaces ignored), else the config's tokenizer.
    At most block_size tokens."""
    text = text or ""
    if as_ids and _IDS.fullmatch(text):
        ids = [int(p) for p in re.split(r"[\s,]+", text.strip()) if p]
        check_vocab(config, ids)
    elif config.letters:
        ids = []
        for ch in text:
            if ch.isspace():
                continue
            if ch not in config.vocab:
                raise ModelError(f"tokens: '{ch}' is not in the vocabulary {''.join(config.vocab)} of {config.name}")
            ids.append(config.vocab.index(ch))
    elif (tok := tokenizer_of(config)) is not None:
        ids = tok.encode(text)
        if config.add_bos and config.bos_token_id is not None and ids[:1] != [config.bos_token_id]:
            ids.insert(0, config.bos_token_id)  # as the model's tokenizer starts every prompt
    elif text.strip():
        if not as_ids:
            raise ModelError(f"prompt: {config.name} has no tokenizer to read text with (give its token ids, "
                             f"or a tokenizer)")
        part = next(p for p in re.split(r"[\s,]+", text.strip()) if p and not p.isdigit())
        raise ModelError(f"tokens: '{part}' is not a token id (write ids as numbers separated by spaces; "
                         f"{config.name} has no tokenizer)")
    else:
        ids = []
    if not ids:
        raise ModelError("tokens: input is empty")
    if len(ids) > config.block_size:
        raise ModelError(f"tokens: the prompt is {len(ids)} tokens, more than block_size {config.block_size} "
                         f"of {config.name}")
    return ids


def decode(config: ModelConfig, ids: Sequence[int]) -> str:
    """Token ids -> text: letters for a letter vocabulary, the tokenizer's text, else ids separated by spaces."""
    ids = [int(i) for i in ids]
    check_vocab(config, ids)
    if config.letters:
        return "".join(config.vocab[i] for i in ids)
    tok = tokenizer_of(config)
    if tok is not None:
        return tok.decode(ids)
    return " ".join(str(i) for i in ids)


def mark_spaces(piece: str) -> str:
    """A token's text with its whitespace made visible: ' basketball' -> '␣basketball'."""
    out = "".join(_MARKS.get(ch, ch) for ch in piece)
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in out)


def token_text(config: ModelConfig, token_id: int, quoted: bool = True) -> str:
    """One token as a caption, label or readout writes it: 'A' (quoted) for a letter vocabulary,
    the token's own text with a leading space drawn as '␣' for a tokenizer ('␣basketball'),
    else its id ('17')."""
    check_vocab(config, [int(token_id)])
    if config.letters:
        text = config.vocab[int(token_id)]
    elif (tok := tokenizer_of(config)) is not None:
        text = mark_spaces(tok.piece(int(token_id)))
    else:
        return str(int(token_id))
    return f"'{text}'" if quoted else text


def sequence_text(config: ModelConfig, ids: Sequence[int], generated: Sequence[int] = ()) -> str:
    """A sequence as the screen shows it: the input, then ' + ' and what was generated."""
    text = decode(config, ids)
    return f"{text} + {decode(config, generated)}" if len(generated) else text
