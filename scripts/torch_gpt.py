"""A compact torch GPT, the same model as llmviz_blender.model (the numpy one), for training and as a
reference: module names follow minGPT, so `state_dict()` keys are exactly minGPT's parameter names.

    gpt = GPT.from_weights(model.load_weights("presets/nano-gpt-sort.safetensors"))
    with torch.inference_mode():
        logits = gpt(idx)                  # (B, T, V); fast path (fused ops), no trace
    trace = torch_trace(gpt, [2, 1, 0])    # every DESIGN.md trace name -> np.ndarray, batch dim dropped

Differences from minGPT: no `attn.bias` mask buffer (the causal mask is built on the fly) and forward
returns only the logits (the caller computes its own loss).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from llmviz_blender import model  # noqa: E402

LN_EPS = 1e-5


def _layer_norm(ln: nn.LayerNorm, x: torch.Tensor, rec: list | None) -> torch.Tensor:
    """LayerNorm; when recording, spelled out so its mean and std (sqrt(biased var + eps)) are recorded
    before the result."""
    if rec is None:
        return ln(x)
    mean = x.mean(dim=-1, keepdim=True)  # (B, T, 1)
    centred = x - mean  # (B, T, C)
    std = torch.sqrt((centred * centred).mean(dim=-1, keepdim=True) + LN_EPS)  # (B, T, 1)
    y = centred / std * ln.weight + ln.bias  # (B, T, C)
    rec.extend((mean[..., 0], std[..., 0], y))
    return y


def _softmax(z: torch.Tensor, rec: list) -> torch.Tensor:
    """Softmax over the last axis, recording its max and sum-exp."""
    zmax = z.amax(dim=-1, keepdim=True)  # (..., 1)
    e = torch.exp(z - zmax)  # (..., N)
    sumexp = e.sum(dim=-1, keepdim=True)  # (..., 1)
    rec.extend((zmax[..., 0], sumexp[..., 0]))
    return e / sumexp  # (..., N)


def name_trace(config: model.ModelConfig, t: int, rec: list[torch.Tensor]) -> dict[str, np.ndarray]:
    """The recorded tensors, batch dim dropped, under the trace names `model.trace_shapes` declares in the
    same order; ValueError if their number or any shape differs from the declaration."""
    shapes = model.trace_shapes(config, t)
    if len(rec) != len(shapes):
        raise ValueError(f"recorded {len(rec)} tensors, the trace declares {len(shapes)}")
    trace = {}
    for (name, shape), value in zip(shapes.items(), rec):
        trace[name] = value[0].detach().cpu().numpy()
        if trace[name].shape != shape:
            raise ValueError(f"{name}: recorded shape {trace[name].shape}, declared {shape}")
    return trace


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0):
        super().__init__()
        assert n_embd % n_head == 0
        self.n_head, self.n_embd, self.dropout = n_head, n_embd, dropout
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)  # q, k, v for all heads, side by side
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, rec: list | None = None) -> torch.Tensor:
        B, T, C = x.shape
        nh, A = self.n_head, C // self.n_head
        q, k, v = self.c_attn(x).split(C, dim=2)  # (B, T, C) each
        q, k, v = (m.view(B, T, nh, A).transpose(1, 2) for m in (q, k, v))  # (B, nh, T, A) each
        if rec is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                               dropout_p=self.dropout if self.training else 0.0)  # (B, nh, T, A)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(A))  # (B, nh, T, T)
            mask = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)  # (T, T) True above the diagonal
            att = att.masked_fill(mask, float("-inf"))  # (B, nh, T, T)
            rec.extend((q, k, v, att))
            att_sm = _softmax(att, rec)  # (B, nh, T, T)
            rec.append(att_sm)
            y = att_sm @ v  # (B, nh, T, A)
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, T, C) heads side by side
        out = self.resid_dropout(self.c_proj(y))  # (B, T, C)
        if rec is not None:
            rec.extend((y, out))
        return out


class Block(nn.Module):
    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd, eps=LN_EPS)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout)
        self.ln_2 = nn.LayerNorm(n_embd, eps=LN_EPS)
        self.mlp = nn.ModuleDict(dict(
            c_fc=nn.Linear(n_embd, 4 * n_embd),
            act=nn.GELU(approximate="tanh"),
            c_proj=nn.Linear(4 * n_embd, n_embd),
            dropout=nn.Dropout(dropout),
        ))

    def forward(self, x: torch.Tensor, rec: list | None = None) -> torch.Tensor:
        x = x + self.attn(_layer_norm(self.ln_1, x, rec), rec)  # (B, T, C)
        if rec is not None:
            rec.append(x)
        m = self.mlp
        fc = m.c_fc(_layer_norm(self.ln_2, x, rec))  # (B, T, 4C)
        g = m.act(fc)  # (B, T, 4C)
        out = m.dropout(m.c_proj(g))  # (B, T, C)
        x = x + out  # (B, T, C)
        if rec is not None:
            rec.extend((fc, g, out, x))
        return x


class GPT(nn.Module):
    """GPT-2 style decoder; `forward(idx)` -> logits (B, T, vocab_size)."""

    def __init__(self, config: model.ModelConfig, dropout: float = 0.0):
        super().__init__()
        self.config = config
        C = config.n_embd
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, C),
            wpe=nn.Embedding(config.block_size, C),
            drop=nn.Dropout(dropout),
            h=nn.ModuleList([Block(C, config.n_head, dropout) for _ in range(config.n_layer)]),
            ln_f=nn.LayerNorm(C, eps=LN_EPS),
        ))
        self.lm_head = nn.Linear(C, config.vocab_size, bias=False)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # minGPT / GPT-2: scaled init of residual projections
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def forward(self, idx: torch.Tensor, trace: dict | None = None) -> torch.Tensor:
        """idx (B, T) int64 -> logits (B, T, V). With `trace` (a dict, B must be 1) every intermediate
        is recorded in computation order and stored under the trace name `model.trace_shapes` declares at
        its position, as a numpy array with the batch dim dropped."""
        B, T = idx.shape
        if T > self.config.block_size:
            raise ValueError(f"sequence length {T} exceeds block_size {self.config.block_size}")
        rec: list | None = [] if trace is not None else None
        if rec is not None and B != 1:
            raise ValueError(f"trace needs a batch of one sequence, got batch size {B}")
        pos = torch.arange(T, dtype=torch.long, device=idx.device)  # (T,)
        tok_emb = self.transformer.wte(idx)  # (B, T, C)
        pos_emb = self.transformer.wpe(pos)[None]  # (1, T, C)
        x = tok_emb + pos_emb  # (B, T, C)
        if rec is not None:
            rec.extend((idx, tok_emb, pos_emb, x))
        x = self.transformer.drop(x)  # (B, T, C)
        for block in self.transformer.h:
            x = block(x, rec)  # (B, T, C)
        x = _layer_norm(self.transformer.ln_f, x, rec)  # (B, T, C)
        logits = self.lm_head(x)  # (B, T, V)
        if rec is not None:
            rec.append(logits)
            probs = _softmax(logits, rec)  # (B, T, V)
            rec.append(probs)
            trace.update(name_trace(self.config, T, rec))
        return logits

    # ------------------------------------------------------------------ conversion to / from numpy

    @classmethod
    def from_weights(cls, weights: model.Weights, dropout: float = 0.0) -> "GPT":
        """A torch GPT holding a copy of `weights` (a numpy model.Weights)."""
        gpt = cls(weights.config, dropout)
        gpt.load_state_dict(params_to_state_dict(weights.params), strict=True)
        return gpt

    def to_weights(self) -> model.Weights:
        """A numpy model.Weights copy of this module's parameters (minGPT names, float32)."""
        return model.Weights(self.config, state_dict_to_params(self.state_dict()), "torch")


def state_dict_to_params(state_dict: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """torch state_dict -> numpy params (minGPT names, float32, own memory)."""
    return {k: v.detach().cpu().to(torch.float32).numpy().copy() for k, v in state_dict.items()}


def params_to_state_dict(params: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """numpy params -> torch state_dict (copies; tied arrays become separate tensors)."""
    return {k: torch.tensor(np.asarray(v, dtype=np.float32)) for k, v in params.items()}


def torch_trace(gpt: GPT, tokens) -> dict[str, np.ndarray]:
    """Run `gpt` in eval mode on one token sequence and return its full trace as numpy arrays."""
    was_training = gpt.training
    gpt.eval()
    trace: dict[str, np.ndarray] = {}
    try:
        with torch.inference_mode():
            gpt(torch.as_tensor(np.asarray(tokens, dtype=np.int64))[None], trace=trace)
    finally:
        gpt.train(was_training)
    return trace
