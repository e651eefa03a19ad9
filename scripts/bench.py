"""Benchmarks for the README table: `python scripts/bench.py forward|tokenize|scene|animate|render|gpt2|smollm2|draft|all`.

Each benchmark measures against its baseline in the same run and prints the ratio, since the
machines are noisy. Figures are best-of-N wall times.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))


def best_of(fn: Callable[[], object], repeat: int, setup: Callable[[], object] | None = None) -> float:
    """Smallest wall time of `repeat` calls (after one warm-up call); `setup` runs untimed before each."""
    times = []
    for i in range(repeat + 1):
        if setup is not None:
            setup()
        start = time.perf_counter()
        fn()
        if i:
            times.append(time.perf_counter() - start)
    return min(times)


def row(name: str, seconds: float, goal: str = "", extra: str = "") -> None:
    print(f"| {name} | {seconds:.3f} s | {goal} | {extra} |", flush=True)


def _forward_times(repeat: int) -> tuple[float, float]:
    """(numpy full-trace forward, torch forward) best times, GPT-2 small shapes, T=128, random
    weights, the two measured alternately so both see the same machine load."""
    import numpy as np
    import torch
    from torch_gpt import GPT

    from llmviz_blender import model

    config = model.load_preset("gpt2-small")
    weights = model.random_weights(config, seed=0)
    tokens = np.random.default_rng(0).integers(0, config.vocab_size, 128)
    gpt = GPT.from_weights(weights).eval()
    idx = torch.from_numpy(tokens)[None]

    def torch_forward() -> None:
        with torch.inference_mode():
            gpt(idx)

    t_numpy, t_torch = [], []
    for _ in range(repeat):
        t_numpy.append(best_of(lambda: model.forward(weights, tokens), 1))
        t_torch.append(best_of(torch_forward, 1))
    return min(t_numpy), min(t_torch)


def _cpu_core() -> str | None:
    """The OpenBLAS core type this CPU deserves (OpenBLAS 0.3.23 misses some CPU models)."""
    flags = Path("/proc/cpuinfo").read_text().split() if Path("/proc/cpuinfo").exists() else []
    return "SkylakeX" if "avx512f" in flags else "Haswell" if "avx2" in flags else None


def bench_forward(repeat: int) -> None:
    """numpy forward with the full trace vs torch forward, GPT-2 small shapes, T=128, random weights;
    once with OpenBLAS's own CPU detection, once with the core type matching the CPU."""
    import os

    variants = [("auto", {})]
    if _cpu_core() is not None and "OPENBLAS_CORETYPE" not in os.environ:
        variants.append((_cpu_core(), {"OPENBLAS_CORETYPE": _cpu_core()}))
    for label, env in variants:
        out = subprocess.run([sys.executable, __file__, "_forward", str(repeat)], capture_output=True, text=True,
                             env={**os.environ, **env, "OPENBLAS_VERBOSE": "2"}, check=True)
        core = next((line.split(":", 1)[1].strip() for line in (out.stdout + out.stderr).splitlines()
                     if line.startswith("Core:")), "?")
        t_numpy, t_torch = (float(v) for v in out.stdout.split()[-2:])
        note = f"OpenBLAS core {core} ({label})"
        row("forward: numpy, full trace (GPT-2 small, T=128)", t_numpy, "<= 1.5x torch", note)
        row("forward: torch, no trace (same weights)", t_torch, "", note)
        print(f"ratio numpy/torch with OpenBLAS core {core}: {t_numpy / t_torch:.2f}x (goal <= 1.5x)", flush=True)


def _fresh_file() -> None:
    import bpy
    bpy.ops.wm.read_factory_settings(use_empty=True)


def _raw_instancing(sizes: list[int], positions=None, material=None) -> None:
    """Blender's own floor: one object per entry of `sizes`, its points uploaded with foreach_set
    (positions, random unless given, and one float attribute) and instanced with one cube (with
    `material`) by a shared node group; evaluated."""
    import bpy
    import numpy as np

    tree = bpy.data.node_groups.new("raw", "GeometryNodeTree")
    tree.interface.new_socket("Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    tree.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    gin, gout = tree.nodes.new("NodeGroupInput"), tree.nodes.new("NodeGroupOutput")
    cube, inst = tree.nodes.new("GeometryNodeMeshCube"), tree.nodes.new("GeometryNodeInstanceOnPoints")
    tree.links.new(gin.outputs[0], inst.inputs["Points"])
    if material is not None:
        setmat = tree.nodes.new("GeometryNodeSetMaterial")
        setmat.inputs["Material"].default_value = material
        tree.links.new(cube.outputs["Mesh"], setmat.inputs["Geometry"])
        tree.links.new(setmat.outputs["Geometry"], inst.inputs["Instance"])
    else:
        tree.links.new(cube.outputs["Mesh"], inst.inputs["Instance"])
    tree.links.new(inst.outputs["Instances"], gout.inputs[0])
    rng = np.random.default_rng(0)
    for i, n in enumerate(sizes):
        mesh = bpy.data.meshes.new(f"raw{i}")
        mesh.vertices.add(n)
        co = rng.random(3 * n, np.float32) if positions is None else np.ascontiguousarray(positions, np.float32)
        mesh.attributes["position"].data.foreach_set("vector", co.ravel())
        mesh.attributes.new("value", "FLOAT", "POINT").data.foreach_set("value", np.zeros(n, np.float32))
        obj = bpy.data.objects.new(f"raw{i}", mesh)
        bpy.context.scene.collection.objects.link(obj)
        obj.modifiers.new("raw", "NODES").node_group = tree
    bpy.context.evaluated_depsgraph_get().update()


def bench_scene(repeat: int) -> None:
    """Scene builds: nano-gpt, per-cell build vs raw instancing, GPT-3, the 4-model comparison."""
    import bpy

    from llmviz_blender import scene

    def build(name: str, **kw) -> None:
        scene.build(name, **kw)
        bpy.context.evaluated_depsgraph_get().update()

    coll = scene.build("nano-gpt")
    sizes = [len(o.data.vertices) for o in coll.all_objects if "llmviz_key" in o]
    t_nano = best_of(lambda: build("nano-gpt"), repeat, _fresh_file)
    t_bare = best_of(lambda: build("nano-gpt", labels=False, card=False), repeat, _fresh_file)

    # the per-cell stage alone: block objects and their evaluation, shared node group and materials made
    from llmviz_blender.scene import builder
    from llmviz_blender.scene import materials, nodes
    prepared = scene.prepare("nano-gpt")

    def shared() -> None:
        _fresh_file()
        nodes.instancer_group()
        for kind in ("weight", "intermediate", "aggregate"):
            materials.kind_material(kind)

    def cells() -> None:
        builder._add_model(prepared, bpy.context.scene.collection, False, False)
        bpy.context.evaluated_depsgraph_get().update()

    t_cells = best_of(cells, repeat, shared)
    t_raw = best_of(lambda: _raw_instancing(sizes), repeat, _fresh_file)
    t_one = best_of(lambda: _raw_instancing([sum(sizes)]), repeat, _fresh_file)
    row("scene: nano-gpt build, evaluated (all labels)", t_nano, "<= 1.0 s", f"{sum(sizes):,} cells")
    row("scene: nano-gpt build, evaluated (no labels)", t_bare)
    row(f"scene: per-cell stage ({len(sizes)} block objects), evaluated", t_cells, "<= 3x raw")
    row(f"scene: raw foreach_set upload + instancing, same {len(sizes)} objects", t_raw)
    row("scene: raw upload + instancing, all points in one object", t_one)
    print(f"ratio per-cell stage / raw same objects: {t_cells / t_raw:.2f}x (goal <= 3x)", flush=True)
    t_gpt3 = best_of(lambda: build("gpt3"), max(1, repeat // 2), _fresh_file)
    row("scene: GPT-3 build (LOD boxes), evaluated", t_gpt3, "<= 5 s")
    out = subprocess.run([sys.executable, __file__, "_comparison"], capture_output=True, text=True, check=True)
    seconds, peak = (float(v) for v in out.stdout.split()[-2:])
    row("scene: 4-model comparison build, evaluated", seconds, "<= 8 s, peak <= 2.5 GB",
        f"peak memory {peak / 2**30:.2f} GB")


def _comparison() -> None:
    """Child process: time the comparison build alone and report its peak memory."""
    import resource

    import bpy

    from llmviz_blender import scene

    bpy.ops.wm.read_factory_settings(use_empty=True)
    start = time.perf_counter()
    scene.build_comparison(["nano-gpt", "gpt2-small", "gpt2-xl", "gpt3"])
    bpy.context.evaluated_depsgraph_get().update()
    seconds = time.perf_counter() - start
    print(seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def bench_animate(repeat: int) -> None:
    """Keyframing nano-gpt's whole walkthrough, and scrubbing 100 frames of it."""
    import bpy

    from llmviz_blender import scene
    from llmviz_blender.scene.keys import count_keys

    _fresh_file()
    coll = scene.build("nano-gpt")
    t_anim = best_of(lambda: scene.animate(coll), repeat)
    start, end = coll["llmviz_frames"]
    sc = bpy.context.scene
    frames = [int(f) for f in range(start, end, max(1, (end - start) // 100))][:100]

    def scrub() -> None:
        for f in frames:
            sc.frame_set(f)

    t_scrub = best_of(scrub, max(1, repeat // 2))
    row("animate: nano-gpt walkthrough", t_anim, "<= 2 s", f"{count_keys(list(bpy.data.objects)):,} keys, "
        f"frames {start}-{end}")
    row("animate: scrub 100 frames (frame_set)", t_scrub, "", f"{1000 * t_scrub / len(frames):.1f} ms per frame")


RENDER_RUNS = {"draft": 3, "final": 2}  # contiguous frames per sampled place in the walkthrough
RENDER_GOALS = {"draft": 1.0, "final": 10.0}  # seconds per 1920x1080 frame on the 2-core machine


def _frame_times(scene, starts, run: int, out: Path) -> tuple[float, float]:
    """Mean wall and CPU seconds (all threads) per frame of walkthrough runs rendered as PNG frames
    like a video (`run` frames from each start): the time between consecutive frames of a run, so
    the render's setup is left out. CPU time hardly depends on what else the machine runs."""
    import numpy as np

    from llmviz_blender.scene import render

    times: list[np.ndarray] = []
    for start in starts:
        stamps: list[tuple[float, float]] = []
        render.animation(scene, out / f"{start}", frames=(int(start), int(start) + run - 1),
                         progress=lambda _frame: stamps.append((time.perf_counter(), time.process_time())))
        times.append(np.diff(np.array(stamps), axis=0))
    wall, cpu = np.concatenate(times).mean(axis=0)
    return float(wall), float(cpu)


def _moving_starts(sc, starts, run: int, last: int) -> list[int]:
    """Each start moved on to the first frame from which the camera moves on each of `run` frames: no
    frame of the run is a hold (scene.holds), in our scene or the plain one, so each is rendered."""
    from llmviz_blender.scene import holds

    moving: set[int] = set()
    for curve in holds.fcurves_of(sc.camera):
        moving |= holds.curve_changes(curve, int(starts[0]) - 1, last)
    out = []
    for start in map(int, starts):
        while start + run - 1 < last and not all(f in moving for f in range(start, start + run)):
            start += 1
        out.append(start)
    return out


def _copy_time(frame: Path, count: int = 20) -> float:
    """Seconds to copy one hold of the PNG `frame` (scene.frames.copy_holds), mean of `count`."""
    import shutil
    import tempfile

    from llmviz_blender.scene import frames

    with tempfile.TemporaryDirectory(prefix="llmviz-bench-copy-") as tmp:
        shutil.copyfile(frame, Path(tmp) / frames.FRAME_NAME.format(1))
        start = time.perf_counter()
        frames.copy_holds(Path(tmp), {f: 1 for f in range(2, count + 2)})
        return (time.perf_counter() - start) / count


def bench_render(repeat: int) -> None:
    """Seconds per 1920x1080 frame of the nano-gpt walkthrough per quality, over frames sampled from the
    whole walkthrough (render setup excluded), the projected time of the full video, and the same cubes
    instanced plainly with one flat material under the same camera path and settings; the whole
    walkthrough's estimate with holds copied (frames rendered x seconds per frame + holds x a copy's
    time + the hold analysis); then the 4-model comparison still."""
    import tempfile

    import bpy
    import numpy as np

    from llmviz_blender import scene
    from llmviz_blender.scene import frames as frame_files, holds, render

    out = Path(tempfile.mkdtemp(prefix="llmviz-bench-"))
    places = max(2, repeat // 2)
    for quality, run in RENDER_RUNS.items():
        _fresh_file()
        coll = scene.build("nano-gpt")
        first, last = scene.animate(coll)
        sc = bpy.context.scene
        what = render.configure(sc, quality=quality, device="cpu", resolution=(1920, 1080))
        began = time.perf_counter()
        sources = holds.sources(sc, first, last)
        t_holds = time.perf_counter() - began
        starts = _moving_starts(sc, np.linspace(first, last - run + 1, places + 2)[1:-1].astype(int), run, last)
        t_ours, cpu_ours = _frame_times(sc, starts, run, out / quality)
        t_copy = _copy_time(out / quality / f"{starts[0]}" / frame_files.FRAME_NAME.format(starts[0]))
        # the baseline: our cubes' positions, plain instancing, one flat material; labels and our objects gone
        blocks = [o for o in coll.all_objects if "llmviz_key" in o]
        co = np.concatenate([_positions(o) for o in blocks])
        bpy.data.batch_remove([o for o in coll.all_objects if o.type in ("MESH", "FONT")])
        _raw_instancing([len(co)], co, bpy.data.materials.new("flat"))
        if quality == "draft":
            sc.display.shading.color_type = "MATERIAL"
        t_raw, cpu_raw = _frame_times(sc, starts, run, out / f"{quality}-plain")
        frames = last - first + 1
        rendered = len(set(sources.values()))
        t_walk = t_ours * rendered + t_copy * (frames - rendered) + t_holds
        goal = RENDER_GOALS[quality]
        row(f"render {quality}: nano-gpt walkthrough 1920x1080, {what}", t_ours,
            f"<= {goal:g} s/frame, <= 1.3x plain", f"frames {', '.join(map(str, starts))} (+{run - 1} each); "
            f"full video {frames} frames: {t_ours * frames / 3600:.1f} h; CPU {cpu_ours:.2f} s/frame")
        row(f"render {quality}: the same {len(co):,} cubes, plain instancing, flat material", t_raw, "",
            f"ratio {t_ours / t_raw:.2f}x; full video {t_raw * frames / 3600:.1f} h; CPU {cpu_raw:.2f} s/frame")
        row(f"render {quality}: whole nano-gpt walkthrough 1920x1080, holds copied (estimate)", t_walk, "",
            f"{rendered:,} of {frames:,} frames rendered, {frames - rendered:,} holds copied "
            f"({1000 * t_copy:.1f} ms each), hold analysis {t_holds:.2f} s: {t_walk / 3600:.2f} h "
            f"(every frame rendered: {t_ours * frames / 3600:.2f} h)")
        print(f"ratio {quality} / plain cubes: {t_ours / t_raw:.2f}x wall, {cpu_ours / cpu_raw:.2f}x CPU "
              f"(goal <= 1.3x); {t_ours:.2f} s/frame (goal <= {goal:g} s); load average {os.getloadavg()[0]:.1f}",
              flush=True)
    result = subprocess.run([sys.executable, __file__, "_comparison_still", str(out / "comparison.png")],
                            capture_output=True, text=True, check=True)
    seconds, peak = (float(v) for v in result.stdout.split()[-2:])
    row("render: 4-model comparison still 1920x1080, Cycles 16 samples (build + render)", seconds, "",
        f"peak memory {peak / 2**30:.2f} GB")


def _positions(obj):
    """The vertex positions of a block object, (N, 3) float32."""
    import numpy as np

    co = np.empty(3 * len(obj.data.vertices), np.float32)
    obj.data.vertices.foreach_get("co", co)
    return co.reshape(-1, 3)


def _comparison_still(path: str) -> None:
    """Child process: build the comparison and render its still; print seconds and peak memory."""
    import resource

    import bpy

    from llmviz_blender import scene
    from llmviz_blender.scene import render

    bpy.ops.wm.read_factory_settings(use_empty=True)
    start = time.perf_counter()
    scene.build_comparison(["nano-gpt", "gpt2-small", "gpt2-xl", "gpt3"])
    sc = bpy.context.scene
    render.configure(sc, engine="cycles", device="cpu", samples=16, resolution=(1920, 1080))
    render.still(sc, path)
    print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def _gpt2_shaped_tokenizer(path: Path, vocab_size: int) -> None:
    """A byte-level BPE trained on this repository's text (a stand-in: GPT-2's own tokenizer.json is
    not shipped), padded with unused special tokens to GPT-2's vocabulary size."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    texts = [f.read_text(encoding="utf-8") for f in sorted(ROOT.glob("**/*.py")) + [ROOT / "README.md"]]
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                       show_progress=False))
    tok.add_special_tokens([f"<|unused{i}|>" for i in range(vocab_size - tok.get_vocab_size())])
    tok.save(str(path))


def bench_tokenize(repeat: int) -> None:
    """Tokenisation (model.encode) + forward at T=16: the facts model, and random GPT-2 small weights
    with a GPT-2-sized byte-level BPE."""
    import tempfile

    from llmviz_blender import model

    text = ("Michael Jordan plays the sport of basketball fans watch Serena Williams play tennis "
            "the sport of")  # 16 words, 16 tokens
    facts = model.default_weights(model.load_preset("facts-gpt"))
    with tempfile.TemporaryDirectory() as tmp:
        config = model.load_preset("gpt2-small")
        path = Path(tmp) / "tokenizer.json"
        _gpt2_shaped_tokenizer(path, config.vocab_size)
        gpt2 = model.random_weights(config.replace(tokenizer=path), seed=0)
        prose = "The quick brown fox jumps over the lazy dog while the model reads every number it computes"
        for name, w, prompt in (("facts-gpt", facts, text), ("GPT-2 small shapes, random", gpt2, prose)):
            ids = model.encode(w.config, prompt)[:16]
            t_enc = best_of(lambda: model.encode(w.config, prompt), repeat)
            t_fwd = best_of(lambda: model.forward(w, ids), repeat)
            note = f"{len(model.encode(w.config, prompt))} tokens encoded, forward on {len(ids)}"
            row(f"tokenize: {name}", t_enc, "", f"{t_enc * 1e6:.0f} µs; {note}")
            row(f"forward: {name}, T={len(ids)}", t_fwd, "", note)
            row(f"tokenize + forward: {name}", t_enc + t_fwd, "", note)


GPT2_TOKENS = 32


def _gpt2_folder(folder: Path) -> Path:
    """A seeded random GPT-2-small-shaped model saved in Hugging Face layout (made once)."""
    from llmviz_blender import model

    if not (folder / "model.safetensors").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        model.save_weights(model.random_weights(model.load_preset("gpt2-small"), seed=0),
                           folder / "model.safetensors", naming="hf")
    return folder


def _smollm2_folder(folder: Path) -> Path:
    """A seeded random SmolLM2-135M-shaped model saved as a Hugging Face folder (made once)."""
    import json

    from llmviz_blender import model

    if not (folder / "model.safetensors").is_file():
        cfg = model.load_preset("smollm2-135m")
        folder.mkdir(parents=True, exist_ok=True)
        model.save_weights(model.random_weights(cfg, seed=0), folder / "model.safetensors")
        (folder / "config.json").write_text(json.dumps({
            "architectures": [cfg.architecture], "model_type": "llama", "num_hidden_layers": cfg.n_layer,
            "hidden_size": cfg.n_embd, "num_attention_heads": cfg.n_head, "num_key_value_heads": cfg.kv_heads,
            "intermediate_size": cfg.mlp_size, "vocab_size": cfg.vocab_size, "max_position_embeddings": cfg.block_size,
            "rms_norm_eps": cfg.norm_eps, "rope_theta": cfg.rope_theta, "tie_word_embeddings": cfg.tied,
            "bos_token_id": cfg.bos_token_id}))
    return folder


def _child(*args: str) -> list[float]:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return [float(v) for v in out.stdout.split()[-3:]]


def bench_gpt2(repeat: int) -> None:
    """GPT-2 small whole, every value shown (random weights in a Hugging Face folder, 32 tokens): build
    time and peak memory in a fresh process, the .blend size, and the 1920x1080 final overview frame
    against nano-gpt's (each in its own process: render setup included)."""
    import tempfile

    folder = _gpt2_folder(Path(tempfile.gettempdir()) / "llmviz-bench-gpt2")
    runs = [_child("_value_build", str(folder)) for _ in range(max(1, repeat // 2))]
    seconds, peak, size = min(runs)
    row(f"gpt2: GPT-2 small build, every value (HF folder, T={GPT2_TOKENS}), evaluated", seconds,
        "<= 30 s, peak <= 4 GB", f"peak memory {peak / 2**30:.2f} GB; .blend (packed) {size / 2**20:.0f} MiB")
    out = Path(tempfile.mkdtemp(prefix="llmviz-bench-"))
    t_gpt2, peak_gpt2, _ = _child("_overview", str(folder), str(out / "gpt2.png"))
    t_nano, peak_nano, _ = _child("_overview", "nano-gpt", str(out / "nano.png"))
    row("gpt2: overview 1920x1080 final (Cycles), GPT-2 small with values", t_gpt2, "<= 2x nano-gpt",
        f"ratio {t_gpt2 / t_nano:.2f}x; peak memory (build + render) {peak_gpt2 / 2**30:.2f} GB; {out}")
    row("gpt2: overview 1920x1080 final (Cycles), nano-gpt", t_nano, "", f"peak memory {peak_nano / 2**30:.2f} GB")
    print(f"ratio GPT-2 small / nano-gpt overview: {t_gpt2 / t_nano:.2f}x (goal <= 2x)", flush=True)


def bench_smollm2(repeat: int) -> None:
    """SmolLM2-135M whole, every value shown (seeded random weights in a Hugging Face folder, 32 tokens):
    build time and peak memory in a fresh process, and the .blend size."""
    import tempfile

    folder = _smollm2_folder(Path(tempfile.gettempdir()) / "llmviz-bench-smollm2")
    runs = [_child("_value_build", str(folder)) for _ in range(max(1, repeat // 2))]
    seconds, peak, size = min(runs)
    row(f"smollm2: SmolLM2-135M build, every value (HF folder, T={GPT2_TOKENS}), evaluated", seconds,
        "<= 30 s, peak <= 4 GB", f"peak memory {peak / 2**30:.2f} GB; .blend (packed) {size / 2**20:.0f} MiB")


def bench_draft(repeat: int) -> None:
    """GPT-2 small with values (preset, random weights, 32 tokens), draft quality: the time and memory
    its value boxes' draft colour images cost (made when a draft render is configured), and the draft
    overview frame at 1920x1080 (each run in a fresh process)."""
    import tempfile

    out = Path(tempfile.mkdtemp(prefix="llmviz-bench-draft-"))
    runs = [_child("_draft", str(out / "draft.png")) for _ in range(max(1, repeat // 2))]
    seconds, extra, render_s = min(runs)
    cells = _child("_draft_cells")[0]
    row("draft: GPT-2 small draft colour images (value boxes, one texel per cell)", seconds, "",
        f"{cells / 1e6:.0f} M cells; +{extra / 2**20:.0f} MiB resident ({extra / cells:.1f} B/cell) after the "
        f"first draft frame; that frame (1920x1080, images uploaded) {render_s:.1f} s; {out}")


def _draft(path: str) -> None:
    """Child process: build GPT-2 small with values, configure draft quality (makes the draft images),
    render the overview; print the images' seconds, the resident memory they and the render added,
    the render's seconds."""
    import bpy

    from llmviz_blender.scene import render

    def resident() -> int:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    bpy.ops.wm.read_factory_settings(use_empty=True)
    from llmviz_blender import scene

    scene.build("gpt2-small", weights="random", tokens=list(range(GPT2_TOKENS)))
    sc = bpy.context.scene
    render.configure(sc, quality="final", device="cpu", resolution=(1920, 1080))
    bpy.context.evaluated_depsgraph_get().update()
    before = resident()
    start = time.perf_counter()
    render.configure(sc, quality="draft", resolution=(1920, 1080))
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    render.still(sc, path)
    print(seconds, resident() - before, time.perf_counter() - start)


def _draft_cells() -> None:
    """Child process: cells GPT-2 small (32 tokens) draws as value boxes."""
    from llmviz_blender import layout, model
    from llmviz_blender.layout import texels

    config = model.load_preset("gpt2-small")
    lay = layout.model_layout(config, GPT2_TOKENS)
    print(texels.value_cells(lay, layout.plan_lod(lay.blocks)), 0, 0)


def _build(what: str):
    import bpy

    from llmviz_blender import scene

    bpy.ops.wm.read_factory_settings(use_empty=True)
    if what == "nano-gpt":
        return scene.build(what)
    return scene.build(weights=what, tokens=list(range(GPT2_TOKENS)))


def _value_build(folder: str) -> None:
    """Child process: build a Hugging Face folder's model with values; print seconds, peak memory, saved
    .blend size."""
    import resource
    import tempfile

    import bpy

    from llmviz_blender.scene import render

    start = time.perf_counter()
    _build(folder)
    bpy.context.evaluated_depsgraph_get().update()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    with tempfile.TemporaryDirectory() as tmp:
        size = render.save_blend(Path(tmp) / "gpt2.blend").stat().st_size
    print(seconds, peak, size)


def _overview(what: str, path: str) -> None:
    """Child process: the overview still at 1920x1080, final quality; print the render's seconds and
    the process's peak memory."""
    import resource

    import bpy

    from llmviz_blender.scene import render

    _build(what)
    sc = bpy.context.scene
    render.configure(sc, quality="final", device="cpu", resolution=(1920, 1080))
    start = time.perf_counter()
    render.still(sc, path)
    print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, 0)


BENCHES = {"forward": bench_forward, "tokenize": bench_tokenize, "scene": bench_scene, "animate": bench_animate,
           "render": bench_render, "gpt2": bench_gpt2, "smollm2": bench_smollm2, "draft": bench_draft}


def main(argv: list[str] | None = None) -> int:
    if argv is None and sys.argv[1:2] == ["_comparison"]:
        _comparison()
        return 0
    if argv is None and sys.argv[1:2] == ["_comparison_still"]:
        _comparison_still(sys.argv[2])
        return 0
    if argv is None and sys.argv[1:2] in (["_value_build"], ["_overview"], ["_draft"], ["_draft_cells"]):
        {"_value_build": _value_build, "_overview": _overview, "_draft": _draft,
         "_draft_cells": _draft_cells}[sys.argv[1]](*sys.argv[2:])
        return 0
    if argv is None and sys.argv[1:2] == ["_forward"]:
        print(*_forward_times(int(sys.argv[2])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", choices=[*BENCHES, "all"])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per measurement (best is kept)")
    args = parser.parse_args(argv)
    print("| measurement | time | goal | note |\n|---|---|---|---|", flush=True)
    for name, bench in BENCHES.items():
        if args.which in (name, "all"):
            bench(args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
