"""Small helpers that hide differences between Blender 4.2, 4.5 and 5.0.

Findings (checked against the bpy wheels 4.2.23, 4.5.x and 5.0.1):
- EEVEE's engine id is ``BLENDER_EEVEE_NEXT`` on 4.2-4.5 and ``BLENDER_EEVEE`` on 5.0.
- ``bpy.data.materials.new`` gives no node tree on 4.x until ``use_nodes = True``; on 5.0 the
  tree always exists and ``use_nodes`` is deprecated.
- Socket *names* change between versions (the shader Attribute node's ``Fac`` output is named
  ``Factor`` on 5.0) while *identifiers* stay; node type names used here are identical.
- Node group interfaces use ``tree.interface.new_socket`` (4.0+); modifier inputs are ID
  properties keyed by the interface item's ``identifier`` (``Socket_N``).
"""

from __future__ import annotations

from typing import Any

import bpy

VERSION: tuple[int, int, int] = tuple(bpy.app.version)  # type: ignore[assignment]


def eevee_engine_id() -> str:
    """Render engine id of EEVEE for the running Blender."""
    return "BLENDER_EEVEE" if VERSION >= (5, 0, 0) else "BLENDER_EEVEE_NEXT"


def ensure_node_tree(owner: bpy.types.Material | bpy.types.World) -> bpy.types.ShaderNodeTree:
    """A material's or world's shader node tree, created if needed (4.x), without deprecated calls on 5.0."""
    if owner.node_tree is None:
        owner.use_nodes = True
    return owner.node_tree


def socket(sockets: Any, key: str, type_: str | None = None) -> bpy.types.NodeSocket:
    """Find a socket by identifier, then by name; only enabled ones when several share the key."""
    found = [s for s in sockets if s.identifier == key] or [s for s in sockets if s.name == key]
    if type_ is not None:
        found = [s for s in found if s.type == type_]
    if len(found) > 1:
        found = [s for s in found if s.enabled] or found
    if not found:
        raise KeyError(f"no socket {key!r} in {[s.identifier for s in sockets]}")
    return found[0]


def interface_identifier(tree: bpy.types.NodeTree, name: str, in_out: str = "INPUT") -> str:
    """Identifier (e.g. ``Socket_2``) of a node group's interface socket by its name."""
    for item in tree.interface.items_tree:
        if item.item_type == "SOCKET" and item.in_out == in_out and item.name == name:
            return item.identifier
    raise KeyError(f"{tree.name!r} has no {in_out.lower()} socket {name!r}")


def set_modifier_input(mod: bpy.types.NodesModifier, name: str, value: Any) -> None:
    """Set a geometry-nodes modifier input by the group socket's name."""
    mod[interface_identifier(mod.node_group, name)] = value


def get_modifier_input(mod: bpy.types.NodesModifier, name: str) -> Any:
    """Read a geometry-nodes modifier input by the group socket's name."""
    return mod[interface_identifier(mod.node_group, name)]


class NodeBuilder:
    """Terse node-graph construction: ``b.math("ADD", a, 1.0)`` links sockets and sets constants."""

    def __init__(self, tree: bpy.types.NodeTree):
        self.tree = tree
        self.nodes = tree.nodes
        self.links = tree.links
        self._x = 0

    def node(self, type_: str, **props: Any) -> bpy.types.Node:
        """Add a node and set its properties (layout: left to right in creation order)."""
        n = self.nodes.new(type_)
        for k, v in props.items():
            setattr(n, k, v)
        n.location = (self._x, 0)
        self._x += 200
        return n

    def feed(self, sock: bpy.types.NodeSocket, value: Any) -> None:
        """Link a socket, or set a constant default value."""
        if value is None:
            return
        if isinstance(value, bpy.types.NodeSocket):
            self.links.new(value, sock)
        else:
            sock.default_value = value

    def math(self, op: str, a: Any, b: Any = None, c: Any = None, clamp: bool = False) -> bpy.types.NodeSocket:
        """A Math node's output (float ops)."""
        n = self.node("ShaderNodeMath", operation=op, use_clamp=clamp)
        for s, v in zip(n.inputs, (a, b, c)):
            self.feed(s, v)
        return n.outputs[0]

    def mix_color(self, fac: Any, a: Any, b: Any) -> bpy.types.NodeSocket:
        """Linear blend of two colours (Mix node, RGBA, clamped factor)."""
        n = self.node("ShaderNodeMix", data_type="RGBA", clamp_factor=True)
        self.feed(socket(n.inputs, "Factor_Float"), fac)
        self.feed(socket(n.inputs, "A_Color"), a)
        self.feed(socket(n.inputs, "B_Color"), b)
        return socket(n.outputs, "Result_Color")

    def map_range(self, value: Any, from_min: Any, from_max: Any, to_min: Any = 0.0,
                  to_max: Any = 1.0) -> bpy.types.NodeSocket:
        """Clamped linear map range (float)."""
        n = self.node("ShaderNodeMapRange", data_type="FLOAT", interpolation_type="LINEAR", clamp=True)
        for key, v in (("Value", value), ("From Min", from_min), ("From Max", from_max),
                       ("To Min", to_min), ("To Max", to_max)):
            self.feed(socket(n.inputs, key, "VALUE"), v)
        return socket(n.outputs, "Result", "VALUE")
