"""Model configuration and TOML presets."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelError

PRESETS_DIR = Path(__file__).resolve().parents[2] / "presets"

_INT_FIELDS = ("n_layer", "n_head", "n_embd", "vocab_size", "block_size")
_REQUIRED = ("name", *_INT_FIELDS)
_STR_FIELDS = ("title", "default_input", "weights", "description", "tokenizer", "family", "architecture")
# What a family computes, as data (TransformerLens-style switches); GPT-2's values are the defaults.
_ARCH_FIELDS = {"n_kv_head": int, "n_inner": int, "norm_eps": float, "rope_theta": float, "rope_scaling": dict,
                "tied": bool, "qkv_bias": bool, "bos_token_id": int, "add_bos": bool}
_OPTIONAL = ("title", "vocab", "default_input", "weights", "description", "tokenizer", "family", "architecture",
             *_ARCH_FIELDS)


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
    family: str = "gpt2"  # the module in model/families that describes the computation
    architecture: str = ""  # the Hugging Face class it was read from, e.g. LlamaForCausalLM
    n_kv_head: int = 0  # key/value heads (grouped-query attention); 0: one per query head
    n_inner: int = 0  # MLP width; 0: 4 n_embd
    norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    rope_scaling: tuple[tuple[str, object], ...] | None = None  # config.json's rope_scaling, as sorted items
    tied: bool = True  # the LM head is the token embedding
    qkv_bias: bool = True  # q, k and v projections have biases
    bos_token_id: int | None = None
    add_bos: bool = False  # prompts start with bos_token_id

    def __post_init__(self) -> None:
        if not self.title:
            object.__setattr__(self, "title", self.name)
        if isinstance(self.rope_scaling, dict):
            object.__setattr__(self, "rope_scaling", tuple(sorted(self.rope_scaling.items())))

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head

    @property
    def kv_heads(self) -> int:
        """Key/value heads: n_kv_head, or n_head when every query head has its own."""
        return self.n_kv_head or self.n_head

    @property
    def mlp_size(self) -> int:
        """Width of the MLP's hidden layer."""
        return self.n_inner or 4 * self.n_embd

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
        if self.n_kv_head < 0 or self.n_inner < 0:
            raise ModelError(f"{where}: fields 'n_kv_head' and 'n_inner' must not be negative")
        if self.n_head % self.kv_heads:
            raise ModelError(f"{where}: field 'n_head' ({self.n_head}) must be a multiple of "
                             f"'n_kv_head' ({self.kv_heads})")
        if not self.norm_eps > 0 or not self.rope_theta > 0:
            raise ModelError(f"{where}: fields 'norm_eps' and 'rope_theta' must be positive")
        from .families import check_family  # the families read this module: imported when used
        check_family(self, where)
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
    for field in ("name", *_STR_FIELDS):
        if field in data and not isinstance(data[field], str):
            raise ModelError(f"{where}: field '{field}' must be a string, got {data[field]!r}")
    arch = {}
    for field, kind in _ARCH_FIELDS.items():
        if field not in data:
            continue
        value = data[field]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ModelError(f"{where}: field '{field}' must be {_KIND_WORDS[kind]}, got {value!r}")
        arch[field] = value
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
        family=data.get("family", "gpt2"), architecture=data.get("architecture", ""),
        **arch, **{f: data[f] for f in _INT_FIELDS}).validate(where)
    return config


_KIND_WORDS = {int: "an integer", float: "a number", bool: "true or false", dict: "a table"}


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
    default = ModelConfig("", 1, 1, 1, 1, 1)
    for field in ("family", "architecture", *_ARCH_FIELDS):
        value = getattr(config, field)
        if value != getattr(default, field):
            data[field] = dict(value) if field == "rope_scaling" else value
    return data


def param_count(config: ModelConfig, include_lm_head: bool = False) -> int:
    """Number of parameters, from the family's parameter shapes. Without `include_lm_head`, an LM head
    is counted only when it is a matrix of its own (untied), as transformers counts; GPT-2's tied head
    is never counted twice."""
    from .families import family_of
    shapes = family_of(config).param_shapes(config)
    head = shapes.pop("lm_head.weight", None)
    total = sum(int(np.prod(s)) for s in shapes.values())
    if head is not None and (include_lm_head or not config.tied):
        total += int(np.prod(head))
    return total
