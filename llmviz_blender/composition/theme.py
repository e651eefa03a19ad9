"""Themes (pure): dark for video, light for slides and papers (near-white paper, dark text). Cells
keep their kind colours and tones in both; what changes is the backdrop and the text and overlay
colours."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Theme:
    """`background`: linear RGB seen behind the model; `roles`: sRGB hex of each text or overlay role."""

    name: str
    purpose: str
    background: tuple[float, float, float]
    roles: dict[str, str]


THEMES: dict[str, Theme] = {
    "dark": Theme("dark", "Dark background: for video", (0.012, 0.012, 0.016),
                  {"text": "#d9d9de", "section": "#f2f2f5", "muted": "#8c8c99", "bar": "#0b0b0e",
                   "formula": "#d368a4", "sheet": "#16161c"}),
    "light": Theme("light", "Near-white paper and dark text: for slides and papers", (0.90, 0.90, 0.88),
                   {"text": "#26262b", "section": "#101014", "muted": "#5f5f6b", "bar": "#ecebe6",
                    "formula": "#9c1f66", "sheet": "#f7f6f2"}),
}


def theme(name: str) -> Theme:
    """The theme called `name`; ValueError naming the known ones otherwise."""
    if name not in THEMES:
        raise ValueError(f"theme must be one of {', '.join(THEMES)}, got {name!r}")
    return THEMES[name]
