"""The languages a viewer reads (pure, no bpy): gettext catalogs with English as the source, and
each language's facts: number signs, subtitle line length, reading speed, how its lines break.

Every string a viewer reads is written in English in the code, marked for extraction with
`tr` / `trn` / `trp` (translated and formatted at once) or `N_` (marked only: a name kept as
data and translated where it is shown), and translated from `locale/<code>.po`
(`scripts/i18n.py` extracts, merges and checks the catalogs). Error messages and logs stay English.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import gettext
import io
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..defaults import CHAR_WIDTH

LOCALE_DIR = Path(__file__).parent / "locale"
PANEL_COMMENT = "panel"  # a catalog entry's comment when it is the panel's (translated by Blender itself)
#: Subtitle style guides' adult reading speed for English (characters a second). An explainer is read
#: while its picture moves, so every language reads at its guide's speed times READING_SHARE:
#: English at 14 characters a second, as broadcast subtitles are.
GUIDE_ENGLISH_CPS = 17.0
READING_SHARE = 14.0 / GUIDE_ENGLISH_CPS


class LanguageError(ValueError):
    """An unknown language code (one line naming the available ones)."""


@dataclass(frozen=True)
class Language:
    """One language: `code` (BCP 47), its English and own names, the Blender interface locales that
    choose it, its number signs (decimal, digit group and percent, as CLDR writes them),
    its subtitle line (`line` columns: a full-width character takes two) and reading speed (`cps`,
    characters a second, a full-width character counting one and a half-width one half where the
    script is `wide`), and whether lines break between characters (`char_breaks`) or at spaces."""

    code: str
    name: str
    native: str
    blender: tuple[str, ...]
    decimal: str = "."
    group: str = ","
    percent: str = "%"  # the sign after a percentage, with any space before it
    line: int = 42
    cps: float = GUIDE_ENGLISH_CPS
    wide: bool = False
    char_breaks: bool = False

    # --- catalog --------------------------------------------------------------------------------
    @functools.cached_property
    def _po(self):
        """The catalog as polib reads it (None for English or a language without one yet)."""
        path = LOCALE_DIR / f"{self.code}.po"
        if self.code == "en" or not path.exists():
            return None
        import polib  # the catalogs' reader; stdlib gettext does the lookup and plural forms

        po = polib.pofile(str(path))
        for entry in po:
            if "fuzzy" in entry.flags:  # a fuzzy entry is not yet a translation: English shows
                entry.msgstr, entry.msgstr_plural = "", {}
        return po

    @functools.cached_property
    def _catalog(self) -> gettext.NullTranslations:
        po = self._po
        return gettext.NullTranslations() if po is None else gettext.GNUTranslations(io.BytesIO(po.to_binary()))

    def panel(self) -> dict[str, str]:
        """The panel's labels and tooltips (entries commented PANEL_COMMENT) -> their translations,
        for Blender's own translation system (bpy.app.translations)."""
        po = self._po
        return {} if po is None else {e.msgid: e.msgstr for e in po if e.comment == PANEL_COMMENT and e.msgstr}

    def tr(self, msgid: str, /, **values: object) -> str:
        """`msgid` translated, its `{name}` placeholders filled (floats written as numbers of this
        language, `num`)."""
        return self._fill(self._catalog.gettext(msgid), values)

    def trn(self, singular: str, plural: str, n: int, /, **values: object) -> str:
        """The singular or plural form for `n` (the language's own plural rules); `{n}` is n."""
        return self._fill(self._catalog.ngettext(singular, plural, n), {"n": n, **values})

    def trp(self, context: str, msgid: str, /, **values: object) -> str:
        """`msgid` translated in `context` (a short string that reads differently by use)."""
        return self._fill(self._catalog.pgettext(context, msgid), values)

    def _fill(self, text: str, values: dict) -> str:
        if not values:
            return text
        return text.format(**{k: self.num(v) if isinstance(v, float) else v for k, v in values.items()})

    def join(self, items) -> str:
        """A list in a sentence: 'a, b, c' ('a、b、c' in Japanese and Chinese)."""
        return self.trp("list separator", ", ").join(str(i) for i in items)

    # --- numbers ----------------------------------------------------------------------------------
    def num(self, value: float | str, digits: int = 2) -> str:
        """A number as this language writes it: `layout.formula.num`'s digits with its decimal sign."""
        from ..layout.formula import num  # (layout imports this module)

        text = value if isinstance(value, str) else num(value, digits)
        return text.replace(".", self.decimal) if self.decimal != "." else text

    def percent_of(self, share: float) -> str:
        """A share as a percentage with one decimal: 97.3% / 97,3 %."""
        return f"{self.num(f'{100 * share:.1f}')}{self.percent}"

    def count(self, n: int) -> str:
        """An integer with the language's digit groups: 1,234,567 / 1.234.567 / 1 234 567."""
        return f"{int(n):,}".replace(",", self.group)

    # --- lines --------------------------------------------------------------------------------------
    @property
    def reading_speed(self) -> float:
        """Characters a second a walkthrough's captions are read at (see READING_SHARE)."""
        return round(self.cps * READING_SHARE, 2)

    def characters(self, text: str) -> float:
        """Characters to read in `text`: in a wide script a half-width character counts one half."""
        return columns(text) / 2 if self.wide else float(len(text))

    def wrap(self, text: str, width: float | None = None, cut: bool = True,
             measure: Callable[[str], float] | None = None) -> list[str]:
        """Lines at most `width` wide by `measure` (default: columns, the subtitle line), broken
        by the script's rules: at spaces, or (Chinese, Japanese) between characters but never before
        closing or after opening punctuation; a word longer than a line is cut (or, without `cut`,
        kept whole). `measure=text_width` measures in text heights, as the picture's text is."""
        width = self.line if width is None else width
        measure = measure or columns
        if width <= 0:
            raise ValueError(f"line width must be positive, got {width}")
        lines: list[str] = []
        for space, atom in _atoms(text, self.char_breaks):
            while cut and measure(atom) > width:  # a word wider than a line: cut at the width
                n = _fit(atom, width, measure)
                lines.append(atom[:n])
                atom, space = atom[n:], False
            gap = " " if space else ""
            if lines and measure(lines[-1] + gap + atom) <= width:
                lines[-1] += gap + atom
            else:
                lines.append(atom)
        return lines


    def text_box(self, text: str, width: float) -> str:
        """`text` for a Blender text box `width` text heights wide: Blender wraps only at spaces, so
        Chinese and Japanese get their line breaks here, by their rules."""
        return "\n".join(self.wrap(text, width, measure=text_width)) if self.char_breaks else text


#: Characters a CJK line never starts with (closing punctuation, small kana, the long vowel mark)
#: or ends with (opening punctuation): kinsoku shori.
NO_LINE_START = set("、。，．・：；？！ー）」』】〕〉》〙〗｝］”’),.;:!?%]}ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ々〜…")
NO_LINE_END = set("（「『【〔〈《〘〖｛［“‘([{")
_SPACE = re.compile(r"[ \t\r\n]+")  # where lines may break (not the no-break spaces of French)


def wide(ch: str) -> bool:
    """Whether a character takes two columns (East Asian wide or full-width)."""
    return unicodedata.east_asian_width(ch) in "WF"


WIDE_ADVANCE = 1.0  # advance of a full-width character (Noto Sans CJK), in text heights


def squeeze(text: str) -> str:
    """`text` with each run of breakable white space (not a no-break space) as one space, trimmed."""
    return _SPACE.sub(" ", text).strip(" ")


def text_width(text: str) -> float:
    """Width of one line of `text` in text heights (CHAR_WIDTH a narrow character)."""
    return sum(WIDE_ADVANCE if wide(ch) else CHAR_WIDTH for ch in text)


def narrow_chars(text: str) -> float:
    """Width of `text` counted in narrow characters (what the picture's text sizing counts)."""
    return text_width(text) / CHAR_WIDTH


def columns(text: str) -> int:
    """Width of `text` in columns: two for each wide character, one for any other."""
    return sum(2 if wide(ch) else 1 for ch in text)


def _fit(text: str, width: float, measure: Callable[[str], float]) -> int:
    """The most leading characters of `text` that fit `width` (one at least)."""
    n = 1
    while n < len(text) and measure(text[:n + 1]) <= width:
        n += 1
    return n


def _pieces(word: str) -> list[str]:
    """Each wide character of `word` alone; runs of narrow ones (Latin words, numbers) whole."""
    pieces: list[str] = []
    for ch in word:
        if pieces and not wide(ch) and not wide(pieces[-1][-1]):
            pieces[-1] += ch
        else:
            pieces.append(ch)
    return pieces


def _atoms(text: str, char_breaks: bool) -> list[tuple[bool, str]]:
    """`text` as unbreakable pieces, each with whether a space precedes it: words, or where lines
    break between characters, each wide character (a run of narrow ones stays a word) with the
    punctuation that may not be parted from it."""
    atoms: list[tuple[bool, str]] = []
    for w, word in enumerate(_SPACE.split(text.strip(" \t\r\n"))):
        if not word:
            continue
        pieces = _pieces(word) if char_breaks else [word]
        glued: list[str] = []
        for piece in pieces:
            if glued and (piece[0] in NO_LINE_START or glued[-1][-1] in NO_LINE_END):
                glued[-1] += piece
            else:
                glued.append(piece)
        atoms += [(w > 0 and i == 0, g) for i, g in enumerate(glued)]
    return atoms


#: The languages, English first (the source).
LANGUAGES: dict[str, Language] = {lang.code: lang for lang in (
    Language("en", "English", "English", ("en_US", "en_GB")),
    Language("ja", "Japanese", "日本語", ("ja_JP",), line=26, cps=4.0, wide=True, char_breaks=True),
    Language("ko", "Korean", "한국어", ("ko_KR",), line=32, cps=12.0, wide=True),
    Language("zh-Hans", "Chinese (Simplified)", "简体中文", ("zh_HANS", "zh_CN"), line=32, cps=9.0, wide=True,
             char_breaks=True),
    Language("zh-Hant", "Chinese (Traditional)", "繁體中文", ("zh_HANT", "zh_TW"), line=32, cps=9.0, wide=True,
             char_breaks=True),
    Language("es", "Spanish", "Español", ("es",), decimal=",", group=".", percent="\u00a0%"),
    Language("fr", "French", "Français", ("fr_FR",), decimal=",", group="\u202f", percent="\u00a0%"),
    Language("de", "German", "Deutsch", ("de_DE",), decimal=",", group=".", percent="\u00a0%"),
)}
ENGLISH = LANGUAGES["en"]


def language(code: str | Language | None = None) -> Language:
    """The language of `code` (None: English); one-line LanguageError for an unknown code."""
    if isinstance(code, Language):
        return code
    if code is None:
        return ENGLISH
    if code not in LANGUAGES:
        raise LanguageError(f"language: unknown code {code!r} (available: {', '.join(LANGUAGES)})")
    return LANGUAGES[code]


def for_blender_locale(locale: str) -> Language:
    """The language of a Blender interface locale ('ja_JP', 'fr_FR', ...), English if none."""
    for lang in LANGUAGES.values():
        if locale in lang.blender or locale.split("_")[0] == lang.code:
            return lang
    return ENGLISH


_CURRENT: contextvars.ContextVar[Language] = contextvars.ContextVar("llmviz_language", default=ENGLISH)


def current() -> Language:
    """The language text is made in now (`using`; English outside it)."""
    return _CURRENT.get()


@contextlib.contextmanager
def using(code: str | Language | None):
    """Make the scene's text (labels, cards, lens tables, captions) in `code`'s language inside the block
    (None: keep the current one)."""
    token = _CURRENT.set(language(code) if code is not None else current())
    try:
        yield current()
    finally:
        _CURRENT.reset(token)


def block_name(lang: Language, name: str, section: bool = False) -> str:
    """A block's, group's or section's display name in `lang` (layout names are English keys:
    'Transformer 3' is the section of layer 3)."""
    if section and name.startswith("Transformer ") and name[12:].isdigit():
        return lang.tr("Transformer {i}", i=int(name[12:]))
    return lang.tr(name)


def N_(msgid: str) -> str:
    """Marks `msgid` for the catalogs without translating it (a name kept as data, shown later)."""
    return msgid


__all__ = ["LANGUAGES", "ENGLISH", "Language", "LanguageError", "language", "for_blender_locale", "N_", "columns",
           "wide", "READING_SHARE", "LOCALE_DIR", "current", "using", "block_name", "text_width", "narrow_chars", "PANEL_COMMENT", "squeeze"]
