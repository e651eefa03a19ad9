"""Chapter ids and titles, and the timing options of a walkthrough (fps, speed, reading speed, and a
narrator's seconds per chapter or step, from a TOML file or a dict)."""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..defaults import FPS
from ..i18n import Language, N_


class TimelineError(ValueError):
    """A bad timeline option; the one-line message names the field at fault."""


#: Chapter id -> title, in story order.
CHAPTERS: dict[str, str] = {
    "overview": N_("Overview"),
    "embedding": N_("Embedding"),
    "layer_norm": N_("Layer norm"),
    "attention": N_("Self-attention"),
    "projection": N_("Projection"),
    "mlp": N_("MLP"),
    "stack": N_("The transformer stack"),
    "output": N_("Softmax and output"),
    "facts": N_("How facts are stored"),
    "generation": N_("Generation loop"),
}

#: Seconds of motion per chapter at speed 1 (shared by its steps' weights; each step then lasts at
#: least its reading time); "stack" is per remaining layer, "generation" per generated token.
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
    "generation": 2.8,
}


def ease(t: float) -> float:
    """Smoothstep: 0 at t <= 0, 1 at t >= 1, zero slope at both ends."""
    t = min(max(float(t), 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


SETTLE_SECONDS = 0.5  # a step holds this long after its text can be read


def _positive_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@dataclass
class Timing:
    """How long the walkthrough takes: frames per second, a global speed factor (2.0 = twice as
    fast, reading included), the captions' reading speed (characters a second: a step lasts at least
    its text's reading time plus SETTLE_SECONDS; None: the language's, i18n), and a narrator's seconds at speed 1: `durations`
    (chapter id -> its seconds, shared by its steps in their paced proportions) and `steps` (chapter
    id -> {1-based step number: its seconds}); `source` names where these came from (`narrated`)."""

    fps: int = FPS
    speed: float = 1.0
    durations: dict[str, float] = field(default_factory=dict)
    frame_start: int = 1
    reading_speed: float | None = None
    steps: dict[str, dict[int, float]] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.fps, bool) or not isinstance(self.fps, int) or self.fps <= 0:
            raise TimelineError(f"Timing.fps: must be a positive integer, got {self.fps!r}")
        if not _positive_number(self.speed):
            raise TimelineError(f"Timing.speed: must be a number > 0, got {self.speed!r}")
        if isinstance(self.frame_start, bool) or not isinstance(self.frame_start, int):
            raise TimelineError(f"Timing.frame_start: must be an integer, got {self.frame_start!r}")
        if self.reading_speed is not None and not _positive_number(self.reading_speed):
            raise TimelineError(f"Timing.reading_speed: must be a number of characters a second > 0, "
                                f"got {self.reading_speed!r}")
        self.durations = {c: self._seconds(v, "durations", c) for c, v in self._chapters("durations").items()}
        steps = {}
        for c, given in self._chapters("steps").items():
            if not isinstance(given, Mapping):
                raise TimelineError(f"{self.where('steps', c)}: must be a table of step number -> seconds, "
                                    f"got {given!r}")
            steps[c] = {self._number(n, c): self._seconds(v, "steps", c, n) for n, v in given.items()}
        self.steps = steps

    def where(self, name: str, *keys: object) -> str:
        """How a message names a field: `Timing.steps['mlp'][2]`, or in a file `walk.toml: steps.mlp.2`
        (durations are the file's `chapters`)."""
        if not self.source:
            return f"Timing.{name}" + "".join(f"[{k!r}]" for k in keys)
        return f"{self.source}: " + ".".join([{"durations": "chapters"}.get(name, name), *map(str, keys)])

    def _chapters(self, name: str) -> dict:
        given = getattr(self, name)
        if not isinstance(given, Mapping):
            raise TimelineError(f"{self.where(name)}: must be a table of chapter -> seconds, got {given!r}")
        for c in given:
            if c not in CHAPTERS:
                raise TimelineError(f"{self.where(name, c)}: unknown chapter (known: {', '.join(CHAPTERS)})")
        return dict(given)

    def _number(self, n: object, chapter: str) -> int:
        """A 1-based step number (a file's keys are text)."""
        number = int(n) if isinstance(n, str) and n.isdigit() else n
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise TimelineError(f"{self.where('steps', chapter, n)}: not a step number (1, 2, ...)")
        return number

    def _seconds(self, value: object, *keys: object) -> float:
        if not _positive_number(value):
            raise TimelineError(f"{self.where(*keys)}: must be a number of seconds > 0, got {value!r}")
        return float(value)

    @classmethod
    def narrated(cls, source: str | os.PathLike | Mapping, **options) -> Timing:
        """A Timing with a narrator's seconds from a TOML file (or a dict of the same shape):
        `[chapters]` id = seconds, `[steps.<id>]` number = seconds. One-line TimelineError naming
        the file and the key at fault; `options` are Timing's others (their durations are merged
        under the file's chapters)."""
        if isinstance(source, Mapping):
            name, table = "timing", source
        else:
            name = os.fspath(source)
            try:
                with Path(name).open("rb") as f:
                    table = tomllib.load(f)
            except OSError as exc:
                raise TimelineError(f"{name}: cannot read: {exc.strerror or exc}") from None
            except tomllib.TOMLDecodeError as exc:
                raise TimelineError(f"{name}: not valid TOML: {exc}") from None
        unknown = [k for k in table if k not in NARRATION_KEYS]
        if unknown:
            raise TimelineError(f"{name}: {unknown[0]}: unknown key (known: {', '.join(NARRATION_KEYS)})")
        durations = table.get("chapters", {})
        if isinstance(durations, Mapping):  # else Timing names what is wrong
            durations = {**options.pop("durations", {}), **durations}
        return cls(**options, durations=durations, steps=table.get("steps", {}), source=name)

    def frames(self, seconds: float) -> float:
        """Frames that `seconds` of story take at this fps and speed."""
        return seconds * self.fps / self.speed

    def reading(self, chars: float, lang: Language) -> float:
        """Story seconds to read `chars` characters (of `lang`, at its speed unless reading_speed
        is given) and settle."""
        return chars / (self.reading_speed or lang.reading_speed) + SETTLE_SECONDS


#: The tables of a narrator's timing file.
NARRATION_KEYS = ("chapters", "steps")
