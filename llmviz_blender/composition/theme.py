"""Themes (pure): dark for video, light for slides and papers (near-white paper, dark text). Cells
keep their kind colours and value tones in both; what changes is the backdrop, the text and overlay
colours, and the two tones that sit between the cells and the backdrop: cells not yet computed
(ghost) and blocks out of focus (dim), which fade toward the backdrop."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Theme:
    """`background`: linear RGB seen behind the model; `roles`: sRGB hex of each text or overlay role;
    `ghost` and `dim`: linear RGB of cells not yet computed and of blocks faded out of focus."""

    name: str
    purpose: str
    background: tuple[float, float, float]
    roles: dict[str, str]
    ghost: tuple[float, float, float]
    dim: tuple[float, float, float]


THEMES: dict[str, Theme] = {
    "dark": Theme("dark", "Dark background: for video", (0.012, 0.012, 0.016),
                  {"text": "#d9d9de", "section": "#f2f2f5", "muted": "#8c8c99", "bar": "#0b0b0e",
                   "formula": "#d368a4", "sheet": "#16161c", "referent": "#ffd23f"},
                  ghost=(0.05, 0.05, 0.055), dim=(0.08, 0.08, 0.08)),
    "light": Theme("light", "Near-white paper and dark text: for slides and papers", (0.90, 0.90, 0.88),
                   {"text": "#26262b", "section": "#101014", "muted": "#5f5f6b", "bar": "#ecebe6",
                    "formula": "#9c1f66", "sheet": "#f7f6f2", "referent": "#c26a00"},
                   ghost=(0.5, 0.5, 0.49), dim=(0.72, 0.72, 0.7)),
}


def theme(name: str) -> Theme:
    """The theme called `name`; ValueError naming the known ones otherwise."""
    if name not in THEMES:
        raise ValueError(f"theme must be one of {', '.join(THEMES)}, got {name!r}")
    return THEMES[name]
