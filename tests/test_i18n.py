"""The walkthrough in the viewer's language: catalogs complete with English's placeholders, numbers
as each language writes them, lines broken by each script's rules, pacing and subtitles from the
language, and (bpy) every character drawn, captions inside their band, the panel translated."""

import importlib.util
import io
import re
from pathlib import Path

import polib
import pytest
import srt
from babel.numbers import format_decimal, format_percent

from llmviz_blender import i18n, layout as L, model, timeline as tl
from llmviz_blender.i18n import LANGUAGES, NO_LINE_END, NO_LINE_START, columns
from llmviz_blender.layout import readout
from llmviz_blender.timeline import subtitles, zoom
from llmviz_blender.timeline.story import SPLIT_CUES, split_caption

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("i18n_script", ROOT / "scripts" / "i18n.py")
catalogs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(catalogs)

OTHERS = [c for c in LANGUAGES if c != "en"]
NANO = model.load_preset("nano-gpt")
WEIGHTS = model.default_weights(NANO)
TOKENS = model.encode(NANO, "CBABBC")
GEN = model.generate(WEIGHTS, TOKENS, 6)


def walkthrough(language: str, **kw) -> tl.Timeline:
    return tl.build_timeline(L.model_layout(NANO, len(GEN.tokens) - 1), GEN.traces[-1], generation=GEN,
                             weights=WEIGHTS, language=language, **kw)


@pytest.fixture(scope="module")
def told() -> dict[str, tl.Timeline]:
    return {code: walkthrough(code) for code in LANGUAGES}


# ---- catalogs --------------------------------------------------------------------------------------

def test_every_catalog_is_complete_with_englishs_placeholders():
    """What `scripts/i18n.py check` reports: nothing missing, untranslated or with other placeholders,
    the catalogs up to date with the code (every string extracted is in each one)."""
    assert catalogs.check() == []


def test_the_check_finds_missing_strings_and_placeholder_mismatches():
    pot = polib.POFile()
    for msgid in ("Head {h} does the same.", "Layer norm", "{n} head"):
        pot.append(polib.POEntry(msgid=msgid, msgid_plural="{n} heads" if msgid == "{n} head" else ""))
    po = polib.POFile()
    po.metadata = {"Plural-Forms": catalogs.PLURAL_FORMS["fr"]}
    po.append(polib.POEntry(msgid="Head {h} does the same.", msgstr="La tête {tete} fait de même."))
    po.append(polib.POEntry(msgid="{n} head", msgid_plural="{n} heads", msgstr_plural={0: "{n} tête", 1: ""}))
    found = catalogs.problems(pot, po, "fr")
    assert any("Head {h}" in p and "placeholders ['tete'] differ" in p for p in found), found
    assert any("'Layer norm': missing" in p for p in found), found
    assert any("'{n} head': not translated" in p for p in found), found
    po.metadata["Plural-Forms"] = "nplurals=1; plural=0;"
    assert any("Plural-Forms" in p for p in catalogs.problems(pot, po, "fr"))


def test_a_fuzzy_entry_shows_english(tmp_path, monkeypatch):
    (tmp_path / "fr.po").write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
                                    '#, fuzzy\nmsgid "Overview"\nmsgstr "Vue d\'ensemble"\n\n'
                                    'msgid "Embedding"\nmsgstr "Plongement"\n', encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    fr = i18n.Language("fr", "French", "Français", ())
    assert fr.tr("Overview") == "Overview" and fr.tr("Embedding") == "Plongement"


def test_unknown_language_is_one_line_naming_the_available_ones():
    with pytest.raises(i18n.LanguageError) as err:
        i18n.language("tlh")
    assert str(err.value) == ("language: unknown code 'tlh' (available: en, ja, ko, zh-Hans, zh-Hant, es, fr, de)")
    with pytest.raises(i18n.LanguageError):
        walkthrough("klingon")


def test_blender_locales_choose_a_language_or_english():
    assert i18n.for_blender_locale("ja_JP").code == "ja"
    assert i18n.for_blender_locale("zh_HANT").code == "zh-Hant"
    assert i18n.for_blender_locale("zh_HANS").code == "zh-Hans"
    assert i18n.for_blender_locale("es").code == "es"
    assert i18n.for_blender_locale("fr_FR").code == "fr"
    assert i18n.for_blender_locale("pt_BR").code == "en" and i18n.for_blender_locale("").code == "en"


# ---- numbers ---------------------------------------------------------------------------------------

BABEL = {"en": "en", "ja": "ja", "ko": "ko", "zh-Hans": "zh_Hans", "zh-Hant": "zh_Hant", "es": "es", "fr": "fr",
         "de": "de"}


@pytest.mark.parametrize("code", LANGUAGES)
def test_numbers_are_written_as_cldr_writes_them(code):
    lang = LANGUAGES[code]
    for n in (7, 1234, 12345, 1234567, 124439808):
        assert lang.count(n) == format_decimal(n, locale=BABEL[code]), n
    assert lang.num(0.5312) == format_decimal(0.53, format="0.00", locale=BABEL[code])
    assert lang.percent_of(0.973) == format_percent(0.973, locale=BABEL[code], decimal_quantization=False)
    assert lang.num(-1.25, 1) == format_decimal(-1.2, format="0.0", locale=BABEL[code]).replace("\u2212", "-")


def test_captions_keep_their_values_with_a_decimal_comma(told):
    """The same walkthrough in English and in each decimal-comma language: every decimal of a
    caption is there, written with a comma."""
    for code in ("de", "fr", "es"):
        for en, ours in zip(told["en"].chapters, told[code].chapters):  # (steps split by each language's lines)
            said = " ".join(s.caption for s in ours.steps)
            decimals = re.findall(r"-?\d+\.\d+", " ".join(s.caption for s in en.steps))
            for n in decimals:
                assert n.replace(".", ",") in said, (code, en.id, n)
            assert not re.search(r"\d\.\d\d(?!\d)", said), (code, said)


# ---- lines -----------------------------------------------------------------------------------------

def test_cjk_lines_break_between_characters_by_kinsoku_rules():
    ja = LANGUAGES["ja"]
    text = "ソフトマックスはスコアを重みに変えます。「位置 3（B）」は 0.53 を受け取り、合計は1になります。"
    lines = ja.wrap(text, 12)
    assert len(lines) > 3 and all(columns(line) <= 12 for line in lines)
    assert not any(line[0] in NO_LINE_START or line[-1] in NO_LINE_END for line in lines), lines
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert any("0.53" in line for line in lines)  # a number is never cut
    ko = LANGUAGES["ko"].wrap("헤드 0은 쿼리로 시작합니다. 하나의 Q 값은", 16)  # Korean breaks at spaces
    assert " ".join(ko) == "헤드 0은 쿼리로 시작합니다. 하나의 Q 값은" and all(columns(line) <= 16 for line in ko)
    assert LANGUAGES["fr"].wrap("moyenne\u00a0: 0,53 et 1\u202f234 valeurs", 12) == \
        ["moyenne\u00a0:", "0,53 et", "1\u202f234", "valeurs"]  # no-break spaces hold


@pytest.mark.parametrize("code", OTHERS)
def test_captions_are_translated_and_paced_for_the_language(told, code):
    """Every caption differs from English (numbers-only captions aside), and no step is shown for
    less than its text takes at the language's reading speed."""
    en, ours, lang = told["en"], told[code], LANGUAGES[code]
    assert [c.id for c in ours.chapters] == [c.id for c in en.chapters] and ours.lang is lang
    assert [c.title for c in ours.chapters] != [c.title for c in en.chapters]
    translated = sum(a.caption != b.caption for a, b in zip(en.steps, ours.steps))
    assert translated >= 0.9 * len(en.steps)
    if lang.wide:
        assert all(any(i18n.wide(ch) for ch in s.caption) for s in ours.steps if not s.caption.startswith("'"))
    for s in ours.steps:
        shown = (s.frame_end - s.frame_start + 1) / ours.fps
        assert shown >= lang.characters(s.caption) / lang.reading_speed - 1e-6, s.caption


def test_japanese_reads_at_its_own_speed():
    """ja reads about 4 characters a second (the style guides' figure, less READING_SHARE): its
    walkthrough is longer than the English one, and a given reading speed overrides the language's."""
    ja, en = walkthrough("ja"), walkthrough("en")
    assert LANGUAGES["ja"].reading_speed == pytest.approx(4 * i18n.READING_SHARE, abs=0.01)
    assert ja.frame_end > en.frame_end
    fast = walkthrough("ja", timing=tl.Timing(reading_speed=14.0))
    assert fast.frame_end < ja.frame_end


@pytest.mark.parametrize("code", ["ja", "zh-Hant", "ko", "fr"])
def test_subtitles_follow_the_languages_line_rules(told, code):
    lang, t = LANGUAGES[code], told[code]
    steps = [{"chapter": c.id, "title": c.title, "caption": s.caption, "frames": [s.frame_start, s.frame_end]}
             for c in t.chapters for s in c.steps]
    cues = subtitles.walkthrough_cues(steps, t.fps, lang=lang)
    parsed = list(srt.parse(io.StringIO(subtitles.srt(cues)).read()))
    assert len(parsed) == len(cues) >= len(steps)
    for cue in parsed:
        lines = cue.content.split("\n")
        assert 1 <= len(lines) <= subtitles.MAX_LINES
        assert all(columns(line) <= lang.line for line in lines), lines
        if lang.char_breaks:
            assert not any(line[0] in NO_LINE_START or line[-1] in NO_LINE_END for line in lines), lines
    said = "".join(c.content.replace("\n", "") for c in parsed).replace(" ", "")
    assert said == "".join(s["caption"] for s in steps).replace(" ", "")  # every character, once, in order


def test_long_cjk_captions_become_two_steps():
    """A caption longer than two cues of the language's lines is told in two steps, cut at the
    full-width sentence end nearest its middle (no space follows it)."""
    ja = LANGUAGES["ja"]
    sentence = "注意の重みは位置ごとに合計が1になります。"
    long = sentence * (SPLIT_CUES * 2 * ja.line // columns(sentence) + 1)
    first, second = split_caption(long, ja)
    assert first + second == long and first.endswith("。") and abs(len(first) - len(second)) <= len(sentence)
    assert split_caption(sentence * 2, ja) == [sentence * 2]


def test_the_readout_and_the_zoom_caption_speak_the_language():
    """A cell's readout (the zoom's and a cell still's formula plate) in German: its words and
    the block's name translated, its value the same, written with a decimal comma in the caption."""
    lay, trace = L.model_layout(NANO, len(TOKENS)), model.forward(WEIGHTS, TOKENS)
    en = readout.explain(lay, trace, WEIGHTS, "h0.fc", 100, 3)
    with i18n.using("de"):
        de = readout.explain(lay, trace, WEIGHTS, "h0.fc", 100, 3)
        caption = zoom.caption(de)
    assert de.value == en.value and de.formula.split(" = ")[-1] == en.formula.split(" = ")[-1]  # the same numbers
    assert "more" not in de.formula and LANGUAGES["de"].tr(" + ... {n} more", n=45) in de.formula
    assert "row" not in de.formula and "of" not in de.formula.split(" = ")[0].split(), de.formula
    assert LANGUAGES["de"].tr("MLP Weights") in de.formula
    assert en.value_text().replace(".", ",") in caption and "Zeile" in caption, caption
    assert i18n.current() is LANGUAGES["en"]  # `using` restores the language it found
