"""
reader.py — tt.open: reading a trace through libtrace's reader (tt/reader.h). Records are the library's
metadata as Python values; tensors are read straight into a freshly allocated NumPy array or torch tensor (no
intermediate copy), with the GIL released while the library inflates and checks them. bf16, f16 and fp8 values
are converted to float32 by the library's own conversions (tt_to_f32).
"""
import ctypes
import math

import numpy as np

from . import _lib, dtypes
from ._handle import Handle, open_handle
from .errors import TraceError, check

_RECOVERY = {"auto": 0, "never": 1, "always": 2}

COLUMNS = ("index", "prompt_id", "phase", "point", "layer", "step", "token_id", "logical_tok_idx", "pos_id",
           "rows", "rank", "dtype", "shape", "hash", "min", "max", "mean", "absmax", "l2", "nan_count",
           "inf_count", "has_tensor", "shard_kind", "shard_dim", "shard_index", "shard_count")


class Filter:
    """A tt_filter built from conditions in the tools' syntax ("point=attn_out", "layer=0-3", "phase!=prefill");
    keyword arguments are conditions too (layer=0, point=["q_proj", "k_proj"]). Raises TraceError naming the bad
    condition. Use as a context manager (frees the C filter)."""

    def __init__(self, conds=(), where=None):
        self.conds = [str(c) for c in _as_list(conds)]
        for k, v in (where or {}).items():
            vals = v if isinstance(v, (list, tuple, set, range)) else [v]
            self.conds.append(f"{k}={','.join(str(x) for x in vals)}")
        self.ptr = _lib.lib.tt_filter_new()
        if not self.ptr:
            raise MemoryError("tt_filter_new")
        err = ctypes.create_string_buffer(512)
        for c in self.conds:
            rc = _lib.lib.tt_filter_add(self.ptr, c.encode(), err, len(err))
            if rc != _lib.TT_OK:
                self.free()
                check(rc, _lib.text(err.value) or f"condition '{c}': {_lib.text(_lib.lib.tt_strerror(rc))}")

    def free(self):
        if self.ptr:
            _lib.lib.tt_filter_free(self.ptr)
            self.ptr = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.free()
        return False


def _as_list(conds):
    if conds is None:
        return []
    if isinstance(conds, str):
        return [conds]
    return list(conds)


def _nan_if_unset(flag, v):
    return v if flag else math.nan


class Record:
    """One record: its key fields, dtype, shape, hash and statistics as attributes, and its tensor on demand
    (numpy(), torch(), read_rows()). Valid while its trace is open (reading after close raises ClosedError)."""

    __slots__ = ("_trace", "index", "seq", "time_ns", "prompt_id", "phase", "point", "layer", "step", "token_id",
                 "logical_tok_idx", "pos_id", "rows", "rank", "dtype", "shape", "nbytes", "flags", "hash",
                 "min", "max", "mean", "absmax", "l2", "nan_count", "inf_count", "stored_bytes", "shard_kind",
                 "shard_dim", "shard_index", "shard_count")

    def __init__(self, trace, c):
        self._trace = trace
        k = c.key
        self.index, self.seq, self.time_ns = c.index, c.seq, c.time_ns
        self.prompt_id, self.phase, self.point = _lib.text(k.prompt_id), _lib.text(k.phase), _lib.text(k.point)
        self.layer, self.step, self.token_id = k.layer, k.step, k.token_id
        self.logical_tok_idx, self.pos_id, self.rows, self.rank = k.logical_tok_idx, k.pos_id, k.rows, k.rank
        self.shard_kind = _lib.text(_lib.lib.tt_shard_kind_name(k.shard_kind))
        self.shard_dim, self.shard_index, self.shard_count = k.shard_dim, k.shard_index, k.shard_count
        self.dtype = dtypes.CODES.get(c.dtype, "unknown")
        self.shape = tuple(c.shape[i] for i in range(c.ndim))
        self.nbytes, self.flags, self.stored_bytes = c.nbytes, c.flags, c.stored_bytes
        self.hash = c.hash if c.flags & _lib.TT_REC_HAS_HASH else None
        has = c.flags & _lib.TT_REC_HAS_STATS
        s = c.stats
        self.min, self.max, self.mean = (_nan_if_unset(has, s.min), _nan_if_unset(has, s.max),
                                         _nan_if_unset(has, s.mean))
        self.absmax, self.l2 = _nan_if_unset(has, s.absmax), _nan_if_unset(has, s.l2)
        self.nan_count = s.nan_count if has else None
        self.inf_count = s.inf_count if has else None

    @property
    def has_tensor(self):
        """True when the tensor's bytes are in the file (not a stats/hash-only record, not lost in recovery)."""
        return bool(self.flags & _lib.TT_REC_HAS_PAYLOAD) and not self.flags & _lib.TT_REC_LOST

    @property
    def has_stats(self):
        return bool(self.flags & _lib.TT_REC_HAS_STATS)

    @property
    def lost(self):
        return bool(self.flags & _lib.TT_REC_LOST)

    def numpy(self, raw=False):
        """The tensor as a NumPy array of its shape. f32/f64/integers as stored; bf16, f16 and fp8 as float32
        values, or with raw=True as their stored bits (uint16 / uint8)."""
        out = np.empty(self.shape, dtype=self._raw_type())
        self._trace._read(self, out.ctypes.data, out.nbytes)
        return out if raw else _values(self.dtype, out)

    def torch(self):
        """The tensor as a torch tensor in its own dtype (bf16 stays bf16; fp8 where this PyTorch has it, else
        float32 values)."""
        import torch
        tdt = dtypes.to_torch(torch, self.dtype)
        if tdt is None:
            return torch.from_numpy(self.numpy())
        t = torch.empty(self.shape, dtype=tdt)
        self._trace._read(self, t.data_ptr(), t.numel() * t.element_size())
        return t

    def read_rows(self, first, count, raw=False):
        """Rows [first, first+count) of the leading dimension, as numpy() gives them; the library inflates only
        the chunks that hold them."""
        if not self.shape:
            raise TraceError(f"record {self.index} ({self.point}) is a scalar: it has no rows")
        first, count = int(first), int(count)
        if first < 0 or count < 0:
            raise ValueError(f"read_rows({first}, {count}): first and count must be >= 0")
        out = np.empty((count,) + self.shape[1:], dtype=self._raw_type())
        self._trace._read(self, out.ctypes.data, out.nbytes, (first, count))
        return out if raw else _values(self.dtype, out)

    def _raw_type(self):
        if self.dtype == "unknown":
            raise TraceError(f"record {self.index} ({self.point}) has no dtype: it holds no tensor")
        return dtypes.raw_numpy(self.dtype)

    @property
    def shard(self):
        """The shard layout as a Shard(kind, dim, index, count), or None for a whole tensor."""
        if self.shard_kind == "none":
            return None
        from .writer import Shard
        return Shard(self.shard_kind, self.shard_dim, self.shard_index, self.shard_count)

    def key(self):
        """The key fields as a dict."""
        return {f: getattr(self, f) for f in ("prompt_id", "phase", "point", "layer", "step", "token_id",
                                              "logical_tok_idx", "pos_id", "rows", "rank")}

    def __repr__(self):
        return (f"<Record {self.index} {self.point} layer={self.layer} phase={self.phase} pos_id={self.pos_id} "
                f"{self.dtype}{list(self.shape)}>")


def _values(name, raw):
    if not dtypes.needs_conversion(name):
        return raw
    out = np.empty(raw.shape, dtype=np.float32)
    check(_lib.lib.tt_to_f32(dtypes.NAMES[name], raw.ctypes.data, raw.size, out.ctypes.data), "")
    return out


class Trace:
    """An open trace (tt.open). len(t), t[i], iteration, t.records, t.select(...), t.meta, t.info."""

    def __init__(self, path, recover="auto", cache_batches=None):
        self.path = str(path)
        o = _lib.ReaderOptions()
        o.size = ctypes.sizeof(o)
        if recover not in _RECOVERY:
            raise ValueError(f"recover: '{recover}' is not one of {', '.join(_RECOVERY)}")
        o.recovery = _RECOVERY[recover]
        o.cache_batches = cache_batches or 0
        lib = _lib.lib
        ptr = open_handle(lib.tt_reader_open, lib.tt_reader_errmsg, lib.tt_reader_close, self.path, o)
        # a reader handle serves one thread at a time: calls are serialised
        self._h = Handle(ptr, _lib.lib.tt_reader_close, f"trace {self.path}", exclusive=True)
        self._records = None

    def _err(self, p, rc):
        check(rc, _lib.text(_lib.lib.tt_reader_errmsg(p)))

    def __len__(self):
        with self._h as p:
            return _lib.lib.tt_reader_count(p)

    def _record(self, p, i):
        c = _lib.Record()
        self._err(p, _lib.lib.tt_reader_record(p, i, ctypes.byref(c)))
        return Record(self, c)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"record index must be an int, not {type(i).__name__}")
        n = len(self)
        j = int(i) + n if i < 0 else int(i)
        if not 0 <= j < n:
            raise IndexError(f"record {i} out of range: {self.path} has {n} records")
        with self._h as p:
            return self._record(p, j)

    def __iter__(self):
        return self._scan(None)

    def _scan(self, filt):
        cursor = _lib.c_u64(0)
        while True:
            c = _lib.Record()
            with self._h as p:
                rc = _lib.lib.tt_reader_next(p, filt.ptr if filt else None, ctypes.byref(cursor), ctypes.byref(c))
                if rc < 0:
                    self._err(p, rc)
            if rc == 0:
                return
            yield Record(self, c)

    def select(self, *conds, **where):
        """The records matching every condition, in the tools' filter syntax: select("point=attn_out",
        "layer=0-3") or select(point="attn_out", layer=0)."""
        with Filter(conds, where) as f:
            return list(self._scan(f))

    def find(self, **key):
        """The first record with these key fields, or None."""
        r = self.select(**key)
        return r[0] if r else None

    @property
    def meta(self):
        """The file's metadata as a dict."""
        with self._h as p:
            info = self._info(p)
            k, v = _lib.c_char_p(), _lib.c_char_p()
            out = {}
            for i in range(info.meta_count):
                self._err(p, _lib.lib.tt_reader_meta(p, i, ctypes.byref(k), ctypes.byref(v)))
                out[_lib.text(k.value)] = _lib.text(v.value)
            return out

    def _info(self, p):
        info = _lib.FileInfo()
        self._err(p, _lib.lib.tt_reader_info(p, ctypes.byref(info)))
        return info

    @property
    def info(self):
        """File-level facts (tt_file_info) as a dict; counters as a nested dict."""
        with self._h as p:
            i = self._info(p)
        out = {n: getattr(i, n) for n, _ in i._fields_ if n not in ("counters", "writer")}
        out["writer"] = _lib.text(i.writer)
        out["footer_intact"] = bool(i.footer_intact)
        out["counters"] = {n: getattr(i.counters, n) for n, _ in i.counters._fields_}
        return out

    @property
    def records(self):
        """Every record's metadata as columns: a pandas.DataFrame when pandas imports, else a dict of NumPy
        arrays. Columns: index prompt_id phase point layer step token_id logical_tok_idx pos_id rows rank dtype
        shape hash min max mean absmax l2 nan_count inf_count has_tensor shard_kind shard_dim shard_index
        shard_count (shard_kind "none", "split" or "partial"). Absent statistics are NaN (counts
        -1), an absent hash 0."""
        if self._records is None:
            self._records = _columns(self)
        cols = self._records
        try:
            import pandas as pd
        except ImportError:
            return {k: v.copy() for k, v in cols.items()}
        return pd.DataFrame(cols, columns=list(COLUMNS))

    def _read(self, rec, addr, size, rows=None):
        if rec._trace is not self:
            raise ValueError("record of another trace")
        with self._h as p:
            if rows is None:
                rc = _lib.lib.tt_reader_read(p, rec.index, addr, size)
            else:
                rc = _lib.lib.tt_reader_read_rows(p, rec.index, rows[0], rows[1], addr, size)
            if rc != _lib.TT_OK:
                self._err(p, rc)

    @property
    def closed(self):
        return self._h.closed

    def close(self):
        """Closes the file; closing again does nothing. Records of a closed trace can no longer read tensors."""
        self._h.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        h = getattr(self, "_h", None)
        if h is not None:
            h.close()

    def __repr__(self):
        if self.closed:
            return f"<tensortrace.Trace {self.path!r} closed>"
        return f"<tensortrace.Trace {self.path!r} {len(self)} records>"


def _columns(trace):
    lists = {c: [] for c in COLUMNS}
    for r in trace:
        for c in COLUMNS:
            if c == "hash":
                v = r.hash if r.hash is not None else 0
            elif c in ("nan_count", "inf_count"):
                v = getattr(r, c)
                v = -1 if v is None else v
            else:
                v = getattr(r, c)
            lists[c].append(v)
    obj = ("prompt_id", "phase", "point", "dtype", "shape", "shard_kind")
    out = {}
    for c in COLUMNS:
        if c in obj:
            a = np.empty(len(lists[c]), dtype=object)
            for i, v in enumerate(lists[c]):  # element by element: tuples must not become a 2-d array
                a[i] = v
            out[c] = a
        elif c == "hash":
            out[c] = np.array(lists[c], dtype=np.uint64)
        elif c in ("min", "max", "mean", "absmax", "l2"):
            out[c] = np.array(lists[c], dtype=np.float64)
        elif c == "has_tensor":
            out[c] = np.array(lists[c], dtype=bool)
        else:
            out[c] = np.array(lists[c], dtype=np.int64)
    return out


def open(path, recover="auto"):  # noqa: A001 - the package's tt.open, like io.open
    """Opens a trace for reading. recover: "auto" (rebuild the index by scanning when the footer is missing or
    damaged), "never", "always". Raises TraceError with the library's message on bad input."""
    return Trace(path, recover=recover)
