"""
errors.py — the package's exceptions. Every failure of the library becomes a TraceError carrying the library's
message (what failed and where) and its status code; using a closed handle is a ClosedError.
"""
from . import _lib


class TraceError(Exception):
    """A libtrace call failed. `status` is the TT_E_* code (negative), `status_name` its symbolic name."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status
        self.status_name = _lib.text(_lib.lib.tt_status_name(status)) if status is not None else None


class ClosedError(TraceError, ValueError):
    """A trace or writer was used after close()."""


def check(status, message):
    """Raises TraceError for a negative status; message is the handle's errmsg (or '' for the bare code)."""
    if status < 0:
        text = message or _lib.text(_lib.lib.tt_strerror(status))
        raise TraceError(text, status)
    return status
