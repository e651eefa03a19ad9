"""Model families: each module here describes one family's computation once, and every layer reads it.

A family module holds:
- `NAME`, `TITLE` and `ARCHITECTURES` (the Hugging Face classes it reads, from config.json);
- its parameters: `TOKEN_EMBEDDING` and `param_shapes(config)` with their keys, `random_params(config, rng)`,
  `detect(tensors)` (a file holds them), `from_file(tensors, path)` (a file's keys and layout onto its
  own), `to_file(params, config, naming)` and `layout_name(naming)`;
- its trace: `EMBEDDING_TRACE`, `BLOCK_TRACE` (per layer, as h{i}.<name>) and `HEAD_TRACE`, every entry
  with its dims in computation order, and `dims(config, t)`, their sizes;
- its operations: `forward(params, config, tokens, record)`, made of model/ops.py;
- its blocks: `bands(kit, config, t)`, where each sits (see layout/blocks.py for the kit);
- `check(config, where)`, the fields it needs, and `from_hf_config(data, where)` for a config.json;
- `final_norm(params, config, x)` (the logit lens reads through it) and `NEURONS`, its MLP's neurons;
- its captions: `tell_embedding`, `tell_layer_norm`, `tell_attention_inputs`, `tell_mlp` and
  `tell_final_norm`, each given the walkthrough's Story (timeline/story.py), whose numbers they quote.

There are no checks of which family a model is anywhere else: callers ask `family_of(config)`.
"""

from __future__ import annotations

from types import ModuleType

from ..errors import ModelError
from . import gpt2, llama

FAMILIES: dict[str, ModuleType] = {gpt2.NAME: gpt2, llama.NAME: llama}
ARCHITECTURES: dict[str, ModuleType] = {a: f for f in FAMILIES.values() for a in f.ARCHITECTURES}


def family_of(config) -> ModuleType:
    """The module that describes `config`'s family."""
    return FAMILIES[config.family]


def check_family(config, where: str) -> None:
    """ModelError unless `config.family` is known and its fields fit it."""
    if config.family not in FAMILIES:
        raise ModelError(f"{where}: field 'family' is '{config.family}'; known families: {', '.join(FAMILIES)}")
    FAMILIES[config.family].check(config, where)


def family_for_architecture(name: str, where: str) -> ModuleType:
    """The family drawing the Hugging Face architecture `name`, or ModelError listing the ones drawn."""
    if name not in ARCHITECTURES:
        raise ModelError(f"{where}: architecture '{name}' is not drawn; drawn: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]


def trace_dims(config) -> list[tuple[str, str]]:
    """Every trace entry of `config`'s family with its dims, in computation order."""
    family = family_of(config)
    return [*family.EMBEDDING_TRACE.items(),
            *((f"h{i}.{name}", dim) for i in range(config.n_layer) for name, dim in family.BLOCK_TRACE.items()),
            *family.HEAD_TRACE.items()]
