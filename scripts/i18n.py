"""Upkeep of the catalogs (llmviz_blender/i18n/locale): extract every string a viewer reads from the
code into messages.pot, merge it into each language's .po, and check that every catalog is complete
with the same placeholders as English.

    .venv/bin/python scripts/i18n.py update       # after changing strings: refresh the .pot and .po files
    .venv/bin/python scripts/i18n.py check        # list missing strings and placeholder mismatches (exit 1)
    .venv/bin/python scripts/i18n.py new pt       # start a catalog for a language added to i18n.LANGUAGES

Captions and scene text are marked with tr / trn / trp / N_ (llmviz_blender/i18n); the panel's labels
and tooltips are the `bl_label`, `bl_description`, `name=`, `description=` and `text=` strings and
enum items of llmviz_blender/ui, which Blender translates through bpy.app.translations.
"""

from __future__ import annotations

import argparse
import ast
import string
import sys
from pathlib import Path

import polib
from babel.messages.extract import extract_from_dir

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from llmviz_blender.i18n import LANGUAGES, LOCALE_DIR, PANEL_COMMENT  # noqa: E402

PACKAGE = ROOT / "llmviz_blender"
POT = LOCALE_DIR / "messages.pot"
KEYWORDS = {"tr": (1,), "trn": (1, 2), "trp": ((1, "c"), 2), "N_": (1,), "_t": (1,)}  # _t: the readout's tr
#: Keyword arguments and class attributes of the panel that Blender shows (and translates).
UI_KEYWORDS = ("name", "description", "text")
UI_ATTRIBUTES = ("bl_label", "bl_description")
PANEL_COMMENT = "panel"
#: Presets whose layouts hold every block name (both families; biases, tied and untied heads).
LAYOUT_PRESETS = ("nano-gpt", "gpt2-small", "nano-llama", "smollm2-135m", "qwen2.5-0.5b", "llama-3.2-1b")  # the extracted comment of a panel string (bpy.app.translations registers those)
#: Each language's plural rule, written into the header of a new catalog (the catalog then holds it).
PLURAL_FORMS = {"ja": "nplurals=1; plural=0;", "ko": "nplurals=1; plural=0;", "zh-Hans": "nplurals=1; plural=0;",
                "zh-Hant": "nplurals=1; plural=0;", "es": "nplurals=2; plural=(n != 1);",
                "fr": "nplurals=2; plural=(n > 1);", "de": "nplurals=2; plural=(n != 1);"}


def _ui_strings(path: Path) -> list[tuple[int, str]]:
    """The panel's strings in one ui module: (line, text) of its labels, names, tooltips, enum items."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.keyword) and node.arg in UI_KEYWORDS and isinstance(node.value, ast.Constant):
            out.append((node.value.lineno, node.value.value))
        elif isinstance(node, ast.keyword) and node.arg == "items" and isinstance(node.value, (ast.List, ast.Tuple)):
            for item in node.value.elts:  # EnumProperty items: (identifier, name, description)
                if isinstance(item, ast.Tuple):
                    out += [(e.lineno, e.value) for e in item.elts[1:3] if isinstance(e, ast.Constant)]
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and any(
                isinstance(t, ast.Name) and t.id in UI_ATTRIBUTES for t in node.targets):
            out.append((node.value.lineno, node.value.value))
    return [(line, text) for line, text in out if isinstance(text, str) and text.strip()]


def _layout_names() -> list[tuple[str, str]]:
    """Block, group and section names as every family lays them out (the layout keeps English names
    as keys; labels translate them where they are shown)."""
    from llmviz_blender.layout import model_layout
    from llmviz_blender.model import load_preset

    out = []
    for preset in LAYOUT_PRESETS:
        for block in model_layout(load_preset(preset), 2).blocks:
            out += [(block.name, f"layout:{preset}"), (block.group, f"layout:{preset}")]
            if not block.section.startswith("Transformer "):
                out.append((block.section, f"layout:{preset}"))
    return out


def extract() -> polib.POFile:
    """Every string a viewer reads, as a template catalog."""
    pot = polib.POFile(wrapwidth=100)
    pot.metadata = {"Project-Id-Version": "llmviz-blender", "Content-Type": "text/plain; charset=UTF-8",
                    "Content-Transfer-Encoding": "8bit", "MIME-Version": "1.0"}
    entries: dict[tuple[str | None, str], polib.POEntry] = {}

    def add(msgid: str, where: str, plural: str = "", context: str | None = None, comment: str = "") -> None:
        entry = entries.get((context, msgid))
        if entry is None:
            entry = entries[(context, msgid)] = polib.POEntry(msgid=msgid, msgid_plural=plural, msgctxt=context,
                                                             comment=comment)
            if "{" in msgid:
                entry.flags.append("python-brace-format")
            pot.append(entry)
        if (where, "") not in entry.occurrences:
            entry.occurrences.append((where, ""))

    for filename, _line, message, _comments, context in extract_from_dir(
            str(PACKAGE), [("**.py", "python")], keywords=KEYWORDS):
        where = f"llmviz_blender/{filename}"
        if isinstance(message, tuple):
            add(message[0], where, plural=message[1], context=context)
        else:
            add(message, where, context=context)
    for name, where in _layout_names():
        add(name, where, comment="block name")
    for path in sorted((PACKAGE / "ui").glob("*.py")):
        for _line, text in _ui_strings(path):
            add(text, str(path.relative_to(ROOT)), comment=PANEL_COMMENT)
    return pot


def fields(text: str) -> set[str]:
    """The `{name}` placeholders of a message."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def problems(pot: polib.POFile, po: polib.POFile, code: str) -> list[str]:
    """Each string of `pot` missing from `po` (absent, untranslated or fuzzy), each translation whose
    placeholders differ from English, and a plural rule other than the language's."""
    out = []
    if po.metadata.get("Plural-Forms") != PLURAL_FORMS[code]:
        out.append(f"{code}.po: Plural-Forms must be {PLURAL_FORMS[code]!r}")
    have = {(e.msgctxt, e.msgid): e for e in po if not e.obsolete}
    for entry in pot:
        name = f"{code}.po: {entry.msgid[:60]!r}"
        got = have.get((entry.msgctxt, entry.msgid))
        if got is None:
            out.append(f"{name}: missing")
            continue
        texts = list(got.msgstr_plural.values()) if entry.msgid_plural else [got.msgstr]
        if "fuzzy" in got.flags or not texts or not all(t.strip() for t in texts):
            out.append(f"{name}: not translated")
            continue
        english = fields(entry.msgid) | fields(entry.msgid_plural)
        for text in texts:
            try:
                mine = fields(text)
            except ValueError as exc:
                out.append(f"{name}: bad placeholder: {exc}")
                continue
            if mine - english or (fields(entry.msgid) - {"n"}) - mine:
                out.append(f"{name}: placeholders {sorted(mine)} differ from English {sorted(english)}")
    return out


def _catalog(code: str) -> Path:
    return LOCALE_DIR / f"{code}.po"


def new(code: str) -> None:
    if code not in LANGUAGES or code == "en":
        raise SystemExit(f"i18n: add {code!r} to llmviz_blender.i18n.LANGUAGES first (and to PLURAL_FORMS here)")
    po = polib.POFile(wrapwidth=100)
    po.metadata = {"Project-Id-Version": "llmviz-blender", "Language": code, "Plural-Forms": PLURAL_FORMS[code],
                   "Content-Type": "text/plain; charset=UTF-8", "Content-Transfer-Encoding": "8bit",
                   "MIME-Version": "1.0"}
    po.save(str(_catalog(code)))
    update()


def update() -> None:
    pot = extract()
    LOCALE_DIR.mkdir(exist_ok=True)
    pot.save(str(POT))
    for code in LANGUAGES:
        path = _catalog(code)
        if code == "en" or not path.exists():
            continue
        po = polib.pofile(str(path), wrapwidth=100)
        po.merge(pot)
        po.save(str(path))
    print(f"{POT.relative_to(ROOT)}: {len(pot)} strings")


def check() -> list[str]:
    pot = extract()
    out = []
    for code in LANGUAGES:
        if code == "en":
            continue
        path = _catalog(code)
        out += problems(pot, polib.pofile(str(path)), code) if path.exists() else [f"{code}.po: no catalog"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("update", help="refresh messages.pot and merge it into every catalog")
    sub.add_parser("check", help="list missing strings and placeholder mismatches")
    sub.add_parser("new", help="start the catalog of a language").add_argument("code")
    args = parser.parse_args(argv)
    if args.command == "update":
        update()
    elif args.command == "new":
        new(args.code)
    else:
        found = check()
        for line in found:
            print(line)
        print(f"{len(found)} problems" if found else "every catalog is complete")
        return 1 if found else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
