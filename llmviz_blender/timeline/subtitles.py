"""Subtitles and chapter marks of a walkthrough (pure, no bpy): captions split into cues of a few
short lines, timed within their step's span, as SubRip (.srt) or WebVTT (.vtt) text, and the
chapters as `m:ss Title` lines (the format video sites read from a description).

A step is a mapping with `chapter`, `title`, `caption` and `frames` ([start, end], inclusive), as
the scene saves them (`scene.walkthrough.steps_of`); it shows from `start` to `end + 1` frames.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..i18n import ENGLISH, Language, squeeze

MAX_LINES = 2  # lines a cue shows at once
SUFFIXES = (".srt", ".vtt")

#: Where cues may split: after a sentence's end (CJK sentences end in full-width marks, no space).
_SENTENCE_END = re.compile(r"(?<=[.!?])[ \n]+|(?<=[.!?][\"')\]\u201d\u2019\u00bb])[ \n]+|(?<=[。！？])[ \n]*(?=\S)")


@dataclass(frozen=True)
class Cue:
    """Subtitle text (lines joined by newlines) on screen from `start` to `end` seconds."""

    start: float
    end: float
    text: str


def wrap(text: str, width: int | None = None, lang: Language = ENGLISH) -> list[str]:
    """One paragraph as lines of at most `width` columns (default the language's subtitle line), by
    the language's line rules (i18n.Language.wrap)."""
    if width is not None and width < 1:
        raise ValueError(f"line width must be at least 1, got {width}")
    return lang.wrap(text, width)


def split(caption: str, width: int | None = None, lines: int = MAX_LINES,
          lang: Language = ENGLISH) -> list[list[str]]:
    """A caption as consecutive cues' lines, each cue at most `lines` lines of `width` columns:
    whole sentences while they fit, a longer sentence cut at line boundaries."""
    if lines < 1:
        raise ValueError(f"lines per cue must be at least 1, got {lines}")
    gap = "" if lang.char_breaks else " "
    cues: list[list[str]] = []
    current: list[str] = []
    for sentence in _SENTENCE_END.split(squeeze(caption)):
        joined = wrap(gap.join(["".join(current) if lang.char_breaks else " ".join(current), sentence])
                      if current else sentence, width, lang)
        if len(joined) <= lines:
            current = joined
            continue
        if current:
            cues.append(current)
        rest = wrap(sentence, width, lang)
        while len(rest) > lines:
            cues.append(rest[:lines])
            rest = rest[lines:]
        current = rest
    if current:
        cues.append(current)
    return cues


def caption_cues(caption: str, start: float, end: float, width: int | None = None, lines: int = MAX_LINES,
                 lang: Language = ENGLISH) -> list[Cue]:
    """A caption shown from `start` to `end` seconds as consecutive cues that cover exactly that
    span, each for a share proportional to its characters."""
    parts = split(caption, width, lines, lang)
    sizes = [lang.characters("".join(p)) for p in parts]
    total, done, cues = sum(sizes), 0.0, []
    for part, size in zip(parts, sizes):
        a = start + (end - start) * done / total
        done += size
        b = end if done == total else start + (end - start) * done / total
        cues.append(Cue(a, b, "\n".join(part)))
    return cues


def clip(cues: Iterable[Cue], start: float, end: float) -> list[Cue]:
    """The cues that overlap start..end seconds, cut to it and moved so that `start` is 0."""
    return [Cue(max(c.start, start) - start, min(c.end, end) - start, c.text)
            for c in cues if c.end > start and c.start < end]


def step_times(step: Mapping, fps: float, first: int) -> tuple[float, float]:
    """Seconds from frame `first` to the start and the end of a step (its last frame included)."""
    a, b = step["frames"]
    return (a - first) / fps, (b + 1 - first) / fps


def walkthrough_cues(steps: Sequence[Mapping], fps: float, frames: tuple[int, int] | None = None,
                     width: int | None = None, lines: int = MAX_LINES, lang: Language = ENGLISH) -> list[Cue]:
    """Every step's caption as cues (in `lang`'s lines), timed from the first frame of `frames`
    (default the walkthrough's first and last) and clipped to them."""
    first, last = frames if frames is not None else (steps[0]["frames"][0], steps[-1]["frames"][1])
    cues = [c for s in steps if s["caption"].strip()
            for c in caption_cues(s["caption"], *step_times(s, fps, first), width, lines, lang)]
    return clip(cues, 0.0, (last + 1 - first) / fps)


def chapter_marks(steps: Sequence[Mapping], fps: float,
                  frames: tuple[int, int] | None = None) -> list[tuple[float, str]]:
    """(seconds, title) of each chapter that starts within `frames` (default all), timed from its
    first frame; the chapter running at that frame is at 0."""
    first, last = frames if frames is not None else (steps[0]["frames"][0], steps[-1]["frames"][1])
    starts: list[tuple[int, str]] = []  # (first frame, title) of each run of steps in one chapter
    for i, s in enumerate(steps):
        if i == 0 or s["chapter"] != steps[i - 1]["chapter"]:
            starts.append((s["frames"][0], s["title"]))
    running = [title for f, title in starts if f <= first][-1:] or [starts[0][1]]
    return [(0.0, running[0])] + [((f - first) / fps, title) for f, title in starts if first < f <= last]


def _clock(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"


def srt(cues: Iterable[Cue]) -> str:
    """SubRip text: numbered cues, `HH:MM:SS,mmm --> HH:MM:SS,mmm` times, a blank line after each."""
    return "".join(f"{i}\n{_clock(c.start, ',')} --> {_clock(c.end, ',')}\n{c.text}\n\n"
                   for i, c in enumerate(cues, 1))


def vtt(cues: Iterable[Cue]) -> str:
    """WebVTT text: the `WEBVTT` header, then cues with `HH:MM:SS.mmm` times."""
    return "WEBVTT\n\n" + "".join(f"{_clock(c.start, '.')} --> {_clock(c.end, '.')}\n{c.text}\n\n" for c in cues)


def subtitle_text(cues: Iterable[Cue], suffix: str) -> str:
    """The cues in the format a file suffix names (.srt or .vtt)."""
    formats = {".srt": srt, ".vtt": vtt}
    if suffix.lower() not in formats:
        raise ValueError(f"subtitles are written as {' or '.join(SUFFIXES)}, not {suffix or 'no suffix'!r}")
    return formats[suffix.lower()](cues)


def timestamp(seconds: float) -> str:
    """A chapter's time as video sites read it: m:ss, or h:mm:ss from an hour on (whole seconds)."""
    s = math.floor(seconds + 1e-9)
    h, m = s // 3600, s // 60 % 60
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"


def chapters_text(marks: Iterable[tuple[float, str]]) -> str:
    """One `m:ss Title` line per chapter mark."""
    return "".join(f"{timestamp(t)} {title}\n" for t, title in marks)
