#!/usr/bin/env bash
# Installs a single-node Slurm (Debian's slurm-wlm: slurmctld, slurmd, sbatch ...) and munge with apt, for the
# sweep tests (test/sweep/slurm.test.ts) and `msd sweep run --executor slurm` on this machine. Idempotent: does
# nothing when sbatch, slurmctld, slurmd and munged are already installed. Needs root or passwordless sudo.
# apt runs through apt-install.sh (flock /tmp/apt.lock: parallel installs on a shared machine wait for each other).
set -euo pipefail

have_all() {
  for b in sbatch squeue sacct scontrol slurmctld slurmd munged; do
    command -v "$b" >/dev/null 2>&1 || [[ -x "/usr/sbin/$b" ]] || return 1
  done
}

if have_all; then
  echo "slurm-install: slurm-wlm and munge are already installed"
  exit 0
fi

bash "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" slurm-install slurm-wlm munge
have_all || { echo "slurm-install: installed, but some Slurm/munge programs are still missing" >&2; exit 1; }
echo "slurm-install: done ($(dpkg-query -W -f '${Package} ${Version}' slurm-wlm 2>/dev/null))"
