"""Hugging Face model folders: config.json read into a ModelConfig by its architecture, and the
weights files a folder holds (model.safetensors, or shards named by model.safetensors.index.json)."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import ModelError

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
INDEX = "model.safetensors.index.json"


def _json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: cannot read ({exc})") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a JSON table")
    return data


def fields(data: dict, where: str, **names: str) -> dict:
    """Required integer fields: {our name: config.json name}; ModelError naming the first missing or wrong."""
    out = {}
    for ours, theirs in names.items():
        if theirs not in data:
            raise ModelError(f"{where}: missing field '{theirs}'")
        value = data[theirs]
        if not isinstance(value, int) or isinstance(value, bool):
            raise ModelError(f"{where}: field '{theirs}' must be an integer, got {value!r}")
        out[ours] = value
    return out


def optional(data: dict, where: str, name: str, kind: type, default):
    """An optional field of type `kind` (ints pass as floats), or `default` when absent or null."""
    value = data.get(name)
    if value is None:
        return default
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ModelError(f"{where}: field '{name}' must be {'a number' if kind is float else kind.__name__}, "
                         f"got {value!r}")
    return value


def architecture(data: dict, where: str) -> str | None:
    """The architecture a config.json names (its first `architectures` entry), or None."""
    names = data.get("architectures")
    if names is None:
        return None
    if not isinstance(names, list) or not names or not isinstance(names[0], str):
        raise ModelError(f"{where}: field 'architectures' must be a list of class names")
    return names[0]


def read_config(folder: Path, name: str | None = None):
    """The ModelConfig of a Hugging Face folder's config.json (ModelError when missing, malformed, or
    naming an architecture that is not drawn)."""
    from .config import ModelConfig
    from .families import family_for_architecture
    path = Path(folder) / CONFIG
    if not path.is_file():
        raise ModelError(f"{path}: not found (a Hugging Face model folder needs its config.json)")
    data = _json(path)
    arch = architecture(data, str(path))
    if arch is None:
        if data.get("model_type") == "gpt2":
            arch = "GPT2LMHeadModel"
        else:
            raise ModelError(f"{path}: missing field 'architectures'")
    family = family_for_architecture(arch, str(path))
    values = family.from_hf_config(data, str(path))
    return ModelConfig(name=name or Path(folder).name, family=family.NAME, architecture=arch,
                       **values).validate(str(path))


def weight_files(folder: Path) -> list[Path]:
    """The safetensors files of a folder: model.safetensors, or every shard its index names (in order)."""
    folder = Path(folder)
    if (folder / WEIGHTS).is_file():
        return [folder / WEIGHTS]
    index = folder / INDEX
    if not index.is_file():
        raise ModelError(f"{folder}: no {WEIGHTS} and no {INDEX}")
    data = _json(index)
    weight_map = data.get("weight_map")
    if not isinstance(weight_map, dict) or not weight_map:
        raise ModelError(f"{index}: missing field 'weight_map'")
    shards = list(dict.fromkeys(weight_map.values()))
    for shard in shards:
        if not isinstance(shard, str) or not (folder / shard).is_file():
            raise ModelError(f"{index}: shard '{shard}' not found in {folder}")
    return [folder / s for s in shards]
