"""Atomic output files: write under a temporary name beside the target, then rename."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

_PENDING: set[Path] = set()  # temporary outputs being written (files and folders)
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov")  # an animation to any other path is a folder of PNG frames


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def video_size_problem(width: int, height: int) -> str | None:
    """Why H.264 video cannot have this size (it needs an even width and height), or None."""
    if width % 2 or height % 2:
        return f"H.264 video needs an even width and height, got {width}x{height}"
    return None


def remove_pending() -> None:
    """Remove every temporary output still being written: for a signal handler that exits at once
    (interrupting Blender mid-render), so an interrupted run leaves no temporary files either."""
    for tmp in list(_PENDING):
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
    _PENDING.clear()


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success it is renamed to `path` (with the
    usual permissions), on any failure it is removed, so no half-written file is left under `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{suffix or path.suffix}")
    os.close(fd)
    tmp_path = Path(tmp)
    _PENDING.add(tmp_path)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)
        _PENDING.discard(tmp_path)


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside `path`; on success it takes the name `path` (a folder
    already there is swapped out, then removed), on any failure it is removed with its contents,
    so `path` is either what it was before or the complete new folder."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path}: exists and is not a folder")
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    _PENDING.add(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if path.is_dir():
            old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".old"))
            os.replace(path, old / "old")
            try:
                os.replace(tmp, path)
            except BaseException:
                os.replace(old / "old", path)
                raise
            finally:
                shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        _PENDING.discard(tmp)
