"""
tensortrace — read, write and diff tensor traces from NumPy and PyTorch, over libtrace's C API.

    import tensortrace as tt
    with tt.open("run.tt") as t:
        rec = t[0]; rec.numpy(); t.records; t.select("point=attn_out", "layer=0")
    with tt.Writer("ref.tt", overwrite=True) as w:
        w.put(x, point="attn_out", layer=0, phase="decode0", pos_id=37)
    r = tt.diff("a.tt", "b.tt", mode="kv_aligned")

The library (libtrace.so) does the work: this package finds it ($TT_LIBTRACE, the build tree next to this
checkout, or the installed library), hands it pointers to NumPy/torch memory and turns its errors into
TraceError. tensortrace.torch.capture traces a PyTorch model with forward hooks.
"""
from . import _lib
from .errors import ClosedError, TraceError
from .reader import Record, Trace, open
from .writer import Shard, Writer
from ._diff import Diff, diff
from . import dtypes

__version__ = "0.1.0"
library_version = _lib.version
library_path = _lib.path

__all__ = ["open", "Trace", "Record", "Writer", "Shard", "diff", "Diff", "TraceError", "ClosedError", "dtypes",
           "__version__", "library_version", "library_path"]
