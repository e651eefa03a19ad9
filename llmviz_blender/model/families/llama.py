"""The Llama family (Llama 2 / 3.x, SmolLM2, TinyLlama, Qwen2, Mistral): RMSNorm, rotary positions,
a gated SiLU MLP (SwiGLU), grouped-query attention, often a tied LM head; Qwen2 adds q/k/v biases.

Parameters are held under the Hugging Face keys of the file (nn.Linear weights [out, in]).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import ModelError
from ..ops import ROPE_TYPES, Affine, Record, attention, bind, inv_freq, linear, lm_head, rms_norm, rotate, silu

NAME = "llama"
TITLE = "Llama"
ARCHITECTURES = ("LlamaForCausalLM", "Qwen2ForCausalLM", "MistralForCausalLM")

# ------------------------------------------------------------------------------------------ parameters

TOKEN_EMBEDDING = "model.embed_tokens.weight"


def _layer_keys(i: int) -> str:
    return f"model.layers.{i}."


def param_shapes(config) -> dict[str, tuple[int, ...]]:
    """Every parameter's Hugging Face key and shape, in model order (lm_head last)."""
    c, v, f, a = config.n_embd, config.vocab_size, config.mlp_size, config.head_size
    q, kv = config.n_head * a, config.kv_heads * a
    shapes: dict[str, tuple[int, ...]] = {TOKEN_EMBEDDING: (v, c)}
    for i in range(config.n_layer):
        p = _layer_keys(i)
        shapes[p + "input_layernorm.weight"] = (c,)
        for name, out in (("q", q), ("k", kv), ("v", kv)):
            shapes[f"{p}self_attn.{name}_proj.weight"] = (out, c)
            if config.qkv_bias:
                shapes[f"{p}self_attn.{name}_proj.bias"] = (out,)
        shapes.update({p + "self_attn.o_proj.weight": (c, q), p + "post_attention_layernorm.weight": (c,),
                       p + "mlp.gate_proj.weight": (f, c), p + "mlp.up_proj.weight": (f, c),
                       p + "mlp.down_proj.weight": (c, f)})
    shapes.update({"model.norm.weight": (c,), "lm_head.weight": (v, c)})
    return shapes


def random_params(config, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """transformers' Llama init: N(0, 0.02) weights, zero biases, unit norm gains; lm_head tied when
    `config.tied`."""
    params: dict[str, np.ndarray] = {}
    for key, shape in param_shapes(config).items():
        if key == "lm_head.weight" and config.tied:
            params[key] = params[TOKEN_EMBEDDING]
        elif key.endswith("bias"):
            params[key] = np.zeros(shape, np.float32)
        elif key.endswith("norm.weight"):
            params[key] = np.ones(shape, np.float32)
        else:
            params[key] = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)
    return params


def detect(tensors: Mapping[str, np.ndarray]) -> bool:
    return TOKEN_EMBEDDING in tensors


def from_file(tensors: dict[str, np.ndarray], path: Path) -> tuple[dict[str, np.ndarray], str]:
    """A file's tensors under their own keys (rotary buffers dropped; a tied lm_head is the embedding)."""
    out = {k: v for k, v in tensors.items() if not k.endswith("rotary_emb.inv_freq")}
    if TOKEN_EMBEDDING not in out:
        raise ModelError(f"{path}: missing tensor '{TOKEN_EMBEDDING}' (token embedding)")
    return out, "hf"


def to_file(params: Mapping[str, np.ndarray], config, naming: str) -> dict[str, np.ndarray]:
    """The tensors to write (Hugging Face keys; a tied lm_head left out, as transformers saves it)."""
    return {k: v for k, v in params.items() if not (k == "lm_head.weight" and config.tied)}


def layout_name(naming: str) -> str:
    """The key layout of a written file: always Hugging Face's."""
    return "hf"


def check(config, where: str) -> None:
    """Rotary positions pair the halves of each head: the head size must be even."""
    if config.head_size % 2:
        raise ModelError(f"{where}: the head size n_embd / n_head ({config.head_size}) must be even for rotary "
                         f"positions")
    scaling = dict(config.rope_scaling or ())
    kind = scaling.get("rope_type", scaling.get("type", "default"))
    if kind not in ROPE_TYPES:
        raise ModelError(f"{where}: rope_scaling type '{kind}' is not drawn; drawn: {', '.join(ROPE_TYPES)}")
    need = {"linear": ("factor",),
            "llama3": ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings")}
    for key in need.get(kind, ()):
        if not isinstance(scaling.get(key), (int, float)) or isinstance(scaling.get(key), bool):
            raise ModelError(f"{where}: rope_scaling of type '{kind}' needs a number '{key}'")


def from_hf_config(data: dict, where: str) -> dict:
    """ModelConfig fields from a Hugging Face Llama / Qwen2 / Mistral config.json."""
    from ..hf import fields, optional
    arch = data["architectures"][0]
    out = fields(data, where, n_layer="num_hidden_layers", n_head="num_attention_heads", n_embd="hidden_size",
                 vocab_size="vocab_size", n_inner="intermediate_size")
    out["n_kv_head"] = optional(data, where, "num_key_value_heads", int, out["n_head"])
    out["block_size"] = optional(data, where, "max_position_embeddings", int, 2048)
    window = data.get("sliding_window") if arch == "MistralForCausalLM" or data.get("use_sliding_window") else None
    if isinstance(window, int) and not isinstance(window, bool) and window > 0:
        out["block_size"] = min(out["block_size"], window)  # no sequence we draw reaches past the window
    out["norm_eps"] = float(optional(data, where, "rms_norm_eps", float, 1e-6))
    rope = data.get("rope_parameters") if isinstance(data.get("rope_parameters"), dict) else {}
    out["rope_theta"] = float(optional(data, where, "rope_theta", float, rope.get("rope_theta", 10000.0)))
    scaling = data.get("rope_scaling") or {k: v for k, v in rope.items() if k != "rope_theta"}
    if not isinstance(scaling, dict):
        raise ModelError(f"{where}: field 'rope_scaling' must be a table, got {scaling!r}")
    if scaling.get("rope_type", scaling.get("type", "default")) != "default":
        out["rope_scaling"] = scaling
    out["tied"] = bool(optional(data, where, "tie_word_embeddings", bool, False))
    out["qkv_bias"] = arch == "Qwen2ForCausalLM"
    for flag in ("attention_bias", "mlp_bias"):
        if data.get(flag):
            raise ModelError(f"{where}: field '{flag}' is true; biases on the output projection or the MLP are "
                             f"not drawn")
    head_dim = data.get("head_dim")
    if head_dim is not None and head_dim != out["n_embd"] // out["n_head"]:
        raise ModelError(f"{where}: field 'head_dim' ({head_dim}) differs from hidden_size / num_attention_heads "
                         f"({out['n_embd'] // out['n_head']}); such heads are not drawn")
    if isinstance(data.get("bos_token_id"), int):
        out["bos_token_id"] = data["bos_token_id"]
    return out


# ------------------------------------------------------------------------------------------ trace

# Every trace name with its dims, in computation order. Dims: T tokens, C n_embd, nh query heads, nkv
# key/value heads, A head size, A/2 the rotary pairs, F the MLP's width, V vocab.
EMBEDDING_TRACE = {"tokens": "T", "x": "T C", "rope.angle": "T A/2"}
BLOCK_TRACE = {
    "ln1.rms": "T", "ln1": "T C",
    "q": "nh T A", "k": "nkv T A", "v": "nkv T A", "q_rot": "nh T A", "k_rot": "nkv T A",
    "att": "nh T T", "att.max": "nh T", "att.sumexp": "nh T", "att_sm": "nh T T",
    "y": "T C", "attn_proj": "T C", "attn_resid": "T C",
    "ln2.rms": "T", "ln2": "T C",
    "gate": "T F", "up": "T F", "silu": "T F", "swiglu": "T F", "mlp": "T C", "mlp_resid": "T C",
}
HEAD_TRACE = {"ln_f.rms": "T", "ln_f": "T C",
              "logits": "T V", "logits.max": "T", "logits.sumexp": "T", "probs": "T V"}
#: The MLP's neurons (see gpt2.NEURONS): gate rows are the directions, a neuron's output SiLU(gate) x up.
NEURONS = {"pre": "gate", "up_weight": "gate_weight", "act": "swiglu", "act_name": "SiLU(gate) x up",
           "down_weight": "down_weight", "closeup": "gated_value"}



def dims(config, t: int) -> dict[str, int]:
    return {"T": t, "C": config.n_embd, "F": config.mlp_size, "nh": config.n_head, "nkv": config.kv_heads,
            "A": config.head_size, "A/2": config.head_size // 2, "V": config.vocab_size}


def angles(config, t: int) -> np.ndarray:
    """The rotation angle of every position and pair (T, A/2): position * inv_freq."""
    freq = inv_freq(config.head_size, config.rope_theta, dict(config.rope_scaling or ()))
    return np.arange(t, dtype=np.float32)[:, None] * freq[None, :]


# ------------------------------------------------------------------------------------------ forward

class _Block(NamedTuple):
    """One decoder layer's parameters (nn.Linear weights [out, in]; q/k/v biases only in Qwen2)."""

    ln_1: Affine  # (C,)
    q: Affine  # (nh A, C)
    k: Affine  # (nkv A, C)
    v: Affine  # (nkv A, C)
    o: Affine  # (C, nh A)
    ln_2: Affine  # (C,)
    gate: Affine  # (F, C)
    up: Affine  # (F, C)
    down: Affine  # (C, F)


_BLOCK_KEYS = ("input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
               "post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")


def final_norm(params: Mapping[str, np.ndarray], config, x: np.ndarray) -> np.ndarray:
    """The final RMSNorm of residual rows x (N, C), without recording (the logit lens)."""
    return rms_norm(lambda _n, v: v, "ln_f", x, bind(params, "model.norm"), config.norm_eps)


def forward(params: Mapping[str, np.ndarray], config, idx: np.ndarray, record: Record) -> None:
    """The Llama family's forward pass on token ids idx (T,), every intermediate recorded."""
    T, nh, nkv, A = idx.size, config.n_head, config.kv_heads, config.head_size
    eps = config.norm_eps
    x = record("x", params[TOKEN_EMBEDDING][idx])  # (T, C) gathered: a copy
    angle = record("rope.angle", angles(config, T))  # (T, A/2)
    for i in range(config.n_layer):
        block = _Block(*(bind(params, f"{_layer_keys(i)}{key}") for key in _BLOCK_KEYS))
        p = f"h{i}."
        # grouped-query attention with rotary positions
        h = rms_norm(record, p + "ln1", x, block.ln_1, eps)  # (T, C)
        q = record(p + "q", np.ascontiguousarray(linear(h, block.q).reshape(T, nh, A).transpose(1, 0, 2)))  # (nh, T, A)
        k = record(p + "k", np.ascontiguousarray(linear(h, block.k).reshape(T, nkv, A).transpose(1, 0, 2)))  # (nkv, T, A)
        v = record(p + "v", np.ascontiguousarray(linear(h, block.v).reshape(T, nkv, A).transpose(1, 0, 2)))  # (nkv, T, A)
        q = record(p + "q_rot", rotate(q, angle))  # (nh, T, A)
        k = record(p + "k_rot", rotate(k, angle))  # (nkv, T, A)
        y = record(p + "y", attention(record, p, q, k, v))  # (T, C) heads side by side
        proj = record(p + "attn_proj", linear(y, block.o))  # (T, C)
        x = record(p + "attn_resid", x + proj)  # (T, C)
        # SwiGLU MLP
        h = rms_norm(record, p + "ln2", x, block.ln_2, eps)  # (T, C)
        gate = record(p + "gate", linear(h, block.gate))  # (T, F)
        up = record(p + "up", linear(h, block.up))  # (T, F)
        act = record(p + "silu", silu(gate))  # (T, F)
        m = record(p + "swiglu", act * up)  # (T, F)
        m = record(p + "mlp", linear(m, block.down))  # (T, C)
        x = record(p + "mlp_resid", x + m)  # (T, C)
    h = rms_norm(record, "ln_f", x, bind(params, "model.norm"), eps)  # (T, C)
    lm_head(record, h, params["lm_head.weight"])  # logits (T, V) and probs (T, V)


# ------------------------------------------------------------------------------------------ blocks

def _norm(kit, prefix: str, key: str, src: str, param: str, inp: str, label: str, **kw) -> list:
    k = f"{prefix}{key}"
    rms = kit.row(f"{k}.rms", f"{label} RMS", f"{src}.rms", "rms", reads=(inp,), **kw)
    gain = kit.vec(f"{k}.gain", f"{label} Gain", f"{param}.weight", **kw)
    out = kit.act(k, label, src, "rmsnorm", reads=(inp, rms.key, gain.key), **kw)
    return [kit.Band([rms]), kit.Band([out], left=[gain])]


def bands(kit, config, t: int) -> list:
    """The model as bands, grouped: (section, layer, bands) in computation order. Each K/V head is
    drawn once, amid the depths of the query heads of its group, which read it."""
    Band, act, vec, mat, block, row = kit.Band, kit.act, kit.vec, kit.mat, kit.block, kit.row
    c, a, nh, nkv = config.n_embd, config.head_size, config.n_head, config.kv_heads
    rep = nh // nkv
    out: list = []

    emb = {"section": "Embedding", "group": "Embedding"}
    tokens = row("tokens", "Tokens", "tokens", "token", kind="intermediate", **emb)
    wte = block("wte", "Token Embed", "weight", f"param:{TOKEN_EMBEDDING}", "param", "C", "n_vocab", 0, 1, c, **emb)
    rope = block("rope", "Rotary Angles", "intermediate", "rope.angle", "rope_angle", "A/2", "T", 0, 1, a // 2, **emb)
    x = act("x", "Input Embed", "x", "lookup", reads=(tokens.key, wte.key), **emb)
    out.append(("Embedding", -1, [Band([tokens]), Band([x], left=[wte], right=[rope])]))
    resid = x.key

    for i in range(config.n_layer):
        p, q = f"h{i}.", f"param:{_layer_keys(i)}"
        sec = {"section": f"Transformer {i}", "layer": i}
        layer = _norm(kit, p, "ln1", f"h{i}.ln1", f"{q}input_layernorm", resid, "RMSNorm 1", group="Layer Norm 1",
                      **sec)
        att = {"group": "Self-attention", **sec}
        per_head: list = []
        att_bands, y_bands = [], []
        for h in range(nh):
            hp, g = f"{p}head{h}.", h // rep
            owner = f"{p}head{g * rep}."  # the query head at whose depth K/V head g is drawn
            for name in ("q", "k", "v"):
                head = h if name == "q" else g
                kw = dict(att, head=h, span=1 if name == "q" else rep)
                if name != "q" and h % rep:
                    per_head.append(Band([]))
                    continue
                w = mat(f"{hp}{name}_weight", f"{name.upper()} Weights",
                        f"{q}self_attn.{name}_proj.weight", "A", "C", head * a * c, **kw)
                left = [w]
                if config.qkv_bias:
                    left.insert(0, vec(f"{hp}{name}_bias", f"{name.upper()} Bias",
                                       f"{q}self_attn.{name}_proj.bias", "A", head * a, **kw))
                vec_ = block(f"{hp}{name}", f"{name.upper()} Vectors", "intermediate", f"h{i}.{name}", "matmul",
                             "A", "T", head * t * a, 1, a, reads=(f"{p}ln1", *(b.key for b in left)), **kw)
                right = []
                if name != "v":
                    right.append(block(f"{hp}{name}_rot", f"Rotated {name.upper()}", "intermediate",
                                       f"h{i}.{name}_rot", "rope", "A", "T", head * t * a, 1, a,
                                       reads=(vec_.key, "rope"), **kw))
                per_head.append(Band([vec_], left=left[::-1], right=right))
            band, soft = kit.attention(hp, f"h{i}.", h, h, f"{hp}q_rot", k=f"{owner}k_rot", **att)
            y = block(f"{hp}y", "V Output", "intermediate", f"h{i}.y", "attend", "A", "T", h * a, 1, c,
                      head=h, reads=(soft.key, f"{owner}v"), **att)
            att_bands.append(band)
            y_bands.append(Band([y]))
        layer += kit.merge_heads(per_head, 3) + kit.merge_heads(att_bands, 1) + kit.merge_heads(y_bands, 1)

        proj = {"group": "Projection", **sec}
        pw = mat(f"{p}proj_weight", "Output Projection Weights", f"{q}self_attn.o_proj.weight", "C", "C", **proj)
        heads_y = tuple(f"{p}head{h}.y" for h in range(nh))
        po = act(f"{p}attn_proj", "Attention Output", f"h{i}.attn_proj", "matmul", reads=(*heads_y, pw.key), **proj)
        pr = act(f"{p}attn_resid", "Attention Residual", f"h{i}.attn_resid", "residual", reads=(resid, po.key),
                 **proj)
        layer += [Band([po], left=[pw]), Band([pr])]

        layer += _norm(kit, p, "ln2", f"h{i}.ln2", f"{q}post_attention_layernorm", pr.key, "RMSNorm 2",
                       group="Layer Norm 2", **sec)
        mlp = {"group": "MLP", **sec}
        gw = mat(f"{p}gate_weight", "Gate Weights", f"{q}mlp.gate_proj.weight", "F", "C", **mlp)
        gate = act(f"{p}gate", "Gate", f"h{i}.gate", "matmul", "F", reads=(f"{p}ln2", gw.key), **mlp)
        sl = act(f"{p}silu", "SiLU", f"h{i}.silu", "silu", "F", reads=(gate.key,), **mlp)
        uw = mat(f"{p}up_weight", "Up Weights", f"{q}mlp.up_proj.weight", "F", "C", **mlp)
        up = act(f"{p}up", "Up", f"h{i}.up", "matmul", "F", reads=(f"{p}ln2", uw.key), **mlp)
        prod = act(f"{p}swiglu", "SiLU x Up", f"h{i}.swiglu", "product", "F", reads=(sl.key, up.key), **mlp)
        dw = mat(f"{p}down_weight", "Down Weights", f"{q}mlp.down_proj.weight", "C", "F", **mlp)
        mo = act(f"{p}mlp", "MLP Result", f"h{i}.mlp", "matmul", reads=(prod.key, dw.key), **mlp)
        mr = act(f"{p}mlp_resid", "MLP Residual", f"h{i}.mlp_resid", "residual", reads=(pr.key, mo.key), **mlp)
        layer += [Band([gate], left=[gw], right=[sl]), Band([up], left=[uw], right=[prod]), Band([mo], left=[dw]),
                  Band([mr])]
        out.append((f"Transformer {i}", i, layer))
        resid = mr.key

    outb = _norm(kit, "", "ln_f", "ln_f", "param:model.norm", resid, "Final RMSNorm", group="Final Layer Norm",
                 section="Output")
    out.append(("Output", -1, outb + kit.output("ln_f", "param:lm_head.weight",
                                                  "LM Head (tied: Token Embed)" if config.tied else None)))
    return out


# ------------------------------------------------------------------------------------------ captions
# Each takes the walkthrough's Story `s` (timeline/story.py): its facts, the layer told in detail, its
# language (s.lang) and what a plan is told with (s.Plan, s.closeups, s.token_text, s.CLOSEUP_WINDOW).
# They tell what differs from GPT-2, and why, with the trace's numbers.

def tell_embedding(s) -> list:
    f, cfg, Plan, L = s.facts, s.facts.config, s.Plan, s.lang
    t, tok, half = f.t, f.tokens[0], cfg.head_size // 2
    last, theta = t - 1, L.num(format(cfg.rope_theta, "g"))
    return [
        Plan(L.tr("Token {token} picks column {id} of the token embedding: that is the first input column, top value "
                  "{v}. Unlike GPT-2, no position is added here.", token=s.token_text(cfg, tok), id=tok,
                  v=f.cell('x', 0, 0)),
             [("x", 0, 1)], weight=2.0, focus=["x", "wte"], sources=["tokens", "wte"]),
        Plan(L.trn("Every token gets its column the same way: {n} column of {c} numbers.",
                   "Every token gets its column the same way: {n} columns of {c} numbers.", t, c=cfg.n_embd),
             [("x", 1, t)], weight=1.5, focus=["x", "wte"], sources=["tokens", "wte"]),
        Plan(L.tr("Positions enter later, as rotations (RoPE): pair j of position p turns by p x {theta}^(-2j/{a}) "
                  "radians. Position {p} turns its first pair by {first} rad and its last by {last}.",
                  theta=theta, a=cfg.head_size, p=last, first=f.cell('rope', 0, last),
                  last=f.cell('rope', half - 1, last)), s.whole("rope"), weight=2.0, focus=["rope"]),
    ]


def tell_layer_norm(s) -> list:
    f, Plan, L = s.facts, s.Plan, s.lang
    t, key = f.t, f"h{s.layer}.ln1"
    rms, x, v = f.cell(f"{key}.rms", 0, 0), f.cell(s.layout[key].reads[0], 0, 0), f.cell(key, 0, 0)
    if f.has_values(f"{key}.gain"):
        scaled = L.tr("Each value is divided by it and scaled by a learned gain: x / rms * gain: {x} / {rms} * {g} "
                      "= {v}.", x=x, rms=rms, g=f.cell(f'{key}.gain', 0, 0), v=v)
    else:
        scaled = L.tr("Each value is divided by it and scaled by a learned gain: x / rms * gain.")
    return [
        Plan(L.tr("RMSNorm works on one column at a time. Unlike layer norm it takes no mean away: it divides by the "
                  "root mean square, sqrt(mean(x^2) + eps): {rms} for the first column.", rms=rms),
             s.whole(f"{key}.rms"), weight=1.5),
        Plan(scaled, [(key, 0, 1)], weight=1.5),
        Plan(L.tr("The same for every column: one statistic instead of two, and no bias, for the same stable scale."),
             [(key, 1, t)]),
    ]


def tell_attention_inputs(s) -> list:
    """Head 0's queries, their rotation, and the keys and values its group shares."""
    f, cfg, Plan, L = s.facts, s.facts.config, s.Plan, s.lang
    t, p, a = f.t, f"h{s.layer}.", cfg.head_size
    h0, nh, nkv = f"{p}head0.", cfg.n_head, cfg.kv_heads
    rep = nh // nkv
    has_w = f.has_values(f"{h0}q_weight")
    pos = min(t - 1, 3)
    rot = s.closeups.rotary_pair(f, s.layer, 0, 0, pos)
    cache = 2 * nkv * a
    q = L.num(f.cell(f'{h0}q', 0, 0), 3)
    return [
        Plan(L.tr("Head 0 starts with queries. One Q value is a row of Q weights times the normalised column, plus "
                  "a bias: {q}.", q=q) if cfg.qkv_bias else
             L.tr("Head 0 starts with queries. One Q value is a row of Q weights times the normalised column: {q}.",
                  q=q), [(f"{h0}q", 0, 1)],
             weight=2.0, closeup=s.closeups.q_value(f, s.layer, 0, 0, 0) if has_w else None,
             window=s.CLOSEUP_WINDOW),
        Plan(L.tr("Then each query is rotated: element j and element j + {half} form a pair, turned by its position's "
                  "angle. At position {p} the first pair turns by {angle} rad and becomes ({x}, {y}).", half=a // 2,
                  p=pos, angle=float(rot.numbers['angle']), x=float(rot.numbers['after'][0]),
                  y=float(rot.numbers['after'][1])),
             [(f"{h0}q", 1, t), *s.whole(f"{h0}q_rot")], weight=2.5, closeup=rot, window=s.CLOSEUP_WINDOW),
        Plan(L.tr("Keys are rotated the same way, so a query meets a key at the angle of their distance: attention "
                  "sees relative positions."), s.whole(f"{h0}k", f"{h0}k_rot"), weight=1.5),
        Plan(L.trn("Grouped-query attention: every query head computes its own Q, but only {n} K/V head serves the "
                   "{nh}, {rep} each. The KV cache keeps {cache} numbers per token and layer instead of {full}: {rep} "
                   "times less.",
                   "Grouped-query attention: every query head computes its own Q, but only {n} K/V heads serve the "
                   "{nh}, {rep} each. The KV cache keeps {cache} numbers per token and layer instead of {full}: {rep} "
                   "times less.", nkv, nh=nh, rep=rep, cache=cache, full=2 * nh * a),
             [(f"{h0}v", 0, t), *((f"{p}head{h}.{k}", 0, t) for h in range(1, nh) for k in ("q", "q_rot")),
              *((f"{p}head{g * rep}.{k}", 0, t) for g in range(1, nkv) for k in ("k", "k_rot", "v"))],
             weight=2.5, focus=[b.key for b in s.layout.blocks if b.layer == s.layer and b.key.endswith(
                 (".q_rot", ".k_rot", ".v"))]),
    ]


def tell_mlp(s) -> list:
    f, cfg, Plan, L = s.facts, s.facts.config, s.Plan, s.lang
    t, p, c, w = f.t, f"h{s.layer}.", cfg.n_embd, cfg.mlp_size
    j = s.closeups.gated_row(f, s.layer, 0)
    has_w = f.has_values(f"{p}gate_weight")
    g, u, act, prod = (L.num(f.cell(f"{p}{k}", j, 0), 3) for k in ("gate", "up", "silu", "swiglu"))
    first = [(f"{p}{k}", 0, 1) for k in ("gate", "silu", "up", "swiglu")]
    return [
        Plan(L.tr("RMSNorm again, before the MLP."), s.whole(f"{p}ln2.rms", f"{p}ln2")),
        Plan(L.tr("The gated MLP (SwiGLU) widens each column twice, to {w} numbers: a gate and an up projection. "
                  "Value {j} of the first column: gate {g}, SiLU of it {act}, times up {u} gives {prod}.", w=w, j=j,
                  g=g, act=act, u=u, prod=prod), first, weight=2.5,
             closeup=s.closeups.gated_value(f, s.layer, j, 0) if has_w else None, window=s.CLOSEUP_WINDOW),
        Plan(L.tr("Every column the same: SiLU lets positive gate values through and nearly closes negative ones, so "
                  "the gate decides how much of each up value passes."),
             [(f"{p}{k}", 1, t) for k in ("gate", "silu", "up", "swiglu")], weight=1.5),
        Plan(L.tr("The down projection brings the {w} numbers back to {c}.", w=w, c=c), s.whole(f"{p}mlp")),
        Plan(L.tr("The result joins the residual stream. Layer {i} is done.", i=s.layer), s.whole(f"{p}mlp_resid")),
    ]


def tell_final_norm(s):
    return s.Plan(s.lang.tr("A final RMSNorm: each column is divided by its root mean square once more."),
                  s.whole("ln_f.rms", "ln_f"))
