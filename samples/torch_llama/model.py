"""
model.py — a small Llama-style decoder in plain PyTorch, with Hugging Face's module names (model.embed_tokens,
model.layers.N.{input_layernorm, self_attn.{q,k,v,o}_proj, post_attention_layernorm, mlp.{gate,up,down}_proj},
model.norm, lm_head), so tensortrace.torch.capture's default map fits it as it fits a real checkpoint. Weights
are random, drawn from a seed: nothing is downloaded.

The attention reports the points no module returns through tensortrace.torch.point (a no-op when nothing is
being captured): q and k after RoPE, the KV cache it attends over, the scores and probabilities, and the residual
after the attention. The one bug switch, bug="rope-pos", makes the decode path (one new token over a cache)
rotate q and k for position pos+1, the classic off-by-one of a position counter.
"""
import math
from dataclasses import dataclass

import torch
from torch import nn

from tensortrace.torch import point


@dataclass
class LlamaConfig:
    vocab_size: int = 512
    hidden_size: int = 256
    num_hidden_layers: int = 4
    num_attention_heads: int = 8
    num_key_value_heads: int = 2
    intermediate_size: int = 688
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    seed: int = 1
    bug: str = ""

    @property
    def head_dim(self):
        return self.hidden_size // self.num_attention_heads

    def check(self):
        if self.hidden_size % self.num_attention_heads or self.head_dim % 2:
            raise ValueError("hidden_size must be num_attention_heads x an even head_dim")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")
        if self.bug not in ("", "rope-pos"):
            raise ValueError(f"unknown bug '{self.bug}' (known: rope-pos)")


class KVCache:
    """Per layer, the keys (after RoPE) and values of every position so far: [batch, kv_len, kv_heads, head_dim]."""

    def __init__(self, n_layers):
        self.k = [None] * n_layers
        self.v = [None] * n_layers

    def length(self, layer=0):
        return 0 if self.k[layer] is None else self.k[layer].shape[1]

    def update(self, layer, k, v):
        if self.k[layer] is None:
            self.k[layer], self.v[layer] = k, v
        else:
            self.k[layer] = torch.cat([self.k[layer], k], dim=1)
            self.v[layer] = torch.cat([self.v[layer], v], dim=1)
        return self.k[layer], self.v[layer]


class LlamaRMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * xf.to(x.dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def apply_rope(x, positions, theta):
    """x: [batch, seq, heads, head_dim]; positions: [batch, seq]. Rotate-half pairing, as Hugging Face Llama."""
    d = x.shape[-1]
    inv = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
    ang = positions.to(torch.float32)[..., None] * inv  # [batch, seq, d/2]
    emb = torch.cat((ang, ang), dim=-1)[:, :, None, :]
    cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
    return x * cos + rotate_half(x) * sin


class LlamaAttention(nn.Module):
    def __init__(self, cfg, layer):
        super().__init__()
        self.cfg, self.layer = cfg, layer
        h, d, kv = cfg.num_attention_heads, cfg.head_dim, cfg.num_key_value_heads
        self.q_proj = nn.Linear(cfg.hidden_size, h * d, bias=False)
        self.k_proj = nn.Linear(cfg.hidden_size, kv * d, bias=False)
        self.v_proj = nn.Linear(cfg.hidden_size, kv * d, bias=False)
        self.o_proj = nn.Linear(h * d, cfg.hidden_size, bias=False)

    def forward(self, x, position_ids, cache):
        cfg, L = self.cfg, self.layer
        b, s, _ = x.shape
        h, d, kvh = cfg.num_attention_heads, cfg.head_dim, cfg.num_key_value_heads
        q = self.q_proj(x).view(b, s, h, d)
        k = self.k_proj(x).view(b, s, kvh, d)
        v = self.v_proj(x).view(b, s, kvh, d)
        past = cache.length(L)
        pos = position_ids
        if cfg.bug == "rope-pos" and past > 0 and s == 1:
            pos = pos + 1  # the bug: decode rotates for the next position
        q = apply_rope(q, pos, cfg.rope_theta)
        k = apply_rope(k, pos, cfg.rope_theta)
        point("q_post_rope", q.reshape(b, s, h * d), layer=L)
        point("k_post_rope", k.reshape(b, s, kvh * d), layer=L)
        keys, values = cache.update(L, k, v)
        kv_len = keys.shape[1]
        point("k_cache", keys.reshape(b, kv_len, kvh * d), layer=L)
        point("v_cache", values.reshape(b, kv_len, kvh * d), layer=L)
        rep = h // kvh
        kk = keys.repeat_interleave(rep, dim=2)  # [b, kv_len, h, d]
        vv = values.repeat_interleave(rep, dim=2)
        scores = torch.einsum("bshd,bkhd->bshk", q, kk) / math.sqrt(d)  # [b, s, h, kv_len]
        # causal: row i (position past+i) sees keys 0..past+i
        qpos = torch.arange(past, past + s)[:, None]
        kpos = torch.arange(kv_len)[None, :]
        scores = scores.masked_fill((kpos > qpos)[None, :, None, :], float("-inf"))
        probs = torch.softmax(scores.float(), dim=-1).to(q.dtype)
        point("attn_scores", scores, layer=L)
        point("attn_probs", probs, layer=L)
        out = torch.einsum("bshk,bkhd->bshd", probs, vv).reshape(b, s, h * d)
        return self.o_proj(out)


class LlamaMLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, cfg, layer):
        super().__init__()
        self.layer = layer
        self.input_layernorm = LlamaRMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = LlamaAttention(cfg, layer)
        self.post_attention_layernorm = LlamaRMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp = LlamaMLP(cfg)

    def forward(self, hidden_states, position_ids, cache):
        h = hidden_states + self.self_attn(self.input_layernorm(hidden_states), position_ids, cache)
        point("residual_post_attn", h, layer=self.layer)
        return (h + self.mlp(self.post_attention_layernorm(h)),)


class LlamaModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(LlamaDecoderLayer(cfg, i) for i in range(cfg.num_hidden_layers))
        self.norm = LlamaRMSNorm(cfg.hidden_size, cfg.rms_norm_eps)

    def forward(self, input_ids, position_ids, cache):
        h = self.embed_tokens(input_ids)
        for layer in self.layers:
            h = layer(h, position_ids, cache)[0]  # positional, as Hugging Face calls its layers
        return self.norm(h)


class LlamaForCausalLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        cfg.check()
        self.config = cfg
        self.model = LlamaModel(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self._init_weights(cfg.seed)

    @torch.no_grad()
    def _init_weights(self, seed):
        """Weights from the seed, scaled like a trained model's: embeddings N(0, 0.02), projections
        N(0, 1/sqrt(in)), the output and down projections smaller, norm gains 1 +- 0.05."""
        g = torch.Generator().manual_seed(seed)
        for name, p in self.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.05 * (2 * torch.rand(p.shape, generator=g) - 1))
            elif "embed_tokens" in name:
                p.copy_(0.02 * torch.randn(p.shape, generator=g))
            else:
                scale = 1 / math.sqrt(p.shape[1])
                if "o_proj" in name or "down_proj" in name:
                    scale *= 0.25
                p.copy_(scale * torch.randn(p.shape, generator=g))

    def forward(self, input_ids, position_ids=None, cache=None):
        """input_ids: [batch, seq]; position_ids: [batch, seq] (default: after what the cache holds);
        cache: a KVCache, extended in place. Returns logits [batch, seq, vocab]."""
        if cache is None:
            cache = KVCache(self.config.num_hidden_layers)
        if position_ids is None:
            past = cache.length()
            position_ids = torch.arange(past, past + input_ids.shape[1])[None, :].expand(input_ids.shape[0], -1)
        return self.lm_head(self.model(input_ids, position_ids, cache))
