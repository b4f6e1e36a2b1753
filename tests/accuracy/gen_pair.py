#!/usr/bin/python3
"""gen_pair.py — writes the reference engine's traces for one (seed, context, dtype): the correct engine and the
same engine with a bug, each in the seeds' protocol (phases prefill_last and decode0 in one file), and says where
the bug must be found. Needs npy2tt (cmake --build build --target npy2tt) and Debian's python3-torch.

  tests/accuracy/gen_pair.py -o out/pair --seed 1 --ctx 200 --dtype bf16 --bug v_cache_off_by_one
  build/tools/tracediff/tracediff --mode kv_aligned out/pair/correct.tt     # must not be MISMATCH
  build/tools/tracediff/tracediff --mode kv_aligned out/pair/v_cache_off_by_one.tt

Exit 0 ok, 2 usage error.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torchref  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--out", required=True, help="output folder (created)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ctx", type=int, default=200, help="prompt length n (the seeds' N+1), 2..4096")
    ap.add_argument("--dtype", choices=sorted(torchref.DTYPES), default="bf16")
    ap.add_argument("--bug", choices=[b for b in torchref.BUGS if b != "none"], action="append",
                    help="repeatable; default every bug")
    ap.add_argument("--no-cache-points", action="store_true", help="do not trace k_cache / v_cache")
    ap.add_argument("--npy2tt", help="the converter (default build/tests/accuracy/npy2tt or $TT_NPY2TT)")
    a = ap.parse_args()
    if not 2 <= a.ctx <= 4096:
        ap.error(f"--ctx {a.ctx}: out of range 2..4096")
    os.makedirs(a.out, exist_ok=True)
    cache = not a.no_cache_points
    pf = None
    for bug in ["none"] + (a.bug or [b for b in torchref.BUGS if b != "none"]):
        path = os.path.join(a.out, ("correct" if bug == "none" else bug) + ".tt")
        nxt, pf = torchref.write_trace(path, a.seed, a.ctx, a.dtype, bug, trace_cache=cache, npy2tt=a.npy2tt,
                                       prefills=pf)
        if bug == "none":
            where = "no MISMATCH"
        elif not torchref.bug_active(bug, a.ctx):
            where = f"inactive at context {a.ctx} (needs >= {torchref.MASK_LEAK_FROM + 2}): no MISMATCH"
        else:
            tp = torchref.true_point(bug, cache)
            where = "cannot show without the cache points" if tp is None else f"L{tp[0]} {tp[1]}: {tp[2]}"
        print(f"{path}: next token {nxt[0]} / {nxt[1]}; expect {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
