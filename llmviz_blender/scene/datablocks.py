"""Ownership and hygiene of the data-blocks the add-on creates.

Every ID we create carries the custom property ``llmviz_owned = 1`` (set by :func:`tag`); all
our names start with ``LLMViz``. Clean-up only ever touches tagged data-blocks, so a user's own
objects, meshes and materials in the same file are left alone. Shared data-blocks (the cell
node group, the kind materials) are found again through ``llmviz_key`` rather than by name alone,
so a user's block that happens to carry the same name is never reused or modified.
"""

from __future__ import annotations

from typing import Callable, Iterator, TypeVar

import bpy

OWNED = "llmviz_owned"
KEY = "llmviz_key"
VERSION_KEY = "llmviz_version"
PREFIX = "LLMViz"

#: ``bpy.data`` collections that may hold our data-blocks (missing ones are skipped).
ID_COLLECTIONS: tuple[str, ...] = (
    "objects", "meshes", "curves", "pointclouds", "materials", "node_groups", "images",
    "textures", "cameras", "lights", "worlds", "actions", "collections", "fonts", "texts",
)

T = TypeVar("T", bound=bpy.types.ID)


def tag(id_: T, key: str | None = None) -> T:
    """Mark ``id_`` as ours (``llmviz_owned = 1``); ``key`` names a shared data-block. Returns it."""
    id_[OWNED] = 1
    if key is not None:
        id_[KEY] = key
    return id_


def is_owned(id_: bpy.types.ID) -> bool:
    """Whether the data-block carries our tag (linked library data never counts as ours)."""
    return id_.library is None and bool(id_.get(OWNED, 0))


def owned(collection_attr: str) -> list[bpy.types.ID]:
    """Our data-blocks in ``bpy.data.<collection_attr>`` (e.g. ``"materials"``)."""
    coll = getattr(bpy.data, collection_attr, None)
    return [] if coll is None else [i for i in coll if is_owned(i)]


def iter_owned() -> Iterator[bpy.types.ID]:
    """All our data-blocks, of every type."""
    for attr in ID_COLLECTIONS:
        yield from owned(attr)


def find_shared(collection_attr: str, key: str) -> bpy.types.ID | None:
    """Our shared data-block with logical name ``key``: by name first, then by ``llmviz_key``."""
    coll = getattr(bpy.data, collection_attr)
    hit = coll.get(key)
    if hit is not None and is_owned(hit) and hit.get(KEY) == key:
        return hit
    for i in coll:
        if is_owned(i) and i.get(KEY) == key:
            return i
    return None


def get_or_create(collection_attr: str, key: str, factory: Callable[[str], T], *,
                  version: int = 0, update: Callable[[T], None] | None = None) -> T:
    """Reuse our shared data-block ``key`` or make it with ``factory(key)`` and tag it.

    When the stored ``llmviz_version`` differs from ``version`` and ``update`` is given, the
    existing block is rebuilt in place by ``update(block)`` (users keep pointing at it).
    """
    assert key.startswith(PREFIX), key
    found = find_shared(collection_attr, key)
    if found is not None:
        if found.get(VERSION_KEY, 0) != version and update is not None:
            update(found)
            found[VERSION_KEY] = version
        return found
    made = tag(factory(key), key)
    made[VERSION_KEY] = version
    return made


def remove_all_owned() -> int:
    """Remove every data-block we own, of every type, orphans included. Returns how many."""
    ids = list(iter_owned())
    if ids:
        bpy.data.batch_remove(ids)
    return len(ids)
