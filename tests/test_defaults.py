"""The panel, the CLI and the library agree on every default and limit (llmviz_blender.defaults)."""

import importlib.util
from pathlib import Path

import pytest

from llmviz_blender import defaults as D

bpy = pytest.importorskip("bpy")
from llmviz_blender.scene import render  # noqa: E402
from llmviz_blender.timeline import Timing  # noqa: E402
from llmviz_blender.ui import preferences, properties  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cli():
    spec = importlib.util.spec_from_file_location("render_cli", ROOT / "scripts" / "render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def panel():
    cls = properties.LLMVizSettings
    registered_here = not cls.is_registered
    if registered_here:
        bpy.utils.register_class(cls)
    try:
        yield cls.bl_rna.properties
    finally:
        if registered_here:
            bpy.utils.unregister_class(cls)


def test_fps(panel, cli):
    lo, hi = D.FPS_RANGE
    assert (panel["fps"].default, panel["fps"].hard_min, panel["fps"].hard_max) == (D.FPS, lo, hi)
    assert Timing().fps == D.FPS
    p = cli.parser()
    assert p.parse_args(["--fps", str(hi)]).fps == hi
    for bad in (lo - 1, hi + 1):
        with pytest.raises(cli.Usage):
            p.parse_args(["--fps", str(bad)])
    scene = bpy.context.scene
    render.configure(scene, fps=hi)
    for bad in (lo - 1, hi + 1):
        with pytest.raises(render.RenderSettingsError):
            render.configure(scene, fps=bad)


def test_reading_speed(panel, cli):
    prop = panel["reading_speed"]
    assert prop.default == 0 == prop.hard_min and Timing().reading_speed is None  # 0 / None: the language's
    p = cli.parser()
    assert p.parse_args([]).reading_speed is None  # the library's default
    assert p.parse_args(["--language", "ja"]).language == "ja" and p.parse_args([]).language == "en"
    assert p.parse_args(["--reading-speed", "12.5"]).reading_speed == 12.5
    for bad in ("0", "-3", "fast"):
        with pytest.raises(cli.Usage):
            p.parse_args(["--reading-speed", bad])


def test_resolution(panel, cli):
    lo, hi = D.RESOLUTION_RANGE
    for axis, name in enumerate(("resolution_x", "resolution_y")):
        prop = panel[name]
        assert (prop.default, prop.hard_min, prop.hard_max) == (D.RESOLUTION[axis], lo, hi)
    p = cli.parser()
    assert p.parse_args([]).resolution == D.RESOLUTION
    assert p.parse_args(["--resolution", f"{hi}x{lo}"]).resolution == (hi, lo)
    for bad in (f"{lo - 1}x{lo}", f"{hi + 1}x{lo}"):
        with pytest.raises(cli.Usage):
            p.parse_args(["--resolution", bad])
        with pytest.raises(render.RenderSettingsError):
            render.configure(bpy.context.scene, resolution=tuple(int(v) for v in bad.split("x")))


def test_quality_engines_samples_devices(panel, cli):
    assert panel["samples"].hard_max == D.SAMPLES_MAX and panel["samples"].default == 0  # 0: the quality's own
    assert panel["quality"].default == D.QUALITY and [i.identifier for i in panel["quality"].enum_items] == list(
        D.QUALITIES)
    p = cli.parser()
    args = p.parse_args([])
    assert args.quality is None and args.engine is None and args.device == D.DEVICE  # the quality decides
    choices = {a.dest: a.choices for a in p._actions if a.choices}
    assert tuple(choices["engine"]) == D.ENGINES and tuple(choices["device"]) == D.DEVICES
    assert tuple(choices["quality"]) == D.QUALITIES
    assert [i[0].lower() for i in preferences.ENGINE_ITEMS] == list(D.ENGINES)
    assert [i[0].lower() for i in preferences.DEVICE_ITEMS] == list(D.DEVICES)
    for q in D.QUALITIES:
        assert set(D.QUALITY_ENGINES[q]) <= set(D.ENGINES) and D.QUALITY_DEFAULTS[q]["engine"] in D.QUALITY_ENGINES[q]
        text = render.configure(bpy.context.scene, quality=q, device="cpu")
        assert str(D.QUALITY_DEFAULTS[q]["engine"]).lower() in text.lower()
    with pytest.raises(cli.Usage):
        p.parse_args(["--samples", str(D.SAMPLES_MAX + 1)])
    with pytest.raises(render.RenderSettingsError):
        render.configure(bpy.context.scene, samples=D.SAMPLES_MAX + 1)
