"""Preset files for the panel: the shipped presets plus the user's folder, and saving a config
as a TOML preset (no bpy here)."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from .. import model
from ..defaults import PRESET
from ..files import atomic_path
from ..model import ModelConfig, ModelError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.+-]{0,63}")


@lru_cache(maxsize=1)
def _shipped() -> tuple[str, ...]:
    def size(name: str) -> int:
        try:
            return model.param_count(model.load_preset(name))
        except ModelError:
            return 0
    return tuple(sorted(model.preset_names(), key=lambda n: (n != PRESET, size(n), n)))


def builtin() -> list[str]:
    """The shipped presets: the default (nano-gpt) first, then the smallest model first."""
    return list(_shipped())


def user(folder: Path | None) -> list[Path]:
    """TOML files in the user's folder whose names do not shadow a shipped preset."""
    if folder is None or not folder.is_dir():
        return []
    shipped = set(builtin())
    return sorted(p for p in folder.glob("*.toml") if p.is_file() and p.stem not in shipped)


def items(folder: Path | None) -> list[tuple[str, str, str]]:
    """Enum items (identifier, label, description): shipped presets first, then user files."""
    out = [(name, name, f"Shipped preset {name}") for name in builtin()]
    out += [(p.stem, f"{p.stem} (user)", str(p)) for p in user(folder)]
    return out


def load(name: str, folder: Path | None) -> ModelConfig:
    """A preset by name (shipped first, then the user's folder) or by path."""
    return model.load_preset(name, search=[folder] if folder is not None else None)


def check_name(name: str) -> str:
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise ModelError(f"preset name {name!r}: use 1-64 letters, digits, spaces, '_', '-', '.', '+'")
    if name in builtin():
        raise ModelError(f"preset name {name!r} is a shipped preset; choose another name")
    return name


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # 1e-05, 10000.0: TOML floats
    if isinstance(value, dict):  # an inline table (rope_scaling)
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} to TOML")


def to_toml(data: dict) -> str:
    """A preset table as TOML text (its one nested table, rope_scaling, written inline)."""
    return "".join(f"{key} = {_toml_value(value)}\n" for key, value in data.items())


def save(config: ModelConfig, folder: Path, name: str) -> Path:
    """Write `config` as `<folder>/<name>.toml` (named `name`) and return the path; the file is
    read back and validated, so a saved preset always loads."""
    name = check_name(name)
    config = config.replace(name=name, title=name if config.title == config.name else config.title)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    with atomic_path(path) as tmp:
        tmp.write_text("# llmviz-blender model preset\n" + to_toml(model.config_to_dict(config)), encoding="utf-8")
        model.load_preset(tmp)
    return path
