"""Model configuration and TOML presets."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelError

PRESETS_DIR = Path(__file__).resolve().parents[2] / "presets"

_INT_FIELDS = ("n_layer", "n_head", "n_embd", "vocab_size", "block_size")
_REQUIRED = ("name", *_INT_FIELDS)
_OPTIONAL = ("title", "vocab", "default_input", "weights", "description", "tokenizer")


@dataclass(frozen=True)
class ModelConfig:
    """Shape and identity of a GPT-2 style model."""

    name: str
    n_layer: int
    n_head: int
    n_embd: int
    vocab_size: int
    block_size: int
    title: str = ""
    vocab: tuple[str, ...] | None = None
    default_input: str | None = None
    weights: Path | None = None
    description: str = ""
    tokenizer: Path | None = None  # tokenizer.json (or vocab.json beside merges.txt)

    def __post_init__(self) -> None:
        if not self.title:
            object.__setattr__(self, "title", self.name)

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head

    @property
    def letters(self) -> bool:
        """True for a letter vocabulary (every label one character: text is read letter by letter)."""
        return self.vocab is not None and all(len(v) == 1 for v in self.vocab)

    def validate(self, where: str = "config") -> "ModelConfig":
        """Check field values; raise ModelError naming `where` and the field."""
        for field in _INT_FIELDS:
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ModelError(f"{where}: field '{field}' must be an integer, got {value!r}")
            if value <= 0:
                raise ModelError(f"{where}: field '{field}' must be positive, got {value}")
        if self.n_embd % self.n_head:
            raise ModelError(
                f"{where}: field 'n_embd' ({self.n_embd}) must be divisible by 'n_head' ({self.n_head})")
        if self.vocab is not None:
            if len(self.vocab) != self.vocab_size:
                raise ModelError(f"{where}: field 'vocab' has {len(self.vocab)} labels "
                                 f"but 'vocab_size' is {self.vocab_size}")
            if any(not isinstance(v, str) or not v or any(ch.isspace() for ch in v) for v in self.vocab):
                raise ModelError(f"{where}: field 'vocab' must hold non-empty labels without spaces "
                                 f"(letters, or the words of a word-level vocabulary)")
            if len(set(self.vocab)) != len(self.vocab):
                raise ModelError(f"{where}: field 'vocab' has repeated labels")
            if self.tokenizer is not None:
                raise ModelError(f"{where}: give either field 'vocab' or field 'tokenizer', not both")
        return self

    def replace(self, **changes) -> "ModelConfig":
        return dataclasses.replace(self, **changes)


def preset_names() -> list[str]:
    """Names of the presets shipped in presets/."""
    return sorted(p.stem for p in PRESETS_DIR.glob("*.toml"))


def _preset_path(name_or_path: str | Path, search: list[Path]) -> Path:
    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text or "\\" in text:
        path = Path(text).expanduser()
        if not path.is_file():
            raise ModelError(f"{path}: preset file not found")
        return path
    for folder in [PRESETS_DIR, *search]:
        path = Path(folder) / f"{text}.toml"
        if path.is_file():
            return path
    known = ", ".join(preset_names())
    raise ModelError(f"unknown preset '{text}' (known: {known})")


def load_preset(name_or_path: str | Path, search: list[Path] | None = None) -> ModelConfig:
    """Load a preset by name (presets/ and `search` folders) or by path to a TOML file."""
    path = _preset_path(name_or_path, list(search or []))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"{path}: malformed TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: cannot read preset ({exc})") from None
    return config_from_dict(data, where=str(path), base=path.parent)


def config_from_dict(data: dict, where: str = "config", base: Path | None = None) -> ModelConfig:
    """Build a validated ModelConfig from a preset table (relative weights and tokenizer paths resolve
    from `base`)."""
    for field in _REQUIRED:
        if field not in data:
            raise ModelError(f"{where}: missing field '{field}'")
    for field in data:
        if field not in _REQUIRED and field not in _OPTIONAL:
            raise ModelError(f"{where}: unknown field '{field}'")
    for field in ("name", "title", "default_input", "weights", "description", "tokenizer"):
        if field in data and not isinstance(data[field], str):
            raise ModelError(f"{where}: field '{field}' must be a string, got {data[field]!r}")
    if not data["name"]:
        raise ModelError(f"{where}: field 'name' must not be empty")
    vocab = data.get("vocab")
    if vocab is not None and not isinstance(vocab, list):
        raise ModelError(f"{where}: field 'vocab' must be a list of strings")
    weights, tokenizer = data.get("weights"), data.get("tokenizer")
    config = ModelConfig(
        name=data["name"], title=data.get("title", ""), description=data.get("description", ""),
        vocab=tuple(vocab) if vocab is not None else None, default_input=data.get("default_input"),
        weights=(Path(base or ".") / weights).resolve() if weights else None,
        tokenizer=(Path(base or ".") / tokenizer).resolve() if tokenizer else None,
        **{f: data[f] for f in _INT_FIELDS}).validate(where)
    return config


def config_to_dict(config: ModelConfig) -> dict:
    """The preset table for `config` (inverse of config_from_dict, weights and tokenizer paths kept as given)."""
    data: dict = {"name": config.name, "title": config.title}
    data.update({f: getattr(config, f) for f in _INT_FIELDS})
    if config.vocab is not None:
        data["vocab"] = list(config.vocab)
    if config.default_input is not None:
        data["default_input"] = config.default_input
    if config.weights is not None:
        data["weights"] = str(config.weights)
    if config.description:
        data["description"] = config.description
    if config.tokenizer is not None:
        data["tokenizer"] = str(config.tokenizer)
    return data


def param_count(config: ModelConfig, include_lm_head: bool = False) -> int:
    """Number of parameters (token and position embeddings, layers, final LayerNorm; lm_head optional)."""
    c, v = config.n_embd, config.vocab_size
    per_layer = 12 * c * c + 13 * c  # ln_1, c_attn, c_proj, ln_2, c_fc, mlp c_proj
    total = v * c + config.block_size * c + config.n_layer * per_layer + 2 * c
    return total + (v * c if include_lm_head else 0)
