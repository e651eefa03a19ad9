"""What scene.frames and scene.render share: the render errors, one render call with Blender's
errors as RenderFailed, and the test seam that fails a render after some frames. Both modules
import this one; scene.render re-exports the names."""

from __future__ import annotations

import os

import bpy

#: Test seam: a render raises RenderFailed once this many frames are written (stills count 1).
FAIL_ENV = "LLMVIZ_FAIL_RENDER_AFTER"


class RenderError(Exception):
    """A render request or render that went wrong; the message is one line."""


class RenderSettingsError(RenderError, ValueError):
    """Bad render request (unknown engine, no GPU, bad path or size): nothing was rendered."""


class RenderFailed(RenderError, RuntimeError):
    """The render itself failed; no output was left under the final name."""


def run(scene: bpy.types.Scene, **kwargs) -> None:
    """bpy.ops.render.render, with Blender's errors as RenderFailed."""
    try:
        result = bpy.ops.render.render(scene=scene.name, **kwargs)
    except RuntimeError as exc:
        lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
        raise RenderFailed(f"render failed: {lines[-1].removeprefix('Error: ') if lines else exc}") from None
    if "FINISHED" not in result:
        raise RenderFailed("render cancelled")


def simulated_failure(done: int) -> None:
    """Raise RenderFailed once `done` frames are written, when FAIL_ENV asks for it."""
    after = os.environ.get(FAIL_ENV)
    if after is not None and done >= int(after):
        raise RenderFailed(f"simulated render failure after {done} frame(s) ({FAIL_ENV}={after})")
