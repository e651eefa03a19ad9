"""The live models of this Blender session, one per built collection (the way Molecular Nodes keeps
its entities in a session).

`scene.build` registers the `Model` it made; `animate`, framing, the inspector, rendering and the
CLI take it from here without reading a file or running the forward pass again. The collection's
custom properties are the model's saved copy: they are read only when the live model is gone
(a .blend reopened, Blender restarted), and then the model is rebuilt once and registered again.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import bpy

from .. import layout as lay
from .. import model
from ..layout import Layout
from ..model import ModelConfig, ModelError, Trace, Weights

#: Where the weights of a model come from, as saved on its collection.
SOURCE_KINDS = ("file", "random", "preset", "none", "memory")
_ID = "llmviz_model_id"


@dataclass(frozen=True)
class WeightsSource:
    """kind: file (`path`), random (`seed`), preset (the preset's own file), none (shape only) or
    memory (a Weights object handed to the API: it cannot be reloaded)."""

    kind: str
    path: str = ""
    seed: int = 0

    def load(self, config: ModelConfig) -> Weights | None:
        if self.kind == "file":
            return model.load_weights(self.path, config)
        if self.kind == "random":
            return model.random_weights(config, seed=self.seed)
        if self.kind == "preset":
            return model.load_weights(config.weights, config) if config.weights is not None else None
        if self.kind == "none":
            return None
        raise ModelError(f"weights of {config.name} were given in memory and are not saved with the file; "
                         "build the model again")


def resolve_weights(config: ModelConfig | None, weights: Weights | str | Path | None) -> tuple[Weights | None, WeightsSource]:
    """Weights given, loaded from a path, "random" (seeded init), or the preset's own file (None:
    shape-only presets show kind colours), with where they came from."""
    if isinstance(weights, Weights):
        return weights, WeightsSource("memory")
    if weights == "random":
        source = WeightsSource("random", seed=0)
    elif weights is not None:
        source = WeightsSource("file", path=str(Path(weights).expanduser().absolute()))
    else:
        source = WeightsSource("preset" if config.weights is not None else "none")
    return source.load(config), source


@dataclass
class Model:
    """A resolved model: config, weights (and their source), the input `tokens`, its layout and
    level-of-detail plan (block key -> "cells" | "box"). `fed` are generated tokens fed back as
    input columns after the input (the generation loop's KV-cached passes: each computes one more
    column); the layout has a column and `trace` (the forward pass of `sequence`) a position for
    every input and fed token. A causal model's first len(tokens) positions are the input's own
    forward pass."""

    config: ModelConfig
    weights: Weights | None
    source: WeightsSource
    tokens: list[int]
    trace: Trace | None
    layout: Layout
    plan: dict[str, str]
    fed: list[int] = field(default_factory=list)

    @property
    def sequence(self) -> list[int]:
        """The tokens the columns show: the input, then the fed-back generated tokens."""
        return [*self.tokens, *self.fed]


_live: dict[int, tuple[str, Model]] = {}  # collection.session_uid -> (model id, model)


def register(collection: bpy.types.Collection, m: Model) -> None:
    """Keep `m` as the live model of `collection` and write its saved copy onto the collection."""
    model_id = uuid.uuid4().hex
    collection[_ID] = model_id
    collection["llmviz_preset"] = m.config.name
    collection["llmviz_tokens"] = list(m.tokens)
    collection["llmviz_fed"] = list(m.fed)
    collection["llmviz_config"] = json.dumps(model.config_to_dict(m.config))
    collection["llmviz_layers_per_column"] = m.layout.layers_per_column
    collection["llmviz_weights_kind"] = m.source.kind
    collection["llmviz_weights_path"] = m.source.path
    collection["llmviz_weights_seed"] = m.source.seed
    _live[collection.session_uid] = (model_id, m)


def is_model(collection: bpy.types.Collection) -> bool:
    return "llmviz_config" in collection


def model_of(collection: bpy.types.Collection) -> Model:
    """The live model `collection` shows; rebuilt from its saved copy only when there is none."""
    if not is_model(collection):
        raise ModelError(f"collection '{collection.name}' is not an llmviz model")
    live = _live.get(collection.session_uid)
    if live is not None and live[0] == collection.get(_ID):
        return live[1]
    m = _restore(collection)
    _live[collection.session_uid] = (collection.get(_ID, ""), m)
    return m


def _restore(collection: bpy.types.Collection) -> Model:
    """The model of a collection whose live model is gone, from its custom properties."""
    where = collection.name
    config = model.config_from_dict(json.loads(collection["llmviz_config"]), where=where)
    kind = collection.get("llmviz_weights_kind", "")
    if kind not in SOURCE_KINDS:
        raise ModelError(f"collection '{where}': unknown weights source {kind!r}")
    source = WeightsSource(kind, str(collection.get("llmviz_weights_path", "")),
                           int(collection.get("llmviz_weights_seed", 0)))
    weights = source.load(config)
    ids = [int(t) for t in collection["llmviz_tokens"]]
    fed = [int(t) for t in collection.get("llmviz_fed", [])]
    trace = model.forward(weights, ids + fed) if weights is not None else None
    layout = lay.model_layout(config, len(ids) + len(fed),
                              layers_per_column=int(collection["llmviz_layers_per_column"]))
    cells = {o["llmviz_key"] for o in collection.all_objects if "llmviz_key" in o and not o.get("llmviz_value_box")}
    return Model(config, weights, source, ids, trace, layout,
                 {b.key: "cells" if b.key in cells else "box" for b in layout.blocks}, fed)


def forget_all() -> None:
    """Drop every live model (the scene was cleared or another file is loading)."""
    _live.clear()
