"""Weights: safetensors I/O in the minGPT/nanoGPT and Hugging Face GPT-2 layouts, and seeded random init.

Parameters are held under their minGPT names and shapes (nn.Linear weights [out, in]), float32.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

from ..files import atomic_path
from .config import ModelConfig, param_count
from .errors import ModelError
from .tokenizer import find_tokenizer

# Linear layers: minGPT stores nn.Linear [out, in]; Hugging Face GPT-2 stores Conv1D [in, out].
_LINEARS = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")
_BUFFER = re.compile(r"(^|\.)h\.\d+\.attn\.(bias|masked_bias)$")
_LAYER = re.compile(r"(?:^|\.)h\.(\d+)\.")
_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "BF16": None}
RANDOM_LIMIT_BYTES = 8 * 2**30


@dataclass
class Weights:
    """A model's parameters under minGPT names and shapes, float32."""

    config: ModelConfig
    params: dict[str, np.ndarray]
    source: str = field(default="")

    def __getitem__(self, key: str) -> np.ndarray:
        return self.params[key]

    def __contains__(self, key: object) -> bool:
        return key in self.params


def param_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every parameter's minGPT name and shape, in model order (lm_head last)."""
    c, v = config.n_embd, config.vocab_size
    shapes: dict[str, tuple[int, ...]] = {
        "transformer.wte.weight": (v, c), "transformer.wpe.weight": (config.block_size, c)}
    for i in range(config.n_layer):
        p = f"transformer.h.{i}."
        shapes.update({
            p + "ln_1.weight": (c,), p + "ln_1.bias": (c,),
            p + "attn.c_attn.weight": (3 * c, c), p + "attn.c_attn.bias": (3 * c,),
            p + "attn.c_proj.weight": (c, c), p + "attn.c_proj.bias": (c,),
            p + "ln_2.weight": (c,), p + "ln_2.bias": (c,),
            p + "mlp.c_fc.weight": (4 * c, c), p + "mlp.c_fc.bias": (4 * c,),
            p + "mlp.c_proj.weight": (c, 4 * c), p + "mlp.c_proj.bias": (c,)})
    shapes.update({"transformer.ln_f.weight": (c,), "transformer.ln_f.bias": (c,), "lm_head.weight": (v, c)})
    return shapes


def _is_linear_weight(key: str) -> bool:
    return key.endswith(".weight") and any(f".{name}." in f".{key}" for name in _LINEARS)


def random_weights(config: ModelConfig, seed: int = 0) -> Weights:
    """GPT-2 style init: N(0, 0.02) weights (residual projections scaled by 1/sqrt(2 n_layer)),
    zero biases, unit LayerNorm gains; lm_head tied to the token embedding."""
    need = param_count(config) * 4
    if need > RANDOM_LIMIT_BYTES:
        raise ModelError(f"{config.name}: random weights would take {need / 2**30:.1f} GiB "
                         f"(limit {RANDOM_LIMIT_BYTES / 2**30:.0f} GiB); build the scene without weights")
    rng = np.random.default_rng(seed)
    params: dict[str, np.ndarray] = {}
    proj_std = 0.02 / np.sqrt(2 * config.n_layer)
    for key, shape in param_shapes(config).items():
        if key == "lm_head.weight":
            params[key] = params["transformer.wte.weight"]
        elif key.endswith("bias"):
            params[key] = np.zeros(shape, np.float32)
        elif ".ln_" in key:
            params[key] = np.ones(shape, np.float32)
        else:
            std = proj_std if key.endswith("c_proj.weight") else 0.02
            params[key] = rng.standard_normal(shape, dtype=np.float32) * np.float32(std)
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


def _to_mingpt(tensors: dict[str, np.ndarray], path: Path) -> tuple[dict[str, np.ndarray], str]:
    """Rename (and transpose) a file's tensors into minGPT names; return them and the layout name."""
    tensors = {_strip(k): v for k, v in tensors.items() if not _BUFFER.search(_strip(k))}
    if "transformer.wte.weight" in tensors:
        prefix = "transformer."
    elif "wte.weight" in tensors:
        prefix = ""
    else:
        raise ModelError(f"{path}: missing tensor 'transformer.wte.weight' (token embedding)")
    c = tensors[prefix + "wte.weight"].shape[-1]
    c_attn = tensors.get(prefix + "h.0.attn.c_attn.weight")
    hf = prefix == "" or (c_attn is not None and c_attn.ndim == 2 and c_attn.shape[0] == c != c_attn.shape[1])
    if not hf:
        return tensors, "mingpt"
    out: dict[str, np.ndarray] = {}
    for key, value in tensors.items():
        name = key if key == "lm_head.weight" else "transformer." + key[len(prefix):] if key.startswith(prefix) else key
        if _is_linear_weight(name) and value.ndim == 2:
            value = np.ascontiguousarray(value.T)
        out[name] = value
    return out, "hf"


def _n_head_from(path: Path, metadata: dict[str, str]) -> int | None:
    if "n_head" in metadata:
        try:
            return int(metadata["n_head"])
        except ValueError:
            raise ModelError(f"{path}: metadata field 'n_head' is not an integer: {metadata['n_head']!r}") from None
    cfg = path.parent / "config.json"
    if cfg.is_file():
        try:
            data = json.loads(cfg.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(f"{cfg}: cannot read ({exc})") from None
        value = data.get("n_head", data.get("num_attention_heads")) if isinstance(data, dict) else None
        if value is not None:
            if not isinstance(value, int) or isinstance(value, bool):
                raise ModelError(f"{cfg}: field 'n_head' must be an integer, got {value!r}")
            return value
    return None


def _infer_config(params: dict[str, np.ndarray], metadata: dict[str, str], path: Path) -> ModelConfig:
    wte = params["transformer.wte.weight"]
    wpe = params.get("transformer.wpe.weight")
    if wte.ndim != 2:
        raise ModelError(f"{path}: tensor 'transformer.wte.weight' must be 2-D, found shape {wte.shape}")
    if wpe is None:
        raise ModelError(f"{path}: missing tensor 'transformer.wpe.weight' (position embedding)")
    layers = {int(m.group(1)) for k in params if (m := _LAYER.search(k))}
    n_head = _n_head_from(path, metadata)
    if n_head is None:
        raise ModelError(f"{path}: n_head cannot be told from tensor shapes; pass config= a preset, "
                         f"or put n_head in a config.json beside the file")
    vocab = tuple(json.loads(metadata["vocab"])) if "vocab" in metadata else None
    return ModelConfig(
        name=metadata.get("name", path.stem), title=metadata.get("title", ""), n_layer=max(layers, default=-1) + 1,
        n_head=n_head, n_embd=wte.shape[1], vocab_size=wte.shape[0], block_size=wpe.shape[0], vocab=vocab,
        default_input=metadata.get("default_input"), weights=path).validate(f"{path} (inferred)")


HF_WEIGHTS = "model.safetensors"  # a Hugging Face model folder's weights file


def load_weights(path: str | Path, config: ModelConfig | None = None) -> Weights:
    """Load GPT weights from a .safetensors file (minGPT/nanoGPT or Hugging Face GPT-2 layout), or
    a Hugging Face model folder's model.safetensors.

    Without `config` the shapes give the config; n_head comes from the file's metadata or a
    Hugging Face config.json beside it. A config without vocab or tokenizer takes the tokenizer found
    beside the file (see tokenizer.find_tokenizer). Half precision is widened to float32. Never unpickles.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / HF_WEIGHTS
    if not path.is_file():
        raise ModelError(f"{path}: weights file not found")
    tensors, metadata = _read_tensors(path)
    params, layout = _to_mingpt(tensors, path)
    if config is None:
        try:
            config = _infer_config(params, metadata, path)
        except (ValueError, KeyError, TypeError) as exc:
            if isinstance(exc, ModelError):
                raise
            raise ModelError(f"{path}: malformed metadata ({exc})") from None
    if config.tokenizer is None and config.vocab is None and (found := find_tokenizer(path)) is not None:
        config = config.replace(tokenizer=found)
    expected = param_shapes(config)
    if "lm_head.weight" not in params and "transformer.wte.weight" in params:
        params["lm_head.weight"] = params["transformer.wte.weight"]  # tied, as GPT-2 does
    for key in params:
        if key not in expected:
            raise ModelError(f"{path}: unexpected tensor '{key}' for {config.name} ({layout} layout)")
    for key, shape in expected.items():
        if key not in params:
            raise ModelError(f"{path}: missing tensor '{key}' ({layout} layout)")
        if params[key].shape != shape:
            raise ModelError(f"{path}: tensor '{key}' has shape {tuple(params[key].shape)}, expected {shape}")
        if not np.isfinite(params[key]).all():
            raise ModelError(f"{path}: tensor '{key}' contains NaN or Inf")
    return Weights(config, {k: params[k] for k in expected}, str(path))


# ----------------------------------------------------------------------------------------- writing

def save_weights(weights: Weights, path: str | Path, naming: str = "mingpt") -> Path:
    """Write `weights` as .safetensors in minGPT naming or Hugging Face GPT-2 naming, atomically,
    with the config in the file's metadata."""
    if naming not in ("mingpt", "hf"):
        raise ModelError(f"naming must be 'mingpt' or 'hf', got {naming!r}")
    path = Path(path)
    config = weights.config
    tensors: dict[str, np.ndarray] = {}
    for key, value in weights.params.items():
        if naming == "hf":
            if key == "lm_head.weight":
                if value is weights.params["transformer.wte.weight"] or np.array_equal(
                        value, weights.params["transformer.wte.weight"]):
                    continue
            else:
                key = key[len("transformer."):]
            if _is_linear_weight(key):
                value = value.T
        tensors[key] = np.ascontiguousarray(value, dtype=np.float32)
    metadata = {"format": "np", "layout": naming, "name": config.name, "title": config.title,
                **{f: str(getattr(config, f)) for f in ("n_layer", "n_head", "n_embd", "vocab_size", "block_size")}}
    if config.vocab is not None:
        metadata["vocab"] = json.dumps(list(config.vocab))
    if config.default_input is not None:
        metadata["default_input"] = config.default_input
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return path
