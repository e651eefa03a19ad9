"""Subtitles and chapters of a walkthrough: the pure cue logic (timeline.subtitles), then
scene.write_subtitles, the CLI (--animation writes them beside the render, --subtitles without one)
and the panel's Render Animation, every file read back with real parsers (srt, webvtt-py)."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmviz_blender.timeline import subtitles as subs
from llmviz_blender.timeline.subtitles import Cue

srt = pytest.importorskip("srt")
webvtt = pytest.importorskip("webvtt")

_MS = timedelta(milliseconds=1)
CHAPTER_LINE = re.compile(r"^(\d+:)?\d+:\d\d (.+)$")


def read_srt(text: str) -> list[tuple[int, int, list[str]]]:
    """(start ms, end ms, lines) of each cue, by the `srt` parser."""
    return [(c.start // _MS, c.end // _MS, c.content.split("\n")) for c in srt.parse(text, ignore_errors=False)]


def read_vtt(text: str) -> list[tuple[int, int, list[str]]]:
    """(start ms, end ms, lines) of each cue, by webvtt-py (strict)."""
    def ms(t) -> int:
        return ((t.hours * 60 + t.minutes) * 60 + t.seconds) * 1000 + t.milliseconds
    return [(ms(c.start_time), ms(c.end_time), c.lines) for c in webvtt.from_string(text, strict=True).captions]


def assert_cue_shape(cues, width: int = 42, lines: int = 2) -> None:
    for start, end, text in cues:
        assert 1 <= len(text) <= lines and all(0 < len(line) <= width for line in text), text
        assert start < end


# --------------------------------------------------------------------------- pure

def test_wrap_fills_lines_and_cuts_only_overlong_words():
    text = "The query of the last token reads every key before it and weighs the values."
    lines = subs.wrap(text)
    assert lines == ["The query of the last token reads every", "key before it and weighs the values."]
    assert subs.wrap(text, 13)[0] == "The query of"
    assert subs.wrap("a " + "x" * 50, 20) == ["a", "x" * 20, "x" * 20, "x" * 10]
    with pytest.raises(ValueError, match="width"):
        subs.wrap(text, 0)


words = st.text(alphabet="abcdefghij.,!?'", min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.lists(words, min_size=1, max_size=60), st.integers(12, 60), st.integers(1, 3))
def test_split_keeps_every_word_within_lines_and_width(ws, width, lines):
    caption = " ".join(ws)
    cues = subs.split(caption, width, lines)
    assert all(1 <= len(c) <= lines and all(0 < len(line) <= width for line in c) for c in cues)
    assert " ".join(line for c in cues for line in c) == caption


def test_a_long_caption_splits_at_sentence_ends_then_at_lines():
    a = "Each token picks its column of the embedding."  # 45 characters: two lines alone
    b = "Then its position in the sequence adds a column of its own."
    assert len(subs.wrap(f"{a} {b}")) == 3
    long = ("Softmax turns every score of the row into a weight between zero and one, and the weights of a row "
            "add up to one.")
    cues = subs.split(f"{a} {b} {long}")
    assert [" ".join(c) for c in cues[:2]] == [a, b]  # a and b together would need three lines
    assert all(len(c) == 2 for c in cues[2:-1]) and " ".join(" ".join(c) for c in cues[2:]) == long
    assert subs.split("One. Two. Three.") == [["One. Two. Three."]]  # short sentences share a cue
    assert subs.split('He said "stop." Then it stopped.', 20, 1) == [['He said "stop."'], ["Then it stopped."]]
    assert subs.split("   ") == []


def test_cues_of_a_caption_cover_its_span_in_proportion_to_their_characters():
    caption = "A short one. " + "Then a much longer sentence that needs two full lines of its own to show."
    cues = subs.caption_cues(caption, 10.0, 13.0)
    assert len(cues) == 2 and cues[0].start == 10.0 and cues[-1].end == 13.0 and cues[0].end == cues[1].start
    share = len("A short one.") / len(" ".join(caption.split()))
    assert cues[0].end - 10.0 == pytest.approx(3.0 * share, rel=0.05)
    assert subs.caption_cues("", 0.0, 1.0) == []


STEPS = [  # two chapters at 24 fps: frames 1-48, 49-96 | 97-120
    {"chapter": "embedding", "title": "Embedding", "caption": "Tokens become columns.", "frames": [1, 48]},
    {"chapter": "embedding", "title": "Embedding", "caption": "", "frames": [49, 96]},
    {"chapter": "attention", "title": "Self-attention", "caption": "Each query reads the keys before it.",
     "frames": [97, 120]},
]


def test_walkthrough_cues_follow_the_steps_and_clip_to_a_frame_range():
    cues = subs.walkthrough_cues(STEPS, 24)
    assert [(c.start, c.end) for c in cues] == [(0.0, 2.0), (4.0, 5.0)]  # the captionless step shows none
    part = subs.walkthrough_cues(STEPS, 24, frames=(25, 108))  # half of the first step, half of the last
    assert [(c.start, c.end, c.text) for c in part] == [(0.0, 1.0, "Tokens become columns."),
                                                        (3.0, 3.5, "Each query reads the keys before it.")]
    assert subs.walkthrough_cues(STEPS, 24, frames=(50, 90)) == []


def test_chapter_marks_list_the_chapters_starting_in_range_the_running_one_at_zero():
    assert subs.chapter_marks(STEPS, 24) == [(0.0, "Embedding"), (4.0, "Self-attention")]
    assert subs.chapter_marks(STEPS, 24, frames=(61, 120)) == [(0.0, "Embedding"), (1.5, "Self-attention")]
    assert subs.chapter_marks(STEPS, 24, frames=(97, 120)) == [(0.0, "Self-attention")]
    assert subs.chapter_marks(STEPS, 24, frames=(1, 96)) == [(0.0, "Embedding")]
    assert subs.chapters_text([(0.0, "A"), (59.99, "B"), (61.5, "C"), (3600.0, "D"), (36061.0, "E")]) == \
        "0:00 A\n0:59 B\n1:01 C\n1:00:00 D\n10:01:01 E\n"


def test_srt_and_vtt_read_back_with_real_parsers():
    cues = [Cue(0.0, 1.5, "one\ntwo"), Cue(1.5, 3725.0424, "three")]
    expected = [(0, 1500, ["one", "two"]), (1500, 3725042, ["three"])]
    assert read_srt(subs.srt(cues)) == expected
    assert read_vtt(subs.vtt(cues)) == expected
    assert subs.srt(cues).startswith("1\n00:00:00,000 --> 00:00:01,500\none\ntwo\n\n2\n")
    assert subs.vtt(cues).startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\n")
    assert subs.subtitle_text(cues, ".VTT") == subs.vtt(cues)
    with pytest.raises(ValueError, match=r"\.srt or \.vtt"):
        subs.subtitle_text(cues, ".txt")


# --------------------------------------------------------------------------- Blender

bpy = pytest.importorskip("bpy")

from llmviz_blender import scene as scene_api  # noqa: E402
from llmviz_blender.scene import render  # noqa: E402
from llmviz_blender.scene.walkthrough import steps_of  # noqa: E402
from llmviz_blender.timeline import TimelineError  # noqa: E402
from llmviz_blender.ui.properties import model_collection  # noqa: E402
from test_cli import FAST, cli_many, leftovers  # noqa: E402
from test_ui import ui  # noqa: E402, F401 (the panel fixture)

TOLD = ["embedding", "attention"]


@pytest.fixture(scope="module")
def walk():
    """nano-gpt's embedding and attention chapters keyed at 24 fps: (collection, steps, fps)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    render.configure(bpy.context.scene, engine="workbench", resolution=(64, 36))
    coll = scene_api.build("nano-gpt", lod="boxes")
    scene_api.animate(coll, chapters=TOLD)
    yield coll, steps_of(coll), bpy.context.scene.render.fps
    bpy.ops.wm.read_factory_settings(use_empty=True)


def ms(frame: int, first: int, fps: int) -> int:
    return round((frame - first) / fps * 1000)


def assert_matches_steps(cues, steps, fps: int, first: int, last: int, width: int = 42, lines: int = 2) -> None:
    """Cues of the steps shown within first..last: shaped, tiling each step's span (clipped), their
    text the step's caption (whole when the step is in range)."""
    assert_cue_shape(cues, width, lines)
    assert [c[0] for c in cues] == sorted(c[0] for c in cues)
    for s in steps:
        a, b = max(s["frames"][0], first), min(s["frames"][1], last)
        if a > b or not s["caption"].strip():
            continue
        start, end = ms(a, first, fps), ms(b + 1, first, fps)
        mine = [c for c in cues if start <= c[0] < end]
        assert mine and mine[0][0] == start and mine[-1][1] == end, s
        assert all(x[1] == y[0] for x, y in zip(mine, mine[1:])), s
        text = " ".join(line for c in mine for line in c[2])
        if s["frames"][0] >= first and s["frames"][1] <= last:
            assert text == " ".join(s["caption"].split())
        else:
            assert text in " ".join(s["caption"].split())


def chapter_lines(path: Path) -> list[tuple[str, str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines and lines[0].startswith("0:00 ") and all(CHAPTER_LINE.match(line) for line in lines), lines
    return [tuple(line.split(" ", 1)) for line in lines]


def chapter_starts(steps) -> list[tuple[int, str]]:
    return [(s["frames"][0], s["title"]) for i, s in enumerate(steps)
            if i == 0 or s["chapter"] != steps[i - 1]["chapter"]]


def test_write_subtitles_beside_an_animation_match_the_timeline(walk, tmp_path):
    coll, steps, fps = walk
    written = scene_api.write_subtitles(coll, tmp_path / "walk.mp4")
    assert [p.name for p in written] == ["walk.srt", "walk.vtt", "walk.chapters.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.chapters.txt", "walk.srt", "walk.vtt"]
    first, last = steps[0]["frames"][0], steps[-1]["frames"][1]
    cues = read_srt((tmp_path / "walk.srt").read_text(encoding="utf-8"))
    assert read_vtt((tmp_path / "walk.vtt").read_text(encoding="utf-8")) == cues
    assert len(cues) >= len(steps)
    assert_matches_steps(cues, steps, fps, first, last)
    marks = chapter_lines(tmp_path / "walk.chapters.txt")
    assert marks == [(subs.timestamp((f - first) / fps), t) for f, t in chapter_starts(steps)]
    assert [t for _, t in marks] == ["Embedding", "Self-attention"]


def test_a_frame_range_shifts_and_clips_cues_and_chapters(walk, tmp_path):
    coll, steps, fps = walk
    second = next(s for s in steps if s["chapter"] != steps[0]["chapter"])
    mid = steps[1]["frames"][0] + 5  # inside the embedding's second step
    frames = (mid, second["frames"][1] + 3)
    scene_api.write_subtitles(coll, tmp_path / "part.vtt", frames=frames)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["part.chapters.txt", "part.vtt"]
    cues = read_vtt((tmp_path / "part.vtt").read_text(encoding="utf-8"))
    assert cues[0][0] == 0 and cues[-1][1] == ms(frames[1] + 1, mid, fps)
    assert_matches_steps(cues, steps, fps, *frames)
    assert chapter_lines(tmp_path / "part.chapters.txt") == [
        ("0:00", "Embedding"), (subs.timestamp((second["frames"][0] - mid) / fps), "Self-attention")]


def test_line_width_is_a_parameter(walk, tmp_path):
    coll, steps, fps = walk
    scene_api.write_subtitles(coll, tmp_path / "narrow.srt", width=20, lines=3)
    cues = read_srt((tmp_path / "narrow.srt").read_text(encoding="utf-8"))
    assert max(len(c[2]) for c in cues) == 3
    assert_matches_steps(cues, steps, fps, steps[0]["frames"][0], steps[-1]["frames"][1], width=20, lines=3)


def test_write_subtitles_errors_write_nothing(walk, tmp_path, monkeypatch):
    coll, _, _ = walk
    with pytest.raises(render.RenderSettingsError, match="does not exist"):
        scene_api.write_subtitles(coll, tmp_path / "nowhere" / "x.srt")
    monkeypatch.setattr(render.os, "access", lambda *a: False)
    with pytest.raises(render.RenderSettingsError, match="not writable"):
        scene_api.write_subtitles(coll, tmp_path / "x.srt")
    monkeypatch.undo()
    with pytest.raises(TimelineError, match="no walkthrough"):
        scene_api.write_subtitles(bpy.data.collections.new("plain"), tmp_path / "x.srt")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- CLI and panel

def test_cli_writes_subtitles_beside_an_animation_and_alone(walk, tmp_path):
    _, steps, fps = walk
    boundary = next(s for s in steps if s["chapter"] != steps[0]["chapter"])["frames"][0]
    told = ["--chapters", ",".join(TOLD)]
    (tmp_path / "a_file").write_text("")
    (tmp_path / "taken.srt").mkdir()
    cases = {
        "animation": ["--animation", "frames", "--frames", f"{boundary - 1}-{boundary}", *told],
        "alone": ["--subtitles", "alone.srt", *told],
        "vtt at 12 fps": ["--subtitles", "twelve.vtt", "--fps", "12", *told],
        "bad suffix": ["--subtitles", "x.txt", *told],
        "missing folder": ["--subtitles", "nowhere/x.srt", *told],
        "folder is a file": ["--subtitles", "a_file/x.srt", *told],
        "path is a folder": ["--subtitles", "taken.srt", *told],
        "with a comparison": ["--subtitles", "c.srt", "--compare", "nano-gpt,gpt2-xl"],
        "with a zoom": ["--subtitles", "z.srt", "--zoom-to", "h0.fc:1,1"],
    }
    if os.geteuid() != 0:  # root writes anywhere
        (tmp_path / "locked").mkdir(mode=0o555)
        cases["unwritable folder"] = ["--subtitles", "locked/x.srt", *told]
    results = cli_many({k: [*v, *FAST] for k, v in cases.items()}, cwd=tmp_path)
    for name, (code, out, err) in results.items():
        if name in ("animation", "alone", "vtt at 12 fps"):
            assert code == 0 and err == "", f"{name}: {err}"
        else:
            lines = err.strip().splitlines()
            assert code == 2 and len(lines) == 1 and lines[0].startswith("render.py: "), f"{name}: {err!r}"
            assert name == "with a comparison" or re.search(r"--subtitles|x\.srt|taken\.srt", lines[0]), err
    assert "wrote" in results["alone"][1] and "alone.srt" in results["alone"][1]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a_file", "alone.chapters.txt", "alone.srt", "frames", "frames.chapters.txt", "frames.srt", "frames.vtt", "taken.srt",
        "twelve.chapters.txt", "twelve.vtt", *(["locked"] if "unwritable folder" in cases else [])]
    assert leftovers(tmp_path) == [] and list((tmp_path / "taken.srt").iterdir()) == []
    assert not list(tmp_path.glob("*.png")) and len(list((tmp_path / "frames").iterdir())) == 2

    # --subtitles alone: the whole walkthrough, as the API writes it
    first, last = steps[0]["frames"][0], steps[-1]["frames"][1]
    assert_matches_steps(read_srt((tmp_path / "alone.srt").read_text(encoding="utf-8")), steps, fps, first, last)
    assert chapter_lines(tmp_path / "alone.chapters.txt") == [
        (subs.timestamp((f - first) / fps), t) for f, t in chapter_starts(steps)]
    twelve = read_vtt((tmp_path / "twelve.vtt").read_text(encoding="utf-8"))
    assert_cue_shape(twelve)
    assert twelve[-1][1] == round((last + 1 - first) / fps * 1000)  # the same seconds at another fps

    # --animation A-B: frame A is 0:00, cues clipped to the two frames, the chapter running at A first
    cues = read_srt((tmp_path / "frames.srt").read_text(encoding="utf-8"))
    assert read_vtt((tmp_path / "frames.vtt").read_text(encoding="utf-8")) == cues
    assert cues[0][0] == 0 and cues[-1][1] == ms(boundary + 1, boundary - 1, fps)
    assert_matches_steps(cues, steps, fps, boundary - 1, boundary)
    assert chapter_lines(tmp_path / "frames.chapters.txt") == [("0:00", "Embedding"), ("0:00", "Self-attention")]


def test_panel_render_animation_writes_them_beside_it(ui, tmp_path):
    assert bpy.ops.llmviz.generate() == {"FINISHED"}
    ui.engine, ui.samples, ui.resolution_x, ui.resolution_y, ui.lod = "WORKBENCH", 1, 32, 18, "boxes"
    scn = bpy.context.scene
    scn.frame_start, scn.frame_end = 1, 1
    assert bpy.ops.llmviz.render_animation(filepath=str(tmp_path / "plain")) == {"FINISHED"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain"]  # no walkthrough: no captions
    ui.chapters = {"output"}
    assert bpy.ops.llmviz.animate() == {"FINISHED"}
    steps = steps_of(model_collection(scn))
    scn.frame_start = scn.frame_end = steps[-1]["frames"][0]
    assert bpy.ops.llmviz.render_animation(filepath=str(tmp_path / "frames")) == {"FINISHED"}
    assert ui.last_error == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "frames", "frames.chapters.txt", "frames.srt", "frames.vtt", "plain"]
    cues = read_srt((tmp_path / "frames.srt").read_text(encoding="utf-8"))
    assert cues and cues[0][0] == 0 and cues[-1][1] == ms(2, 1, scn.render.fps)
    assert_matches_steps(cues, steps, scn.render.fps, scn.frame_start, scn.frame_end)
