"""torchref — a Llama-style reference engine on PyTorch's own CPU kernels, traced in the seeds' protocol.

Ground truth for tracediff's accuracy (see README.md in this folder). The engine is a small decoder (RMSNorm,
RoPE, grouped-query causal attention with a KV cache, SwiGLU MLP) with random weights drawn from a seed. It runs
the seeds' protocol on a prompt of n tokens:

  1. prefill over the n tokens (one GEMM per projection, full causal softmax): recorded as phase `prefill_last`
     (the last row, step 0);
  2. a fresh cache, prefill over the first n-1 tokens (not recorded), then one decode step for token n-1 at
     position n-1 (split-K projections, flash-decoding attention): recorded as phase `decode0` (step 1).

Mixed precision as real engines keep it (dtype "bf16"): weights and activations in bf16; RMSNorm, RoPE, SiLU and
residual adds computed in f32 and rounded once; attention scores and probabilities in f32 (computed from the bf16
q, k); logits in f32. Prefill projections are one GEMM (torch.matmul, bf16 in, bf16 out). Decode projections are
split-K: the reduction dimension is cut into SPLIT_K slices, each slice's partial product is computed in f32 and
**stored in bf16** (as split-K decode kernels store their partials in the activation dtype), then the partials are
summed in f32 and rounded. Decode attention is split-K over the keys with a running max (flash-decoding): blocks of
ATTN_BLOCK keys, each block's max, exponentials, sum and P.V in f32, merged into the running (max, sum, output) with
rescaling. With dtype "f32" everything is f32 and the same kernels are used (the partials then stay f32).

Bugs (BUGS below; each changes one path only) and the place a differ must find each (TRUE_POINT, with the reason).

Writing traces: the engine hands each captured tensor to a sink with its key fields, `put(tensor, point=...,
layer=..., phase=..., step=..., prompt_id=..., token_id=..., pos_id=..., logical_tok_idx=..., rows=...)`, then
`close()`. open_sink() picks the sink: the Python package's `tensortrace.Writer` when the package is importable
(python/ of this checkout, or installed), else NpySink, which saves .npy files and a JSON manifest and converts
them with npy2tt (this folder, built by CMake). $TT_ACCURACY_WRITER=tensortrace|npy forces one.
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass

import numpy as np
import torch

torch.set_num_threads(1)  # one thread: the kernels' reduction order, hence every result, is reproducible

SPLIT_K = 4          # slices of the reduction dimension in a decode projection
ATTN_BLOCK = 64      # keys per block of the decode attention
PREFILL_TILE = 256   # query rows per tile of the prefill attention
MASK_LEAK_FROM = 512  # mask_leak: query positions from here on see one key past themselves
BUG_RMS_EPS = 1e-5   # norm_eps: the decode path's eps (the model's is Config.rms_eps = 1e-6)
V_SCALE = 1.01       # v_scale: the decode V projection is scaled by this

# The capture points in pipeline order: tracediff's default stage order (TT_DIFF_DEFAULT_STAGES in tt/diff.h).
LAYER_POINTS = ("residual_pre_attn", "attn_norm_out", "q_pre_rope", "k_pre_rope", "v", "q_post_rope",
                "k_post_rope", "k_cache", "v_cache", "attn_scores", "attn_probs", "attn_out",
                "residual_post_attn", "ffn_norm_in", "mlp_out", "residual_post_mlp")
CACHE_POINTS = ("k_cache", "v_cache")

# name -> what it does. Decode-path bugs change only phase decode0; mask_leak changes only the prefill.
BUGS = {
    "none": "the correct engine",
    "v_cache_off_by_one": "decode stores the previous token's V in the cache row of the current token",
    "rope_pos": "decode rotates q and k for position pos+1",
    "v_scale": "decode's V projection is scaled by 1.01 (a fresh 1 % error)",
    "norm_eps": "decode's RMSNorms use eps 1e-5 where the model's is 1e-6 (about 1 % at layer 0)",
    "softmax_scale": "decode scales the scores by 1/sqrt(64), the head dim padded to 64, instead of 1/sqrt(32)",
    "mask_leak": "prefill: query positions >= 512 also see the key one past themselves",
}

PREFILL_BUGS = ("mask_leak",)

# bug -> (layer, point) where it starts, as the records show it, and why. `cache` = k_cache/v_cache are traced.
def true_point(bug, cache=True):
    """The (layer, point) where BUG first shows in a prefill_last vs decode0 comparison, with the reason.

    With the cache points traced (cache=True) or not; None when the bug cannot show at all (mask_leak without
    the cache: only the cache rows of earlier positions carry it)."""
    if bug == "v_cache_off_by_one":
        if cache:
            return 0, "v_cache", "row n-1 of the V cache decode reads is the previous token's V; v itself is right"
        return 0, "attn_out", "the attention reads the wrong V row; q, k, scores and probabilities are right"
    if bug == "rope_pos":
        return 0, "q_post_rope", "RoPE is the first stage that uses the position; q is rotated before k"
    if bug == "v_scale":
        return 0, "v", "the V projection's output itself is 1 % off; its input is bitwise equal"
    if bug == "norm_eps":
        return 0, "attn_norm_out", "the first RMSNorm; its input (the embedding) is bitwise equal"
    if bug == "softmax_scale":
        return 0, "attn_scores", "the scale is applied before the scores are recorded; q and k are right"
    if bug == "mask_leak":
        if cache:
            return 1, "k_cache", ("row n-2 saw key n-1 in the n-token prefill but not in the (n-1)-token prefill "
                                  "that filled decode's cache: its layer-0 output differs, hence its layer-1 K")
        return None
    raise ValueError(f"unknown bug {bug!r}")


def bug_active(bug, ctx):
    """Whether BUG can change anything at context length CTX (mask_leak needs row n-2 >= MASK_LEAK_FROM)."""
    return bug != "mask_leak" or ctx - 2 >= MASK_LEAK_FROM


@dataclass(frozen=True)
class Config:
    layers: int = 4
    hidden: int = 128
    heads: int = 4
    kv_heads: int = 2
    ffn: int = 352
    vocab: int = 256
    rms_eps: float = 1e-6
    rope_theta: float = 10000.0

    @property
    def head_dim(self):
        return self.hidden // self.heads

    def name(self):
        return (f"torchref-L{self.layers}-H{self.hidden}-heads{self.heads}-kv{self.kv_heads}-"
                f"hd{self.head_dim}-ffn{self.ffn}-vocab{self.vocab}")


DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16}


class Weights:
    """Random weights drawn from SEED, scaled like a real model, stored in the activation dtype."""

    def __init__(self, cfg, seed, adt):
        g = torch.Generator().manual_seed(seed)

        def randn(*shape, scale):
            return (torch.randn(*shape, generator=g) * scale).to(adt)

        def gain(n):
            return (1 + 0.05 * torch.randn(n, generator=g)).to(adt)

        h, d, kvd = cfg.hidden, cfg.head_dim, cfg.kv_heads * cfg.head_dim
        self.embed = randn(cfg.vocab, h, scale=0.02)
        self.layers = []
        for _ in range(cfg.layers):
            self.layers.append(dict(
                attn_norm=gain(h),
                wq=randn(h, cfg.heads * d, scale=1.5 / math.sqrt(h)),
                wk=randn(h, kvd, scale=1.5 / math.sqrt(h)),
                wv=randn(h, kvd, scale=1 / math.sqrt(h)),
                wo=randn(cfg.heads * d, h, scale=0.5 / math.sqrt(cfg.heads * d)),
                ffn_norm=gain(h),
                wg=randn(h, cfg.ffn, scale=1 / math.sqrt(h)),
                wu=randn(h, cfg.ffn, scale=1 / math.sqrt(h)),
                wd=randn(cfg.ffn, h, scale=0.5 / math.sqrt(cfg.ffn)),
            ))
        self.final_norm = gain(h)
        self.lm_head = randn(h, cfg.vocab, scale=1 / math.sqrt(h))


def prompt_tokens(cfg, seed, n):
    g = torch.Generator().manual_seed(seed * 1000003 + n)
    return torch.randint(0, cfg.vocab, (n,), generator=g)


class Engine:
    """One model (config, seed, dtype, bug); `protocol()` runs the seeds' protocol and records to a sink."""

    def __init__(self, cfg, seed, dtype="bf16", bug="none"):
        if bug not in BUGS:
            raise ValueError(f"unknown bug {bug!r}; one of {', '.join(BUGS)}")
        if dtype not in DTYPES:
            raise ValueError(f"unknown dtype {dtype!r}; one of {', '.join(DTYPES)}")
        self.cfg, self.seed, self.dtype, self.bug = cfg, seed, dtype, bug
        self.adt = DTYPES[dtype]
        self.w = Weights(cfg, seed, self.adt)
        d = cfg.head_dim
        # The RoPE table, computed once as engines do (rotate-half pairing): cos/sin[pos, i] for frequency i.
        inv = cfg.rope_theta ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
        self.max_pos = 4096
        ang = torch.arange(self.max_pos + 1, dtype=torch.float64)[:, None] * inv[None, :]
        self.cos, self.sin = torch.cos(ang).float(), torch.sin(ang).float()

    # --- kernels shared by both paths ---------------------------------------------------------------------------

    def rmsnorm(self, x, g, decode):
        eps = BUG_RMS_EPS if (decode and self.bug == "norm_eps") else self.cfg.rms_eps
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps) * g.float()).to(self.adt)

    def rope(self, x, pos):
        """x [rows, heads, d] at positions pos [rows] (long), rotate-half pairing, in f32, rounded once."""
        half = x.shape[-1] // 2
        c, s = self.cos[pos][:, None, :], self.sin[pos][:, None, :]
        xf = x.float()
        x1, x2 = xf[..., :half], xf[..., half:]
        return torch.cat((x1 * c - x2 * s, x2 * c + x1 * s), -1).to(self.adt)

    def add(self, a, b):
        return (a.float() + b.float()).to(self.adt)

    def swiglu(self, gate, up):
        return (torch.nn.functional.silu(gate.float()) * up.float()).to(self.adt)

    # --- prefill kernels: one GEMM per projection, full causal softmax -----------------------------------------

    def gemm(self, x, w):
        return torch.matmul(x, w)

    def prefill_attention(self, q, k, v, scale):
        """q [n, h, d], k/v [n, kvh, d] -> (out [n, h*d], scores [1, h, n] f32, probs [1, h, n] f32): the scores
        and probabilities of the last row only (the one recorded).

        In tiles of PREFILL_TILE query rows, each against the keys up to the tile's last row (the causal skip of
        flash-attention prefill kernels); one GEMM for the scores, a full softmax per row, one GEMM for P.V."""
        n, h, d = q.shape
        rep = h // k.shape[1]
        kf = k.float().repeat_interleave(rep, dim=1).permute(1, 2, 0)   # [h, d, n]
        vf = v.float().repeat_interleave(rep, dim=1).transpose(0, 1)    # [h, n, d]
        qf = q.float().transpose(0, 1)                                   # [h, n, d]
        out = torch.empty(h, n, d)
        for a in range(0, n, PREFILL_TILE):
            b = min(n, a + PREFILL_TILE)
            kv_end = min(n, b + 1) if self.bug == "mask_leak" else b
            s = torch.matmul(qf[:, a:b], kf[:, :, :kv_end]) * scale         # [h, T, kv_end]
            i = torch.arange(a, b)[:, None]
            j = torch.arange(kv_end)[None, :]
            masked = j > i
            if self.bug == "mask_leak":
                masked &= ~((j == i + 1) & (i >= MASK_LEAK_FROM))
            s.masked_fill_(masked[None], float("-inf"))
            p = torch.softmax(s, dim=-1)
            out[:, a:b] = torch.matmul(p, vf[:, :kv_end])
        scores, probs = s[:, -1:].transpose(0, 1), p[:, -1:].transpose(0, 1)
        return out.transpose(0, 1).reshape(n, h * d).to(self.adt), scores, probs

    # --- decode kernels: split-K projections with bf16 partials, flash-decoding attention ----------------------

    def splitk(self, x, w, pdt=None):
        """x [1, K] @ w [K, N]: SPLIT_K slices of K, each partial in f32 stored in pdt (default the activation
        dtype), summed in f32, rounded to pdt."""
        pdt = pdt or self.adt
        kdim = x.shape[-1]
        bounds = [kdim * s // SPLIT_K for s in range(SPLIT_K + 1)]
        acc = None
        for a, b in zip(bounds, bounds[1:]):
            part = torch.matmul(x[:, a:b].float(), w[a:b].float()).to(pdt).float()
            acc = part if acc is None else acc + part
        return acc.to(pdt)

    def decode_attention(self, q, kc, vc, scale):
        """q [1, h, d], cache kc/vc [n, kvh, d] -> (out [1, h*d], scores [1, h, n] f32, probs [1, h, n] f32).

        Blocks of ATTN_BLOCK keys merged into a running (max m, sum l, output o), as flash-decoding does. The
        probabilities are never materialised by such a kernel: they are rebuilt after the pass from the recorded
        scores and the final m and l, exp(s - m) / l, as a debugging dump of the kernel would."""
        h, d = q.shape[1], q.shape[2]
        rep = h // kc.shape[1]
        qf = q.float()[0]                                                 # [h, d]
        m = torch.full((h, 1), float("-inf"))
        l = torch.zeros(h, 1)
        o = torch.zeros(h, d)
        blocks = []
        for a in range(0, kc.shape[0], ATTN_BLOCK):
            kb = kc[a:a + ATTN_BLOCK].float().repeat_interleave(rep, dim=1).permute(1, 2, 0)  # [h, d, B]
            vb = vc[a:a + ATTN_BLOCK].float().repeat_interleave(rep, dim=1).transpose(0, 1)   # [h, B, d]
            s = torch.matmul(qf[:, None, :], kb)[:, 0, :] * scale           # [h, B]
            blocks.append(s)
            mb = torch.maximum(m, s.max(-1, keepdim=True).values)
            p = torch.exp(s - mb)
            alpha = torch.exp(m - mb)
            l = l * alpha + p.sum(-1, keepdim=True)
            o = o * alpha + torch.matmul(p[:, None, :], vb)[:, 0, :]
            m = mb
        scores = torch.cat(blocks, -1)
        probs = torch.exp(scores - m) / l
        out = (o / l).reshape(1, h * d).to(self.adt)
        return out, scores[None], probs[None]

    # --- the two paths ------------------------------------------------------------------------------------------

    def forward(self, tokens, decode, rec=None, cache=None):
        """Runs `tokens` through the model. Prefill (decode=False): every row at positions 0..n-1, returns the
        per-layer caches (k [n, kvh, d] after RoPE, v [n, kvh, d]). Decode: the single token at position
        len(cache), appended to `cache` (modified in place). rec(point, layer, tensor [rows, ...]) records."""
        cfg, w = self.cfg, self.w
        h, kvh, d = cfg.heads, cfg.kv_heads, cfg.head_dim
        rec = rec or (lambda *a: None)
        n = tokens.shape[0]
        start = cache[0][0].shape[0] if decode else 0
        pos = torch.arange(start, start + n)
        lin = self.splitk if decode else self.gemm
        padded = (d + 63) // 64 * 64
        scale = 1 / math.sqrt(padded if (decode and self.bug == "softmax_scale") else d)
        x = w.embed[tokens]
        rec("embed_out", -1, x)
        caches = []
        for li, lw in enumerate(w.layers):
            rec("residual_pre_attn", li, x)
            xn = self.rmsnorm(x, lw["attn_norm"], decode)
            rec("attn_norm_out", li, xn)
            q, k, v = lin(xn, lw["wq"]), lin(xn, lw["wk"]), lin(xn, lw["wv"])
            if decode and self.bug == "v_scale":
                v = (v.float() * V_SCALE).to(self.adt)
            rec("q_pre_rope", li, q)
            rec("k_pre_rope", li, k)
            rec("v", li, v)
            rpos = pos + 1 if (decode and self.bug == "rope_pos") else pos
            q = self.rope(q.reshape(n, h, d), rpos)
            k = self.rope(k.reshape(n, kvh, d), rpos)
            v = v.reshape(n, kvh, d)
            rec("q_post_rope", li, q.reshape(n, h * d))
            rec("k_post_rope", li, k.reshape(n, kvh * d))
            if decode:
                kc_old, vc_old = cache[li]
                v_store = vc_old[-1:] if self.bug == "v_cache_off_by_one" else v
                kc, vc = torch.cat((kc_old, k)), torch.cat((vc_old, v_store))
                cache[li] = (kc, vc)
            else:
                kc, vc = k, v
                caches.append((k, v))
            rec("k_cache", li, kc.reshape(-1, kvh * d))
            rec("v_cache", li, vc.reshape(-1, kvh * d))
            if decode:
                a, scores, probs = self.decode_attention(q, kc, vc, scale)
            else:
                a, scores, probs = self.prefill_attention(q, k, v, scale)
            rec("attn_scores", li, scores)
            rec("attn_probs", li, probs)
            attn_out = lin(a, lw["wo"])
            rec("attn_out", li, attn_out)
            x = self.add(x, attn_out)
            rec("residual_post_attn", li, x)
            xn = self.rmsnorm(x, lw["ffn_norm"], decode)
            rec("ffn_norm_in", li, xn)
            mlp = lin(self.swiglu(lin(xn, lw["wg"]), lin(xn, lw["wu"])), lw["wd"])
            rec("mlp_out", li, mlp)
            x = self.add(x, mlp)
            rec("residual_post_mlp", li, x)
        xn = self.rmsnorm(x, w.final_norm, decode)
        if decode:
            logits = self.splitk(xn, w.lm_head, torch.float32)  # f32 logits: partials stay f32
        else:
            logits = torch.matmul(xn.float(), w.lm_head.float())
        rec("logits", -1, logits)
        return caches, logits

    def prefill_key(self, n):
        """What the two prefills of the protocol depend on: a prefill computed for one engine serves every engine
        with the same key (the decode-path bugs share the correct engine's prefills)."""
        return (self.cfg, self.seed, self.dtype, n, self.bug if self.bug in PREFILL_BUGS else "none")

    def prefills(self, n):
        """The protocol's two prefills over the n-token prompt: (key, tokens, the n-token prefill's records as
        (point, layer, tensor) in capture order, the per-layer caches of the (n-1)-token prefill)."""
        if n < 2 or n > self.max_pos:
            raise ValueError(f"context {n} out of range 2..{self.max_pos}")
        tokens = prompt_tokens(self.cfg, self.seed, n)
        records = []
        self.forward(tokens, False, lambda point, layer, t: records.append((point, layer, t)))
        caches, _ = self.forward(tokens[:-1], False)
        return self.prefill_key(n), tokens, records, caches

    def protocol(self, sink, n, prompt_id=None, trace_cache=True, prefills=None):
        """The seeds' protocol on the n-token prompt of this seed; records go to `sink.put(tensor, **key)`.
        `prefills` (from prefills(n) of an engine with the same prefill_key) saves recomputing them.
        Returns the next token each path predicts (prefill_last, decode0)."""
        pf = prefills or self.prefills(n)
        if pf[0] != self.prefill_key(n):
            raise ValueError("prefills of another model, context or prefill bug")
        _, tokens, records, caches = pf
        key = dict(prompt_id=prompt_id or f"ctx{n}", token_id=int(tokens[-1]), logical_tok_idx=n - 1)

        def recorder(phase, step):
            def rec(point, layer, t):
                if point in CACHE_POINTS:
                    if trace_cache:
                        sink.put(t, point=point, layer=layer, phase=phase, step=step, pos_id=0,
                                 rows=t.shape[0], **key)
                    return
                last = t[-1:]  # prefill: the last row; decode: the only row
                sink.put(last, point=point, layer=layer, phase=phase, step=step, pos_id=n - 1, rows=1, **key)
            return rec

        rec = recorder("prefill_last", 0)
        for point, layer, t in records:
            rec(point, layer, t)
        logits_p = records[-1][2]
        _, logits_d = self.forward(tokens[-1:], True, recorder("decode0", 1), cache=list(caches))
        return int(logits_p[-1].argmax()), int(logits_d[-1].argmax())

    def meta(self, n):
        return {"engine": "torchref", "engine_version": "1", "model": self.cfg.name(), "dtype": self.dtype,
                "bug": self.bug, "seed": str(self.seed), "context": str(n), "device": "cpu",
                "torch": torch.__version__, "split_k": str(SPLIT_K), "attn_block": str(ATTN_BLOCK),
                "rms_eps": repr(self.cfg.rms_eps), "rope_theta": repr(self.cfg.rope_theta)}


# --- sinks ---------------------------------------------------------------------------------------------------------

def _to_numpy(t):
    """(array, trace dtype) of a CPU tensor: bf16 as its raw bits (uint16), f32 as is."""
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(np.uint16), "bf16"
    if t.dtype == torch.float32:
        return t.numpy(), "f32"
    raise TypeError(f"unsupported dtype {t.dtype}")


def default_npy2tt():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    return os.environ.get("TT_NPY2TT", os.path.join(root, "build", "tests", "accuracy", "npy2tt"))


class NpySink:
    """Collects records as .npy files plus manifest.json in a scratch folder; close() writes the trace with npy2tt
    and removes the folder."""

    def __init__(self, path, meta=None, npy2tt=None):
        self.path, self.meta = path, dict(meta or {})
        self.npy2tt = npy2tt or default_npy2tt()
        if not os.access(self.npy2tt, os.X_OK):
            raise FileNotFoundError(f"{self.npy2tt}: npy2tt not built (cmake --build build --target npy2tt) "
                                    "or set TT_NPY2TT")
        self.dir = tempfile.mkdtemp(prefix="torchref.", dir=os.path.dirname(os.path.abspath(path)))
        self.records = []

    def put(self, t, **key):
        arr, dt = _to_numpy(t)
        name = f"r{len(self.records):05d}.npy"
        np.save(os.path.join(self.dir, name), arr)
        self.records.append(dict(key, file=name, dtype=dt))

    def close(self):
        manifest = os.path.join(self.dir, "manifest.json")
        with open(manifest, "w") as f:
            json.dump({"meta": self.meta, "records": self.records}, f)
        try:
            r = subprocess.run([self.npy2tt, manifest, self.path], capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"npy2tt failed ({r.returncode}): {r.stderr.strip()}")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def open_sink(path, meta, npy2tt=None):
    """A sink writing the trace PATH with metadata META (see the module's docstring for the choice)."""
    writer = os.environ.get("TT_ACCURACY_WRITER", "auto")
    if writer not in ("auto", "tensortrace", "npy"):
        raise ValueError(f"TT_ACCURACY_WRITER={writer!r}: one of auto, tensortrace, npy")
    if writer != "npy":
        pkg = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "python")
        if os.path.isdir(os.path.join(pkg, "tensortrace")) and pkg not in sys.path:
            sys.path.insert(0, pkg)
        try:
            import tensortrace
        except ImportError:
            if writer == "tensortrace":
                raise
        else:
            return tensortrace.Writer(path, overwrite=True, meta=meta)
    return NpySink(path, meta, npy2tt)


def write_trace(path, seed, n, dtype="bf16", bug="none", cfg=None, trace_cache=True, npy2tt=None, prefills=None):
    """Runs the protocol for (seed, context n, dtype, bug) and writes the trace to PATH. `prefills`: see
    Engine.protocol. Returns (next tokens (prefill_last, decode0), the prefills used)."""
    eng = Engine(cfg or Config(), seed, dtype, bug)
    if prefills is None or prefills[0] != eng.prefill_key(n):
        prefills = eng.prefills(n)
    meta = eng.meta(n)
    meta["cache_points"] = "traced" if trace_cache else "not traced"
    sink = open_sink(path, meta, npy2tt)
    nxt = eng.protocol(sink, n, trace_cache=trace_cache, prefills=prefills)
    sink.close()
    return nxt, prefills
