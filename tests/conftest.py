"""Shared test setup. bpy tests: Blender's user dirs point at a temp dir (set before any
`import bpy`), and `fresh_blend` gives each test an empty factory-settings file."""

import os
import tempfile

import pytest

_BLENDER_HOME = tempfile.mkdtemp(prefix="llmviz-blender-user-")
for _var, _sub in (("BLENDER_USER_CONFIG", "config"), ("BLENDER_USER_SCRIPTS", "scripts"),
                   ("BLENDER_USER_EXTENSIONS", "extensions")):
    os.environ.setdefault(_var, os.path.join(_BLENDER_HOME, _sub))


@pytest.fixture
def fresh_blend():
    """An empty Blender file (factory settings, no user prefs); yields the `bpy` module."""
    bpy = pytest.importorskip("bpy")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    yield bpy
    bpy.ops.wm.read_factory_settings(use_empty=True)
