"""The ctypes mirrors of the public structs (python/tensortrace/_lib.py) against the compiler's layout."""
import ctypes
import json
import os
import subprocess

import pytest

from tensortrace import _lib


def test_struct_layouts_match_the_headers():
    probe = os.environ.get("TT_STRUCT_LAYOUT")
    if not probe:
        pytest.skip("TT_STRUCT_LAYOUT not set (ctest sets it)")
    c = json.loads(subprocess.run([probe], capture_output=True, text=True, check=True).stdout)
    assert set(c) == set(_lib.STRUCTS)
    for name, cls in _lib.STRUCTS.items():
        fields = c[name]["fields"]
        mirrored = {f: getattr(cls, f).offset for f, _ in cls._fields_}
        assert mirrored == fields, name
        assert ctypes.sizeof(cls) == c[name]["size"], name
