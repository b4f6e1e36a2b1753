#!/usr/bin/env bash
# scripts/diff_accuracy.sh — builds what the accuracy table needs (tracediff, tinylm, npy2tt) and writes tracediff's
# confusion table against the ground truth of tests/accuracy to DIFF-ACCURACY.md (a few minutes on 2 cores).
# Arguments go to tests/accuracy/confusion.py (e.g. --tracediff before=OLD --tracediff after=NEW, --quick).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTT_BUILD_TESTS=ON >/dev/null
cmake --build build -j"$(nproc)" --target tracediff tinylm npy2tt >/dev/null
exec /usr/bin/python3 tests/accuracy/confusion.py --md DIFF-ACCURACY.md "$@"
