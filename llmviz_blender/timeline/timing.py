"""Chapter ids and titles, and the timing options of a walkthrough (fps, speed, durations)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..defaults import FPS


class TimelineError(ValueError):
    """A bad timeline option; the one-line message names the field at fault."""


#: Chapter id -> title, in story order.
CHAPTERS: dict[str, str] = {
    "overview": "Overview",
    "embedding": "Embedding",
    "layer_norm": "Layer norm",
    "attention": "Self-attention",
    "projection": "Projection",
    "mlp": "MLP",
    "stack": "The transformer stack",
    "output": "Softmax and output",
    "facts": "How facts are stored",
    "generation": "Generation loop",
}

#: Seconds per chapter at speed 1; "stack" is per remaining layer, "generation" per generated token.
DEFAULT_DURATIONS: dict[str, float] = {
    "overview": 10.0,
    "embedding": 12.0,
    "layer_norm": 10.0,
    "attention": 32.0,
    "projection": 8.0,
    "mlp": 14.0,
    "stack": 6.0,
    "output": 12.0,
    "facts": 36.0,
    "generation": 3.0,
}


def ease(t: float) -> float:
    """Smoothstep: 0 at t <= 0, 1 at t >= 1, zero slope at both ends."""
    t = min(max(float(t), 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


def _positive_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@dataclass
class Timing:
    """How long the walkthrough takes: frames per second, a global speed factor (2.0 = twice as
    fast), seconds per chapter (partial dicts are merged with DEFAULT_DURATIONS) and the first frame."""

    fps: int = FPS
    speed: float = 1.0
    durations: dict[str, float] = field(default_factory=dict)
    frame_start: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.fps, bool) or not isinstance(self.fps, int) or self.fps <= 0:
            raise TimelineError(f"Timing.fps: must be a positive integer, got {self.fps!r}")
        if not _positive_number(self.speed):
            raise TimelineError(f"Timing.speed: must be a number > 0, got {self.speed!r}")
        if isinstance(self.frame_start, bool) or not isinstance(self.frame_start, int):
            raise TimelineError(f"Timing.frame_start: must be an integer, got {self.frame_start!r}")
        if not isinstance(self.durations, dict):
            raise TimelineError(f"Timing.durations: must be a dict of chapter -> seconds, got {self.durations!r}")
        for name, seconds in self.durations.items():
            if name not in CHAPTERS:
                raise TimelineError(f"Timing.durations: unknown chapter {name!r} (known: {', '.join(CHAPTERS)})")
            if not _positive_number(seconds):
                raise TimelineError(f"Timing.durations[{name!r}]: must be a number of seconds > 0, got {seconds!r}")
        self.durations = {**DEFAULT_DURATIONS, **{k: float(v) for k, v in self.durations.items()}}

    def frames(self, seconds: float) -> float:
        """Frames that `seconds` of story take at this fps and speed."""
        return seconds * self.fps / self.speed
