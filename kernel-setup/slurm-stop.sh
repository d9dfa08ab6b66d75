#!/usr/bin/env bash
# Stops the private Slurm that slurm-start.sh started under DIR (default /tmp/msd-slurm): slurmd, slurmctld, munged,
# by the pids in their pid files (nothing else is signalled). Idempotent.
set -uo pipefail
DIR=$(realpath -m "${1:-/tmp/msd-slurm}")
for f in "$DIR/slurmd.pid" "$DIR/slurmctld.pid" "$DIR/munge/munged.pid"; do
  [[ -s $f ]] || continue
  pid=$(cat "$f")
  if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$f"
done
echo "slurm-stop: stopped the Slurm daemons of $DIR"
