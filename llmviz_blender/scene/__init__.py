"""The Blender side (needs bpy): objects, instancer node group, materials, labels, camera, keyframes."""

from .walkthrough import animate, middle_key_frame
from .builder import build, build_comparison, clear, prepare
from .framing import check_target, frame_target
from .session import Model, model_of
from .storyboard import storyboard
from .subtitles import write_subtitles
from .zoom import zoom_to

__all__ = ["Model", "animate", "build", "build_comparison", "check_target", "clear", "frame_target",
           "middle_key_frame", "model_of", "prepare", "storyboard", "write_subtitles", "zoom_to"]
