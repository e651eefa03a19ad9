"""Text models in the scene: prompts and tokenizers through scene.build, the CLI and the panel; token
pieces above the model, the top-k list under the output, the logit lens strip, the "facts" chapter
told from the lens, sampling captions; a random GPT-2-shaped model with a byte-level tokenizer."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402

import llmviz_blender  # noqa: E402
from llmviz_blender import layout as L  # noqa: E402
from llmviz_blender import model  # noqa: E402
from llmviz_blender import scene as scene_api  # noqa: E402
from llmviz_blender import timeline as tl  # noqa: E402
from llmviz_blender.scene.walkthrough import steps_of  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "render.py"
FAST = ["--resolution", "64x36", "--engine", "workbench", "--lod", "boxes"]
FACTS = model.load_preset("facts-gpt")
WEIGHTS = model.default_weights(FACTS)
MLP_PROMPT = "Tiger Woods plays the sport of"  # the answer appears after layer 1's MLP
ATTN_PROMPT = FACTS.default_input  # ... after layer 0's attention


def _texts(coll) -> dict[str, str]:
    return {o.name: o.data.body for o in coll.all_objects if o.type == "FONT"}


def _cli_many(cases: dict[str, list[str]], cwd: Path) -> dict[str, tuple[int, str]]:
    procs = {k: subprocess.Popen([sys.executable, str(SCRIPT), *a], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, cwd=cwd) for k, a in cases.items()}
    return {k: (p.wait(300), p.communicate()[1]) for k, p in procs.items()}


def test_prompt_builds_pieces_top_k_and_lens(fresh_blend):
    coll = scene_api.build("facts-gpt", prompt=MLP_PROMPT, top_k=4, logit_lens=True, lod="boxes")
    ids = model.encode(FACTS, MLP_PROMPT, as_ids=False)
    assert list(coll["llmviz_tokens"]) == ids
    texts = _texts(coll)
    prefix = "LLMViz facts-gpt"
    assert [texts[f"{prefix} token {t}"] for t in range(len(ids))] == MLP_PROMPT.lower().split()
    m = scene_api.model_of(coll)
    best = model.top_k(FACTS, m.trace["probs"][-1], 4)
    assert texts[f"{prefix} next"].splitlines()[1:] == [f"{w} {p:.1%}" for _, w, p in best]
    probs_lo, _ = m.layout.bounds([m.layout["probs"]])
    objs = {o.name: o for o in coll.all_objects}
    assert objs[f"{prefix} next"].location.z < probs_lo[2]  # under the Probabilities
    # fanned pieces: side by side, never overlapping, joined to their columns
    xs = [objs[f"{prefix} token {t}"].location.x for t in range(len(ids))]
    size = objs[f"{prefix} token 0"].scale[0]
    widths = [len(w) * 0.6 * size for w in MLP_PROMPT.split()]
    assert all(b - a >= (wa + wb) / 2 for a, b, wa, wb in zip(xs, xs[1:], widths, widths[1:]))
    assert f"{prefix} token leaders" in objs
    # the lens strip: one table per layer and stage, the numbers of model.logit_lens
    target = int(np.argmax(m.trace["probs"][-1]))
    rows = model.logit_lens(WEIGHTS, model.forward(WEIGHTS, ids), -1, 3, target)
    for row in rows:
        obj = objs[f"{prefix} lens {row.source}"]
        lines = obj.data.body.splitlines()
        assert lines[1:4] == [f"{w} {p:.1%}" for _, w, p in row.top]
        assert lines[4].endswith(f"rank {row.target_rank}") and obj["llmviz_lens_rank"] == row.target_rank
        assert obj.users_collection[0].name == f"{prefix} Labels"
        block_lo, block_hi = m.layout.bounds([m.layout[row.source]])
        assert obj.location.x > block_hi[0] and block_lo[2] <= obj.location.z <= block_hi[2]


def test_prompt_is_text_tokens_may_be_ids_and_errors(fresh_blend):
    assert scene_api.prepare("facts-gpt", tokens="0 1 2").tokens == [0, 1, 2]
    with pytest.raises(model.ModelError, match="'1984' is not in the vocabulary"):
        scene_api.prepare("facts-gpt", prompt="1984")
    with pytest.raises(model.ModelError, match="not both"):
        scene_api.prepare("facts-gpt", tokens="0 1", prompt="michael")
    with pytest.raises(model.ModelError, match="18 tokens, more than block_size 16"):
        scene_api.prepare("facts-gpt", prompt=" ".join(["the"] * 18))
    with pytest.raises(model.ModelError, match="top_k"):
        scene_api.build("facts-gpt", top_k=0)
    with pytest.raises(model.ModelError, match="without weights"):
        scene_api.build("gpt2-small", tokens=[1, 2], logit_lens=True)


def _steps(prompt: str) -> list[tl.Step]:
    trace = model.forward(WEIGHTS, model.encode(FACTS, prompt, as_ids=False))
    t = tl.build_timeline(L.model_layout(FACTS, len(trace["tokens"])), trace, chapters=["facts"], weights=WEIGHTS)
    return t.chapter("facts").steps


@pytest.mark.parametrize("prompt, stage", [(MLP_PROMPT, "mlp"), (ATTN_PROMPT, "attn")])
def test_facts_chapter_quotes_the_lens(prompt, stage):
    trace = model.forward(WEIGHTS, model.encode(FACTS, prompt, as_ids=False))
    target = int(np.argmax(trace["probs"][-1]))
    rows = model.logit_lens(WEIGHTS, trace, -1, 3, target, embedding=True)  # the input embedding first
    first = next(i for i, r in enumerate(rows) if r.target_rank == 1)
    assert rows[first].stage == stage and first > 0
    before = rows[first - 1]
    steps = _steps(prompt)
    captions = " ".join(s.caption for s in steps)
    word = model.token_text(FACTS, target)
    assert f"{word} goes from rank {before.target_rank}" in captions and "to rank 1" in captions
    assert "directions, not single neurons" in steps[-1].caption
    layer = rows[first].layer
    told = []  # (step, its whole caption): a long caption goes on in a step that holds its view
    for s in steps:
        if told and s.motion_end == s.frame_start and not s.computes and s.focus == told[-1][0].focus:
            told[-1] = (told[-1][0], f"{told[-1][1]} {s.caption}")
        else:
            told.append((s, s.caption))
    if stage == "mlp":
        fc = trace[f"h{layer}.fc"][-1]
        top = int(np.argmax(fc))
        assert told[0][0].focus == [f"h{layer}.fc_weight", f"h{layer}.ln2", f"h{layer}.fc"]
        assert f"rows {top} ({fc[top]:.2f})" in told[0][1]
        gelu = trace[f"h{layer}.gelu"][-1]
        assert told[1][0].focus == [f"h{layer}.gelu"] and f"neurons {int(np.argmax(gelu))} " in told[1][1]
        assert f"h{layer}.mlp_resid" in told[2][0].focus
    else:
        assert f"after layer {layer}'s attention" in told[0][1]
        assert told[0][0].focus == [f"h{layer}.attn_proj", f"h{layer}.attn_resid"]


def test_facts_chapter_only_for_word_models():
    nano = model.load_preset("nano-gpt")
    w = model.default_weights(nano)
    trace = model.forward(w, model.encode(nano, "CBA"))
    with pytest.raises(tl.TimelineError, match="facts"):
        tl.build_timeline(L.model_layout(nano, 3), trace, chapters=["facts"], weights=w)
    assert tl.CHAPTERS["facts"] == "How facts are stored"
    order = list(tl.CHAPTERS)
    assert order.index("output") < order.index("facts") < order.index("generation")


def test_animate_facts_and_sampling_captions(fresh_blend):
    coll = scene_api.build("facts-gpt", prompt=ATTN_PROMPT, lod="boxes", labels=False)
    scene_api.animate(coll, chapters=["facts", "generation"], temperature=0.8, top_k=3, seed=1, speed=8.0)
    steps = steps_of(coll)
    assert [s["chapter"] for s in steps][0] == "facts"
    ids = model.encode(FACTS, ATTN_PROMPT, as_ids=False)
    gen = model.generate(WEIGHTS, ids, 3, 0.8, 3, None, 1)
    told = [s["caption"] for s in steps if s["chapter"] == "generation"]
    sampled = [c for c in told if re.match(r"Pass \d+ samples ", c)]  # each later pass's choice
    assert len(sampled) == len(gen.choices) - 1
    assert f"{model.token_text(FACTS, gen.choices[-1].token)} is appended" in told[-1]
    for caption, (i, choice) in zip(sampled, enumerate(gen.choices[1:], 2)):
        assert caption.startswith(f"Pass {i} samples {model.token_text(FACTS, choice.token)} "), caption
        assert "(temperature 0.8, top-k 3)" in caption
        first, p = choice.candidates[0]
        assert f"from {model.token_text(FACTS, first, quoted=False)} {p:.2f}" in caption
    scene_api.animate(coll, chapters=["generation"], speed=8.0)  # greedy: each pass predicts
    assert sum(bool(re.match(r"Pass \d+ predicts ", s["caption"])) for s in steps_of(coll)) == 2


def test_panel_fields_drive_generate_and_animate(fresh_blend):
    llmviz_blender.register()
    try:
        s = bpy.context.scene.llmviz
        s.preset, s.prompt, s.top_k, s.logit_lens, s.lod, s.labels = "facts-gpt", MLP_PROMPT, 2, True, "boxes", True
        s.temperature, s.seed, s.top_p = 1.0, 3, 0.9
        assert bpy.ops.llmviz.generate() == {"FINISHED"}
        coll = next(c for c in bpy.data.collections if c.get("llmviz_preset") == "facts-gpt")
        assert list(coll["llmviz_tokens"]) == model.encode(FACTS, MLP_PROMPT, as_ids=False)
        assert len(_texts(coll)["LLMViz facts-gpt next"].splitlines()) == 3
        assert any("lens h3.mlp_resid" in n for n in _texts(coll))
        s.chapters, s.speed = {"generation"}, 8.0
        assert bpy.ops.llmviz.animate() == {"FINISHED"}
        assert any("(temperature 1, top-k 2, top-p 0.9)" in s["caption"] for s in steps_of(coll))
        s.tokenizer_path = str(ROOT / "presets" / "nano-gpt-sort.safetensors")
        with pytest.raises(RuntimeError):
            bpy.ops.llmviz.generate()
    finally:
        llmviz_blender.unregister()


def _gpt2_folder(tmp: Path) -> tuple[Path, int]:
    """A random GPT-2-shaped model (HF names) with a byte-level BPE tokenizer.json and config.json beside."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(["Michael Jordan plays the sport of basketball"] * 20, trainers.BpeTrainer(
        vocab_size=280, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=["<|endoftext|>"]))
    folder = tmp / "gpt2"
    folder.mkdir()
    tok.save(str(folder / "tokenizer.json"))
    vocab = tok.get_vocab_size(with_added_tokens=True)
    cfg = model.ModelConfig(name="gpt2-tiny", n_layer=2, n_head=2, n_embd=16, vocab_size=vocab, block_size=12)
    model.save_weights(model.random_weights(cfg, seed=2), folder / "model.safetensors", naming="hf")
    (folder / "config.json").write_text(json.dumps({"n_head": 2}))
    words = Tokenizer(models.WordLevel({"a": 0, "b": 1, "[UNK]": 2}, unk_token="[UNK]"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    words.save(str(tmp / "words.json"))
    return folder, vocab


def test_cli_prompts_tokenizers_and_errors(tmp_path):
    folder, vocab = _gpt2_folder(tmp_path)
    weights = str(folder / "model.safetensors")
    still = ["--still", "s.png", *FAST]
    cases = {
        "facts": ["--preset", "facts-gpt", "--prompt", MLP_PROMPT, "--logit-lens", "--top-k", "5", "--chapters",
                  "facts", "--frames", "40", "--temperature", "0.7", "--seed", "2", "--save-blend", "f.blend", *still],
        "gpt2": ["--weights", weights, "--prompt", " basketball Jordan", "--save-blend", "g.blend", *still],
        "gpt2 tokenizer": ["--weights", weights, "--tokenizer", str(folder / "tokenizer.json"), "--prompt",
                           "Michael", "--still", "t.png", *FAST],
        "both inputs": ["--preset", "facts-gpt", "--prompt", "michael", "--tokens", "0", *still],
        "too long": ["--preset", "facts-gpt", "--prompt", " ".join(["the"] * 17), *still],
        "mismatch": ["--weights", weights, "--tokenizer", str(tmp_path / "words.json"), "--prompt", "a", *still],
        "unknown word": ["--preset", "facts-gpt", "--prompt", "zebra", *still],
        "no tokenizer": ["--preset", "gpt2-small", "--prompt", "hello", *still],
        "temperature alone": ["--preset", "facts-gpt", "--temperature", "0.5", *still],
        "bad top-p": ["--animate", "--top-p", "0", *still],
        "bad top-k": ["--top-k", "0", *still],
        "bad seed": ["--animate", "--seed", "-1", *still],
        "compare prompt": ["--compare", "nano-gpt,facts-gpt", "--prompt", "x", *still],
    }
    out = _cli_many(cases, tmp_path)
    for name in ("facts", "gpt2", "gpt2 tokenizer"):
        assert out[name][0] == 0, (name, out[name][1])
    for name, (code, err) in out.items():
        if name not in ("facts", "gpt2", "gpt2 tokenizer"):
            assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("render.py: "), (name, err)
    assert re.search(r"17 tokens, more than block_size 16", out["too long"][1])
    assert "3 tokens" in out["mismatch"][1] and f"vocab_size {vocab}" in out["mismatch"][1]
    assert "zebra" in out["unknown word"][1]
    # the saved files show what was asked
    check = ("import bpy, json, sys; bpy.ops.wm.open_mainfile(filepath=sys.argv[1]); "
             "c = next(c for c in bpy.data.collections if 'llmviz_tokens' in c); "
             "print('RESULT', json.dumps([list(c['llmviz_tokens']), list(c.get('llmviz_chapters', [])), "
             "[o.name for o in c.all_objects if ' lens ' in o.name]]))")
    for blend, expect in (("f.blend", MLP_PROMPT), ("g.blend", None)):
        res = subprocess.run([sys.executable, "-c", check, str(tmp_path / blend)], capture_output=True, text=True,
                             timeout=120)
        line = next(x for x in res.stdout.splitlines() if x.startswith("RESULT "))
        tokens, chapters, lens = json.loads(line[len("RESULT "):])
        if expect:
            assert tokens == model.encode(FACTS, expect, as_ids=False) and chapters == ["facts"] and len(lens) == 8
        else:
            cfg = model.load_weights(folder / "model.safetensors").config
            assert tokens == model.encode(cfg, " basketball Jordan", as_ids=False) and not lens
