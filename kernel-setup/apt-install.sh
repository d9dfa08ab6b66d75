#!/usr/bin/env bash
# The one place that installs Debian/Ubuntu packages for this project: `apt-install.sh WHAT PACKAGE...`.
# Used by system-deps.sh (Jupyter, OpenBLAS), slurm-install.sh (Slurm, munge) and test/viz/install-chromium.sh.
# Runs as root or with passwordless sudo, never prompts (CI has no stdin), serialises concurrent installs with
# `flock /tmp/apt.lock` and apt's own lock timeout, and refreshes the package lists only when a first try fails.
# Exits 1 with what to run by hand when it cannot install.
set -euo pipefail
what=$1
shift
[[ $# -gt 0 ]] || exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "$what: not a Debian/Ubuntu machine (no apt-get); install $* with your package manager" >&2
  exit 1
fi
if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "$what: not root and no passwordless sudo; as root run: apt-get install -y $*" >&2
  exit 1
fi
lock=()
command -v flock >/dev/null 2>&1 && lock=(flock /tmp/apt.lock)

export DEBIAN_FRONTEND=noninteractive
apt() { "${lock[@]}" "${as_root[@]}" apt-get -q -o DPkg::Lock::Timeout=1200 "$@"; }
echo "$what: installing $* with apt-get" >&2
apt install -y --no-install-recommends "$@" >&2 || { apt update >&2 && apt install -y --no-install-recommends "$@" >&2; }
