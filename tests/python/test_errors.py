"""Bad inputs and misuse: clear Python exceptions carrying the library's message, never a crash."""
import subprocess
import sys
import threading

import numpy as np
import pytest

import tensortrace as tt
from conftest import SRC


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "s.tt"
    with tt.Writer(path) as w:
        w.put(np.arange(12, dtype=np.float32).reshape(3, 4), point="x", layer=0)
        w.put(np.ones((2, 2), np.float32), point="y", layer=1)
    return path


def test_opening_what_is_not_a_trace(tmp_path):
    with pytest.raises(tt.TraceError, match="nope.tt") as e:
        tt.open(tmp_path / "nope.tt")
    assert e.value.status_name == "TT_E_IO"
    (tmp_path / "text.tt").write_text("hello, this is not a trace at all, but it is long enough to have a header\n")
    with pytest.raises(tt.TraceError, match="text.tt") as e:
        tt.open(tmp_path / "text.tt")
    assert e.value.status_name == "TT_E_NOTTRACE"
    with pytest.raises(ValueError, match="recover"):
        tt.open(tmp_path / "text.tt", recover="maybe")


def test_a_truncated_trace_recovers_or_says_why(small, tmp_path):
    data = small.read_bytes()
    cut = tmp_path / "cut.tt"
    cut.write_bytes(data[: len(data) - 40])
    with tt.open(cut) as t:  # recovery: the footer is gone, the frames are not
        assert not t.info["footer_intact"] and len(t) == 2
        np.testing.assert_array_equal(t[0].numpy(), np.arange(12, dtype=np.float32).reshape(3, 4))
    with pytest.raises(tt.TraceError, match="cut.tt"):
        tt.open(cut, recover="never")


def test_closed_handles_raise_and_close_twice_is_harmless(small, tmp_path):
    t = tt.open(small)
    rec = t[0]
    t.close()
    t.close()
    for call in (lambda: len(t), lambda: t[0], lambda: list(t), lambda: t.meta, rec.numpy, rec.torch,
                 lambda: rec.read_rows(0, 1), lambda: t.select("layer=0")):
        with pytest.raises(tt.ClosedError, match="closed"):
            call()
    assert "closed" in repr(t)
    w = tt.Writer(tmp_path / "w.tt")
    w.close()
    w.close()
    with pytest.raises(tt.ClosedError):
        w.put(np.ones(3, np.float32), point="x")
    with pytest.raises(ValueError):  # a ClosedError is a ValueError too, like a closed file's
        w.flush()
    assert w.counters["puts"] == 0


def test_wrong_dtypes_shapes_and_keys(tmp_path):
    with tt.Writer(tmp_path / "w.tt") as w:
        for bad, match in ((np.ones(3, np.complex64), "complex64"), (np.ones(3, bool), "bool"),
                           (np.ones(3, np.uint64), "uint64"), ([1.0, 2.0], "NumPy array"), ("text", "str")):
            with pytest.raises((ValueError, TypeError), match=match):
                w.put(bad, point="x")
        with pytest.raises(ValueError, match="bf16"):
            w.put(np.ones(3, np.float32), point="x", dtype="bf16")  # bf16 bits are uint16
        with pytest.raises(ValueError, match="unknown dtype"):
            w.put(np.ones(3, np.uint16), point="x", dtype="bf17")
        with pytest.raises(ValueError, match="at most 8"):
            w.put(np.ones((1,) * 9, np.float32), point="x")
        with pytest.raises(ValueError, match="rows=3"):
            w.put(np.ones((2, 4), np.float32), point="x", rows=3)
        with pytest.raises(ValueError, match="pos_id 0"):
            w.put(np.ones((5, 4), np.float32), point="k_cache", pos_id=4)
        with pytest.raises(ValueError, match="point"):
            w.put(np.ones(3, np.float32), point="")
        with pytest.raises(TypeError, match="layer"):
            w.put(np.ones(3, np.float32), point="x", layer="0")
        with pytest.raises(ValueError, match="layer"):
            w.put(np.ones(3, np.float32), point="x", layer=1 << 40)
        with pytest.raises(ValueError, match="mode"):
            tt.Writer(tmp_path / "m.tt", mode="most")
        assert w.put(np.ones((5, 4), np.float32), point="k_cache", layer=0) == "written"
        assert w.put(np.ones((2, 2), ">f4"), point="big_endian") == "written"
    with tt.open(tmp_path / "w.tt") as t:
        k = t.find(point="k_cache")
        assert (k.pos_id, k.rows) == (0, 5)
        assert t.find(point="big_endian").numpy().dtype == np.float32
        with pytest.raises(IndexError, match="2 records"):
            t[2]
        with pytest.raises(TypeError):
            t["x"]
        with pytest.raises(tt.TraceError, match="out of range|rows"):
            t[0].read_rows(4, 2)
        with pytest.raises(ValueError):
            t[0].read_rows(-1, 1)


def test_writer_refuses_to_replace_a_file_unless_asked(small):
    with pytest.raises(tt.TraceError, match="exists") as e:
        tt.Writer(small)
    assert e.value.status < 0
    with tt.Writer(small, overwrite=True) as w:
        w.put(np.zeros(2, np.int32), point="z")
    with tt.open(small) as t:
        assert len(t) == 1


def test_put_results_written_filtered_dropped(tmp_path):
    with tt.Writer(tmp_path / "f.tt", layers="0,1", points=["a", "b"], phases="decode0") as w:
        assert w.put(np.ones(2, np.float32), point="a", layer=1, phase="decode0") == "written"
        assert w.put(np.ones(2, np.float32), point="a", layer=2, phase="decode0") == "filtered"
        assert w.put(np.ones(2, np.float32), point="c", layer=0, phase="decode0") == "filtered"
        assert w.put(np.ones(2, np.float32), point="a", layer=0, phase="prefill") == "filtered"
        assert w.wants("b", 0, phase="decode0") and not w.wants("c", 0)
    x = np.random.default_rng(0).standard_normal(1 << 20).astype(np.float32)  # 4 MiB
    with tt.Writer(tmp_path / "d.tt", on_full="drop", inflight_mb=1, threads=1, zstd_level=19) as w:
        results = [w.put(x, point="big", layer=i) for i in range(8)]
    assert results[0] == "written" and "dropped" in results
    assert w.counters["dropped"] == results.count("dropped")
    with tt.open(tmp_path / "d.tt") as t:
        assert len(t) == results.count("written") and t.info["counters"]["dropped"] == results.count("dropped")


def test_trace_variables_apply_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("TT_TRACE_LAYERS", "0")
    with tt.Writer(tmp_path / "a.tt") as w:
        assert w.put(np.ones(2, np.float32), point="p", layer=3) == "written"
    with tt.Writer(tmp_path / "b.tt", env=True) as w:
        assert w.put(np.ones(2, np.float32), point="p", layer=3) == "filtered"
    monkeypatch.setenv("TT_TRACE_MODE", "sometimes")
    with pytest.raises(tt.TraceError, match="TT_TRACE_MODE"):
        tt.Writer(tmp_path / "c.tt", env=True)


def test_stats_only_records_have_no_tensor(tmp_path):
    with tt.Writer(tmp_path / "s.tt", mode="stats") as w:
        w.put(np.arange(6, dtype=np.float32).reshape(2, 3), point="x")
    with tt.open(tmp_path / "s.tt") as t:
        r = t[0]
        assert not r.has_tensor and r.max == 5.0 and r.mean == 2.5
        with pytest.raises(tt.TraceError) as e:
            r.numpy()
        assert e.value.status_name == "TT_E_NOPAYLOAD"
        cols = t.records
        assert list(cols.columns if hasattr(cols, "columns") else cols) == [
            "index", "prompt_id", "phase", "point", "layer", "step", "token_id", "logical_tok_idx", "pos_id", "rows",
            "rank", "dtype", "shape", "hash", "min", "max", "mean", "absmax", "l2", "nan_count", "inf_count",
            "has_tensor", "shard_kind", "shard_dim", "shard_index", "shard_count"]
        assert not cols["has_tensor"][0] and cols["shape"][0] == (2, 3)


def test_records_without_pandas_and_meta(small, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with tt.open(small) as t:
        cols = t.records
        assert isinstance(cols, dict) and list(cols["point"]) == ["x", "y"] and cols["layer"].dtype == np.int64
        assert list(cols["max"]) == [11.0, 1.0]


def test_threads_share_a_trace_safely(tmp_path):
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal((64, 256)).astype(np.float32) for _ in range(8)]
    with tt.Writer(tmp_path / "m.tt") as w:
        for i, x in enumerate(xs):
            w.put(x, point="x", layer=i)
    errors = []
    with tt.open(tmp_path / "m.tt") as t:
        def reader(k):
            try:
                for _ in range(20):
                    i = (k * 3 + _) % 8
                    np.testing.assert_array_equal(t[i].numpy(), xs[i])
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
        threads = [threading.Thread(target=reader, args=(k,)) for k in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    assert not errors


def test_version_command():
    p = subprocess.run([sys.executable, "-m", "tensortrace", "--version"], capture_output=True, text=True,
                       cwd=SRC)
    assert p.returncode == 0 and p.stdout.startswith(f"tensortrace {tt.__version__} (libtrace ")
    p = subprocess.run([sys.executable, "-m", "tensortrace", "--bogus"], capture_output=True, text=True, cwd=SRC)
    assert p.returncode == 2 and "usage" in p.stderr


def test_a_missing_library_is_named(tmp_path):
    code = "import tensortrace"
    env = {"TT_LIBTRACE": str(tmp_path / "nothere.so"), "PYTHONPATH": f"{SRC}/python"}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert p.returncode != 0 and "nothere.so" in p.stderr and "TT_LIBTRACE" in p.stderr
