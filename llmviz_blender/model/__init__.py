"""The model core: presets, weights, the numpy forward pass with its full trace, tokenizers,
generation and the logit lens.

Pure numpy (no bpy), so it runs and tests anywhere.
"""

from .config import PRESETS_DIR, ModelConfig, config_from_dict, config_to_dict, load_preset, param_count, preset_names
from .errors import ModelError
from .forward import LN_EPS, Trace, check_tokens, forward, gelu, trace_shapes
from .families import FAMILIES, family_of
from .generate import Choice, Generation, choose, generate
from .lens import LensRow, logit_lens, top_k
from .tokenizer import TextTokenizer, find_tokenizer, load_tokenizer
from .tokens import decode, encode, mark_spaces, sequence_text, token_text, tokenizer_of
from .weights import Weights, default_weights, load_weights, param_shapes, random_weights, save_weights

__all__ = [
    "PRESETS_DIR", "LN_EPS", "FAMILIES", "family_of", "ModelConfig", "ModelError", "Trace", "Generation", "Weights",
    "load_preset", "preset_names", "config_from_dict", "config_to_dict", "param_count", "param_shapes",
    "load_weights", "save_weights", "random_weights", "default_weights",
    "forward", "check_tokens", "trace_shapes", "gelu", "generate", "encode", "decode", "sequence_text", "token_text",
    "Choice", "choose", "LensRow", "logit_lens", "top_k", "TextTokenizer", "load_tokenizer", "find_tokenizer",
    "tokenizer_of", "mark_spaces",
]
