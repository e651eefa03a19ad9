"""Packaging: the manifest, the zip Blender's own extension tool builds, and the round trip a user
takes: install the zip into a (temporary) user repository, enable it, generate a scene through the
operator, disable and remove it, with nothing of ours left registered.

The install test builds a zip without the bundled wheels (scripts/build_extension.py --no-wheels):
the suite never downloads, and safetensors and tokenizers are already importable here. When ./wheels holds every
wheel the manifest lists (after `make extension`), the full zip is installed as well.
"""

import importlib.util
import os
import re
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("build_extension", ROOT / "scripts" / "build_extension.py")
build_extension = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_extension)

MANIFEST = tomllib.loads((ROOT / "blender_manifest.toml").read_text(encoding="utf-8"))
PLATFORMS = {"manylinux2014_x86_64", "manylinux2014_aarch64", "macosx_10_12_x86_64", "macosx_11_0_arm64", "win_amd64"}


def test_manifest_fields():
    m = MANIFEST
    assert (m["schema_version"], m["id"], m["type"], m["blender_version_min"]) == \
        ("1.0.0", "llmviz_blender", "add-on", "4.2.0")
    import llmviz_blender
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert m["version"] == llmviz_blender.__version__ == pyproject["version"]
    assert len(m["tagline"]) <= 64 and m["tagline"][-1].isalnum()
    assert m["license"] == ["SPDX:GPL-3.0-or-later"]
    assert m["website"].startswith("https://") and m["maintainer"] and m["name"]
    assert set(m["permissions"]) == {"files"} and m["permissions"]["files"]  # no network
    excluded = m["build"]["paths_exclude_pattern"]
    for pattern in ("/tests/", "/scripts/", "/renders/", "/dist/", "/wheels/", ".*", "__pycache__/"):
        assert pattern in excluded


def test_manifest_wheels_are_safetensors_and_tokenizers_for_five_platforms_and_polib():
    wheels = MANIFEST["wheels"]
    tags = [build_extension.wheel_tags(w) for w in wheels]
    assert {t[0] for t in tags} == {"safetensors", "tokenizers", "polib"}  # numpy comes with Blender
    assert [t for t in tags if t[0] == "polib"] == [("polib", "1.2.0", "any")]  # pure Python: every platform
    wheels = [w for w in wheels if "polib" not in w]
    assert all(w.startswith("./wheels/") and "abi3" in w for w in wheels)  # abi3: any Python >= 3.10
    minimum = {"safetensors": (0, 4), "tokenizers": (0, 20)}  # pyproject's lower bounds
    for name, low in minimum.items():
        mine = [t for t in tags if t[0] == name]
        assert len({t[1] for t in mine}) == 1  # one pinned version
        assert {t[2] for t in mine} == PLATFORMS
        assert tuple(int(v) for v in mine[0][1].split(".")) >= low


def test_strip_wheels_keeps_everything_else():
    text = (ROOT / "blender_manifest.toml").read_text()
    stripped = tomllib.loads(build_extension.strip_wheels(text))
    assert "wheels" not in stripped
    assert {k: v for k, v in MANIFEST.items() if k != "wheels"} == stripped


@pytest.fixture(scope="module")
def zip_no_wheels(tmp_path_factory):
    pytest.importorskip("bpy")
    out = tmp_path_factory.mktemp("ext") / "llmviz_blender-test.zip"
    return build_extension.build(out, wheels=False)


def test_tool_validates_the_real_manifest():
    pytest.importorskip("bpy")
    build_extension._run(build_extension.tool_command(), "validate", [str(ROOT)])
    with pytest.raises(build_extension.BuildError, match="tagline"):
        bad = ROOT / "tests" / ".bad_manifest"
        bad.mkdir(exist_ok=True)
        try:
            (bad / "blender_manifest.toml").write_text(
                re.sub(r'(?m)^tagline = .*$', 'tagline = "Ends with a period."', (ROOT / "blender_manifest.toml").read_text()))
            build_extension._run(build_extension.tool_command(), "validate", [str(bad)])
        finally:
            (bad / "blender_manifest.toml").unlink(missing_ok=True)
            bad.rmdir()


def test_zip_holds_the_add_on_and_nothing_else(zip_no_wheels):
    names = zipfile.ZipFile(zip_no_wheels).namelist()
    assert {"blender_manifest.toml", "__init__.py", "presets/nano-gpt.toml", "presets/nano-gpt-sort.safetensors",
            "llmviz_blender/__init__.py", "llmviz_blender/ui/operators.py",
            "llmviz_blender/layout/readout.py"} <= set(names)
    top = {n.split("/")[0] for n in names}
    assert top == {"blender_manifest.toml", "__init__.py", "presets", "llmviz_blender"}
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def _repo_index(bpy, module="user_default"):
    return next(i for i, r in enumerate(bpy.context.preferences.extensions.repos) if r.module == module)


def _install_round_trip(bpy, zip_path):
    """Install, enable, generate, disable, remove; asserts along the way."""
    import llmviz_blender.ui as direct
    assert not hasattr(bpy.types.Scene, "llmviz"), "the directly imported package must not be registered"
    module = "bl_ext.user_default.llmviz_blender"
    repo = bpy.context.preferences.extensions.repos[_repo_index(bpy)]
    installed = Path(repo.directory) / "llmviz_blender"

    assert bpy.ops.extensions.package_install_files(
        filepath=str(zip_path), repo="user_default", enable_on_install=True) == {"FINISHED"}
    assert installed.is_dir() and (installed / "blender_manifest.toml").is_file()
    assert module in bpy.context.preferences.addons
    prefs = bpy.context.preferences.addons[module].preferences
    assert (prefs.bl_rna.identifier, prefs.render_engine) == ("LLMVIZ_AddonPreferences", "CYCLES")
    # the add-on's own copy runs, not the package the tests import
    ops_module = sys.modules[f"{module}.llmviz_blender.ui.operators"]
    assert Path(ops_module.__file__).is_relative_to(installed)
    assert ops_module is not sys.modules.get("llmviz_blender.ui.operators")
    assert bpy.ops.llmviz.generate() == {"FINISHED"}
    coll = next(c for c in bpy.data.collections if c.get("llmviz_preset") == "nano-gpt")
    assert list(coll["llmviz_tokens"]) == [2, 1, 0, 1, 1, 2]
    # its user presets live in the extension's own user folder
    folder = sys.modules[f"{module}.llmviz_blender.ui.preferences"].user_presets_dir()
    assert "extensions" in folder.parts and "llmviz_blender" in folder.parts
    assert bpy.ops.llmviz.clear() == {"FINISHED"}

    assert bpy.ops.preferences.addon_disable(module=module) == {"FINISHED"}
    assert bpy.ops.extensions.package_uninstall(repo_index=_repo_index(bpy), pkg_id="llmviz_blender") == {"FINISHED"}
    assert not installed.exists()
    # nothing of ours stays registered
    assert module not in bpy.context.preferences.addons
    assert dir(bpy.ops.llmviz) == []
    assert not hasattr(bpy.types.Scene, "llmviz")
    for cls in direct.CLASSES:
        assert getattr(bpy.types, cls.__name__, None) is None, cls.__name__
    assert not [c for c in bpy.types.AddonPreferences.__subclasses__() if c.__name__ == "LLMVIZ_AddonPreferences"
                and c.is_registered]


def test_install_enable_generate_disable_remove(fresh_blend, zip_no_wheels):
    _install_round_trip(fresh_blend, zip_no_wheels)


def test_install_full_zip_with_wheels(fresh_blend, tmp_path):
    missing = [w for w in MANIFEST["wheels"] if not (ROOT / w).is_file()]
    if missing:
        pytest.skip(f"{len(missing)} wheels not in ./wheels (run `make extension` to fetch them)")
    zip_path = build_extension.build(tmp_path / "full.zip", wheels=True)
    names = zipfile.ZipFile(zip_path).namelist()
    assert sorted(n for n in names if n.endswith(".whl")) == sorted(w[2:] for w in MANIFEST["wheels"])
    _install_round_trip(fresh_blend, zip_path)


def test_build_cli_reports_tool_errors(tmp_path, monkeypatch, capsys):
    pytest.importorskip("bpy")
    monkeypatch.setattr(build_extension, "ROOT", tmp_path)
    (tmp_path / "blender_manifest.toml").write_text('schema_version = "1.0.0"\nid = "x"\n')
    assert build_extension.main(["--no-wheels", "--output", str(tmp_path / "out.zip")]) == 1
    assert "error:" in capsys.readouterr().err
    assert not (tmp_path / "out.zip").exists() and os.listdir(tmp_path) == ["blender_manifest.toml"]


def test_root_init_loads_as_plain_module():
    """pytest loads the repository root's __init__.py as a plain module when the checkout's folder
    name is not a valid package name (e.g. a clone in ci-check/): that must not fail."""
    import importlib.util
    from pathlib import Path
    spec = importlib.util.spec_from_file_location("__init__", Path(__file__).resolve().parents[1] / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert not hasattr(module, "register")
