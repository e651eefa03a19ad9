"""Text tokenizers through the Hugging Face `tokenizers` library: a tokenizer.json (byte-level BPE as
GPT-2's, WordLevel, ...), a GPT-2 style vocab.json + merges.txt pair, or a word list from a preset."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers

from .errors import ModelError

#: the files a tokenizer may be found in beside a weights file `<stem>.safetensors`, in order
BESIDE = ("{stem}.tokenizer.json", "tokenizer.json", "vocab.json")
UNK = "[UNK]"


def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet inverted: printable stand-in character -> byte ('Ġ' -> 32)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in keep:
            chars[chr(b)] = b
        else:
            chars[chr(256 + extra)] = b
            extra += 1
    return chars


_BYTES = _byte_decoder()


class TextTokenizer:
    """A `tokenizers.Tokenizer` with what the model needs: encode, decode and each token's text."""

    def __init__(self, tokenizer: Tokenizer, source: str):
        self.tokenizer = tokenizer
        self.source = source  # the file it came from, or a description ("the vocab of <preset>")
        self.vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
        spec = json.loads(tokenizer.to_str())
        parts = json.dumps([spec.get("decoder"), spec.get("pre_tokenizer")], ensure_ascii=False)
        self.byte_level = '"ByteLevel"' in parts  # pieces spell bytes in GPT-2's alphabet ('Ġ' = space)
        # pieces mark a leading space with '▁' (SentencePiece; Llama 2's decoder replaces it by a space)
        self.metaspace = '"Metaspace"' in parts or '"▁"' in parts
        self.kind = (spec.get("model") or {}).get("type", "")
        self.byte_fallback = bool((spec.get("model") or {}).get("byte_fallback"))  # '<0x0A>' pieces are bytes

    def encode(self, text: str) -> list[int]:
        """Text -> ids, no special tokens added; ModelError naming a word outside the vocabulary."""
        try:
            return list(self.tokenizer.encode(text, add_special_tokens=False).ids)
        except Exception as exc:  # the library raises plain Exception
            word = self._unknown_word(text)
            if word is not None:
                raise ModelError(f"tokens: '{word}' is not in the vocabulary of {self.source}") from None
            raise ModelError(f"tokens: {self.source} cannot encode the text ({_first_line(exc)})") from None

    def _unknown_word(self, text: str) -> str | None:
        """The first pre-tokenized word the vocabulary lacks (what WordLevel without [UNK] fails on)."""
        tok, vocab = self.tokenizer, self.tokenizer.get_vocab(with_added_tokens=True)
        norm = tok.normalizer.normalize_str(text) if tok.normalizer is not None else text
        words = tok.pre_tokenizer.pre_tokenize_str(norm) if tok.pre_tokenizer is not None else [(norm, None)]
        return next((w for w, _ in words if w not in vocab), None)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode([int(i) for i in ids], skip_special_tokens=False)

    def piece(self, token_id: int) -> str:
        """The text one token stands for, a leading space as ' ' (bytes that are not UTF-8 as \\xNN)."""
        raw = self.tokenizer.id_to_token(int(token_id))
        if raw is None:
            raise ModelError(f"tokens: id {token_id} is not in the vocabulary of {self.source}")
        if self.byte_level and all(ch in _BYTES for ch in raw):
            return bytes(_BYTES[ch] for ch in raw).decode("utf-8", errors="backslashreplace")
        if self.byte_fallback and (byte := _BYTE_PIECE.fullmatch(raw)):
            return bytes([int(byte.group(1), 16)]).decode("utf-8", errors="backslashreplace")
        if self.metaspace:
            return raw.replace("▁", " ")
        return raw


_BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")  # a byte-fallback token (SentencePiece, Llama 2)


def adds_bos(path: str | Path, bos_token_id: int | None) -> bool:
    """Whether prompts start with the BOS token, as the model's own tokenizer does it: its
    tokenizer_config.json's `add_bos_token` when it says, else whether the tokenizer's post-processor
    puts `bos_token_id` first (Llama 3's adds <|begin_of_text|>; Qwen's and SmolLM2's add nothing)."""
    if bos_token_id is None:
        return False
    file = _tokenizer_file(Path(path))
    settings = file.with_name("tokenizer_config.json")
    if settings.is_file():
        try:
            said = json.loads(settings.read_text(encoding="utf-8")).get("add_bos_token")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
            raise ModelError(f"{settings}: cannot read ({exc})") from None
        if isinstance(said, bool):
            return said
    ids = load_tokenizer(file).tokenizer.encode("a", add_special_tokens=True).ids
    return ids[:1] == [bos_token_id]


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _tokenizer_file(path: Path) -> Path:
    """A tokenizer path as given, or the tokenizer file inside a model folder."""
    if path.is_dir():
        for name in ("tokenizer.json", "vocab.json"):
            if (path / name).is_file():
                return path / name
        raise ModelError(f"{path}: no tokenizer.json (or vocab.json + merges.txt) in this folder")
    if not path.is_file():
        raise ModelError(f"{path}: tokenizer file not found")
    return path


def load_tokenizer(path: str | Path) -> TextTokenizer:
    """Read a tokenizer.json, or a vocab.json with merges.txt beside it (GPT-2 byte-level BPE), or a
    model folder holding one; cached while the file is unchanged."""
    file = _tokenizer_file(Path(path).expanduser().resolve())
    stat = file.stat()
    return _load(str(file), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _load(file: str, _mtime_ns: int, _size: int) -> TextTokenizer:
    path = Path(file)
    merges = path.with_name("merges.txt")
    try:
        if path.name.endswith("vocab.json") and merges.is_file():
            tok = Tokenizer(models.BPE.from_file(str(path), str(merges)))
            tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
            tok.decoder = decoders.ByteLevel()
        else:
            tok = Tokenizer.from_file(str(path))
    except Exception as exc:  # the library raises plain Exception
        raise ModelError(f"{path}: not a valid tokenizer file ({_first_line(exc)})") from None
    return TextTokenizer(tok, str(path))


@lru_cache(maxsize=8)
def word_tokenizer(words: tuple[str, ...], source: str = "word list") -> TextTokenizer:
    """A WordLevel tokenizer over `words` (id = position), text split on whitespace; unknown words
    map to '[UNK]' when the list has it, else are an error."""
    model = models.WordLevel({w: i for i, w in enumerate(words)}, unk_token=UNK)
    tok = Tokenizer(model)
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return TextTokenizer(tok, source)


def find_tokenizer(weights_path: str | Path) -> Path | None:
    """The tokenizer beside a weights file: `<stem>.tokenizer.json`, `tokenizer.json`, or `vocab.json`
    with `merges.txt`; None when there is none."""
    path = Path(weights_path)
    for pattern in BESIDE:
        candidate = path.with_name(pattern.format(stem=path.stem))
        if candidate.is_file() and (pattern != "vocab.json" or candidate.with_name("merges.txt").is_file()):
            return candidate.resolve()
    return None
