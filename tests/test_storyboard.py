"""scene.storyboard: one frame per walkthrough step in a grid with its chapter and caption, through
the API (nano-gpt, embedding + output chapters, 96 px frames), the CLI and the panel operator."""

from __future__ import annotations

import importlib
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from llmviz_blender import scene as scene_api  # noqa: E402
from llmviz_blender.scene import render  # noqa: E402
from llmviz_blender.scene.walkthrough import steps_of  # noqa: E402
from llmviz_blender.timeline import TimelineError  # noqa: E402
from test_cli import FAST, cli_many, leftovers, pixels  # noqa: E402
from test_ui import snapshot, ui  # noqa: E402, F401 (ui: the panel fixture)

from llmviz_blender.composition.theme import THEMES  # noqa: E402

sb = importlib.import_module("llmviz_blender.scene.storyboard")  # the package's `storyboard` is the function
WIDTH, RESOLUTION = 96, (160, 90)  # frames 96x54
TILE = (WIDTH, 54)
BG = np.array(sb._srgb(THEMES["dark"].roles[sb.BACKGROUND]))


def _snapshot() -> dict:
    out = snapshot()
    out["scenes"] = sorted(s.name for s in bpy.data.scenes)
    return out


def _settings(scene) -> tuple:
    s = scene.display.shading
    return (scene.render.engine, scene.render.resolution_x, scene.render.resolution_y, scene.display.render_aa,
            s.light, s.color_type, scene.get(render.QUALITY_PROP), scene.frame_current)


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """One storyboard of nano-gpt's embedding + output chapters, the frames rendered alone after it,
    and the file and settings before and after."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    folder = tmp_path_factory.mktemp("storyboard")
    scene = bpy.context.scene
    render.configure(scene, engine="cycles", samples=1, resolution=RESOLUTION)
    coll = scene_api.build("nano-gpt")
    scene_api.animate(coll, chapters=["embedding", "output"])
    steps = steps_of(coll)
    scene.frame_set(7)
    before, settings = _snapshot(), _settings(scene)
    lines, done = [], []
    path = scene_api.storyboard(coll, folder / "board.png", width=WIDTH, log=lines.append, progress=done.append)
    after, settings_after = _snapshot(), _settings(scene)
    render.configure(scene, quality="draft", resolution=TILE)
    alone = {}
    for i in (0, len(steps) - 1):
        alone[i] = pixels(render.still(scene, folder / f"alone{i}.png", frame=steps[i]["key"]))
    sheet = pixels(path)
    yield SimpleNamespace(path=path, steps=steps, sheet=sheet, alone=alone, lines=lines, done=done, before=before,
                          after=after, settings=settings, settings_after=settings_after, folder=folder)
    bpy.ops.wm.read_factory_settings(use_empty=True)


def _grid(board) -> tuple[int, int, int]:
    """(columns, rows, strip height) read back from the sheet's size."""
    h, w = board.sheet.shape[:2]
    cols = (w - 2 * sb.MARGIN + sb.GUTTER) / (TILE[0] + sb.GUTTER)
    assert cols == int(cols), w
    cols = int(cols)
    rows = math.ceil(len(board.steps) / cols)
    strip = (h - 2 * sb.MARGIN - (rows - 1) * sb.GUTTER) / rows - TILE[1]
    assert strip == int(strip) and strip > sb.CAPTION_SIZE, h
    return cols, rows, int(strip)


def _corner(board, i: int) -> tuple[int, int]:
    cols, _, strip = _grid(board)
    return (sb.MARGIN + (i % cols) * (TILE[0] + sb.GUTTER),
            sb.MARGIN + (i // cols) * (TILE[1] + strip + sb.GUTTER))


def test_one_tile_per_step_in_a_grid_near_16_9(board):
    assert [s["chapter"] for s in board.steps][:1] == ["embedding"] and len(board.steps) >= 4
    cols, rows, strip = _grid(board)
    assert cols * (rows - 1) < len(board.steps) <= cols * rows
    assert (cols, rows) == sb.grid(len(board.steps), (TILE[0] + sb.GUTTER, TILE[1] + strip + sb.GUTTER))
    assert sb.grid(37, (496, 390)) == (8, 5) and sb.grid(5, (10, 10), columns=9) == (5, 1)


def test_tiles_are_the_frames_rendered_alone(board):
    for i, frame in board.alone.items():
        x, y = _corner(board, i)
        tile = board.sheet[y:y + TILE[1], x:x + TILE[0]]
        assert np.abs(tile - frame).max() <= 4 / 255, i
        assert frame.std() > 0.01


def test_text_strips_hold_text_and_empty_slots_are_background(board):
    cols, rows, strip = _grid(board)
    for i in range(len(board.steps)):
        x, y = _corner(board, i)
        text = board.sheet[y + TILE[1]:y + TILE[1] + strip, x:x + TILE[0]]
        ink = np.abs(text - BG).max(axis=2) > 0.2
        assert ink.sum() > 150, i
        assert ink[: sb.PAD].sum() == 0 and ink[:, : sb.PAD // 2].sum() == 0  # padding kept
    for i in range(len(board.steps), cols * rows):
        x, y = _corner(board, i)
        assert np.abs(board.sheet[y:y + TILE[1] + strip, x:x + TILE[0]] - BG).max() < 1e-6


def test_file_and_settings_as_they_were_and_progress_reported(board):
    assert board.after == board.before
    assert board.settings_after == board.settings
    n = len(board.steps)
    assert [ln.split(" (")[0] for ln in board.lines[:n]] == [f"storyboard: frame {i}/{n}" for i in range(1, n + 1)]
    assert board.lines[-1].startswith(f"storyboard: wrote {board.path}")
    assert board.done == list(range(1, n + 1))
    assert leftovers(board.folder) == []


def test_errors_before_anything_is_rendered(fresh_blend, tmp_path):
    coll = bpy.data.collections.new("not animated")
    with pytest.raises(TimelineError, match="no walkthrough"):
        scene_api.storyboard(coll, tmp_path / "a.png")
    coll["llmviz_steps"] = json.dumps([{"chapter": "x", "title": "X", "caption": "c", "frames": [1, 2], "key": 2}])
    for bad in (tmp_path / "a.jpg", tmp_path / "file.txt" / "a.png"):
        (tmp_path / "file.txt").write_text("")
        with pytest.raises(render.RenderSettingsError) as err:
            scene_api.storyboard(coll, bad)
        assert "\n" not in str(err.value)
    with pytest.raises(render.RenderSettingsError, match="width"):
        scene_api.storyboard(coll, tmp_path / "a.png", width=0)
    with pytest.raises(render.RenderSettingsError, match="camera"):
        scene_api.storyboard(coll, tmp_path / "a.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_cli_storyboard_with_a_still(tmp_path):
    runs = cli_many({
        "ok": ["--storyboard", "sb.png", "--storyboard-width", "32", "--still", "s.png", "--chapters", "output",
               *FAST],
        "compare": ["--storyboard", "c.png", "--compare", "nano-gpt,gpt2-small"],
        "width alone": ["--still", "w.png", "--storyboard-width", "32"],
        "jpg": ["--storyboard", "sb.jpg", *FAST],
    }, cwd=tmp_path)
    code, out, err = runs["ok"]
    assert code == 0, err
    assert "storyboard: frame 1/" in out and "storyboard: wrote" in out
    sheet = pixels(tmp_path / "sb.png")
    assert (sheet.shape[1] - 2 * sb.MARGIN + sb.GUTTER) % (32 + sb.GUTTER) == 0
    assert (tmp_path / "s.png").is_file()
    for name in ("compare", "width alone", "jpg"):
        code, out, err = runs[name]
        assert code == 2 and len(err.strip().splitlines()) == 1, (name, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.png", "sb.png"]


def test_panel_operator(ui, tmp_path):
    assert bpy.ops.llmviz.generate() == {"FINISHED"}
    ui.engine, ui.samples, ui.resolution_x, ui.resolution_y = "WORKBENCH", 1, 64, 36
    ui.storyboard_path, ui.storyboard_width = str(tmp_path / "sb.png"), 32
    with pytest.raises(RuntimeError, match="no walkthrough"):
        bpy.ops.llmviz.render_storyboard()
    ui.chapters = {"output"}
    assert bpy.ops.llmviz.animate() == {"FINISHED"}
    assert bpy.ops.llmviz.render_storyboard() == {"FINISHED"}
    assert ui.last_error == ""
    sheet = pixels(tmp_path / "sb.png")
    assert (sheet.shape[1] - 2 * sb.MARGIN + sb.GUTTER) % (32 + sb.GUTTER) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sb.png"]
    assert bpy.ops.llmviz.render_storyboard(filepath=str(tmp_path / "other.png")) == {"FINISHED"}
    assert (tmp_path / "other.png").is_file()


def test_the_sheet_takes_the_model_s_theme(fresh_blend, tmp_path):
    render.configure(bpy.context.scene, resolution=RESOLUTION)
    coll = scene_api.build("nano-gpt", theme="light")
    scene_api.animate(coll, chapters=["output"])
    sheet = pixels(scene_api.storyboard(coll, tmp_path / "light.png", width=32))
    paper = sb._srgb(THEMES["light"].roles[sb.BACKGROUND])
    assert np.abs(sheet[0, 0, :3] - paper).max() < 2 / 255  # the margin: paper, not the dark sheet
    text = sheet[sheet[..., :3].sum(axis=-1) < 1.0]  # dark pixels: the titles and captions
    assert len(text) > 50
