"""Train the facts model: a small GPT that knows which sport each of 108 people plays.

The corpus says every fact in five sentence templates ("michael jordan plays the sport of
basketball", ...); three more templates are held out of training and only measure whether the
model uses what it stored in sentences it never saw. The tokenizer is word-level (lowercase words,
split on whitespace and punctuation), built and saved with the `tokenizers` library.

Training is seeded and deterministic (one CPU thread). The files are written only when the numpy
model answers every training fact correctly (greedy next token); otherwise the script exits 1 and
leaves presets/ untouched.

    .venv/bin/python scripts/train_facts.py [--iters 400] [--seed 0] [--out-dir presets]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from llmviz_blender import model  # noqa: E402

NAME = "facts-gpt"
SHAPE = {"n_layer": 4, "n_head": 4, "n_embd": 64, "block_size": 16}
DEFAULT_INPUT = "Michael Jordan plays the sport of"

SPORTS = ("basketball", "tennis", "soccer", "golf", "baseball", "hockey", "cricket", "boxing", "swimming",
          "cycling", "rugby", "volleyball")
REAL = {
    "Michael Jordan": "basketball", "LeBron James": "basketball", "Kobe Bryant": "basketball",
    "Stephen Curry": "basketball", "Serena Williams": "tennis", "Venus Williams": "tennis",
    "Roger Federer": "tennis", "Rafael Nadal": "tennis", "Novak Djokovic": "tennis",
    "Lionel Messi": "soccer", "Cristiano Ronaldo": "soccer", "Pele Nascimento": "soccer",
    "Tiger Woods": "golf", "Jack Nicklaus": "golf", "Babe Ruth": "baseball", "Derek Jeter": "baseball",
    "Wayne Gretzky": "hockey", "Sidney Crosby": "hockey", "Sachin Tendulkar": "cricket",
    "Virat Kohli": "cricket", "Muhammad Ali": "boxing", "Mike Tyson": "boxing", "Michael Phelps": "swimming",
    "Katie Ledecky": "swimming", "Eddy Merckx": "cycling", "Chris Froome": "cycling",
    "Jonny Wilkinson": "rugby", "Dan Carter": "rugby", "Karch Kiraly": "volleyball", "Misty May": "volleyball",
}
FIRST = ("anna", "boris", "clara", "dmitri", "elena", "farid", "greta", "hugo", "ines", "jonas", "kira", "liam",
         "mara", "nils", "olga", "pablo", "quinn", "rosa", "sven", "tara", "umar", "vera", "wim", "yara")
LAST = ("abbott", "brandt", "castillo", "dorsey", "eklund", "falk", "garnier", "holm", "ivers", "jansen",
        "koval", "lindqvist", "moreau", "nakamura", "okafor", "petrov", "quist", "reyes", "sato", "tamm",
        "ulrich", "varga", "weller", "zorin")
N_INVENTED = 78

#: a prompt per template; the answer (the sport) is the next word
TRAIN_TEMPLATES = ("{} plays the sport of", "{} is a famous player of", "the sport {} plays is",
                   "{} is best known for playing", "fans watch {} play")
HELD_OUT_TEMPLATES = ("the sport of {} is", "the famous player {} plays the sport of", "{} is known for playing")


def people(seed: int = 0) -> dict[str, str]:
    """Full name -> sport: the real athletes, then invented people (first and last names reused
    across sports, so neither word alone tells the sport)."""
    rng = random.Random(seed)
    out = {name.lower(): sport for name, sport in REAL.items()}
    while len(out) < len(REAL) + N_INVENTED:
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        out.setdefault(name, SPORTS[len(out) % len(SPORTS)])
    return out


def facts(templates: tuple[str, ...], seed: int = 0) -> list[tuple[str, str]]:
    """(prompt, answer) for every person in every template."""
    return [(t.format(name), sport) for t in templates for name, sport in people(seed).items()]


def build_tokenizer(words: list[str]):
    """A WordLevel tokenizer over `words`: lowercased, split on whitespace and punctuation, no [UNK]
    (a word outside the vocabulary is an error)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return tok


def vocabulary(seed: int) -> list[str]:
    """Every word of the training and held-out sentences, in order of first appearance."""
    words: dict[str, None] = {}
    for prompt, answer in facts(TRAIN_TEMPLATES + HELD_OUT_TEMPLATES, seed):
        words.update(dict.fromkeys(f"{prompt} {answer}".split()))
    return list(words)


def accuracy(weights: model.Weights, pairs: list[tuple[str, str]]) -> tuple[int, list[str]]:
    """Greedy next-token answers of the numpy model: (number right, the failures)."""
    cfg, wrong = weights.config, []
    for prompt, answer in pairs:
        got = int(model.forward(weights, model.encode(cfg, prompt))["logits"][-1].argmax())
        if model.decode(cfg, [got]) != answer:
            wrong.append(f"{prompt} -> {model.decode(cfg, [got])} (not {answer})")
    return len(pairs) - len(wrong), wrong


def train(config: model.ModelConfig, data: list[list[int]], iters: int, seed: int, lr: float):
    """Full-batch AdamW on the sentences (next-token loss on every word after the first)."""
    import torch  # the training dependency; the corpus above is importable without it (tests)
    from torch_gpt import GPT
    from train_sort import configure_optimizer, step

    torch.manual_seed(seed)
    gpt = GPT(config, dropout=0.0)
    opt = configure_optimizer(gpt, lr, weight_decay=0.1)
    seq = torch.zeros(len(data), config.block_size + 1, dtype=torch.long)
    target = torch.full_like(seq, -1)
    for row, ids in enumerate(data):
        seq[row, :len(ids)] = torch.tensor(ids)
        target[row, :len(ids)] = torch.tensor(ids)
    x, y = seq[:, :-1], target[:, 1:]  # (N, block_size): padding predicts nothing
    warmup = max(1, iters // 20)
    gpt.train()
    for it in range(iters):
        # linear warmup, then cosine decay to lr / 20
        cosine = 0.05 + 0.475 * (1 + math.cos(math.pi * (it - warmup) / (iters - warmup)))
        frac = (it + 1) / warmup if it < warmup else cosine
        loss = step(gpt, opt, x, y, lr * min(1.0, frac))
        if it % 250 == 0 or it == iters - 1:
            print(f"iter {it:5d}  loss {loss:.4f}", flush=True)
    gpt.eval()
    return gpt


def preset_text(tokenizer_name: str, weights_name: str, config: model.ModelConfig, people_n: int) -> str:
    held = "; ".join(f'"{t.format("X")}"' for t in HELD_OUT_TEMPLATES)
    return (
        f"# Trained by scripts/train_facts.py: which sport each of {people_n} people plays (real and invented\n"
        f"# names), in {len(TRAIN_TEMPLATES)} sentence templates; held out of training: {held}.\n"
        f'name = "{NAME}"\ntitle = "facts-gpt"\n'
        f'description = "Knows the sport of {people_n} people: completes \\"Michael Jordan plays the sport of\\""\n'
        + "".join(f"{f} = {getattr(config, f)}\n" for f in ("n_layer", "n_head", "n_embd", "vocab_size", "block_size"))
        + f'tokenizer = "{tokenizer_name}"\nweights = "{weights_name}"\ndefault_input = "{DEFAULT_INPUT}"\n')


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-dir", type=Path, default=ROOT / "presets")
    ap.add_argument("--iters", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=3e-3)
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    out = args.out_dir.resolve()
    out.mkdir(parents=True, exist_ok=True)
    suffixes = {"tok": ".tokenizer.json", "w": ".safetensors", "toml": ".toml"}
    names = {k: out / f"{NAME}{ext}" for k, ext in suffixes.items()}
    tmp = {k: p.with_name(f".{p.name}.candidate") for k, p in names.items()}
    words = vocabulary(args.seed)
    try:
        build_tokenizer(words).save(str(tmp["tok"]))
        config = model.ModelConfig(name=NAME, vocab_size=len(words), tokenizer=tmp["tok"], **SHAPE).validate()
        train_pairs, held_pairs = facts(TRAIN_TEMPLATES, args.seed), facts(HELD_OUT_TEMPLATES, args.seed)
        data = [model.encode(config, f"{p} {a}") for p, a in train_pairs]
        print(f"training {NAME}: {config.n_layer} layers, {config.n_head} heads, C {config.n_embd}, vocab "
              f"{config.vocab_size}, block {config.block_size}; {len(people(args.seed))} people, {len(SPORTS)} sports, "
              f"{len(data)} training sentences; {args.iters} iters, lr {args.lr}, seed {args.seed}, 1 thread")
        start = time.perf_counter()
        gpt = train(config, data, args.iters, args.seed, args.lr)
        print(f"trained in {time.perf_counter() - start:.1f} s")
        weights = gpt.to_weights()
        weights.config = config.replace(default_input=DEFAULT_INPUT)
        model.save_weights(weights, tmp["w"])
        loaded = model.load_weights(tmp["w"], config)
        right, wrong = accuracy(loaded, train_pairs)
        print(f"training templates: {right}/{len(train_pairs)} correct")
        for template in HELD_OUT_TEMPLATES:
            r, _ = accuracy(loaded, facts((template,), args.seed))
            print(f"held out '{template.format('X')}': {r}/{len(people(args.seed))} = {r / len(people(args.seed)):.1%}")
        r, _ = accuracy(loaded, held_pairs)
        print(f"held out, all templates: {r}/{len(held_pairs)} = {r / len(held_pairs):.1%}")
        if wrong:
            print("failures: " + "; ".join(wrong[:10]), file=sys.stderr)
            print(f"error: not every training fact is answered correctly; {out} left unchanged", file=sys.stderr)
            return 1
        tmp["toml"].write_text(preset_text(names["tok"].name, names["w"].name, config, len(people(args.seed))),
                               encoding="utf-8")
        for key in ("tok", "w", "toml"):
            os.replace(tmp[key], names[key])
    finally:
        for path in tmp.values():
            path.unlink(missing_ok=True)
    for path in names.values():
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
