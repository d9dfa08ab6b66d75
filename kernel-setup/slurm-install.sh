#!/usr/bin/env bash
# Installs a single-node Slurm (Debian's slurm-wlm: slurmctld, slurmd, sbatch ...) and munge with apt, for the
# sweep tests (test/sweep/slurm.test.ts) and `msd sweep run --executor slurm` on this machine. Idempotent: does
# nothing when sbatch, slurmctld, slurmd and munged are already installed. Needs root or passwordless sudo.
# apt runs under `flock /tmp/apt.lock` so that parallel installs on a shared machine wait for each other.
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

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "slurm-install: not root and no passwordless sudo: cannot install slurm-wlm and munge" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "slurm-install: no apt-get (not Debian/Ubuntu): install Slurm and munge with your package manager" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# The package lists may be missing on a fresh container; update once, then install.
# DPkg::Lock::Timeout: also wait for an apt that runs without the flock.
apt_install() { flock /tmp/apt.lock $SUDO apt-get -o DPkg::Lock::Timeout=1200 install -y --no-install-recommends slurm-wlm munge; }
apt_install || { flock /tmp/apt.lock $SUDO apt-get -o DPkg::Lock::Timeout=1200 update && apt_install; }
have_all || { echo "slurm-install: installed, but some Slurm/munge programs are still missing" >&2; exit 1; }
echo "slurm-install: done ($(dpkg-query -W -f '${Package} ${Version}' slurm-wlm 2>/dev/null))"
