"""
_lib.py — finds and loads libtrace (the C library) and declares the parts of its public headers the package
calls, through ctypes. Every rule of the format lives in the library; this module only mirrors the C types
(libtrace/include/tt/*.h) and gives each function its signature. tests/python checks the mirrored struct
layouts against the compiler's.

Where the library comes from, first match wins:
  1. $TT_LIBTRACE, a path to libtrace.so (an error if it cannot be loaded: no silent fallback);
  2. the build tree next to the checkout this package sits in (build/libtrace/libtrace.so);
  3. the installed library: beside an installed package (PREFIX/lib/python3/dist-packages/tensortrace ->
     PREFIX/lib, lib64 or lib/<multiarch>), else libtrace.so.0 on the loader's path.

ctypes.CDLL releases the GIL for the duration of every foreign call, so large reads and puts run while other
Python threads do.
"""
import ctypes
import os
import sysconfig

c_u8, c_u16, c_u32, c_u64 = ctypes.c_uint8, ctypes.c_uint16, ctypes.c_uint32, ctypes.c_uint64
c_i32, c_int, c_double = ctypes.c_int32, ctypes.c_int, ctypes.c_double
c_char_p, c_void_p, c_size_t = ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t
POINTER, byref = ctypes.POINTER, ctypes.byref

# tt/common.h
TT_OK = 0
TT_FILTERED = 1
TT_DROPPED = 2
TT_UNSET = -1
TT_MAX_DIMS = 8
TT_E_NOMEM = -2
TT_E_RANGE = -10
TT_E_NOPAYLOAD = -11

# tt/writer.h record flags
TT_REC_HAS_PAYLOAD = 0x01
TT_REC_HAS_HASH = 0x02
TT_REC_HAS_STATS = 0x04
TT_REC_PACKED = 0x08  # reader only: stored packed with other small records (format 1.1)
TT_REC_LOST = 0x80

# tt/common.h shard layouts (tt_key.shard_kind)
TT_SHARD_NONE = 0
TT_SHARD_SPLIT = 1
TT_SHARD_PARTIAL = 2
TT_MAX_SHARDS = 65536


class Key(ctypes.Structure):
    """tt_key"""
    _fields_ = [("prompt_id", c_char_p), ("phase", c_char_p), ("point", c_char_p), ("layer", c_i32),
                ("step", c_i32), ("token_id", c_i32), ("logical_tok_idx", c_i32), ("pos_id", c_i32),
                ("rows", c_i32), ("rank", c_i32), ("shard_kind", c_i32), ("shard_dim", c_i32),
                ("shard_index", c_i32), ("shard_count", c_i32)]


class Stats(ctypes.Structure):
    """tt_stats"""
    _fields_ = [("min", c_double), ("max", c_double), ("mean", c_double), ("absmax", c_double),
                ("l2", c_double), ("nan_count", c_u64), ("inf_count", c_u64)]


class Record(ctypes.Structure):
    """tt_record"""
    _fields_ = [("index", c_u64), ("seq", c_u64), ("time_ns", c_u64), ("key", Key), ("dtype", c_int),
                ("ndim", c_int), ("shape", c_u64 * TT_MAX_DIMS), ("nbytes", c_u64), ("flags", c_u32),
                ("hash", c_u64), ("stats", Stats), ("stored_bytes", c_u64), ("payload_frames", c_u32)]


class WriterOptions(ctypes.Structure):
    """tt_writer_options (grows by appending; `size` tells the library which fields this mirror has)"""
    _fields_ = [("size", c_u32), ("mode", c_int), ("threads", c_u32), ("inflight_bytes", c_u64),
                ("on_full", c_int), ("zstd_level", c_int), ("zstd_level_set", c_int), ("shuffle", c_int),
                ("chunk_bytes", c_u32), ("batch_records", c_u32), ("flush_ms", c_u32), ("layers", c_char_p),
                ("points", c_char_p), ("prompts", c_char_p), ("phases", c_char_p), ("ignore_env", c_int),
                ("overwrite", c_int), ("rank", c_i32), ("rank_set", c_int), ("world_size", c_i32),
                ("payload_filter", c_int)]


class WriterCounters(ctypes.Structure):
    """tt_writer_counters"""
    _fields_ = [(n, c_u64) for n in ("puts", "filtered", "dropped", "written", "bytes_raw", "bytes_stored",
                                     "payload_frames", "batches", "file_bytes", "errors")]


class ReaderOptions(ctypes.Structure):
    """tt_reader_options"""
    _fields_ = [("size", c_u32), ("recovery", c_int), ("cache_batches", c_u32)]


class FileInfo(ctypes.Structure):
    """tt_file_info"""
    _fields_ = [("format_major", c_u16), ("format_minor", c_u16), ("file_size", c_u64), ("record_count", c_u64),
                ("batch_count", c_u64), ("payload_frame_count", c_u64), ("meta_count", c_u64),
                ("chunk_bytes", c_u32), ("footer_intact", c_int), ("counters_known", c_int),
                ("counters", WriterCounters), ("created_ns", c_u64), ("closed_ns", c_u64), ("writer", c_char_p),
                ("damaged_frames", c_u64), ("lost_records", c_u64), ("scan_end", c_u64)]


class DiffOptions(ctypes.Structure):
    """tt_diff_options (grows by appending; `size` tells the library which fields this mirror has)"""
    _fields_ = [("size", c_u32), ("mode", c_int), ("align", c_int), ("key", c_char_p), ("stages", c_char_p),
                ("cache_points", c_char_p), ("tols", c_void_p), ("threads", c_u32), ("jump_ratio", c_double),
                ("jump_floor", c_double), ("topk", c_u32), ("slab_bytes", c_u64), ("verify_identical", c_int),
                ("allow_nonfinite", c_int), ("stat_threshold", c_double)]


class DiffJsonOptions(ctypes.Structure):
    """tt_diff_json_options"""
    _fields_ = [("size", c_u32), ("left_conds", POINTER(c_char_p)), ("left_nconds", c_size_t),
                ("right_conds", POINTER(c_char_p)), ("right_nconds", c_size_t)]


# Every mirrored struct, by its C name: the layout test compares each with the compiler's offsets.
STRUCTS = {"tt_key": Key, "tt_stats": Stats, "tt_record": Record, "tt_writer_options": WriterOptions,
           "tt_writer_counters": WriterCounters, "tt_reader_options": ReaderOptions, "tt_file_info": FileInfo,
           "tt_diff_options": DiffOptions, "tt_diff_json_options": DiffJsonOptions}

_P = c_void_p  # opaque handles: tt_writer*, tt_reader*, tt_filter*, tt_diff*, tt_diff_tols*

# name: (restype, argtypes)
_FUNCS = {
    "tt_version": (c_char_p, []),
    "tt_strerror": (c_char_p, [c_int]),
    "tt_status_name": (c_char_p, [c_int]),
    "tt_dtype_size": (c_size_t, [c_int]),
    "tt_dtype_name": (c_char_p, [c_int]),
    "tt_dtype_from_name": (c_int, [c_char_p, POINTER(c_int)]),
    "tt_to_f32": (c_int, [c_int, c_void_p, c_size_t, c_void_p]),
    "tt_hash": (c_u64, [c_void_p, c_size_t]),
    # writer
    "tt_writer_open": (c_int, [POINTER(_P), c_char_p, POINTER(WriterOptions)]),
    "tt_writer_set_meta": (c_int, [_P, c_char_p, c_char_p]),
    "tt_writer_wants": (c_int, [_P, c_char_p, c_i32, c_char_p, c_char_p]),
    "tt_put": (c_int, [_P, POINTER(Key), c_int, c_int, POINTER(c_u64), c_void_p]),
    "tt_writer_flush": (c_int, [_P]),
    "tt_writer_get_counters": (c_int, [_P, POINTER(WriterCounters)]),
    "tt_writer_close": (c_int, [_P]),
    "tt_writer_free": (None, [_P]),
    "tt_writer_errmsg": (c_char_p, [_P]),
    "tt_writer_path": (c_char_p, [_P]),
    "tt_shard_kind_name": (c_char_p, [c_i32]),
    "tt_writer_rank": (c_i32, [_P]),
    "tt_key_shard_check": (c_int, [POINTER(Key), c_int, c_char_p, c_size_t]),
    # reader
    "tt_reader_open": (c_int, [POINTER(_P), c_char_p, POINTER(ReaderOptions)]),
    "tt_reader_close": (None, [_P]),
    "tt_reader_errmsg": (c_char_p, [_P]),
    "tt_reader_info": (c_int, [_P, POINTER(FileInfo)]),
    "tt_reader_count": (c_u64, [_P]),
    "tt_reader_meta": (c_int, [_P, c_u64, POINTER(c_char_p), POINTER(c_char_p)]),
    "tt_reader_record": (c_int, [_P, c_u64, POINTER(Record)]),
    "tt_reader_next": (c_int, [_P, _P, POINTER(c_u64), POINTER(Record)]),
    "tt_reader_read": (c_int, [_P, c_u64, c_void_p, c_size_t]),
    "tt_reader_read_rows": (c_int, [_P, c_u64, c_u64, c_u64, c_void_p, c_size_t]),
    "tt_filter_new": (_P, []),
    "tt_filter_free": (None, [_P]),
    "tt_filter_add": (c_int, [_P, c_char_p, c_char_p, c_size_t]),
    # diff
    "tt_diff_run": (c_int, [POINTER(_P), c_char_p, _P, c_char_p, _P, POINTER(DiffOptions)]),
    "tt_diff_free": (None, [_P]),
    "tt_diff_errmsg": (c_char_p, [_P]),
    "tt_diff_mode_from_name": (c_int, [c_char_p, POINTER(c_int)]),
    "tt_diff_json": (c_int, [_P, POINTER(DiffJsonOptions), POINTER(c_void_p)]),
    "tt_diff_tols_new": (_P, []),
    "tt_diff_tols_free": (None, [_P]),
    "tt_diff_tol_parse": (c_int, [c_char_p, c_size_t, _P, c_char_p, c_size_t]),
    "tt_diff_tol_spec": (c_int, [_P, c_char_p, c_char_p, c_size_t]),
}


class LibraryNotFound(OSError):
    """libtrace could not be found or loaded; the message lists where it was looked for."""


def _candidates():
    env = os.environ.get("TT_LIBTRACE")
    if env:
        return [("$TT_LIBTRACE", env)], True
    here = os.path.dirname(os.path.abspath(__file__))
    tree = os.path.join(os.path.dirname(os.path.dirname(here)), "build", "libtrace", "libtrace.so")
    cands = [("the build tree", tree)]
    prefix_lib = os.path.normpath(os.path.join(here, "..", "..", ".."))  # PREFIX/lib/python3/dist-packages/..
    if os.path.basename(os.path.dirname(os.path.dirname(here))) == "python3":
        arch = sysconfig.get_config_var("MULTIARCH") or ""
        for d in (prefix_lib, os.path.join(os.path.dirname(prefix_lib), "lib64"), os.path.join(prefix_lib, arch)):
            if os.path.exists(os.path.join(d, "libtrace.so.0")):
                cands.append(("the installed library", os.path.join(d, "libtrace.so.0")))
                break
    cands.append(("the installed library", "libtrace.so.0"))
    return cands, False


def _load():
    tried = []
    cands, explicit = _candidates()
    for where, path in cands:
        if os.sep in path and not os.path.exists(path):
            tried.append(f"{where}: {path} (no such file)")
            if explicit:
                break
            continue
        try:
            lib = ctypes.CDLL(path)
            lib.tt_version  # another library called libtrace (packet capture) has no tt_ symbols
        except (OSError, AttributeError) as e:
            tried.append(f"{where}: {path} ({e})")
            if explicit:
                break
            continue
        return lib, path
    raise LibraryNotFound("libtrace not found; looked in " + "; ".join(tried) +
                          ". Build it (cmake -S . -B build && cmake --build build) or set TT_LIBTRACE to the "
                          "path of libtrace.so")


def _bind(lib, path):
    missing = []
    for name, (res, args) in _FUNCS.items():
        try:
            f = getattr(lib, name)
        except AttributeError:
            missing.append(name)
            continue
        f.restype, f.argtypes = res, args
    if missing:
        raise LibraryNotFound(f"{path}: libtrace {lib.tt_version().decode()} lacks {', '.join(missing)}: "
                              "it is older than this package; rebuild it")


lib, path = _load()
_bind(lib, path)
version = lib.tt_version().decode()

# The one deallocator for text the library returns with malloc (tt_diff_json): the C library's own free().
_libc = ctypes.CDLL(None)
_libc.free.restype, _libc.free.argtypes = None, [c_void_p]
free = _libc.free


def text(b):
    """A C string from the library as str (None stays None)."""
    return None if b is None else b.decode("utf-8", "replace")
