"""
conftest.py — what the Python tests share: the build's tools (tracedump, tracediff, trace2jsonl, tinylm), the
paths ctest passes ($TT_BINARY_DIR, $TT_SOURCE_DIR), and a runner for the C tools. Run by ctest (label python);
by hand: TT_LIBTRACE=build/libtrace/libtrace.so PYTHONPATH=python /usr/bin/python3 -m pytest tests/python
"""
import json
import os
import subprocess
import sys

import pytest

SRC = os.environ.get("TT_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("TT_BINARY_DIR") or os.path.join(SRC, "build")
sys.path.insert(0, os.path.join(SRC, "python"))

TOOLS = {
    "tracedump": "tools/tracedump/tracedump",
    "tracediff": "tools/tracediff/tracediff",
    "trace2jsonl": "tools/trace2jsonl/trace2jsonl",
    "tinylm": "samples/tinylm/tinylm",
}


def tool(name):
    path = os.path.join(BIN, TOOLS[name])
    if not os.path.exists(path):
        pytest.skip(f"{name} is not built ({path})")
    return path


def run(name, *args, check=True):
    """Runs a C tool; returns the CompletedProcess (text). check: fail on an exit code >= 2."""
    p = subprocess.run([tool(name)] + [str(a) for a in args], capture_output=True, text=True)
    if check and p.returncode >= 2:
        raise AssertionError(f"{name} {' '.join(map(str, args))}: exit {p.returncode}\n{p.stderr}")
    return p


def tracediff_json(*args):
    """(exit code, document) of tracediff --json - with the given arguments."""
    p = run("tracediff", "--json", "-", *args)
    return p.returncode, json.loads(p.stdout)


@pytest.fixture(scope="session")
def tinylm_rope(tmp_path_factory):
    """A tinylm trace with the RoPE bug (f32, full prefill too): the C engine's side of the interop tests."""
    path = tmp_path_factory.mktemp("tinylm") / "rope.tt"
    run("tinylm", "-o", path, "--capture-full-prefill", "--bug", "rope-pos", "-q")
    return path
