"""Layout: every block of a model, where each cell sits, and which number it shows (pure numpy)."""

from ..defaults import CELL, KINDS, PITCH
from .blocks import Band, Block, Dim, bands
from .lod import LayoutError, MEMORY_PER_INSTANCE, plan_lod
from .place import (LAYERS, LAYERS_PER_COLUMN, CellRef, Layout, auto_layers_per_column, comparison_columns, comparison_layout,
                    label_room, label_size, margin, model_layout, side_by_side, token_size)
from .values import CellReader, block_values, shade, source_array

__all__ = ["CELL", "PITCH", "KINDS", "LAYERS", "LAYERS_PER_COLUMN", "MEMORY_PER_INSTANCE", "Band", "Block", "CellReader",
           "CellRef", "Dim", "Layout", "LayoutError", "auto_layers_per_column", "bands", "block_values",
           "comparison_columns", "comparison_layout", "label_room", "label_size", "margin", "model_layout", "plan_lod",
           "shade", "side_by_side", "source_array", "token_size"]
