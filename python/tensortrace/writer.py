"""
writer.py — tt.Writer: writing a trace from NumPy arrays and PyTorch tensors through libtrace's writer
(tt/writer.h). put() hands the library a pointer to the tensor's own memory; the library copies it before the
call returns (with the GIL released) and hashes, compresses and writes on its own threads.
"""
import collections
import ctypes

import numpy as np

from . import _lib, dtypes
from ._handle import Handle, open_handle
from .errors import TraceError, check

_MODES = {"full": 1, "stats": 2, "hash": 3, "off": 4}
_ON_FULL = {"block": 1, "drop": 2}
_SHUFFLE = {"auto": 0, "on": 1, "off": 2}
_FILTER = {"auto": 0, "float": 1, "shuffle": 2, "none": 3}
# The diff engine's cache points (TT_DIFF_DEFAULT_CACHE_POINTS): [kv_len, features] records indexed from
# position 0, so they are keyed pos_id 0 and rows = kv_len.
CACHE_POINTS = ("k_cache", "v_cache")
_RESULTS = {_lib.TT_OK: "written", _lib.TT_FILTERED: "filtered", _lib.TT_DROPPED: "dropped"}


def _names(v, what):
    """A filter list: None, "0,1,2", or a list of names/ints -> the comma text the library parses."""
    if v is None:
        return None
    if isinstance(v, (str, bytes)):
        return v.encode() if isinstance(v, str) else v
    try:
        return ",".join(str(x) for x in v).encode()
    except TypeError:
        raise TypeError(f"{what}: expected a string or a list, got {type(v).__name__}") from None


def _choice(v, table, what):
    if v is None:
        return 0
    try:
        return table[v]
    except (KeyError, TypeError):
        raise ValueError(f"{what}: '{v}' is not one of {', '.join(table)}") from None


def _int(v, what, lo=-(1 << 31), hi=(1 << 31) - 1):
    if v is None:
        return _lib.TT_UNSET
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        try:
            import torch  # a 0-d integer tensor (a position id) is accepted
            if isinstance(v, torch.Tensor) and v.numel() == 1 and not v.is_floating_point():
                v = int(v.item())
        except ImportError:
            pass
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            raise TypeError(f"{what}: expected an int, got {type(v).__name__}")
    v = int(v)
    if not lo <= v <= hi:
        raise ValueError(f"{what}: {v} is outside {lo}..{hi}")
    return v


def _tensor_buffer(x, dtype):
    """(owner, address, dtype name, shape) of x's elements, contiguous and little-endian. owner keeps the memory
    alive during the call; a copy is made only when x is not already laid out that way (or is on a GPU)."""
    mod = type(x).__module__
    if mod.startswith("torch"):
        import torch
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"cannot put a {type(x).__name__}")
        t = x.detach()
        if t.device.type != "cpu":
            t = t.to("cpu")
        t = t.contiguous()
        name = dtypes.from_torch(torch, t.dtype)
        if dtype is not None:
            want = dtypes.CODES[dtypes.code(dtype)]
            if want != name and (name[0] not in "iu" or dtypes.size(want) != dtypes.size(name)):
                raise ValueError(f"dtype={dtype}: the tensor is torch {t.dtype}; only the stored bits of a type "
                                 "torch lacks, as an integer tensor of its size, can be relabelled")
            name = want
        return t, t.data_ptr(), name, tuple(t.shape)
    if not isinstance(x, np.ndarray):
        if isinstance(x, (list, tuple, int, float)):
            raise TypeError("put() takes a NumPy array or a torch tensor; wrap lists with np.asarray() and say "
                            "the dtype")
        raise TypeError(f"cannot put a {type(x).__name__}: expected a NumPy array or a torch tensor")
    a = x
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    if dtype is not None:
        name = dtypes.CODES[dtypes.code(dtype)]
        raw = dtypes.raw_numpy(name)
        if a.dtype.newbyteorder("=") != raw:
            raise ValueError(f"dtype={dtype}: expects a NumPy {raw} array of its stored values/bits, got {a.dtype}")
    else:
        name = dtypes.from_numpy(a.dtype)
    if not a.flags.c_contiguous:
        a = a.copy(order="C")  # not np.ascontiguousarray: it makes a 0-d array 1-d
    return a, a.ctypes.data, name, tuple(a.shape)


class Shard(collections.namedtuple("Shard", "kind dim index count")):
    """A record's shard layout (tt_key's shard fields): kind "split" (slice index of count along dimension dim)
    or "partial" (addend index of count partial sums; dim -1)."""

    @classmethod
    def split(cls, dim, index, count):
        return cls("split", dim, index, count)

    @classmethod
    def partial(cls, index, count):
        return cls("partial", -1, index, count)


_SHARD_KINDS = {"none": _lib.TT_SHARD_NONE, "split": _lib.TT_SHARD_SPLIT, "partial": _lib.TT_SHARD_PARTIAL}


def _set_shard(k, shard, ndim, point):
    """Fills the key's shard fields from put()'s shard= and checks them with the library's rules."""
    k.shard_kind, k.shard_dim, k.shard_index, k.shard_count = _lib.TT_SHARD_NONE, -1, -1, -1
    if shard is None:
        return
    if isinstance(shard, Shard):
        kind, dim, index, count = shard
    elif isinstance(shard, (tuple, list)) and len(shard) == 4 and shard[0] == "split":
        kind, dim, index, count = shard
    elif isinstance(shard, (tuple, list)) and len(shard) == 3 and shard[0] == "partial":
        (kind, index, count), dim = shard, -1
    else:
        raise ValueError(f"{point}: shard={shard!r}: expected (\"split\", dim, index, count) or "
                         "(\"partial\", index, count)")
    if kind not in _SHARD_KINDS:
        raise ValueError(f"{point}: shard kind {kind!r}: expected split or partial")
    k.shard_kind = _SHARD_KINDS[kind]
    k.shard_dim, k.shard_index, k.shard_count = (_int(dim, "shard dim"), _int(index, "shard index"),
                                                  _int(count, "shard count"))
    why = ctypes.create_string_buffer(200)
    if _lib.lib.tt_key_shard_check(ctypes.byref(k), ndim, why, len(why)) != 0:
        raise ValueError(f"{point}: shard={tuple(shard)!r}: {why.value.decode()}")


class Writer:
    """A trace being written. Use as a context manager, or call close().

    Writer(path, overwrite=False, threads=None, meta=None, mode="full", layers=None, points=None, prompts=None,
           phases=None, on_full="block", inflight_mb=None, zstd_level=None, shuffle="auto", chunk_bytes=None,
           flush_ms=None, env=False, rank=None, world_size=None, payload_filter="auto")

    The arguments are tt_writer_options. With env=False (the default) the TT_TRACE_* environment variables are
    ignored: what the script says is what it gets. env=True lets them override the arguments, as they do for an
    engine (TT_TRACE_LAYERS, TT_TRACE_POINTS, ... see tt/writer.h), and lets the rank come from TT_TRACE_RANK or
    a launcher's variables (RANK, OMPI_COMM_WORLD_RANK, SLURM_PROCID, LOCAL_RANK) when rank is None.

    rank, world_size: this process's rank in a tensor-parallel job: stored in the metadata and in every record
    put without its own rank. The path may hold %r (the rank), %p (the process id) and %% (a '%'), so that each
    rank writes its own file (Writer("run-%r.tt", rank=3) writes run-3.tt); `path` is then the expanded name.
    """

    def __init__(self, path, overwrite=False, threads=None, meta=None, mode=None, layers=None, points=None,
                 prompts=None, phases=None, on_full=None, inflight_mb=None, zstd_level=None, shuffle=None,
                 chunk_bytes=None, flush_ms=None, env=False, rank=None, world_size=None, payload_filter=None):
        self.path = str(path)
        o = _lib.WriterOptions()
        o.size = ctypes.sizeof(o)
        o.mode = _choice(mode, _MODES, "mode")
        o.threads = 0 if threads is None else _int(threads, "threads", 1, 256)
        o.inflight_bytes = 0 if inflight_mb is None else _int(inflight_mb, "inflight_mb", 1, 1 << 20) << 20
        o.on_full = _choice(on_full, _ON_FULL, "on_full")
        if zstd_level is not None:
            o.zstd_level, o.zstd_level_set = _int(zstd_level, "zstd_level", -7, 19), 1
        o.shuffle = _choice(shuffle, _SHUFFLE, "shuffle")
        o.payload_filter = _choice(payload_filter, _FILTER, "payload_filter")
        o.chunk_bytes = 0 if chunk_bytes is None else _int(chunk_bytes, "chunk_bytes", 1, 1 << 30)
        o.flush_ms = 0 if flush_ms is None else _int(flush_ms, "flush_ms", 1)
        o.layers, o.points = _names(layers, "layers"), _names(points, "points")
        o.prompts, o.phases = _names(prompts, "prompts"), _names(phases, "phases")
        o.ignore_env = 0 if env else 1
        o.overwrite = 1 if overwrite else 0
        if rank is not None:
            o.rank, o.rank_set = _int(rank, "rank", 0, 2**31 - 2), 1
        o.world_size = 0 if world_size is None else _int(world_size, "world_size", 1, 2**31 - 1)
        if meta is not None and not isinstance(meta, dict):
            raise TypeError("meta: expected a dict of str to str")
        self._opts = o  # the strings must outlive the open call
        lib = _lib.lib
        ptr = open_handle(lib.tt_writer_open, lib.tt_writer_errmsg, lib.tt_writer_free, self.path, o)
        self.path = _lib.text(lib.tt_writer_path(ptr))  # %r and %p expanded
        r = lib.tt_writer_rank(ptr)
        self.rank = None if r == _lib.TT_UNSET else r
        self._h = Handle(ptr, _lib.lib.tt_writer_free, f"writer of {self.path}", exclusive=False)
        self._counters = None
        try:
            for k, v in (meta or {}).items():
                self.set_meta(k, v)
        except BaseException:
            self._h.close()
            raise

    def _err(self, ptr, rc):
        check(rc, _lib.text(_lib.lib.tt_writer_errmsg(ptr)))

    def set_meta(self, key, value):
        """Sets a file metadata key/value (engine, model, device, ...); both str."""
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"meta {key!r}: keys and values must be str")
        with self._h as p:
            self._err(p, _lib.lib.tt_writer_set_meta(p, key.encode(), value.encode()))

    def wants(self, point, layer=-1, prompt_id=None, phase=None):
        """True when a record with these fields would pass the filters and the mode (None: not known yet)."""
        enc = (lambda v: None if v is None else str(v).encode())
        with self._h as p:
            return bool(_lib.lib.tt_writer_wants(p, enc(point), _int(layer, "layer"), enc(prompt_id), enc(phase)))

    def put(self, x, point, layer=-1, phase=None, step=None, prompt_id=None, token_id=None, pos_id=None,
            logical_tok_idx=None, rows=None, rank=None, dtype=None, shard=None):
        """Captures one tensor (a NumPy array or a torch tensor; GPU tensors are copied to the host first).

        Key fields as in tt_key; None means unset (-1). rank None is the writer's rank (0 when it has none).
        rows defaults to shape[0] for tensors of two or more dimensions and must equal it when given.
        shard: None (the whole tensor), ("split", dim, index, count) for slice index of count along dimension
        dim (a column-parallel output), ("partial", index, count) for addend index of count partial sums (a
        row-parallel output before its all-reduce), or a Shard (as Record.shard returns); a layout that breaks
        tt_key's rules raises ValueError naming the rule. Cache points (k_cache, v_cache) are keyed pos_id 0 with
        rows = kv_len, as the diff engine reads them. dtype= stores NumPy uint16/uint8 bits as bf16/f16/fp8.
        Returns "written" (queued), "filtered" (the filters or mode rejected it) or "dropped" (on_full="drop"
        and the in-flight bound was reached); raises TraceError on failure.
        """
        if not isinstance(point, str) or not point:
            raise ValueError("point: a non-empty str is required")
        owner, addr, name, shape = _tensor_buffer(x, dtype)
        if len(shape) > _lib.TT_MAX_DIMS:
            raise ValueError(f"{point}: {len(shape)} dimensions, at most {_lib.TT_MAX_DIMS}")
        k = _lib.Key()
        k.point = point.encode()
        k.phase = None if phase is None else str(phase).encode()
        k.prompt_id = None if prompt_id is None else str(prompt_id).encode()
        k.layer = _int(layer, "layer")
        k.step = _int(step, "step")
        k.token_id = _int(token_id, "token_id")
        k.logical_tok_idx = _int(logical_tok_idx, "logical_tok_idx")
        k.pos_id = _int(pos_id, "pos_id")
        k.rank = _int(rank, "rank")
        _set_shard(k, shard, len(shape), point)
        lead = shape[0] if len(shape) >= 2 else None
        k.rows = _int(rows, "rows") if rows is not None else (lead if lead is not None else _lib.TT_UNSET)
        if rows is not None and lead is not None and rows != lead:
            raise ValueError(f"{point}: rows={rows} but the tensor's leading dimension is {lead} (rows is the "
                             "number of rows the tensor holds)")
        if point in CACHE_POINTS:
            if k.pos_id not in (_lib.TT_UNSET, 0):
                raise ValueError(f"{point}: cache records are keyed pos_id 0 (row i of the cache is position i), "
                                 f"rows = kv_len; got pos_id={pos_id}")
            k.pos_id = 0
        cshape = (_lib.c_u64 * max(1, len(shape)))(*shape)
        with self._h as p:
            rc = _lib.lib.tt_put(p, ctypes.byref(k), dtypes.NAMES[name], len(shape), cshape, addr)
            if rc < 0:
                self._err(p, rc)
        del owner
        return _RESULTS[rc]

    def flush(self):
        """Waits until everything put so far is in the file."""
        with self._h as p:
            self._err(p, _lib.lib.tt_writer_flush(p))

    @property
    def counters(self):
        """The writer's counters (puts, filtered, dropped, written, bytes_raw, bytes_stored, ...) as a dict."""
        if self._h.closed:
            return dict(self._counters or {})
        with self._h as p:
            return self._get_counters(p)

    @staticmethod
    def _get_counters(p):
        c = _lib.WriterCounters()
        _lib.lib.tt_writer_get_counters(p, ctypes.byref(c))
        return {n: getattr(c, n) for n, _ in c._fields_}

    @property
    def closed(self):
        return self._h.closed

    def close(self):
        """Writes what is pending and the footer, and closes the file. Closing again does nothing. Raises
        TraceError when the writer met an error (what was written stays readable)."""
        def finish(p):
            rc = _lib.lib.tt_writer_close(p)
            self._counters = self._get_counters(p)
            return rc, _lib.text(_lib.lib.tt_writer_errmsg(p))
        res = self._h.close(finish)
        if res is not None:
            check(*res)

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        try:
            self.close()
        except TraceError:
            if et is None:
                raise
        return False

    def __del__(self):
        h = getattr(self, "_h", None)
        if h is not None and not h.closed:
            try:
                h.close(_lib.lib.tt_writer_close)
            except Exception:
                pass

    def __repr__(self):
        return f"<tensortrace.Writer {self.path!r}{' closed' if self.closed else ''}>"
