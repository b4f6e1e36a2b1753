#!/usr/bin/python3
"""test_torchref.py — the reference engine's ground truth holds: for each bug, every record before its true place
is bitwise the correct engine's and the true place is not; the correct engine's KV-cache prefix rows are bitwise
equal between the two phases (row-independent prefill); both paths predict the same next token. No trace files:
the records are compared in memory. Usage: test_torchref.py
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torchref as tr  # noqa: E402

failures = []


def expect(cond, what):
    if not cond:
        failures.append(what)
        print(f"FAIL: {what}")


class ListSink:
    def __init__(self):
        self.recs = []

    def put(self, t, **key):
        self.recs.append((key, t.clone()))

    def phase(self, ph):
        return [(k["layer"], k["point"], t) for k, t in self.recs if k["phase"] == ph]


def run(seed, n, dtype, bug, cache=True, prefills=None):
    eng = tr.Engine(tr.Config(), seed, dtype, bug)
    pf = prefills if prefills and prefills[0] == eng.prefill_key(n) else eng.prefills(n)
    s = ListSink()
    nxt = eng.protocol(s, n, trace_cache=cache, prefills=pf)
    return s, nxt, pf


def first_difference(a, b):
    """The first (layer, point) whose tensors differ (shape or bits) between two record lists in capture order."""
    for (la, pa, ta), (lb, pb, tb) in zip(a, b):
        assert (la, pa) == (lb, pb)
        if ta.shape != tb.shape or not torch.equal(ta, tb):
            return la, pa
    return None


def check_correct(seed, n, dtype):
    s, nxt, pf = run(seed, n, dtype, "none")
    expect(nxt[0] == nxt[1], f"correct s{seed} n{n} {dtype}: next tokens {nxt}")
    pl = {(l, p): t for l, p, t in s.phase("prefill_last")}
    dc = {(l, p): t for l, p, t in s.phase("decode0")}
    for layer in range(tr.Config().layers):
        for p in tr.CACHE_POINTS:
            a, b = pl[(layer, p)], dc[(layer, p)]
            expect(a.shape == b.shape and torch.equal(a[:-1], b[:-1]),
                   f"correct s{seed} n{n} {dtype}: {p} L{layer} prefix rows not bitwise equal between the phases")
    expect(torch.equal(pl[(0, "attn_norm_out")], dc[(0, "attn_norm_out")]),
           f"correct s{seed} n{n} {dtype}: attn_norm_out L0 differs (shared kernels on equal inputs)")
    expect(not torch.equal(pl[(0, "q_pre_rope")], dc[(0, "q_pre_rope")]) or dtype == "bf16",
           f"correct s{seed} n{n} {dtype}: q_pre_rope L0 bitwise equal in f32 (GEMM and split-K sum differently)")
    return s, pf


def check_bug(seed, n, dtype, bug, correct, pf, cache=True):
    s, _, _ = run(seed, n, dtype, bug, cache, pf)
    tp = tr.true_point(bug, cache)
    if bug in tr.PREFILL_BUGS:
        # prefill_last: layer 0 is the correct engine's; the phases first disagree in k_cache L1's prefix rows
        pl = {(l, p): t for l, p, t in s.phase("prefill_last")}
        dc = {(l, p): t for l, p, t in s.phase("decode0")}
        ok = {(l, p): t for l, p, t in correct.phase("prefill_last")}
        expect(all(torch.equal(t, ok[k]) for k, t in pl.items() if k[0] in (-1, 0) and k[1] != "logits"),
               f"{bug} s{seed} n{n} {dtype}: layer 0 of prefill_last differs from the correct engine")
        expect(torch.equal(pl[(0, "k_cache")][:-1], dc[(0, "k_cache")][:-1]),
               f"{bug} s{seed} n{n} {dtype}: k_cache L0 prefix rows differ")
        a, b = pl[(tp[0], tp[1])][:-1], dc[(tp[0], tp[1])][:-1]
        expect(torch.equal(a[:-1], b[:-1]) and not torch.equal(a[-1], b[-1]),
               f"{bug} s{seed} n{n} {dtype}: {tp[1]} L{tp[0]} should differ in row n-2 only")
        return
    expect(first_difference(s.phase("prefill_last"), correct.phase("prefill_last")) is None,
           f"{bug} s{seed} n{n} {dtype}: a decode-path bug changed prefill_last")
    ref = correct.phase("decode0")
    if not cache:
        ref = [r for r in ref if r[1] not in tr.CACHE_POINTS]
    got = first_difference(s.phase("decode0"), ref)
    expect(got == tp[:2], f"{bug} s{seed} n{n} {dtype} cache={cache}: decode0 first differs at {got}, "
           f"true place {tp[:2]}")


def main():
    for dtype in ("f32", "bf16"):
        for seed, n in ((1, 16), (2, 200), (3, 640)):
            correct, pf = check_correct(seed, n, dtype)
            for bug in tr.BUGS:
                if bug != "none" and tr.bug_active(bug, n):
                    check_bug(seed, n, dtype, bug, correct, pf)
            nc = ListSink()
            tr.Engine(tr.Config(), seed, dtype, "none").protocol(nc, n, trace_cache=False, prefills=pf)
            check_bug(seed, n, dtype, "v_cache_off_by_one", nc, pf, cache=False)
    expect(not tr.bug_active("mask_leak", 200) and tr.bug_active("mask_leak", 640), "mask_leak activity")
    print(f"test_torchref: {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
