#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Jupyter needs to run notebooks headless, if no Python with Jupyter is
# found (see find-python.sh). Needs root, or sudo without a password prompt; never asks questions (CI has no
# stdin). Elsewhere it only prints what to install.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if py=$(bash "$here/find-python.sh" 2>/dev/null); then
  echo "jupyter: found nbconvert + nbclient in $py"
  exit 0
fi

packages=(jupyter-notebook python3-nbconvert python3-nbclient jupyter-client python3-ipykernel)

if ! command -v apt-get >/dev/null 2>&1; then
  echo "jupyter: not found and this is not a Debian/Ubuntu machine; install it with: pip install jupyterlab" >&2
  exit 1
fi

if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "jupyter: not found; as root run: apt-get install -y ${packages[*]}" >&2
  echo "         (or: pip install jupyterlab)" >&2
  exit 1
fi

echo "jupyter: installing ${packages[*]} with apt-get"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" apt-get install -y -q --no-install-recommends "${packages[@]}"
bash "$here/find-python.sh" >/dev/null
