"""The walkthrough as data (pure, no bpy): chapters, steps with captions and camera targets,
per-cell reveal frames, close-ups and camera keys for the scene to keyframe."""

from .build import Chapter, Prediction, Step, Timeline, build_timeline
from .closeups import CloseUp
from ..defaults import ALWAYS, NEVER
from .timing import CHAPTERS, DEFAULT_DURATIONS, Timing, TimelineError, ease

__all__ = ["ALWAYS", "CHAPTERS", "DEFAULT_DURATIONS", "NEVER", "Chapter", "CloseUp", "Prediction", "Step",
           "Timeline", "TimelineError", "Timing", "build_timeline", "ease"]
