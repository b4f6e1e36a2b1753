"""synth — synthetic trace pairs with drift that grows with depth, with and without a planted fault.

Two runs of a 12-layer pipeline (left.tt, right.tt; compare them as two files, numeric mode). Each stage holds
[4, 1024] values drawn from a seed; each side is that truth plus its own noise, then stored in the side's dtype.
The noise stands for reduction-order drift: per element sigma_l x (the stage's RMS + |value|) with sigma_l growing
linearly with the layer (bf16: 0.2 % at layer 6, as the issue measured; f32: 2e-7 x (layer + 1)). A fault is added
to the left side only, at its stage and, with the same size, at every stage after it (errors propagate).

VARIANTS: name -> (dtype left, dtype right, massive channels, fault). The fault's true place is its (layer, point).
"""
from dataclasses import dataclass

import torch

LAYERS = 12
POINTS = ("attn_norm_out", "q_pre_rope", "attn_out", "residual_post_attn", "mlp_out", "residual_post_mlp")
ROWS, COLS = 4, 1024
MASSIVE = 2000.0  # massive channels: this many times the RMS of the other elements
MASSIVE_POINTS = ("attn_out", "residual_post_attn", "mlp_out", "residual_post_mlp")


@dataclass(frozen=True)
class Fault:
    layer: int
    point: str
    kind: str     # "dense": + mag x RMS(other elements) x N(0,1) on every element; "scale": x (1 + mag)
    mag: float
    why: str


VARIANTS = {
    # correct pairs: drift only
    "drift_bf16": ("bf16", "bf16", False, None),
    "drift_f32": ("f32", "f32", False, None),
    "massive_bf16": ("bf16", "bf16", True, None),
    "mixed_f32_bf16": ("f32", "bf16", False, None),
    # planted faults (the cases 3, 4 and 6, and a fresh 1 % error)
    "massive_fault10": ("bf16", "bf16", True,
                        Fault(5, "mlp_out", "dense", 0.10, "10 % of the other elements' RMS, two channels at 2000x")),
    "mixed_fault3": ("f32", "bf16", False,
                     Fault(6, "attn_out", "dense", 0.03, "3 % of RMS, left f32 against right bf16")),
    "bf16_fault3": ("bf16", "bf16", False, Fault(6, "attn_out", "dense", 0.03, "3 % of RMS in bf16")),
    "bf16_scale1003": ("bf16", "bf16", False,
                       Fault(6, "attn_norm_out", "scale", 0.003, "every element x 1.003 from layer 6 on")),
    "bf16_fresh1pct": ("bf16", "bf16", False,
                       Fault(3, "q_pre_rope", "dense", 0.01, "fresh 1 % error; every stage before it is exact")),
}

DT = {"f32": torch.float32, "bf16": torch.bfloat16}


def sigma(dtype, layer):
    return 0.002 * (layer + 1) / 7 if dtype == "bf16" else 2e-7 * (layer + 1)


def write_pair(left_path, right_path, variant, seed, make_sink):
    """Writes the pair of VARIANT for SEED; make_sink(path, meta) gives a sink with put(tensor, **key)/close()."""
    dl, dr, massive, fault = VARIANTS[variant]
    g = torch.Generator().manual_seed(seed * 7919 + 17)
    big = torch.randperm(COLS, generator=g)[:2]
    sinks = {}
    for side, path, dt in (("left", left_path, dl), ("right", right_path, dr)):
        sinks[side] = make_sink(path, {"engine": "synth", "variant": variant, "seed": str(seed), "dtype": dt,
                                       "side": side})
    faulted = False
    exact = fault is not None and variant.endswith("fresh1pct")  # no drift before the fresh fault
    for layer in range(LAYERS):
        for point in POINTS:
            x = torch.randn(ROWS, COLS, generator=g, dtype=torch.float64)
            if point in ("attn_out", "mlp_out"):
                x *= 0.05
            if massive and point in MASSIVE_POINTS:
                x[:, big] = MASSIVE * x.pow(2).mean().sqrt() * torch.sign(x[:, big])
            rest = x[:, [c for c in range(COLS) if not massive or c not in big]].pow(2).mean().sqrt()
            if fault and (layer, point) == (fault.layer, fault.point):
                faulted = True
            key = dict(point=point, layer=layer, phase="run", step=0, prompt_id="synth", token_id=1,
                       logical_tok_idx=0, pos_id=0, rows=ROWS)
            for side, dt in (("left", dl), ("right", dr)):
                s = 0.0 if (exact and not faulted) else sigma(dt, layer)
                y = x + s * (rest * torch.randn(ROWS, COLS, generator=g, dtype=torch.float64)
                             + x.abs() * torch.randn(ROWS, COLS, generator=g, dtype=torch.float64))
                if side == "left" and faulted:
                    if fault.kind == "scale":
                        y = y * (1 + fault.mag)
                    else:
                        y = y + fault.mag * rest * torch.randn(ROWS, COLS, generator=g, dtype=torch.float64)
                sinks[side].put(y.to(DT[dt]), **key)
    for s in sinks.values():
        s.close()


def truth(variant):
    """(layer, point, why) of VARIANT's fault; None for the correct variants."""
    f = VARIANTS[variant][3]
    return None if f is None else (f.layer, f.point, f.why)
