"""GPT-2 (and minGPT / nanoGPT): LayerNorm, a table of learned positions, a GELU MLP 4x wide, one
K/V head per query head, biases everywhere, the LM head tied to the token embedding.

Parameters are held under their minGPT names and shapes (nn.Linear weights [out, in]); Hugging Face
GPT-2 files (Conv1D weights [in, out], no `transformer.` prefix) are read and written too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import ModelError
from ..ops import Affine, Record, attention, bind, gelu, layer_norm, linear, lm_head

NAME = "gpt2"
TITLE = "GPT-2"
ARCHITECTURES = ("GPT2LMHeadModel",)

# ------------------------------------------------------------------------------------------ parameters

_LINEARS = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")  # Hugging Face stores them [in, out]
_BUFFER = re.compile(r"(^|\.)h\.\d+\.attn\.(bias|masked_bias)$")
TOKEN_EMBEDDING = "transformer.wte.weight"


def param_shapes(config) -> dict[str, tuple[int, ...]]:
    """Every parameter's minGPT name and shape, in model order (lm_head last)."""
    c, v, f = config.n_embd, config.vocab_size, config.mlp_size
    shapes: dict[str, tuple[int, ...]] = {TOKEN_EMBEDDING: (v, c), "transformer.wpe.weight": (config.block_size, c)}
    for i in range(config.n_layer):
        p = f"transformer.h.{i}."
        shapes.update({
            p + "ln_1.weight": (c,), p + "ln_1.bias": (c,),
            p + "attn.c_attn.weight": (3 * c, c), p + "attn.c_attn.bias": (3 * c,),
            p + "attn.c_proj.weight": (c, c), p + "attn.c_proj.bias": (c,),
            p + "ln_2.weight": (c,), p + "ln_2.bias": (c,),
            p + "mlp.c_fc.weight": (f, c), p + "mlp.c_fc.bias": (f,),
            p + "mlp.c_proj.weight": (c, f), p + "mlp.c_proj.bias": (c,)})
    shapes.update({"transformer.ln_f.weight": (c,), "transformer.ln_f.bias": (c,), "lm_head.weight": (v, c)})
    return shapes


def random_params(config, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """GPT-2 style init: N(0, 0.02) weights (residual projections scaled by 1/sqrt(2 n_layer)), zero
    biases, unit LayerNorm gains; lm_head tied to the token embedding."""
    params: dict[str, np.ndarray] = {}
    proj_std = 0.02 / np.sqrt(2 * config.n_layer)
    for key, shape in param_shapes(config).items():
        if key == "lm_head.weight":
            params[key] = params[TOKEN_EMBEDDING]
        elif key.endswith("bias"):
            params[key] = np.zeros(shape, np.float32)
        elif ".ln_" in key:
            params[key] = np.ones(shape, np.float32)
        else:
            std = proj_std if key.endswith("c_proj.weight") else 0.02
            params[key] = rng.standard_normal(shape, dtype=np.float32) * np.float32(std)
    return params


def _is_linear_weight(key: str) -> bool:
    return key.endswith(".weight") and any(f".{name}." in f".{key}" for name in _LINEARS)


def detect(tensors: Mapping[str, np.ndarray]) -> bool:
    """True when a file's tensors are GPT-2's (minGPT or Hugging Face names)."""
    return TOKEN_EMBEDDING in tensors or "wte.weight" in tensors


def from_file(tensors: dict[str, np.ndarray], path: Path) -> tuple[dict[str, np.ndarray], str]:
    """A file's tensors renamed (and transposed) into minGPT names, and the layout's name."""
    tensors = {k: v for k, v in tensors.items() if not _BUFFER.search(k)}
    if TOKEN_EMBEDDING in tensors:
        prefix = "transformer."
    elif "wte.weight" in tensors:
        prefix = ""
    else:
        raise ModelError(f"{path}: missing tensor '{TOKEN_EMBEDDING}' (token embedding)")
    c = tensors[prefix + "wte.weight"].shape[-1]
    c_attn = tensors.get(prefix + "h.0.attn.c_attn.weight")
    hf = prefix == "" or (c_attn is not None and c_attn.ndim == 2 and c_attn.shape[0] == c != c_attn.shape[1])
    if not hf:
        out = tensors
    else:
        out = {}
        for key, value in tensors.items():
            name = key if key == "lm_head.weight" else "transformer." + key[len(prefix):] if key.startswith(prefix) \
                else key
            out[name] = np.ascontiguousarray(value.T) if _is_linear_weight(name) and value.ndim == 2 else value
    if "lm_head.weight" not in out and TOKEN_EMBEDDING in out:
        out["lm_head.weight"] = out[TOKEN_EMBEDDING]  # tied, as GPT-2 does
    return out, "hf" if hf else "mingpt"


def to_file(params: Mapping[str, np.ndarray], config, naming: str) -> dict[str, np.ndarray]:
    """The tensors to write in minGPT naming or Hugging Face GPT-2 naming (tied lm_head left out)."""
    tensors: dict[str, np.ndarray] = {}
    for key, value in params.items():
        if naming == "hf":
            if key == "lm_head.weight":
                if value is params[TOKEN_EMBEDDING] or np.array_equal(value, params[TOKEN_EMBEDDING]):
                    continue
            else:
                key = key[len("transformer."):]
            if _is_linear_weight(key):
                value = value.T
        tensors[key] = value
    return tensors


def layout_name(naming: str) -> str:
    """The key layout a file written with `naming` has ("mingpt" or "hf")."""
    return naming


_LAYER = re.compile(r"(?:^|\.)h\.(\d+)\.")


def infer_shape(params: Mapping[str, np.ndarray], path: Path) -> dict:
    """The shape fields a file's tensors tell (all but n_head)."""
    wte, wpe = params[TOKEN_EMBEDDING], params.get("transformer.wpe.weight")
    if wte.ndim != 2:
        raise ModelError(f"{path}: tensor '{TOKEN_EMBEDDING}' must be 2-D, found shape {wte.shape}")
    if wpe is None:
        raise ModelError(f"{path}: missing tensor 'transformer.wpe.weight' (position embedding)")
    layers = {int(m.group(1)) for k in params if (m := _LAYER.search(k))}
    return {"n_layer": max(layers, default=-1) + 1, "n_embd": wte.shape[1], "vocab_size": wte.shape[0],
            "block_size": wpe.shape[0]}


def check(config, where: str) -> None:
    """GPT-2 has one K/V head per query head and biases on q, k and v."""
    if config.kv_heads != config.n_head or not config.qkv_bias or not config.tied:
        raise ModelError(f"{where}: family 'gpt2' has one K/V head per query head, q/k/v biases and a tied "
                         f"LM head (fields 'n_kv_head', 'qkv_bias', 'tied')")


def from_hf_config(data: dict, where: str) -> dict:
    """ModelConfig fields from a Hugging Face GPT-2 config.json."""
    from ..hf import fields
    out = fields(data, where, n_layer="n_layer", n_head="n_head", n_embd="n_embd", vocab_size="vocab_size",
                 block_size="n_positions")
    if data.get("n_inner"):
        out["n_inner"] = data["n_inner"]
    if "layer_norm_epsilon" in data:
        out["norm_eps"] = float(data["layer_norm_epsilon"])
    return out


# ------------------------------------------------------------------------------------------ trace

# Every trace name with its dims, in computation order. Dims: T tokens, C n_embd, nh n_head, A head
# size, 4C the MLP's width, V vocab. The block's names repeat per layer as h{i}.<name>.
EMBEDDING_TRACE = {"tokens": "T", "tok_emb": "T C", "pos_emb": "T C", "x": "T C"}
BLOCK_TRACE = {
    "ln1.mean": "T", "ln1.std": "T", "ln1": "T C",
    "q": "nh T A", "k": "nh T A", "v": "nh T A",
    "att": "nh T T", "att.max": "nh T", "att.sumexp": "nh T", "att_sm": "nh T T",
    "y": "T C", "attn_proj": "T C", "attn_resid": "T C",
    "ln2.mean": "T", "ln2.std": "T", "ln2": "T C",
    "fc": "T 4C", "gelu": "T 4C", "mlp": "T C", "mlp_resid": "T C",
}
HEAD_TRACE = {"ln_f.mean": "T", "ln_f.std": "T", "ln_f": "T C",
              "logits": "T V", "logits.max": "T", "logits.sumexp": "T", "probs": "T V"}
#: The MLP's neurons, as the facts chapter tells them: the pre-activation whose weight rows are
#: directions, the activation, the down projection, and the close-up of one neuron.
NEURONS = {"pre": "fc", "up_weight": "fc_weight", "act": "gelu", "act_name": "GELU", "down_weight": "mlp_weight",
           "closeup": "mlp_value"}



def dims(config, t: int) -> dict[str, int]:
    return {"T": t, "C": config.n_embd, "4C": config.mlp_size, "nh": config.n_head, "A": config.head_size,
            "V": config.vocab_size}


# ------------------------------------------------------------------------------------------ forward

class _Block(NamedTuple):
    """One transformer block's parameters, bound once per layer from the minGPT keys in `_BLOCK_KEYS`."""

    ln_1: Affine  # (C,) (C,)
    c_attn: Affine  # (3C, C) (3C,)
    attn_proj: Affine  # (C, C) (C,)
    ln_2: Affine  # (C,) (C,)
    c_fc: Affine  # (4C, C) (4C,)
    mlp_proj: Affine  # (C, 4C) (C,)


_BLOCK_KEYS = ("ln_1", "attn.c_attn", "attn.c_proj", "ln_2", "mlp.c_fc", "mlp.c_proj")


def final_norm(params: Mapping[str, np.ndarray], config, x: np.ndarray) -> np.ndarray:
    """ln_f of residual rows x (N, C), without recording (the logit lens)."""
    return layer_norm(lambda _n, v: v, "ln_f", x, bind(params, "transformer.ln_f"), config.norm_eps)


def forward(params: Mapping[str, np.ndarray], config, idx: np.ndarray, record: Record) -> None:
    """GPT-2's forward pass on token ids idx (T,), every intermediate recorded."""
    T, C, nh, A = idx.size, config.n_embd, config.n_head, config.head_size
    eps = config.norm_eps
    tok_emb = record("tok_emb", params[TOKEN_EMBEDDING][idx])  # (T, C) gathered: a copy
    pos_emb = record("pos_emb", params["transformer.wpe.weight"][:T].copy())  # (T, C) traces never alias weights
    x = record("x", tok_emb + pos_emb)  # (T, C)
    for i in range(config.n_layer):
        block = _Block(*(bind(params, f"transformer.h.{i}.{key}") for key in _BLOCK_KEYS))
        p = f"h{i}."
        # causal self-attention
        h = layer_norm(record, p + "ln1", x, block.ln_1, eps)  # (T, C)
        qkv = linear(h, block.c_attn).reshape(T, 3, nh, A).transpose(1, 2, 0, 3)  # (3, nh, T, A) a view
        q = record(p + "q", np.ascontiguousarray(qkv[0]))  # (nh, T, A)
        k = record(p + "k", np.ascontiguousarray(qkv[1]))  # (nh, T, A)
        v = record(p + "v", np.ascontiguousarray(qkv[2]))  # (nh, T, A)
        y = record(p + "y", attention(record, p, q, k, v))  # (T, C) heads side by side
        proj = record(p + "attn_proj", linear(y, block.attn_proj))  # (T, C)
        x = record(p + "attn_resid", x + proj)  # (T, C)
        # MLP
        h = layer_norm(record, p + "ln2", x, block.ln_2, eps)  # (T, C)
        fc = record(p + "fc", linear(h, block.c_fc))  # (T, 4C)
        g = record(p + "gelu", gelu(fc))  # (T, 4C)
        m = record(p + "mlp", linear(g, block.mlp_proj))  # (T, C)
        x = record(p + "mlp_resid", x + m)  # (T, C)
    h = layer_norm(record, "ln_f", x, bind(params, "transformer.ln_f"), eps)  # (T, C)
    lm_head(record, h, params["lm_head.weight"])  # logits (T, V) and probs (T, V)


# ------------------------------------------------------------------------------------------ blocks

def _norm(kit, prefix: str, key: str, src: str, param: str, inp: str, label: str, **kw) -> list:
    k = f"{prefix}{key}"
    mean = kit.row(f"{k}.mean", f"{label} Mean", f"{src}.mean", "ln_mean", reads=(inp,), **kw)
    std = kit.row(f"{k}.std", f"{label} Std", f"{src}.std", "ln_std", reads=(inp, mean.key), **kw)
    gamma = kit.vec(f"{k}.gamma", f"{label} Gamma", f"{param}.weight", **kw)
    beta = kit.vec(f"{k}.beta", f"{label} Beta", f"{param}.bias", **kw)
    out = kit.act(k, label, src, "layernorm", reads=(inp, mean.key, std.key, gamma.key, beta.key), **kw)
    return [kit.Band([mean], right=[std]), kit.Band([out], left=[gamma, beta])]


def bands(kit, config, t: int) -> list:
    """The model as bands, grouped: (section, layer, bands) in computation order."""
    Band, act, vec, mat, block, row = kit.Band, kit.act, kit.vec, kit.mat, kit.block, kit.row
    c, a, nh = config.n_embd, config.head_size, config.n_head
    out: list = []

    emb = {"section": "Embedding", "group": "Embedding"}
    tokens = row("tokens", "Tokens", "tokens", "token", kind="intermediate", **emb)
    wte = block("wte", "Token Embed", "weight", f"param:{TOKEN_EMBEDDING}", "param", "C", "n_vocab", 0, 1, c, **emb)
    wpe = block("wpe", "Position Embed", "weight", "param:transformer.wpe.weight", "param", "C", "block_size",
                0, 1, c, **emb)
    x = act("x", "Input Embed", "x", "embed", reads=(tokens.key, wte.key, wpe.key), **emb)
    out.append(("Embedding", -1, [Band([tokens]), Band([x], left=[wte], right=[wpe])]))
    resid = x.key

    for i in range(config.n_layer):
        p, q = f"h{i}.", f"transformer.h.{i}."
        sec = {"section": f"Transformer {i}", "layer": i}
        layer = _norm(kit, p, "ln1", f"h{i}.ln1", f"param:{q}ln_1", resid, "Layer Norm 1", group="Layer Norm 1",
                      **sec)
        ln1 = f"{p}ln1"
        att = {"group": "Self-attention", **sec}
        qkv_bands, att_bands, y_bands = [], [], []
        for h in range(nh):
            hp = f"{p}head{h}."
            vecs = {}
            for j, name in enumerate("QKV"):
                lo = name.lower()
                w = mat(f"{hp}{lo}_weight", f"{name} Weights", f"param:{q}attn.c_attn.weight", "A", "C",
                        (j * c + h * a) * c, head=h, **att)
                b = vec(f"{hp}{lo}_bias", f"{name} Bias", f"param:{q}attn.c_attn.bias", "A", j * c + h * a,
                        head=h, **att)
                vecs[lo] = block(f"{hp}{lo}", f"{name} Vectors", "intermediate", f"h{i}.{lo}", "matmul", "A", "T",
                                 h * t * a, 1, a, head=h, reads=(ln1, w.key, b.key), **att)
                qkv_bands.append(Band([vecs[lo]], left=[b, w]))
            score, soft = kit.attention(hp, f"h{i}.", h, h, vecs["q"].key, **att)
            y = block(f"{hp}y", "V Output", "intermediate", f"h{i}.y", "attend", "A", "T", h * a, 1, c,
                      head=h, reads=(soft.key, vecs["v"].key), **att)
            att_bands.append(score)
            y_bands.append(Band([y]))
        layer += kit.merge_heads(qkv_bands, 3) + kit.merge_heads(att_bands, 1) + kit.merge_heads(y_bands, 1)

        proj = {"group": "Projection", **sec}
        pw = mat(f"{p}proj_weight", "Projection Weights", f"param:{q}attn.c_proj.weight", "C", "C", **proj)
        pb = vec(f"{p}proj_bias", "Projection Bias", f"param:{q}attn.c_proj.bias", **proj)
        heads_y = tuple(f"{p}head{h}.y" for h in range(nh))
        po = act(f"{p}attn_proj", "Attention Output", f"h{i}.attn_proj", "matmul", reads=(*heads_y, pw.key, pb.key),
                 **proj)
        pr = act(f"{p}attn_resid", "Attention Residual", f"h{i}.attn_resid", "residual", reads=(resid, po.key),
                 **proj)
        layer += [Band([po], left=[pb, pw]), Band([pr])]

        layer += _norm(kit, p, "ln2", f"h{i}.ln2", f"param:{q}ln_2", pr.key, "Layer Norm 2", group="Layer Norm 2",
                       **sec)
        mlp = {"group": "MLP", **sec}
        fw = mat(f"{p}fc_weight", "MLP Weights", f"param:{q}mlp.c_fc.weight", "4C", "C", **mlp)
        fb = vec(f"{p}fc_bias", "MLP Bias", f"param:{q}mlp.c_fc.bias", "4C", **mlp)
        fc = act(f"{p}fc", "MLP", f"h{i}.fc", "matmul", "4C", reads=(f"{p}ln2", fw.key, fb.key), **mlp)
        ge = act(f"{p}gelu", "GELU", f"h{i}.gelu", "gelu", "4C", reads=(fc.key,), **mlp)
        mw = mat(f"{p}mlp_weight", "MLP Projection Weights", f"param:{q}mlp.c_proj.weight", "C", "4C", **mlp)
        mb = vec(f"{p}mlp_bias", "MLP Projection Bias", f"param:{q}mlp.c_proj.bias", **mlp)
        mo = act(f"{p}mlp", "MLP Result", f"h{i}.mlp", "matmul", reads=(ge.key, mw.key, mb.key), **mlp)
        mr = act(f"{p}mlp_resid", "MLP Residual", f"h{i}.mlp_resid", "residual", reads=(pr.key, mo.key), **mlp)
        layer += [Band([fc], left=[fb, fw], right=[ge]), Band([mo], left=[mb, mw]), Band([mr])]
        out.append((f"Transformer {i}", i, layer))
        resid = mr.key

    outb = _norm(kit, "", "ln_f", "ln_f", "param:transformer.ln_f", resid, "Final Layer Norm",
                 group="Final Layer Norm", section="Output")
    out.append(("Output", -1, outb + kit.output("ln_f", "param:lm_head.weight")))
    return out


# ------------------------------------------------------------------------------------------ captions
# Each takes the walkthrough's Story `s` (timeline/story.py): its facts, the layer told in detail, its
# language (s.lang: tr / trn translate, num writes numbers) and what a plan is told with (s.Plan,
# s.closeups, s.token_text, s.CLOSEUP_WINDOW).

def tell_embedding(s) -> list:
    f, cfg, Plan, L = s.facts, s.facts.config, s.Plan, s.lang
    t, tok = f.t, f.tokens[0]
    close = s.closeups.embedding_sum(f, 0)
    return [
        Plan(L.tr("Token {token} picks column {id} of the token embedding. Position 0 picks column 0 of the position "
                  "embedding. Their sum is the first input column; its top value is {v}.",
                  token=s.token_text(cfg, tok), id=tok, v=close.value),
             [("x", 0, 1)], weight=2.0, focus=["x", "wte", "wpe"],
             sources=["tokens", "wte", "wpe"], closeup=close, window=s.CLOSEUP_WINDOW),
        Plan(L.trn("Every token gets its column the same way: {n} column of {c} numbers.",
                   "Every token gets its column the same way: {n} columns of {c} numbers.", t, c=cfg.n_embd),
             [("x", 1, t)], weight=1.5, focus=["x", "wte", "wpe"], sources=["tokens", "wte", "wpe"]),
    ]


def tell_layer_norm(s) -> list:
    f, Plan, L = s.facts, s.Plan, s.lang
    t, key = f.t, f"h{s.layer}.ln1"
    m, sd = f.cell(f"{key}.mean", 0, 0), f.cell(f"{key}.std", 0, 0)
    x, v = f.cell(s.layout[key].reads[0], 0, 0), f.cell(key, 0, 0)
    if f.has_values(f"{key}.gamma"):
        g, b = f.cell(f"{key}.gamma", 0, 0), f.cell(f"{key}.beta", 0, 0)
        scaled = L.tr("Each value is centred, scaled and shifted: (x - mean) / std * gamma + beta: "
                      "({x} - ({m})) / {sd} * {g} + {b} = {v}.", x=x, m=m, sd=sd, g=g, b=b, v=v)
    else:
        scaled = L.tr("Each value is centred, scaled and shifted: (x - mean) / std * gamma + beta. The top one "
                      "becomes {v}.", v=v)
    return [
        Plan(L.tr("Layer norm works on one column at a time. First the mean of each column: {m} for the first one.",
                  m=m), s.whole(f"{key}.mean")),
        Plan(L.tr("Then how far the values spread: standard deviation {sd}.", sd=sd), s.whole(f"{key}.std")),
        Plan(scaled, [(key, 0, 1)], weight=1.5),
        Plan(L.tr("The same for every column. Before gamma and beta, each column has mean 0 and standard "
                  "deviation 1."), [(key, 1, t)]),
    ]


def tell_attention_inputs(s) -> list:
    """Head 0's queries, keys and values."""
    f, Plan, L = s.facts, s.Plan, s.lang
    t, h0 = f.t, f"h{s.layer}.head0."
    q = f.cell(f"{h0}q", 0, 0)
    has_w = f.has_values(f"{h0}q_weight")
    return [
        Plan(L.tr("Head 0 starts with queries. One Q value is a row of Q weights times the normalised column, plus "
                  "a bias: {q}.", q=L.num(q, 3)), [(f"{h0}q", 0, 1)], weight=2.0,
             closeup=s.closeups.q_value(f, s.layer, 0, 0, 0) if has_w else None, window=s.CLOSEUP_WINDOW),
        Plan(L.tr("The same for every token, and again for keys (K) and values (V): {a} numbers each.",
                  a=f.config.head_size), [(f"{h0}q", 1, t), *s.whole(f"{h0}k", f"{h0}v")], weight=1.5),
    ]


def tell_mlp(s) -> list:
    f, cfg, Plan, L = s.facts, s.facts.config, s.Plan, s.lang
    t, p, c, w = f.t, f"h{s.layer}.", cfg.n_embd, cfg.mlp_size
    j = s.closeups.gelu_row(f, s.layer, 0)
    fc, g = f.cell(f"{p}fc", j, 0), f.cell(f"{p}gelu", j, 0)
    has_w = f.has_values(f"{p}fc_weight")
    return [
        Plan(L.tr("Layer norm again, before the MLP."), s.whole(f"{p}ln2.mean", f"{p}ln2.std", f"{p}ln2")),
        Plan(L.tr("The MLP widens each column to {w} numbers. Value {j} of the first column is a bias plus weights "
                  "times the column: {fc}. GELU turns it into {g}.", w=w, j=j, fc=L.num(fc, 3), g=L.num(g, 3)),
             [(f"{p}fc", 0, 1)], weight=2.0, closeup=s.closeups.mlp_value(f, s.layer, j, 0) if has_w else None,
             window=s.CLOSEUP_WINDOW),
        Plan(L.tr("All columns are widened, then GELU keeps positive values and squashes negative ones toward 0."),
             [(f"{p}fc", 1, t), *s.whole(f"{p}gelu")], weight=1.5),
        Plan(L.tr("A second matrix projects the {w} numbers back to {c}.", w=w, c=c), s.whole(f"{p}mlp")),
        Plan(L.tr("The result joins the residual stream. Layer {i} is done.", i=s.layer), s.whole(f"{p}mlp_resid")),
    ]


def tell_final_norm(s):
    return s.Plan(s.lang.tr("A final layer norm: each column is normalised once more."),
                  s.whole("ln_f.mean", "ln_f.std", "ln_f"))
