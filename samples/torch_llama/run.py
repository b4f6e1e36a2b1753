#!/usr/bin/env python3
"""
run.py — traces the torch_llama sample through the prefill/decode protocol with tensortrace.torch.capture.

For each prompt of n tokens: a fresh cache and a prefill over all n tokens (phase "prefill", step 0, every row);
then a fresh cache, a prefill over the first n-k tokens (not traced) and k decode steps, one token each (phases
"decode0".."decode{k-1}", steps 1..k). The same tokens at the same positions computed by the two paths, so

    tracediff --mode kv_aligned --left phase=prefill --right phase=decode0 --align pos OUT.tt

compares them row by row: drift only for the correct model, a MISMATCH whose first failure is q_post_rope at
layer 0 (ROPE_DRIFT) with --bug rope-pos. Exit codes: 0 ok, 1 runtime error, 2 usage.
"""
import argparse
import importlib.util
import os
import sys
import time


def _find_tensortrace():
    if importlib.util.find_spec("tensortrace") is None:  # run from a checkout: the package is in python/
        here = os.path.dirname(os.path.abspath(__file__))
        sys.path.insert(0, os.path.join(here, "..", "..", "python"))


_find_tensortrace()
import torch  # noqa: E402

import tensortrace as tt  # noqa: E402
from tensortrace.torch import capture  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import KVCache, LlamaConfig, LlamaForCausalLM  # noqa: E402

DEFAULT_PROMPTS = "p0_short,p6_len_16,p6_len_32"


def parse_prompts(text, seed, vocab):
    """'p0_short' (2 tokens), 'NAME_len_N' (N tokens), 'NAME:N' -> [(id, token tensor [1, N])]."""
    out = []
    for i, item in enumerate(p for p in text.split(",") if p):
        if ":" in item:
            pid, n = item.split(":", 1)
        elif "_len_" in item:
            pid, n = item, item.rsplit("_len_", 1)[1]
        elif item == "p0_short":
            pid, n = item, "2"
        else:
            raise ValueError(f"prompt '{item}': expected p0_short, NAME_len_N or NAME:N")
        try:
            n = int(n)
        except ValueError:
            raise ValueError(f"prompt '{item}': '{n}' is not a token count") from None
        if n < 2:
            raise ValueError(f"prompt '{item}': at least 2 tokens")
        g = torch.Generator().manual_seed(seed * 1000003 + i)
        out.append((pid, torch.randint(0, vocab, (1, n), generator=g)))
    return out


def positions(first, count):
    return torch.arange(first, first + count)[None, :]


def trace(model, prompts, path, decode_steps, dtype, mode, threads):
    cfg = model.config
    meta = {"engine": "torch_llama", "model": f"torch_llama-L{cfg.num_hidden_layers}-H{cfg.hidden_size}-"
            f"heads{cfg.num_attention_heads}-kv{cfg.num_key_value_heads}-ffn{cfg.intermediate_size}-"
            f"vocab{cfg.vocab_size}", "dtype": dtype, "bug": cfg.bug or "none", "seed": str(cfg.seed),
            "device": "cpu", "decode_steps": str(decode_steps)}
    lines = []
    with torch.no_grad(), capture(model, path, overwrite=True, meta=meta, mode=mode, threads=threads) as cap:
        for pid, ids in prompts:
            n = ids.shape[1]
            k = min(decode_steps, n - 1)
            cap.prompt_id = pid
            cap.phase, cap.step = "prefill", 0
            full = model(ids, position_ids=positions(0, n), cache=KVCache(cfg.num_hidden_layers))
            cache = KVCache(cfg.num_hidden_layers)
            with cap.paused():
                model(ids[:, :n - k], position_ids=positions(0, n - k), cache=cache)
            for j in range(k):
                p = n - k + j
                cap.phase, cap.step = f"decode{j}", j + 1
                last = model(ids[:, p:p + 1], position_ids=positions(p, 1), cache=cache)
            a, b = full[0, -1].float(), last[0, -1].float()
            lines.append(f"{pid:<12} {n:3d} tokens  next token: prefill {int(a.argmax())}, decode{k - 1} "
                         f"{int(b.argmax())}  max|dlogit| {float((a - b).abs().max()):.3g}")
    return lines, cap.writer.counters


def main(argv=None):
    ap = argparse.ArgumentParser(description="Trace a small Llama-style PyTorch model through prefill and decode "
                                 "with tensortrace.torch.capture.")
    ap.add_argument("-o", "--output", required=True, help="trace file (replaced if it exists)")
    ap.add_argument("--dtype", choices=("f32", "bf16"), default="f32", help="model and activation dtype (f32)")
    ap.add_argument("--bug", choices=("rope-pos",), help="rope-pos: decode rotates q and k for position pos+1")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--ffn", type=int, default=688)
    ap.add_argument("--vocab", type=int, default=512)
    ap.add_argument("--seed", type=int, default=1, help="weights and prompt tokens (1)")
    ap.add_argument("--prompts", default=DEFAULT_PROMPTS, help=f"comma-separated ids ({DEFAULT_PROMPTS})")
    ap.add_argument("--decode-steps", type=int, default=1, help="decode steps after the short prefill (1)")
    ap.add_argument("--mode", choices=("full", "stats", "hash"), default="full", help="capture mode (full)")
    ap.add_argument("--threads", type=int, help="libtrace worker threads")
    ap.add_argument("-q", "--quiet", action="store_true")
    ap.add_argument("--version", action="version", version=f"torch_llama (tensortrace {tt.__version__})")
    a = ap.parse_args(argv)
    if a.decode_steps < 1:
        ap.error("--decode-steps must be at least 1")
    try:
        cfg = LlamaConfig(vocab_size=a.vocab, hidden_size=a.hidden, num_hidden_layers=a.layers,
                          num_attention_heads=a.heads, num_key_value_heads=a.kv_heads, intermediate_size=a.ffn,
                          seed=a.seed, bug=a.bug or "")
        cfg.check()
        prompts = parse_prompts(a.prompts, a.seed, a.vocab)
    except ValueError as e:
        ap.error(str(e))
    model = LlamaForCausalLM(cfg).eval()
    if a.dtype == "bf16":
        model = model.to(torch.bfloat16)
    t0 = time.time()
    try:
        lines, c = trace(model, prompts, a.output, a.decode_steps, a.dtype, a.mode, a.threads)
    except tt.TraceError as e:
        print(f"torch_llama: {e}", file=sys.stderr)
        return 1
    if not a.quiet:
        print("\n".join(lines))
        print(f"torch_llama: wrote {c['written']} records ({c['bytes_raw'] / 2**20:.2f} MiB of tensors, "
              f"{c['bytes_stored'] / 2**20:.2f} MiB stored) to {a.output} in {time.time() - t0:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
