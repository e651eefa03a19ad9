"""Level of detail: which blocks get one cube per cell and which are drawn as one box."""

from __future__ import annotations

from collections import defaultdict

from .blocks import Block

MEMORY_PER_INSTANCE = 1600  # bytes per instanced cube in Cycles, measured (DESIGN.md)
DEFAULT_MAX_CELLS = 65_536  # auto mode: larger blocks become boxes
DEFAULT_BUDGET = 4 * 2**30  # cells mode: render memory allowed before per-cell cubes are refused
AUTO_BUDGET = 512 * 2**20  # auto mode: render memory it spends on per-cell cubes
DEFAULT_MAX_OBJECTS = 2500  # auto mode: per-cell blocks are one Blender object each
LOD_MODES = ("auto", "cells", "boxes")


class LayoutError(ValueError):
    """Bad layout request: one line naming the block or option at fault."""


def _gb(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.1f} GiB" if n_bytes >= 2**30 else f"{n_bytes / 2**20:.0f} MiB"


def plan_lod(blocks: list[Block], mode: str = "auto", max_cells: int = DEFAULT_MAX_CELLS,
             budget: int | None = None, max_objects: int = DEFAULT_MAX_OBJECTS) -> dict[str, str]:
    """Block key -> "cells" or "box".

    auto: blocks of at most `max_cells` cells get cubes, smallest sizes first (all blocks of one
    size or none), while the total stays within `budget` bytes of render memory and `max_objects`
    objects; cells: every block gets cubes, refused over the budget with the largest block named;
    boxes: every block is one box. `budget` defaults to AUTO_BUDGET (auto) or DEFAULT_BUDGET (cells).
    """
    if mode not in LOD_MODES:
        raise LayoutError(f"level of detail must be one of {', '.join(LOD_MODES)}, got {mode!r}")
    if budget is None:
        budget = AUTO_BUDGET if mode == "auto" else DEFAULT_BUDGET
    if max_cells < 1 or budget < 1:
        raise LayoutError("level of detail: max cells and memory budget must be positive")
    if mode == "boxes":
        return {b.key: "box" for b in blocks}
    if mode == "cells":
        total = sum(b.n_cells for b in blocks) * MEMORY_PER_INSTANCE
        if total > budget:
            big = max(blocks, key=lambda b: b.n_cells)
            raise LayoutError(
                f"one cube per cell needs ~{_gb(total)} of render memory (~{MEMORY_PER_INSTANCE} bytes per cube), "
                f"over the {_gb(budget)} budget; largest block '{big.name}' ({big.key}) has {big.n_cells:,} cells "
                f"(~{_gb(big.n_cells * MEMORY_PER_INSTANCE)}): use level of detail 'auto' or 'boxes'")
        return {b.key: "cells" for b in blocks}
    plan = {b.key: "box" for b in blocks}
    by_size: dict[int, list[Block]] = defaultdict(list)
    for b in blocks:
        if b.n_cells <= max_cells:
            by_size[b.n_cells].append(b)
    used = objects = 0
    for size in sorted(by_size):
        cost = size * len(by_size[size]) * MEMORY_PER_INSTANCE
        if used + cost > budget or objects + len(by_size[size]) > max_objects:
            break
        used += cost
        objects += len(by_size[size])
        for b in by_size[size]:
            plan[b.key] = "cells"
    return plan
