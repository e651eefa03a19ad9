"""`write_subtitles`: a keyed walkthrough's captions as .srt / .vtt files and its chapters as a
`<name>.chapters.txt` beside them (the text itself comes from timeline.subtitles)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import bpy

from .. import i18n
from ..files import atomic_path, is_video
from ..timeline import subtitles
from . import render
from .builder import LANGUAGE_PROP
from .walkthrough import steps_of


def subtitle_paths(path: str | Path) -> list[Path]:
    """The files `write_subtitles(collection, path)` writes: for a .srt or .vtt path that file, for
    an animation (a video or a folder of frames) `<name>.srt` and `<name>.vtt` beside it; then the
    chapters, `<name>.chapters.txt`."""
    path = Path(bpy.path.abspath(str(path))).expanduser().absolute()
    if path.suffix.lower() in subtitles.SUFFIXES:
        return [path, path.with_name(f"{path.stem}.chapters.txt")]
    name = path.stem if is_video(path) else path.name
    return [path.with_name(f"{name}{suffix}") for suffix in (*subtitles.SUFFIXES, ".chapters.txt")]


def write_subtitles(collection: bpy.types.Collection, path: str | Path, frames: tuple[int, int] | None = None,
                    width: int | None = None, lines: int = subtitles.MAX_LINES,
                    scene: bpy.types.Scene | None = None) -> list[Path]:
    """Write the captions of the collection's keyed walkthrough as subtitles, and its chapters, for
    `path` (see `subtitle_paths`), timed from the first of `frames` (default the whole walkthrough)
    and clipped to them, at the scene's fps; cues of at most `lines` lines of `width` columns (default
    the subtitle line of the walkthrough's language, i18n).
    Returns the paths written (each atomically, all or none).

    TimelineError when the collection has no walkthrough; RenderSettingsError for a folder that
    cannot be written."""
    steps = steps_of(collection)
    fps = (scene or bpy.context.scene).render.fps
    lang = i18n.language(collection.get(LANGUAGE_PROP))
    cues = subtitles.walkthrough_cues(steps, fps, frames, width, lines, lang)
    chapters = subtitles.chapters_text(subtitles.chapter_marks(steps, fps, frames))
    paths = [render.check_output(p, "subtitles") for p in subtitle_paths(path)]
    texts = [subtitles.subtitle_text(cues, p.suffix) for p in paths[:-1]] + [chapters]
    with contextlib.ExitStack() as stack:  # renamed into place only once every file is written
        for p, text in zip(paths, texts):
            stack.enter_context(atomic_path(p)).write_text(text, encoding="utf-8")
    return paths
