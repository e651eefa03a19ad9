"""Train the nano-llama preset on minGPT's sort task and write presets/nano-llama-sort.safetensors.

The same task as train_sort.py (6 letters from A/B/C sorted; the loss on the 6 output positions only),
in the Llama architecture: transformers' LlamaForCausalLM built from the preset (RMSNorm, rotary
positions, SwiGLU, 4 query heads sharing 2 K/V heads, the LM head tied to the embedding).

After training, the weights are written under their Hugging Face keys to a candidate file, loaded back
with the numpy model (model.load_weights with the preset) and greedy generation (model.generate) must
sort all 729 inputs; only then is the candidate moved to --out. Otherwise the script exits 1 and
leaves --out untouched.

    .venv/bin/python scripts/train_sort_llama.py [--iters 3000] [--seed 0] [--out PATH]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import transformers

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_sort import batch, lr_at, parser, ship  # noqa: E402  (puts the repo root on sys.path)
from torch_gpt import ROOT  # noqa: E402

from llmviz_blender import model  # noqa: E402


def hf_config(config: model.ModelConfig) -> transformers.LlamaConfig:
    """transformers' LlamaConfig for a Llama-family preset."""
    return transformers.LlamaConfig(
        vocab_size=config.vocab_size, hidden_size=config.n_embd, num_hidden_layers=config.n_layer,
        num_attention_heads=config.n_head, num_key_value_heads=config.kv_heads, intermediate_size=config.mlp_size,
        max_position_embeddings=config.block_size, rope_theta=config.rope_theta, rms_norm_eps=config.norm_eps,
        tie_word_embeddings=config.tied, attention_bias=False, mlp_bias=False, hidden_act="silu",
        bos_token_id=None, eos_token_id=None, pad_token_id=None, attn_implementation="eager")


def configure_optimizer(net: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW, decaying the projection matrices only (not the norms' gains or the embedding)."""
    decay = [p for n, p in net.named_parameters() if p.ndim == 2 and "embed_tokens" not in n]
    keep = [p for n, p in net.named_parameters() if not (p.ndim == 2 and "embed_tokens" not in n)]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": keep, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95))


def train(config: model.ModelConfig, iters: int, seed: int, batch_size: int, lr: float, log_every: int):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = transformers.LlamaForCausalLM(hf_config(config))
    opt = configure_optimizer(net, lr, weight_decay=0.1)
    net.train()
    loss_value = float("nan")
    for it in range(iters):
        for group in opt.param_groups:
            group["lr"] = lr_at(it, iters, lr)
        x, y = batch(batch_size, gen, config.vocab_size)
        logits = net(x).logits  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), ignore_index=-1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        loss_value = loss.item()
        if it % log_every == 0 or it == iters - 1:
            print(f"iter {it:5d}  loss {loss_value:.3e}", flush=True)
    net.eval()
    return net, loss_value


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__, ROOT / "presets" / "nano-llama-sort.safetensors", 3000, 3e-3).parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    config = model.load_preset("nano-llama")
    print(f"training {config.name}: {config.n_layer} layers, {config.n_head} heads sharing {config.kv_heads} K/V "
          f"heads, C {config.n_embd}, MLP {config.mlp_size}, vocab {config.vocab_size}, block {config.block_size}, "
          f"{model.param_count(config):,} parameters; {args.iters} iters, batch {args.batch_size}, lr {args.lr}, "
          f"seed {args.seed}, {args.threads} thread(s)")
    start = time.perf_counter()
    net, loss = train(config, args.iters, args.seed, args.batch_size, args.lr, args.log_every)
    print(f"trained in {time.perf_counter() - start:.1f} s, final loss {loss:.3e}")

    params = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    return ship(model.Weights(config, params), args.out, config)

if __name__ == "__main__":
    sys.exit(main())
