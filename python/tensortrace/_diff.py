"""
_diff.py — tt.diff: runs libtrace's diff engine (tt/diff.h, tt_diff_run) and reads its answer from the JSON
document the library renders (tt_diff_json), the very document `tracediff --json` writes. So the verdict, the
first failure and every pair's numbers are the engine's, in one form, and nothing is judged here.
"""
import ctypes
import json as _json

import numpy as np

from . import _lib
from .errors import check
from .reader import Filter, _as_list

_ALIGN = {None: 0, "none": 1, "pos": 2}
# tracediff's exit codes by overall verdict (0 identical or drift, 1 mismatch, 2 N/A)
_EXIT = {"IDENTICAL": 0, "STRUCTURAL_DRIFT": 0, "MISMATCH": 1, "N/A": 2}

PAIR_COLUMNS = ("index", "group", "point", "layer", "stage_rank", "verdict", "numeric_verdict", "root_cause",
                "flags", "error", "left_record", "right_record", "left_phase", "right_phase", "prompt_id",
                "token_id", "logical_tok_idx", "pos_id", "left_rows", "right_rows", "left_dtype", "right_dtype",
                "elems", "diff_elems", "max_abs", "rel_l2", "cosine", "max_ulp", "outside_tol", "nan_mismatch",
                "inf_mismatch", "rtol", "atol", "ref_rms", "tol_source")


def _num(v):
    return np.nan if v is None else v


def _pair_row(p):
    l, r, m = p.get("left"), p.get("right"), p.get("metrics") or {}
    s = l or r or {}
    return {
        "index": p["index"], "group": p["group"], "point": p["point"], "layer": p["layer"],
        "stage_rank": p["stage_rank"], "verdict": p["verdict"], "numeric_verdict": p["numeric_verdict"],
        "root_cause": p["root_cause"], "flags": ",".join(p["flags"]), "error": p["error"],
        "left_record": l["record"] if l else -1, "right_record": r["record"] if r else -1,
        "left_phase": l["phase"] if l else None, "right_phase": r["phase"] if r else None,
        "prompt_id": s.get("prompt_id"), "token_id": s.get("token_id", -1),
        "logical_tok_idx": s.get("logical_tok_idx", -1), "pos_id": s.get("pos_id", -1),
        "left_rows": (l["row_begin"], l["row_count"]) if l else None,
        "right_rows": (r["row_begin"], r["row_count"]) if r else None,
        "left_dtype": l["dtype"] if l else None, "right_dtype": r["dtype"] if r else None,
        "elems": m.get("elems", 0), "diff_elems": m.get("diff_elems", 0), "max_abs": _num(m.get("max_abs")),
        "rel_l2": _num(m.get("rel_l2")), "cosine": _num(m.get("cosine")), "max_ulp": _num(m.get("max_ulp")),
        "outside_tol": m.get("outside_tol", 0), "nan_mismatch": m.get("nan_mismatch", 0),
        "inf_mismatch": m.get("inf_mismatch", 0), "rtol": _num(m.get("rtol")), "atol": _num(m.get("atol")),
        "ref_rms": _num(m.get("ref_rms")), "tol_source": m.get("tol_source"),
    }


class Diff:
    """The answer of tt.diff: verdict, exit_code, subcause, first_failure, counts, pairs, groups, kv_checks,
    evidence, chain; json() is the document, doc the same parsed."""

    def __init__(self, text):
        self._text = text
        self.doc = _json.loads(text)
        d = self.doc
        self.verdict = d["verdict"]
        self.subcause = d["subcause"]
        self.exit_code = _EXIT[self.verdict]
        self.first_failure = d["first_failure"]
        self.counts = d["counts"]
        self.groups = d["groups"]
        self.kv_checks = d["kv_checks"]
        self.evidence = d["evidence"]
        self.chain = d["chain"]
        self.mode = d["mode"]
        self._pairs = None

    def json(self):
        """The JSON document, exactly as `tracediff --json` writes it for the same comparison (str)."""
        return self._text

    @property
    def pairs(self):
        """One row per pair: a pandas.DataFrame when pandas imports, else a dict of NumPy columns. The columns
        flatten the document's pairs (doc["pairs"] holds everything, nested)."""
        if self._pairs is None:
            rows = [_pair_row(p) for p in self.doc["pairs"]]
            cols = {}
            for c in PAIR_COLUMNS:
                vals = [r[c] for r in rows]
                if vals and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
                    cols[c] = np.array(vals)
                else:
                    a = np.empty(len(vals), dtype=object)
                    for i, v in enumerate(vals):
                        a[i] = v
                    cols[c] = a
            self._pairs = cols
        try:
            import pandas as pd
        except ImportError:
            return {k: v.copy() for k, v in self._pairs.items()}
        return pd.DataFrame(self._pairs, columns=list(PAIR_COLUMNS))

    def __repr__(self):
        ff = self.first_failure
        where = f", first failure {ff['point']} L{ff['layer']} -> {ff['root_cause']}" if ff else ""
        return f"<tensortrace.Diff {self.verdict}{where}, {self.counts['pairs']} pairs>"


class _Tols:
    def __init__(self, specs, tol_file):
        self.ptr = None
        specs = _as_list(specs)
        if not specs and tol_file is None:
            return
        self.ptr = _lib.lib.tt_diff_tols_new()
        if not self.ptr:
            raise MemoryError("tt_diff_tols_new")
        err = ctypes.create_string_buffer(512)
        try:
            if tol_file is not None:
                with open(tol_file, "rb") as f:
                    text = f.read()
                rc = _lib.lib.tt_diff_tol_parse(text, len(text), self.ptr, err, len(err))
                check(rc, f"{tol_file}: {_lib.text(err.value)}")
            for s in specs:
                rc = _lib.lib.tt_diff_tol_spec(self.ptr, str(s).encode(), err, len(err))
                check(rc, f"tol '{s}': {_lib.text(err.value)}")
        except BaseException:
            self.free()
            raise

    def free(self):
        if self.ptr:
            _lib.lib.tt_diff_tols_free(self.ptr)
            self.ptr = None


def diff(left_file, right_file=None, mode="numeric", left=(), right=(), where=(), key=None, align=None,
         stages=None, cache_points=None, tol=(), tol_file=None, threads=None, jump_ratio=None, jump_floor=None,
         topk=None, verify_identical=False, allow_nonfinite=False, stat_threshold=None):
    """Compares two runs with the library's diff engine, as tracediff does with the same options.

    left_file, right_file: two traces, or one (right_file None) whose sides the filters choose; one file without
    filters compares phase=prefill_last (left) with phase=decode0 (right). The right side is the reference.
    left, right, where: conditions ("phase=decode0", "layer=0-3"); mode: numeric | as_designed | kv_aligned;
    align: None | "none" | "pos"; stages: list or comma text, "capture" for capture order; tol: specs
    "POINT[@L]=R:A"; tol_file: a tolerance file; allow_nonfinite: accept NaN/Inf that both sides hold at the same
    elements (tracediff --allow-nonfinite); stat_threshold: |t| above which a scale or offset fit is a finding
    (tracediff --stat-threshold). Returns a Diff whatever the verdict; raises TraceError when the
    comparison cannot run (unreadable file, a side selecting nothing, no pair) with the engine's message.
    """
    o = _lib.DiffOptions()
    o.size = ctypes.sizeof(o)
    m = ctypes.c_int()
    if _lib.lib.tt_diff_mode_from_name(str(mode).encode(), ctypes.byref(m)) != _lib.TT_OK:
        raise ValueError(f"mode: '{mode}' is not numeric, as_designed or kv_aligned")
    o.mode = m.value
    if align not in _ALIGN:
        raise ValueError(f"align: '{align}' is not none or pos")
    o.align = _ALIGN[align]
    o.key = _text_list(key)
    o.stages = b"" if stages == "capture" else _text_list(stages)
    o.cache_points = _text_list(cache_points)
    o.threads = int(threads or 0)
    o.jump_ratio = float(jump_ratio or 0)
    o.jump_floor = float(jump_floor or 0)
    o.topk = int(topk or 0)
    o.verify_identical = 1 if verify_identical else 0
    o.allow_nonfinite = 1 if allow_nonfinite else 0
    o.stat_threshold = float(stat_threshold or 0)
    lconds = _as_list(left) + _as_list(where)
    rconds = _as_list(right) + _as_list(where)
    tols = _Tols(tol, tol_file)
    o.tols = tols.ptr
    lf = rf = None
    ptr = ctypes.c_void_p()
    try:
        lf, rf = Filter(lconds), Filter(rconds)
        rc = _lib.lib.tt_diff_run(ctypes.byref(ptr), str(left_file).encode(), lf.ptr,
                                  None if right_file is None else str(right_file).encode(), rf.ptr, ctypes.byref(o))
        if rc != _lib.TT_OK:
            check(rc, _lib.text(_lib.lib.tt_diff_errmsg(ptr)) if ptr else "")
        jo = _lib.DiffJsonOptions()
        jo.size = ctypes.sizeof(jo)
        la = (ctypes.c_char_p * max(1, len(lconds)))(*[c.encode() for c in lconds])
        ra = (ctypes.c_char_p * max(1, len(rconds)))(*[c.encode() for c in rconds])
        jo.left_conds, jo.left_nconds = la, len(lconds)
        jo.right_conds, jo.right_nconds = ra, len(rconds)
        out = ctypes.c_void_p()
        check(_lib.lib.tt_diff_json(ptr, ctypes.byref(jo), ctypes.byref(out)), "rendering the diff as JSON")
        try:
            text = ctypes.string_at(out.value).decode("utf-8")
        finally:
            _lib.free(out)
    finally:
        _lib.lib.tt_diff_free(ptr)
        for f in (lf, rf):
            if f is not None:
                f.free()
        tols.free()
    return Diff(text)


def _text_list(v):
    if v is None:
        return None
    if isinstance(v, str):
        return v.encode()
    return ",".join(str(x) for x in v).encode()
