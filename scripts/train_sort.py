"""Train the nano-gpt preset on minGPT's sort task and write presets/nano-gpt-sort.safetensors.

Task: 6 letters from A/B/C (ids 0/1/2); the sequence is the input followed by its sorted copy, e.g.
CBABBC -> CBABBC ABBBCC. The model reads seq[:-1] (11 tokens = block_size) and predicts seq[1:]; only
the 6 output positions count in the loss. Unlike minGPT, every one of the 3^6 = 729 inputs may be
drawn (there is no held-out split: the check below covers all of them).

After training, the weights are written to a candidate file, loaded back with the numpy model
(model.load_weights, no config: the file's metadata must describe it) and greedy generation
(model.generate) must sort all 729 inputs; only then is the candidate moved to --out. Otherwise the
script exits 1 and leaves --out untouched.

    .venv/bin/python scripts/train_sort.py [--iters 2000] [--seed 0] [--out PATH]
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from torch_gpt import ROOT, GPT  # noqa: E402  (also puts the repo root on sys.path)

from llmviz_blender import model  # noqa: E402

LENGTH = 6  # letters to sort


def batch(n: int, gen: torch.Generator, vocab: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n random sort examples: inputs x (n, 11) and targets y (n, 11), -1 where ignored."""
    inp = torch.randint(0, vocab, (n, LENGTH), generator=gen)
    seq = torch.cat([inp, inp.sort(dim=1).values], dim=1)
    x, y = seq[:, :-1], seq[:, 1:].clone()
    y[:, :LENGTH - 1] = -1  # predictions made while still reading the input do not count
    return x, y


def configure_optimizer(gpt: GPT, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW as minGPT: decay the Linear weights only (not biases, LayerNorms or embeddings)."""
    decay, no_decay = [], []
    for name, p in gpt.named_parameters():
        linear = name.endswith(".weight") and p.ndim == 2 and not name.startswith(("transformer.wte", "transformer.wpe"))
        (decay if linear else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95))


def lr_at(it: int, iters: int, lr: float) -> float:
    """The learning rate of iteration `it`: a linear warmup over the first 5%, then cosine decay to lr / 10."""
    warmup = max(1, iters // 20)
    frac = (it + 1) / warmup if it < warmup else 0.1 + 0.45 * (1 + math.cos(math.pi * (it - warmup) / max(1, iters - warmup)))
    return lr * min(1.0, frac)


def parser(doc: str, out: Path, iters: int, lr: float) -> argparse.ArgumentParser:
    """The training scripts' arguments, with their defaults."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=out)
    ap.add_argument("--iters", type=int, default=iters)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=lr)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (fixed for reproducibility)")
    ap.add_argument("--log-every", type=int, default=250)
    return ap


def step(gpt: GPT, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, lr: float) -> float:
    """One optimiser step at learning rate `lr` on inputs x and next-token targets y (-1: none),
    gradients clipped to norm 1; returns the loss."""
    for group in opt.param_groups:
        group["lr"] = lr
    logits = gpt(x)  # (B, T, V)
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), ignore_index=-1)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(gpt.parameters(), 1.0)
    opt.step()
    return loss.item()


def train(config: model.ModelConfig, iters: int, seed: int, batch_size: int, lr: float,
          log_every: int) -> tuple[GPT, float]:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    gpt = GPT(config, dropout=0.0)
    opt = configure_optimizer(gpt, lr, weight_decay=0.1)
    gpt.train()
    loss_value = float("nan")
    for it in range(iters):
        x, y = batch(batch_size, gen, config.vocab_size)
        loss_value = step(gpt, opt, x, y, lr_at(it, iters, lr))
        if it % log_every == 0 or it == iters - 1:
            print(f"iter {it:5d}  loss {loss_value:.3e}", flush=True)
    gpt.eval()
    return gpt, loss_value


def check_all(weights: model.Weights) -> list[str]:
    """Greedy-generate the output for every input with the numpy model; return the failures."""
    cfg = weights.config
    failures = []
    for inp in itertools.product(range(cfg.vocab_size), repeat=LENGTH):
        out = model.generate(weights, list(inp), LENGTH).generated
        if out != sorted(inp):
            failures.append(f"{model.decode(cfg, inp)} -> {model.decode(cfg, out)}")
    return failures


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__, ROOT / "presets" / "nano-gpt-sort.safetensors", 2000, 5e-4).parse_args(argv)

    torch.set_num_threads(args.threads)
    try:
        torch.use_deterministic_algorithms(True)
    except Exception as exc:  # pragma: no cover - depends on the torch build
        print(f"note: deterministic algorithms unavailable ({exc})")
    config = model.load_preset("nano-gpt")
    print(f"training {config.name}: {config.n_layer} layers, {config.n_head} heads, C {config.n_embd}, "
          f"vocab {config.vocab_size}, block {config.block_size}; {args.iters} iters, batch {args.batch_size}, "
          f"lr {args.lr}, seed {args.seed}, {args.threads} thread(s)")
    start = time.perf_counter()
    gpt, loss = train(config, args.iters, args.seed, args.batch_size, args.lr, args.log_every)
    train_s = time.perf_counter() - start
    print(f"trained in {train_s:.1f} s, final loss {loss:.3e}")

    return ship(gpt.to_weights(), args.out, None)


def ship(weights: model.Weights, out: Path, config: model.ModelConfig | None) -> int:
    """Write `weights` to a candidate file beside `out`, load it back with the numpy model (with
    `config`, or from the file alone when None) and move it to `out` only when greedy generation sorts
    all 729 inputs; return 0, else 1 with `out` untouched."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    candidate = out.with_name(f".{out.name}.candidate")
    model.save_weights(weights, candidate)
    try:
        loaded = model.load_weights(candidate, config)
        cfg = loaded.config
        start = time.perf_counter()
        failures = check_all(loaded)
        total = cfg.vocab_size ** LENGTH
        print(f"numpy greedy check: {total - len(failures)}/{total} sorted correctly "
              f"({time.perf_counter() - start:.1f} s)")
        if failures:
            print("failures: " + ", ".join(failures[:10]) + (" ..." if len(failures) > 10 else ""), file=sys.stderr)
            print(f"error: not all inputs sort correctly; {out} left unchanged", file=sys.stderr)
            return 1
        os.replace(candidate, out)
    finally:
        candidate.unlink(missing_ok=True)
    example = model.decode(cfg, model.generate(loaded, model.encode(cfg, "CBABBC"), LENGTH).generated)
    print(f"CBABBC -> {example}; wrote {out} ({out.stat().st_size} bytes)")
    return 0

if __name__ == "__main__":
    sys.exit(main())
