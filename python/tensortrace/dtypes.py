"""
dtypes.py — the element types by the names tracedump prints ("f32", "bf16", "f8_e4m3fnuz", ...), and how each
maps to NumPy and PyTorch. The numeric codes and sizes come from the library (tt/common.h, tt/dtype.h).

NumPy has no bfloat16 or fp8: their values are handed out as float32 (numpy()) or as the stored bits, uint16 /
uint8 (numpy(raw=True)); a NumPy array of those bits is written with put(..., dtype="bf16").
"""
import ctypes

import numpy as np

from . import _lib

# code -> name, in the library's own order (tt_dtype); names from tt_dtype_name()
CODES = {}
for _code in range(1, 64):
    _name = _lib.text(_lib.lib.tt_dtype_name(_code))
    if _name == "unknown":
        break
    CODES[_code] = _name
NAMES = {v: k for k, v in CODES.items()}
ALL = tuple(CODES.values())

# Types NumPy holds natively, as stored (no conversion on read or write).
_NATIVE = {"f32": np.float32, "f64": np.float64, "i8": np.int8, "u8": np.uint8, "i16": np.int16,
           "i32": np.int32, "i64": np.int64}
# f16 is native to NumPy too, but numpy() gives float32 for every narrow float (one rule for bf16/f16/fp8).
_NUMPY_TO_NAME = {np.dtype(v): k for k, v in _NATIVE.items()}
_NUMPY_TO_NAME[np.dtype(np.float16)] = "f16"


def code(name):
    """The tt_dtype code of a name or alias ("bf16", "bfloat16", "float32"); ValueError when unknown."""
    c = ctypes.c_int()
    if _lib.lib.tt_dtype_from_name(str(name).encode(), ctypes.byref(c)) != _lib.TT_OK:
        raise ValueError(f"unknown dtype '{name}' (known: {', '.join(ALL)})")
    return c.value


def size(name):
    return _lib.lib.tt_dtype_size(NAMES[name])


def raw_numpy(name):
    """The NumPy type of the stored bits: the type itself where NumPy has it, else an unsigned int of its size."""
    if name in _NATIVE:
        return np.dtype(_NATIVE[name])
    return np.dtype({1: np.uint8, 2: np.uint16}[size(name)])


def value_numpy(name):
    """The NumPy type numpy() returns: the stored type where NumPy has it, float32 for the narrow floats."""
    return np.dtype(_NATIVE.get(name, np.float32))


def needs_conversion(name):
    return name not in _NATIVE


def from_numpy(dt):
    """The trace dtype of a NumPy dtype; ValueError for types a trace cannot hold (bool, complex, uint64...)."""
    dt = np.dtype(dt)
    name = _NUMPY_TO_NAME.get(dt.newbyteorder("=") if dt.byteorder in "<>" else dt)
    if name is None:
        raise ValueError(f"NumPy dtype {dt} cannot be stored in a trace (supported: "
                         f"{', '.join(sorted(str(d) for d in _NUMPY_TO_NAME))}; bf16/fp8 bits: uint16/uint8 "
                         "with dtype=)")
    return name


def _torch_map(torch):
    m = {torch.float32: "f32", torch.float16: "f16", torch.bfloat16: "bf16", torch.float64: "f64",
         torch.int8: "i8", torch.uint8: "u8", torch.int16: "i16", torch.int32: "i32", torch.int64: "i64"}
    # fp8 types exist in newer PyTorch only
    for attr, name in (("float8_e4m3fn", "f8_e4m3"), ("float8_e5m2", "f8_e5m2"),
                       ("float8_e4m3fnuz", "f8_e4m3fnuz"), ("float8_e5m2fnuz", "f8_e5m2fnuz")):
        if hasattr(torch, attr):
            m[getattr(torch, attr)] = name
    return m


def from_torch(torch, dt):
    name = _torch_map(torch).get(dt)
    if name is None:
        raise ValueError(f"torch dtype {dt} cannot be stored in a trace")
    return name


def to_torch(torch, name):
    """The torch dtype of a trace dtype, or None when this PyTorch has none (fp8 before 2.1)."""
    for t, n in _torch_map(torch).items():
        if n == name:
            return t
    return None
