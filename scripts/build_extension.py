"""Validate and build the Blender extension zip with Blender's own extension tool.

    python scripts/build_extension.py                 # dist/llmviz_blender-<version>.zip, wheels included
    python scripts/build_extension.py --no-wheels --output /tmp/x.zip   # no download (tests)

The wheels listed in blender_manifest.toml are fetched into ./wheels/ only when missing, with
`pip download --only-binary=:all: --platform <tag> --python-version 3.11 <name>==<version>`
(the platform tag and version are read from each wheel's file name), and checked by name.
--no-wheels builds from a staged copy of the sources whose manifest has no `wheels` list: the
same extension for an environment that already has safetensors (tests, Blender with it installed).

The tool: `blender --command extension build|validate` when a blender binary is on PATH (or given
with --blender), else `blender_ext.py` inside the installed bpy wheel. Exit 0 ok, 1 failure.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = "blender_manifest.toml"
PYTHON_VERSION = "3.11"
#: staged copies (--no-wheels) leave out what the build excludes anyway, and heavy dev folders
STAGE_IGNORE = (".git", ".venv*", "venv*", "dist", "build", "wheels", "renders", "tests", "scripts",
                "__pycache__", ".pytest_cache", ".hypothesis", "*.egg-info", "*.zip")


class BuildError(RuntimeError):
    pass


def manifest(root: Path = ROOT) -> dict:
    with open(root / MANIFEST, "rb") as fh:
        return tomllib.load(fh)


def wheel_tags(path: str) -> tuple[str, str, str]:
    """(distribution, version, pip platform tag) from a wheel file name."""
    parts = Path(path).name[:-len(".whl")].split("-")
    if len(parts) not in (5, 6):
        raise BuildError(f"{path}: not a wheel file name")
    name, version, platform = parts[0], parts[1], parts[-1]
    return name.replace("_", "-"), version, platform.split(".")[-1]


def fetch_wheels(root: Path = ROOT, python: str = sys.executable) -> list[Path]:
    """Download the manifest's wheels that are missing under root; returns all wheel paths."""
    paths = []
    for rel in manifest(root).get("wheels", []):
        path = (root / rel).resolve()
        paths.append(path)
        if path.is_file():
            continue
        name, version, platform = wheel_tags(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        print(f"fetching {path.name}", flush=True)
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            cmd = [python, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                   "--platform", platform, "--python-version", PYTHON_VERSION, "--dest", tmp, f"{name}=={version}"]
            if subprocess.run(cmd).returncode != 0:
                raise BuildError(f"pip download failed for {path.name}")
            got = Path(tmp) / path.name
            if not got.is_file():
                raise BuildError(f"pip download gave {sorted(os.listdir(tmp))}, expected {path.name}")
            os.replace(got, path)
    return paths


def strip_wheels(text: str) -> str:
    """The manifest text without its `wheels = [...]` entry."""
    out = re.sub(r"(?ms)^wheels\s*=\s*\[.*?\]\s*\n", "", text)
    if "wheels" in tomllib.loads(out):
        raise BuildError("could not remove the wheels list from the manifest")
    return out


def stage_without_wheels(root: Path, dest: Path) -> Path:
    """Copy the extension sources to dest with a manifest that lists no wheels."""
    shutil.copytree(root, dest, ignore=shutil.ignore_patterns(*STAGE_IGNORE), symlinks=False)
    (dest / MANIFEST).write_text(strip_wheels((root / MANIFEST).read_text(encoding="utf-8")), encoding="utf-8")
    return dest


def tool_command(blender: str | None = None) -> list[str]:
    """The command prefix of Blender's extension tool, and where the valid tags file is."""
    blender = blender or shutil.which("blender")
    if blender:
        return [blender, "--factory-startup", "--command", "extension"]
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError("no blender binary on PATH and no bpy module installed: cannot find Blender's extension tool")
    base = Path(list(spec.submodule_search_locations)[0])
    found = sorted(base.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    if not found:
        raise BuildError(f"blender_ext.py not found under {base}")
    tool = found[-1]
    tags = tool.parents[3] / "modules" / "_bpy_internal" / "extensions" / "tags.py"
    return [sys.executable, str(tool), "--valid-tags", str(tags)] if tags.is_file() else [sys.executable, str(tool)]


def _run(prefix: list[str], sub: str, args: list[str]) -> None:
    # blender_ext.py takes --valid-tags after the subcommand; `blender --command extension` knows its own.
    if "--valid-tags" in prefix:
        i = prefix.index("--valid-tags")
        head, tags = prefix[:i], prefix[i:i + 2]
        cmd = [*head, sub, *tags, *args]
    else:
        cmd = [*prefix, sub, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    out = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0 or "FATAL_ERROR" in out:
        raise BuildError(f"extension {sub} failed:\n{out}")
    print(out, flush=True)


def build(output: Path, wheels: bool = True, root: Path = ROOT, blender: str | None = None) -> Path:
    """Validate and build the extension zip at `output`; returns it."""
    prefix = tool_command(blender)
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="llmviz-ext-") as tmp:
        if wheels:
            fetch_wheels(root)
            source = root
        else:
            source = stage_without_wheels(root, Path(tmp) / "src")
        _run(prefix, "validate", [str(source)])
        partial = output.with_name(f".{output.name}.tmp.zip")
        try:
            _run(prefix, "build", ["--source-dir", str(source), "--output-filepath", str(partial)])
            os.replace(partial, output)
        finally:
            partial.unlink(missing_ok=True)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, help="zip to write (default dist/<id>-<version>.zip)")
    parser.add_argument("--no-wheels", action="store_true", help="build without the bundled wheels (no download)")
    parser.add_argument("--fetch-only", action="store_true", help="only download the missing wheels")
    parser.add_argument("--blender", help="blender binary to use (default: on PATH, else the bpy module's tool)")
    args = parser.parse_args(argv)
    try:
        if args.fetch_only:
            for p in fetch_wheels(ROOT):
                print(p.relative_to(ROOT))
            return 0
        info = manifest(ROOT)
        output = args.output or ROOT / "dist" / f"{info['id']}-{info['version']}.zip"
        path = build(output, wheels=not args.no_wheels, root=ROOT, blender=args.blender)
    except (BuildError, OSError, tomllib.TOMLDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"built {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
