"""The scene in the viewer's language (bpy): every character a language shows is drawn (no missing
glyph), CJK captions stay inside their band and side panel, the subtitles written beside a video
are in the walkthrough's language, the panel's Language option and Blender's own translation of
the panel, and a bad code changes nothing."""

import os

import numpy as np
import pytest
import srt

bpy = pytest.importorskip("bpy")

import llmviz_blender  # noqa: E402
from llmviz_blender import i18n, layout as L, model, scene, timeline as tl  # noqa: E402
from llmviz_blender.i18n import LANGUAGES, columns  # noqa: E402
from llmviz_blender.scene.labels import add_text  # noqa: E402
from llmviz_blender.ui import properties, translations  # noqa: E402

OTHERS = [c for c in LANGUAGES if c != "en"]
NANO = model.load_preset("nano-gpt")
WEIGHTS = model.default_weights(NANO)
GEN = model.generate(WEIGHTS, model.encode(NANO, "CBABBC"), 6)


def shown_text(code: str) -> str:
    """A caption of each chapter in a language (its first), the chapter titles and the block names."""
    t = tl.build_timeline(L.model_layout(NANO, len(GEN.tokens) - 1), GEN.traces[-1], generation=GEN,
                          weights=WEIGHTS, language=code)
    lang = LANGUAGES[code]
    names = {lang.tr(b.name) for b in L.model_layout(model.load_preset("nano-llama"), 2).blocks}
    return "".join([*(c.steps[0].caption for c in t.chapters), *(c.title for c in t.chapters), *names])


def _glyph(obj) -> tuple:
    """The drawn character's geometry: vertex count and extent (0 for nothing drawn)."""
    co = np.array([v.co for v in obj.to_mesh().vertices], float).reshape(-1, 3)
    obj.to_mesh_clear()
    if not len(co):
        return (0,)
    return (len(co), *np.round(co.max(axis=0) - co.min(axis=0), 3))


def test_a_caption_in_each_language_has_geometry_for_every_character(fresh_blend):
    """Each character drawn in the labels' font is real geometry, and not the glyph Blender draws
    for a character no font has (the last-resort font's, or the box of an unassigned code point)."""
    coll = bpy.data.collections.new("glyphs")
    bpy.context.scene.collection.children.link(coll)
    obj = add_text("glyph", "x", (0, 0, 0), 1.0, "#ffffff", coll)
    last = os.path.join(bpy.utils.system_resource("DATAFILES", path="fonts"), "lastresort.woff2")
    fallback = bpy.data.fonts.load(last) if os.path.exists(last) else None
    probe = add_text("last resort", "x", (0, 0, 0), 1.0, "#ffffff", coll)
    if fallback is not None:
        probe.data.font = fallback
    tofu = set()  # what Blender draws for code points no font has: a private-use one, a plane-16 one
    for unknown in ("\ue000", "\U0010fffd"):
        obj.data.body = unknown
        tofu.add(_glyph(obj))
    for code in OTHERS:
        chars = sorted(set(shown_text(code)) - set(" \n\u00a0\u202f"))
        assert len(chars) > (80 if LANGUAGES[code].wide else 30), code
        missing, last_resort = [], {}  # the last-resort glyph is one per Unicode block (16-aligned)
        for ch in chars:
            obj.data.body = ch
            drawn = _glyph(obj)
            if fallback is not None:
                if ord(ch) >> 4 not in last_resort:
                    probe.data.body = ch
                    last_resort[ord(ch) >> 4] = _glyph(probe)
                if drawn[0] == last_resort[ord(ch) >> 4][0]:  # its outline, drawn at another scale
                    missing.append(ch)
            if drawn == (0,) or drawn in tofu:
                missing.append(ch)
        assert not missing, f"{code}: no glyph for {''.join(missing)!r}"


def _rig_box(obj, rig) -> tuple[np.ndarray, np.ndarray]:
    """Geometry of `obj` (a child of the overlay rig) in the rig's space (x across, y up the
    picture): lo, hi corners."""
    assert obj.parent == rig
    to_rig = np.array(obj.matrix_parent_inverse @ obj.matrix_basis)
    if obj.type == "MESH":
        co = np.array([v.co for v in obj.data.vertices], float).reshape(-1, 3)
    else:
        co = np.array([v.co for v in obj.to_mesh().vertices], float).reshape(-1, 3)  # hidden now or not
        obj.to_mesh_clear()
    pts = co @ to_rig[:3, :3].T + to_rig[:3, 3]
    return pts.min(axis=0), pts.max(axis=0)


@pytest.mark.parametrize("code,resolution", [("ja", (1920, 1080)), ("zh-Hant", (1920, 1080)), ("ko", (1080, 1920))])
def test_cjk_captions_stay_inside_their_band_or_panel(fresh_blend, tmp_path, code, resolution):
    bpy.context.scene.render.resolution_x, bpy.context.scene.render.resolution_y = resolution
    coll = scene.build("nano-gpt", language=code)
    scene.animate(coll, chapters=["attention", "mlp"])
    captions = [o for o in bpy.data.objects if o.type == "FONT" and " Caption " in o.name and o.parent is not None]
    plates = {o.name.split("LLMViz ")[1]: o for o in bpy.data.objects if o.type == "MESH" and o.parent is not None
              and o.name.startswith("LLMViz Caption ")}
    assert captions and plates
    lang = LANGUAGES[code]
    for text in captions:
        assert any(i18n.wide(ch) for ch in text.data.body), text.data.body
        rig = text.parent
        lo, hi = _rig_box(text, rig)
        inside = []
        for plate in plates.values():
            plo, phi = _rig_box(plate, rig)
            inside.append(plo[0] - 1e-6 <= lo[0] and hi[0] <= phi[0] + 1e-6 and plo[1] - 1e-6 <= lo[1]
                          and hi[1] <= phi[1] + 1e-6)
        assert any(inside), f"{text.name} leaves its band: {text.data.body!r}"
        if lang.char_breaks:
            lines = text.data.body.split("\n")
            assert not any(ln[0] in i18n.NO_LINE_START or ln[-1] in i18n.NO_LINE_END for ln in lines if ln), lines
    # the subtitles beside it: the walkthrough's language, its line length
    written = scene.write_subtitles(coll, tmp_path / "walk.srt")
    cues = list(srt.parse(written[0].read_text(encoding="utf-8")))
    assert cues and all(columns(line) <= lang.line for c in cues for line in c.content.split("\n"))
    assert coll["llmviz_language"] == code


def test_labels_cards_and_animate_language(fresh_blend):
    coll = scene.build("nano-gpt", language="fr")
    bodies = {o.data.body for o in coll.all_objects if o.type == "FONT"}
    assert "Plongement" in " ".join(bodies) or any("Plongement" in b for b in bodies), bodies
    assert any(b.endswith("paramètres") for b in bodies), bodies  # the card: 85 584 paramètres
    scene.animate(coll, chapters=["overview"], language="de")  # another language: labels made again
    assert coll["llmviz_language"] == "de"
    steps = scene.walkthrough.steps_of(coll)
    assert steps[0]["title"] == LANGUAGES["de"].tr("Overview") != "Overview"
    bodies = {o.data.body for o in coll.all_objects if o.type == "FONT"}
    assert any("Parameter" in b for b in bodies)


def test_a_bad_language_changes_nothing(fresh_blend):
    mine = bpy.data.objects.new("My Empty", None)
    bpy.context.scene.collection.objects.link(mine)
    with pytest.raises(i18n.LanguageError, match="available: en, ja"):
        scene.build("nano-gpt", language="xx")
    assert [o.name for o in bpy.data.objects] == ["My Empty"]
    coll = scene.build("nano-gpt")
    frames = list(coll.get("llmviz_frames", []))
    with pytest.raises(i18n.LanguageError):
        scene.animate(coll, language="xx")
    assert list(coll.get("llmviz_frames", [])) == frames and coll["llmviz_language"] == "en"


@pytest.fixture
def ui(fresh_blend):
    llmviz_blender.register()
    try:
        yield bpy.context.scene.llmviz
    finally:
        llmviz_blender.unregister()


def test_panel_language_defaults_to_the_interface_language(ui):
    from llmviz_blender.ui import operators
    assert ui.language == properties.AUTO_LANGUAGE
    assert operators.language(ui) == "en"  # the wheel's interface has no language: English
    ui.language = "ko"
    assert bpy.ops.llmviz.generate() == {"FINISHED"}
    coll = properties.model_collection(bpy.context.scene)
    assert coll["llmviz_language"] == "ko"
    ui.chapters = {"overview"}
    assert bpy.ops.llmviz.animate() == {"FINISHED"}
    assert any(i18n.wide(ch) for ch in scene.walkthrough.steps_of(coll)[0]["caption"])


def test_the_panel_is_translated_through_blenders_translation_system(ui):
    table = translations.translations()
    assert {"ja_JP", "ko_KR", "zh_HANS", "zh_HANT", "es", "fr_FR", "de_DE"} <= set(table)
    ja = table["ja_JP"]
    assert ja[("*", "Language")] == LANGUAGES["ja"].tr("Language") != "Language"
    assert ("Operator", "Render Still") in ja  # operator labels are looked up in their own context
    assert ("*", "Overview") not in ja  # only the panel's strings: captions never reach Blender's UI
    translations.unregister()  # registered under the add-on's name: it comes off and on again
    translations.register()
