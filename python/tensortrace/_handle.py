"""
_handle.py — the life of a library handle seen from Python: calls in flight are counted, close() waits for them
and frees the handle once, and any call after close raises ClosedError. So closing twice, or closing while
another thread is inside a (GIL-free) library call, is safe.
"""
import ctypes
import threading

from . import _lib
from .errors import ClosedError, check


def open_handle(opener, errmsg, free, path, opts):
    """Calls a tt_*_open(&handle, path, opts); on failure frees the failed handle and raises TraceError with its
    message. Returns the handle."""
    ptr = ctypes.c_void_p()
    rc = opener(ctypes.byref(ptr), path.encode(), ctypes.byref(opts))
    if rc != _lib.TT_OK:
        msg = _lib.text(errmsg(ptr)) if ptr else ""
        free(ptr)
        check(rc, msg)
    return ptr


class Handle:
    def __init__(self, ptr, free, what, exclusive):
        self.ptr = ptr
        self._free = free
        self._what = what
        # exclusive: the C handle must be used by one thread at a time (a reader); else only close is guarded
        self._exclusive = threading.Lock() if exclusive else None
        self._cv = threading.Condition()
        self._busy = 0
        self.closed = False

    def __enter__(self):
        with self._cv:
            if self.closed:
                raise ClosedError(f"{self._what} is closed")
            self._busy += 1
        if self._exclusive:
            self._exclusive.acquire()
        return self.ptr

    def __exit__(self, *exc):
        if self._exclusive:
            self._exclusive.release()
        with self._cv:
            self._busy -= 1
            self._cv.notify_all()
        return False

    def close(self, before_free=None):
        """Marks the handle closed, waits for calls in flight, runs before_free(ptr), frees. Idempotent; returns
        before_free's result the first time, None after."""
        with self._cv:
            if self.closed:
                return None
            self.closed = True
            while self._busy:
                self._cv.wait()
        ptr, self.ptr = self.ptr, None
        try:
            return before_free(ptr) if before_free else None
        finally:
            self._free(ptr)
