"""tt.diff against tracediff: the same engine, the same document, the same exit code."""
import json
import os

import numpy as np
import pytest

import tensortrace as tt
from conftest import SRC, tracediff_json


def same_document(a, b):
    """Equal but for the timing (wall time of each run)."""
    a, b = dict(a), dict(b)
    assert a.pop("timing")["threads"] == b.pop("timing")["threads"]
    return a == b


@pytest.mark.parametrize("mode", ["numeric", "as_designed", "kv_aligned"])
def test_tt_diff_agrees_with_tracediff_on_one_file(tinylm_rope, mode):
    r = tt.diff(tinylm_rope, mode=mode, threads=2)
    rc, doc = tracediff_json("--mode", mode, "--threads", "2", tinylm_rope)
    assert same_document(json.loads(r.json()), doc)
    assert r.exit_code == rc == 1
    assert r.verdict == "MISMATCH" and r.doc["left"]["filter"] == ["phase=prefill_last"]
    if mode != "as_designed":
        assert r.first_failure["point"] == "q_post_rope" and r.first_failure["layer"] == 0
        assert r.first_failure["root_cause"] == "ROPE_DRIFT"


def test_the_document_follows_the_schema(tinylm_rope):
    jsonschema = pytest.importorskip("jsonschema")
    with open(os.path.join(SRC, "schemas", "diff.schema.json")) as f:
        schema = json.load(f)
    jsonschema.validate(tt.diff(tinylm_rope, mode="kv_aligned").doc, schema)


def test_tt_diff_agrees_with_tracediff_with_filters_and_options(tinylm_rope):
    args = dict(mode="kv_aligned", left=["phase=prefill"], right=["phase=decode0"], align="pos",
                where=["layer=0-1"], tol=["attn_out=1e-3:1e-3rms"], threads=1, topk=4)
    r = tt.diff(tinylm_rope, **args)
    rc, doc = tracediff_json("--mode", "kv_aligned", "--left", "phase=prefill", "--right", "phase=decode0",
                             "--align", "pos", "--where", "layer=0-1", "--tol", "attn_out=1e-3:1e-3rms",
                             "--threads", "1", "--topk", "4", tinylm_rope)
    assert same_document(json.loads(r.json()), doc) and r.exit_code == rc
    assert r.doc["left"]["filter"] == ["phase=prefill", "layer=0-1"]


def test_tt_diff_of_two_python_traces(tmp_path):
    rng = np.random.default_rng(5)
    xs = [rng.standard_normal((2, 64)).astype(np.float32) for _ in range(3)]
    # b: layer 1 one ulp off, up or down at random (rounding noise, unbiased: drift); c: layer 1 off by 0.5 (a bug)
    up = rng.random(xs[1].shape) < 0.5
    noisy = np.where(up, np.nextafter(xs[1], np.float32(np.inf)), np.nextafter(xs[1], np.float32(-np.inf)))
    for name, one in (("a.tt", xs[1]), ("b.tt", noisy.astype(np.float32)), ("c.tt", xs[1] + np.float32(0.5))):
        with tt.Writer(tmp_path / name) as w:
            for layer, x in enumerate(xs):
                w.put(one if layer == 1 else x, point="mlp_out", layer=layer, prompt_id="p", pos_id=3,
                      phase="decode0", step=1)
    same = tt.diff(tmp_path / "a.tt", tmp_path / "a.tt")
    assert same.verdict == "IDENTICAL" and same.exit_code == 0 and same.first_failure is None
    drift = tt.diff(tmp_path / "a.tt", tmp_path / "b.tt")
    assert drift.verdict == "STRUCTURAL_DRIFT" and drift.exit_code == 0
    bug = tt.diff(tmp_path / "a.tt", tmp_path / "c.tt")
    assert bug.verdict == "MISMATCH" and bug.exit_code == 1 and bug.first_failure["layer"] == 1
    rc, doc = tracediff_json(tmp_path / "a.tt", tmp_path / "c.tt")
    assert same_document(json.loads(bug.json()), doc) and rc == 1
    pairs = bug.pairs
    assert list(pairs["verdict"]) == ["MATCH", "MISMATCH", "MATCH"]
    assert list(pairs["layer"]) == [0, 1, 2]
    assert pairs["max_abs"][1] == pytest.approx(0.5, rel=1e-6)


def test_tt_diff_nonfinite_needs_allow_nonfinite(tmp_path):
    x = np.linspace(-1, 1, 128, dtype=np.float32).reshape(2, 64)
    x[1, 7] = np.nan
    for name in ("a.tt", "b.tt"):
        with tt.Writer(tmp_path / name) as w:
            w.put(x, point="mlp_out", layer=0, prompt_id="p", pos_id=3, phase="decode0", step=1)
    strict = tt.diff(tmp_path / "a.tt", tmp_path / "b.tt", verify_identical=True)
    assert strict.verdict == "MISMATCH" and strict.exit_code == 1
    assert strict.first_failure["root_cause"] == "NONFINITE"
    allowed = tt.diff(tmp_path / "a.tt", tmp_path / "b.tt", verify_identical=True, allow_nonfinite=True)
    assert allowed.verdict != "MISMATCH" and allowed.exit_code == 0


def test_pairs_without_pandas_are_numpy_columns(tinylm_rope, monkeypatch):
    import sys
    r = tt.diff(tinylm_rope)
    monkeypatch.setitem(sys.modules, "pandas", None)
    cols = r.pairs
    assert isinstance(cols, dict) and len(cols["point"]) == r.counts["pairs"]
    assert isinstance(cols["rel_l2"], np.ndarray)


def test_diff_errors_carry_the_engine_message(tinylm_rope, tmp_path):
    with pytest.raises(tt.TraceError, match="selects no record") as e:
        tt.diff(tinylm_rope, left=["phase=nothing"], right=["phase=decode0"])
    assert e.value.status_name == "TT_E_NOTFOUND"
    with pytest.raises(tt.TraceError, match="missing.tt"):
        tt.diff(tmp_path / "missing.tt", tinylm_rope)
    with pytest.raises(tt.TraceError, match="colour=red") as e:
        tt.diff(tinylm_rope, left=["colour=red"], right=["phase=decode0"])
    assert e.value.status_name == "TT_E_PARSE"
    with pytest.raises(tt.TraceError, match="tol"):
        tt.diff(tinylm_rope, tol=["attn_out=x"])
    with pytest.raises(ValueError, match="mode"):
        tt.diff(tinylm_rope, mode="fuzzy")
    with pytest.raises(ValueError, match="align"):
        tt.diff(tinylm_rope, align="rows")
