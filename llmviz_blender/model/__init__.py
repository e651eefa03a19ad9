"""The model core: presets, weights, the numpy forward pass with its full trace, and generation.

Pure numpy (no bpy), so it runs and tests anywhere.
"""

from .config import PRESETS_DIR, ModelConfig, config_from_dict, config_to_dict, load_preset, param_count, preset_names
from .errors import ModelError
from .forward import LN_EPS, Trace, check_tokens, forward, gelu, trace_shapes
from .generate import Generation, generate
from .tokens import decode, encode, token_text
from .weights import Weights, default_weights, load_weights, param_shapes, random_weights, save_weights

__all__ = [
    "PRESETS_DIR", "LN_EPS", "ModelConfig", "ModelError", "Trace", "Generation", "Weights",
    "load_preset", "preset_names", "config_from_dict", "config_to_dict", "param_count", "param_shapes",
    "load_weights", "save_weights", "random_weights", "default_weights",
    "forward", "check_tokens", "trace_shapes", "gelu", "generate", "encode", "decode", "token_text",
]
