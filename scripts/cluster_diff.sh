#!/usr/bin/env bash
# scripts/cluster_diff.sh — diff per-rank traces where they were written, under the job's own launcher, and merge
# the results into one report with a per-rank view. No scheduler of our own: the launcher you already use (srun,
# mpirun, torchrun's node list, pdsh...) starts one task per rank; each task runs tracediff on its rank's files,
# beside the data, and writes a small JSON result; the first process then runs tracereport on the N results.
#
# usage: scripts/cluster_diff.sh [-l LAUNCHER] [-n N] [-b BINDIR] -o OUTDIR ENGINE REFERENCE [-- TRACEDIFF_OPTIONS...]
#
#   ENGINE      the engine's trace of one rank: a path with %r for the rank (run-rank%r.tt); a quoted glob works
#               too (a TP group's files 'node%r/tp8-rank*.tt' are then one side, gathered by tracediff)
#   REFERENCE   the reference trace: a path, with %r when the reference is per rank as well
#   -l LAUNCHER the command that starts one task per rank, e.g. "srun -n 64", "mpirun -np 64 --map-by node";
#               each task learns its rank from SLURM_PROCID, OMPI_COMM_WORLD_RANK, PMI_RANK or RANK. Default: run
#               the N tasks here, one after another (TT_CLUSTER_RANK set for each)
#   -n N        tasks without a launcher (default 1)
#   -b BINDIR   where tracediff and tracereport are (default: on PATH, else build/tools/*)
#   -o OUTDIR   results: OUTDIR/rank-R.json per task and OUTDIR/report/ (report.md, report.tsv, report.html);
#               a directory every task can write (a shared file system), or gather the JSONs there yourself and
#               run `tracereport OUTDIR/rank-*.json -o OUTDIR/report`
#
# Exit status: 0 no rank has a mismatch, 1 some rank has one (the report names it), 2 usage or a task's input
# error (the task's message is on its standard error), 3 an output could not be written.
#
# Example (Slurm, 8 nodes x 8 GPUs, each rank traced to local disk with TT_TRACE_FILE=/local/run-rank%r.tt):
#   scripts/cluster_diff.sh -l "srun -N 8 --ntasks-per-node 8" -o /shared/diff /local/run-rank%r.tt \
#       /shared/ref/run-rank%r.tt -- --mode numeric --plan
set -euo pipefail

task_rank() {
  for v in TT_CLUSTER_RANK SLURM_PROCID OMPI_COMM_WORLD_RANK PMI_RANK RANK; do
    if [ -n "${!v:-}" ]; then printf '%s' "${!v}"; return; fi
  done
  echo "cluster_diff.sh: no rank in the environment (SLURM_PROCID, OMPI_COMM_WORLD_RANK, PMI_RANK or RANK)" >&2
  exit 2
}

# The task: one rank's diff, beside its data.
if [ "${1:-}" = "--task" ]; then
  shift
  tracediff=$1 outdir=$2 engine=$3 reference=$4
  shift 4
  rank=$(task_rank)
  case "$rank" in ''|*[!0-9]*) echo "cluster_diff.sh: rank '$rank' is not a number" >&2; exit 2 ;; esac
  e=${engine//%r/$rank}
  r=${reference//%r/$rank}
  set +e
  "$tracediff" -q -f --json "$outdir/rank-$rank.json" "$@" "$e" "$r"
  rc=$?
  set -e
  # 0 and 1 are answers (the JSON holds them); anything else is this task's error
  if [ "$rc" -gt 1 ]; then
    echo "cluster_diff.sh: rank $rank: tracediff failed (exit $rc) on $e vs $r" >&2
    exit "$rc"
  fi
  exit 0
fi

launcher="" n=1 bindir="" outdir=""
while getopts "l:n:b:o:h" opt; do
  case $opt in
    l) launcher=$OPTARG ;;
    n) n=$OPTARG ;;
    b) bindir=$OPTARG ;;
    o) outdir=$OPTARG ;;
    h) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [ $# -lt 2 ] || [ -z "$outdir" ]; then
  echo "usage: $0 [-l LAUNCHER] [-n N] [-b BINDIR] -o OUTDIR ENGINE REFERENCE [-- TRACEDIFF_OPTIONS...]" >&2
  exit 2
fi
engine=$1 reference=$2
shift 2
[ "${1:-}" = "--" ] && shift
case "$n" in ''|*[!0-9]*) echo "cluster_diff.sh: -n '$n' is not a number" >&2; exit 2 ;; esac
if [ -z "$bindir" ]; then
  if command -v tracediff >/dev/null 2>&1; then bindir=$(dirname "$(command -v tracediff)")
  else bindir="$(cd "$(dirname "$0")/.." && pwd)/build/tools"; fi
fi
# build trees keep each tool in its own directory; an install puts them side by side
td="$bindir/tracediff" tr="$bindir/tracereport"
[ -f "$td" ] || td="$bindir/tracediff/tracediff"
[ -f "$tr" ] || tr="$bindir/tracereport/tracereport"
if [ ! -f "$td" ] || [ ! -x "$td" ] || [ ! -f "$tr" ] || [ ! -x "$tr" ]; then
  echo "cluster_diff.sh: tracediff/tracereport not found under $bindir (use -b)" >&2
  exit 2
fi
mkdir -p "$outdir"
rm -f "$outdir"/rank-*.json
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"

status=0
if [ -n "$launcher" ]; then
  # word splitting of the launcher command is intended: "srun -n 8"
  # shellcheck disable=SC2086
  $launcher bash "$self" --task "$td" "$outdir" "$engine" "$reference" "$@" || status=$?
else
  for ((i = 0; i < n; i++)); do
    TT_CLUSTER_RANK=$i bash "$self" --task "$td" "$outdir" "$engine" "$reference" "$@" || status=$?
  done
fi
if [ "$status" -ne 0 ]; then
  echo "cluster_diff.sh: a task failed (exit $status); results so far in $outdir" >&2
  exit "$status"
fi

shopt -s nullglob
results=("$outdir"/rank-*.json)
if [ ${#results[@]} -eq 0 ]; then
  echo "cluster_diff.sh: no result in $outdir (did the tasks see it?)" >&2
  exit 2
fi
"$tr" -f "${results[@]}" -o "$outdir/report"
# the merged answer: 1 when any rank has a mismatch (the document's own verdict opens its one line)
top='^{"schema": *"[^"]*", *"tool": *"tracediff", *"version": *"[^"]*", *"verdict": *"MISMATCH"'
if grep -q "$top" "${results[@]}"; then
  printf 'cluster_diff.sh: MISMATCH on rank(s):'
  for f in "${results[@]}"; do
    if grep -q "$top" "$f"; then
      b=${f##*/rank-}; printf ' %s' "${b%.json}"
    fi
  done
  printf '  (report: %s)\n' "$outdir/report/report.md"
  exit 1
fi
printf 'cluster_diff.sh: no mismatch on %d rank(s)  (report: %s)\n' "${#results[@]}" "$outdir/report/report.md"
