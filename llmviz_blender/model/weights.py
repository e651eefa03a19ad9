"""Weights: safetensors I/O (single files, Hugging Face folders and their shards) and seeded random init.

Parameters are held under their family's names and shapes (nn.Linear weights [out, in]), float32: see
model/families.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

from ..files import atomic_path
from . import hf
from .config import ModelConfig, param_count
from .errors import ModelError
from .families import FAMILIES, family_of, gpt2, llama
from .tokenizer import adds_bos, find_tokenizer

_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "BF16": None}
RANDOM_LIMIT_BYTES = 8 * 2**30


@dataclass
class Weights:
    """A model's parameters under its family's names and shapes, float32."""

    config: ModelConfig
    params: dict[str, np.ndarray]
    source: str = field(default="")

    def __getitem__(self, key: str) -> np.ndarray:
        return self.params[key]

    def __contains__(self, key: object) -> bool:
        return key in self.params


def param_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every parameter's name and shape in the config's family, in model order (lm_head last)."""
    return family_of(config).param_shapes(config)


def random_weights(config: ModelConfig, seed: int = 0) -> Weights:
    """The family's own initialisation, seeded (GPT-2: N(0, 0.02), residual projections scaled by
    1/sqrt(2 n_layer), zero biases, unit gains; lm_head tied to the token embedding)."""
    need = param_count(config) * 4
    if need > RANDOM_LIMIT_BYTES:
        raise ModelError(f"{config.name}: random weights would take {need / 2**30:.1f} GiB "
                         f"(limit {RANDOM_LIMIT_BYTES / 2**30:.0f} GiB); build the scene without weights")
    params = family_of(config).random_params(config, np.random.default_rng(seed))
    return Weights(config, params, f"random(seed={seed})")


def default_weights(config: ModelConfig) -> Weights:
    """The preset's own weights file when it has one, else random_weights(config, seed=0)."""
    if config.weights is not None:
        return load_weights(config.weights, config)
    return random_weights(config, seed=0)


# ----------------------------------------------------------------------------------------- reading

def _read_header(path: Path) -> tuple[dict, int]:
    """Parse and check the safetensors header by hand so truncation is reported precisely."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise ModelError(f"{path}: not a safetensors file (only {size} bytes)")
            (n,) = struct.unpack("<Q", head)
            if n > min(size - 8, 100 * 2**20):
                raise ModelError(f"{path}: not a safetensors file (bad header length)")
            header = json.loads(fh.read(n))
    except OSError as exc:
        raise ModelError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelError(f"{path}: not a safetensors file (header is not JSON)") from None
    if not isinstance(header, dict):
        raise ModelError(f"{path}: not a safetensors file (header is not a table)")
    end = max((v["data_offsets"][1] for k, v in header.items()
               if k != "__metadata__" and isinstance(v, dict) and "data_offsets" in v), default=0)
    if 8 + n + end > size:
        raise ModelError(f"{path}: truncated file ({size} bytes, header needs {8 + n + end})")
    return header, 8 + n


def _read_tensors(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    header, data_start = _read_header(path)
    tensors: dict[str, np.ndarray] = {}
    try:
        with safe_open(str(path), framework="numpy") as fh:
            metadata = fh.metadata() or {}
            for key in fh.keys():
                info = header[key]
                dtype = info.get("dtype")
                if dtype not in _DTYPES:
                    raise ModelError(f"{path}: tensor '{key}' has unsupported dtype {dtype}")
                if dtype == "BF16":  # numpy has no bfloat16: widen the raw bits to float32
                    start = data_start + info["data_offsets"][0]
                    raw = np.fromfile(path, np.uint16, int(np.prod(info["shape"])), offset=start)
                    tensors[key] = (raw.astype(np.uint32) << 16).view(np.float32).reshape(info["shape"])
                else:
                    tensors[key] = np.asarray(fh.get_tensor(key), dtype=np.float32)
    except SafetensorError as exc:
        raise ModelError(f"{path}: not a valid safetensors file ({exc})") from None
    return tensors, metadata


def _strip(key: str) -> str:
    while key.startswith("_orig_mod."):
        key = key[len("_orig_mod."):]
    return key.replace("._orig_mod.", ".")


def _read_files(paths: list[Path]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Every tensor of every file (shards), compiled-model prefixes stripped; the first file's metadata."""
    tensors: dict[str, np.ndarray] = {}
    metadata: dict[str, str] = {}
    for i, path in enumerate(paths):
        found, meta = _read_tensors(path)
        metadata = metadata if i else meta
        for key, value in found.items():
            key = _strip(key)
            if key in tensors:
                raise ModelError(f"{path}: tensor '{key}' is also in another shard")
            tensors[key] = value
    return tensors, metadata


def _family_of_file(tensors: dict[str, np.ndarray], path: Path):
    for family in FAMILIES.values():
        if family.detect(tensors):
            return family
    raise ModelError(f"{path}: missing tensor '{gpt2.TOKEN_EMBEDDING}' (token embedding; or "
                     f"'{llama.TOKEN_EMBEDDING}' for the Llama family)")


def _n_head_from(path: Path, metadata: dict[str, str]) -> int | None:
    if "n_head" in metadata:
        try:
            return int(metadata["n_head"])
        except ValueError:
            raise ModelError(f"{path}: metadata field 'n_head' is not an integer: {metadata['n_head']!r}") from None
    cfg = path.parent / hf.CONFIG
    if cfg.is_file():
        data = hf._json(cfg)
        value = data.get("n_head", data.get("num_attention_heads"))
        if value is not None:
            if not isinstance(value, int) or isinstance(value, bool):
                raise ModelError(f"{cfg}: field 'n_head' must be an integer, got {value!r}")
            return value
    return None


def _infer_gpt2(params: dict[str, np.ndarray], metadata: dict[str, str], path: Path) -> ModelConfig:
    """A GPT-2 file's config: shapes from its tensors, n_head from its metadata or config.json."""
    shape = gpt2.infer_shape(params, path)
    n_head = _n_head_from(path, metadata)
    if n_head is None:
        raise ModelError(f"{path}: n_head cannot be told from tensor shapes; pass config= a preset, "
                         f"or put n_head in a config.json beside the file")
    vocab = tuple(json.loads(metadata["vocab"])) if "vocab" in metadata else None
    try:
        return ModelConfig(name=metadata.get("name", path.stem), title=metadata.get("title", ""), n_head=n_head,
                           vocab=vocab, default_input=metadata.get("default_input"), weights=path,
                           **shape).validate(f"{path} (inferred)")
    except (ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, ModelError):
            raise
        raise ModelError(f"{path}: malformed metadata ({exc})") from None


HF_WEIGHTS = hf.WEIGHTS  # a Hugging Face model folder's weights file


def load_weights(path: str | Path, config: ModelConfig | None = None) -> Weights:
    """Load weights from a .safetensors file or a Hugging Face model folder (config.json with
    model.safetensors, or shards named by model.safetensors.index.json).

    GPT-2 files may be in minGPT/nanoGPT or Hugging Face layout. Without `config`: a folder's (or the
    file's neighbouring) config.json gives it, naming its architecture; a GPT-2 file's shapes give it,
    with n_head from its metadata or config.json. A config without vocab or tokenizer takes the
    tokenizer found beside the file (see tokenizer.find_tokenizer). Half precision is widened to
    float32. Never unpickles.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        folder = path
        files = hf.weight_files(folder) if (folder / hf.CONFIG).is_file() else [folder / HF_WEIGHTS]
        path = files[0]
    else:
        folder, files = path.parent, [path]
    for file in files:
        if not file.is_file():
            raise ModelError(f"{file}: weights file not found")
    tensors, metadata = _read_files(files)
    family = _family_of_file(tensors, path)
    params, layout = family.from_file(tensors, path)
    if config is None:
        if family is gpt2:
            config = _infer_gpt2(params, metadata, path)
        else:
            config = hf.read_config(folder, name=metadata.get("name")).replace(weights=path)
    if config.tokenizer is None and config.vocab is None and (found := find_tokenizer(path)) is not None:
        config = config.replace(tokenizer=found, add_bos=config.add_bos or adds_bos(found, config.bos_token_id))
    check_params(params, config, f"{path}", layout)
    expected = param_shapes(config)
    return Weights(config, {k: params[k] for k in expected}, str(path))


def check_params(params: dict[str, np.ndarray], config: ModelConfig, where: str, layout: str = "") -> None:
    """ModelError naming the first tensor that is unexpected, missing, of the wrong shape or not finite
    (a tied LM head is filled in first)."""
    family = family_of(config)
    if config.tied and "lm_head.weight" not in params and family.TOKEN_EMBEDDING in params:
        params["lm_head.weight"] = params[family.TOKEN_EMBEDDING]
    expected = param_shapes(config)
    named = f" ({layout} layout)" if layout else ""
    for key in params:
        if key not in expected:
            raise ModelError(f"{where}: unexpected tensor '{key}' for {config.name}{named}")
    for key, shape in expected.items():
        if key not in params:
            raise ModelError(f"{where}: missing tensor '{key}'{named}")
        if params[key].shape != shape:
            raise ModelError(f"{where}: tensor '{key}' has shape {tuple(params[key].shape)}, expected {shape}")
        if not np.isfinite(params[key]).all():
            raise ModelError(f"{where}: tensor '{key}' contains NaN or Inf")


# ----------------------------------------------------------------------------------------- writing

def save_weights(weights: Weights, path: str | Path, naming: str = "mingpt") -> Path:
    """Write `weights` as .safetensors, atomically, with the config in the file's metadata. GPT-2
    weights are written in minGPT naming or Hugging Face GPT-2 naming; the Llama family always under
    its Hugging Face keys."""
    if naming not in ("mingpt", "hf"):
        raise ModelError(f"naming must be 'mingpt' or 'hf', got {naming!r}")
    path = Path(path)
    config = weights.config
    tensors = {k: np.ascontiguousarray(v, dtype=np.float32)
               for k, v in family_of(config).to_file(weights.params, config, naming).items()}
    metadata = {"format": "np", "layout": family_of(config).layout_name(naming), "name": config.name,
                "title": config.title,
                **{f: str(getattr(config, f)) for f in ("n_layer", "n_head", "n_embd", "vocab_size", "block_size")}}
    if config.vocab is not None:
        metadata["vocab"] = json.dumps(list(config.vocab))
    if config.default_input is not None:
        metadata["default_input"] = config.default_input
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return path
