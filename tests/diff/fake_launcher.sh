#!/bin/sh
# fake_launcher.sh — stands in for srun/mpirun in the tests: `fake_launcher.sh -n N CMD ARGS...` starts N copies
# of CMD at once, copy i with SLURM_PROCID=i and SLURM_NTASKS=N (as srun sets them), waits for all and exits with
# the largest exit status.
set -u
[ "$1" = "-n" ] || { echo "usage: fake_launcher.sh -n N CMD..." >&2; exit 2; }
n=$2
shift 2
pids=""
i=0
while [ "$i" -lt "$n" ]; do
  SLURM_PROCID=$i SLURM_NTASKS=$n "$@" &
  pids="$pids $!"
  i=$((i + 1))
done
worst=0
for p in $pids; do
  wait "$p"
  rc=$?
  [ "$rc" -gt "$worst" ] && worst=$rc
done
exit "$worst"
