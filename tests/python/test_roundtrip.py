"""
Every dtype written from Python reads back the same through the package and through `tracedump --export-npy`;
a trace written from Python is read by the C tools, and one written by a C engine (tinylm) by the package.
"""
import glob
import json
import math

import numpy as np
import pytest

import tensortrace as tt
from conftest import run

FP8 = {  # name: (exponent bits, mantissa bits, bias, how the top exponent and 0x80 are used)
    "f8_e4m3": (4, 3, 7, "fn"), "f8_e5m2": (5, 2, 15, "ieee"),
    "f8_e4m3fnuz": (4, 3, 8, "fnuz"), "f8_e5m2fnuz": (5, 2, 16, "fnuz"),
}


def fp8_reference(name):
    """The value of each of the 256 codes of an fp8 type, from the OCP / AMD definitions."""
    eb, mb, bias, kind = FP8[name]
    emax, mmax = (1 << eb) - 1, (1 << mb) - 1
    out = np.empty(256, dtype=np.float64)
    for c in range(256):
        s, e, m = c >> 7, (c >> mb) & emax, c & mmax
        if kind == "fnuz" and c == 0x80 or kind == "fn" and e == emax and m == mmax:
            v = math.nan
        elif kind == "ieee" and e == emax:
            v = math.inf if m == 0 else math.nan
        elif e == 0:
            v = m / (1 << mb) * 2.0 ** (1 - bias)
        else:
            v = (1 + m / (1 << mb)) * 2.0 ** (e - bias)
        out[c] = -v if s and not math.isnan(v) else v
    return out


def sample(name, rng):
    """(array put, dtype= argument, expected float values) for a dtype."""
    if name in FP8:
        bits = np.arange(256, dtype=np.uint8).reshape(16, 16)
        return bits, name, fp8_reference(name).reshape(16, 16)
    if name == "bf16":
        f = rng.standard_normal((8, 33)).astype(np.float32)
        f[0, :4] = [np.inf, -np.inf, np.nan, 0.0]
        bits = (f.view(np.uint32) >> 16).astype(np.uint16)
        return bits, "bf16", (bits.astype(np.uint32) << 16).view(np.float32)
    if name in ("f32", "f64", "f16"):
        t = {"f32": np.float32, "f64": np.float64, "f16": np.float16}[name]
        a = (rng.standard_normal((5, 7, 3)) * 100).astype(t)
        a[0, 0, :3] = [np.inf, np.nan, -0.0]
        return a, None, a.astype(np.float64)
    t = {"i8": np.int8, "u8": np.uint8, "i16": np.int16, "i32": np.int32, "i64": np.int64}[name]
    info = np.iinfo(t)
    a = rng.integers(info.min, info.max, size=(6, 10), dtype=t, endpoint=True)
    a[0, :2] = [info.min, info.max]
    return a, None, a


@pytest.fixture(scope="module")
def every_dtype(tmp_path_factory):
    rng = np.random.default_rng(7)
    path = tmp_path_factory.mktemp("dtypes") / "dtypes.tt"
    data = {}
    with tt.Writer(path, meta={"engine": "pytest"}) as w:
        for name in tt.dtypes.ALL:
            x, dt, expect = sample(name, rng)
            assert w.put(x, point=f"t_{name}", layer=0, phase="p", prompt_id="dtypes", dtype=dt) == "written"
            data[name] = (x, expect)
    return path, data


def test_the_package_knows_every_dtype_of_the_library():
    assert tt.dtypes.ALL == ("f32", "f16", "bf16", "f64", "i8", "u8", "i16", "i32", "i64", "f8_e4m3", "f8_e5m2",
                             "f8_e4m3fnuz", "f8_e5m2fnuz")


@pytest.mark.parametrize("name", ["f32", "f16", "bf16", "f64", "i8", "u8", "i16", "i32", "i64", "f8_e4m3",
                                  "f8_e5m2", "f8_e4m3fnuz", "f8_e5m2fnuz"])
def test_every_dtype_round_trips_against_tracedump(every_dtype, tmp_path, name):
    path, data = every_dtype
    x, expect = data[name]
    with tt.open(path) as t:
        (rec,) = t.select(f"point=t_{name}")
        assert rec.dtype == name and rec.shape == x.shape and rec.has_tensor
        raw = rec.numpy(raw=True)
        values = rec.numpy()
    # the stored bits are what was put
    assert raw.tobytes() == np.ascontiguousarray(x).tobytes()
    # the values: as put for NumPy's own types, float32 for the narrow floats, decoded by the definition
    assert values.dtype == (np.float32 if name in ("f16", "bf16") or name in FP8 else x.dtype)
    np.testing.assert_array_equal(values.astype(np.float64), np.asarray(expect, dtype=np.float64))
    # tracedump exports the same bits
    out = tmp_path / "npy"
    run("tracedump", "--export-npy", f"{out}/", "--where", f"point=t_{name}", path)
    (npy,) = glob.glob(f"{out}/{rec.index}_*.npy")
    exported = np.load(npy)
    assert exported.shape == raw.shape and exported.tobytes() == raw.tobytes()


def test_torch_tensors_round_trip_in_their_own_dtype(tmp_path):
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(3)
    tensors = {d: (torch.randn(4, 9, generator=g) * 10).to(d) for d in
               (torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int8, torch.int16, torch.int32,
                torch.int64, torch.uint8)}
    strided = torch.randn(6, 8, generator=g, dtype=torch.float32).to(torch.bfloat16).t()  # not contiguous
    with tt.Writer(tmp_path / "t.tt") as w:
        for d, x in tensors.items():
            w.put(x, point=str(d), layer=1)
        w.put(strided, point="strided")
    with tt.open(tmp_path / "t.tt") as t:
        for d, x in tensors.items():
            (r,) = t.select(f"point={d}")
            y = r.torch()
            assert y.dtype == d and torch.equal(y, x), d
        (r,) = t.select("point=strided")
        assert r.shape == (8, 6) and torch.equal(r.torch(), strided)
        np.testing.assert_array_equal(r.numpy(), strided.float().numpy())


def test_scalars_empty_and_strided_arrays(tmp_path):
    with tt.Writer(tmp_path / "s.tt") as w:
        w.put(np.array(-1.5, dtype=np.float32), point="scalar")
        w.put(np.empty((0, 4), np.int32), point="empty")
        w.put(np.arange(10, dtype=np.int16)[::-2], point="strided")
    with tt.open(tmp_path / "s.tt") as t:
        s, e, st = t
        assert s.shape == () and s.numpy() == np.float32(-1.5) and s.numpy().shape == () and s.rows == -1
        assert e.shape == (0, 4) and e.rows == 0 and e.numpy().shape == (0, 4)
        np.testing.assert_array_equal(st.numpy(), [9, 7, 5, 3, 1])
        with pytest.raises(tt.TraceError, match="scalar"):
            s.read_rows(0, 1)


def test_read_rows_reads_only_what_is_asked(tmp_path):
    x = np.arange(200 * 64, dtype=np.float32).reshape(200, 64)
    with tt.Writer(tmp_path / "r.tt", chunk_bytes=4096) as w:  # many chunks
        w.put(x, point="big")
    with tt.open(tmp_path / "r.tt") as t:
        np.testing.assert_array_equal(t[0].read_rows(37, 5), x[37:42])
        np.testing.assert_array_equal(t[0].read_rows(199, 1), x[199:])
        assert t[0].read_rows(10, 0).shape == (0, 64)


def test_a_python_trace_is_read_by_the_c_tools(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "py.tt"
    xs = [rng.standard_normal((3, 16)).astype(np.float32) for _ in range(4)]
    with tt.Writer(path, meta={"engine": "hf-reference", "model": "m"}) as w:
        for i, x in enumerate(xs):
            w.put(x, point="attn_out", layer=i, phase="decode0", step=1, prompt_id="p0", token_id=5, pos_id=37,
                  logical_tok_idx=37)
    assert run("tracedump", "--verify", path).returncode == 0
    summary = json.loads(run("tracedump", "--json", path).stdout)
    assert summary["records"]["total"] == 4 and summary["metadata"] == {"engine": "hf-reference", "model": "m"}
    lines = [json.loads(l) for l in run("trace2jsonl", path).stdout.splitlines()]
    with tt.open(path) as t:
        for line, rec in zip([l for l in lines if l.get("event") == "stage_trace"], t):
            assert line["point"] == "attn_out" and line["layer"] == rec.layer and line["pos_id"] == 37
            assert line["hash"] == rec.hash and line["seq_len"] == rec.rows == 3
    out = tmp_path / "one.npy"
    run("tracedump", "--export-npy", out, "--where", "layer=2", path)
    np.testing.assert_array_equal(np.load(out), xs[2])


def test_a_c_engine_trace_is_read_by_the_package(tinylm_rope, tmp_path):
    listing = run("tracedump", "--list", "--json", "--where", "phase=decode0", tinylm_rope).stdout
    listed = [json.loads(l) for l in listing.splitlines()]
    with tt.open(tinylm_rope) as t:
        assert t.meta["engine"] == "tinylm" and t.info["footer_intact"]
        decode = t.select("phase=decode0")
        assert [r.index for r in decode] == [l["index"] for l in listed]
        assert [(r.point, r.layer, r.hash, r.shape) for r in decode] == \
            [(l["point"], l["layer"], l["hash"], tuple(l["shape"])) for l in listed]
        rec = t.select("phase=decode0", "point=q_post_rope", "layer=0", "prompt_id=p0_short")[0]
        assert rec.shape == (1, 256) and rec.dtype == "f32" and rec.pos_id == 1 and rec.step == 1
        run("tracedump", "--export-npy", tmp_path / "q.npy", "--where", f"index={rec.index}", tinylm_rope)
        np.testing.assert_array_equal(rec.numpy(), np.load(tmp_path / "q.npy"))
        v = rec.numpy()
        assert rec.min == v.min() and rec.max == v.max()
        cache = t.select("point=k_cache", "phase=prefill_last", "layer=0", "prompt_id=p6_len_16")[0]
        assert cache.pos_id == 0 and cache.rows == cache.shape[0] == 16
