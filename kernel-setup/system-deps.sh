#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages the project needs and the machine lacks:
#   - Jupyter's headless executor (nbconvert, nbclient, jupyter_client, ipykernel), if no Python with Jupyter is
#     found (see find-python.sh): `npm run test:notebooks` and the notebooks need it;
#   - OpenBLAS (libopenblas0-pthread), if the dynamic loader finds no libopenblas: the fast CPU backend ('blas',
#     src/backend/blas.ts) calls it; without it the library still runs, on the slower plain wasm backend;
#   - a C compiler (gcc, libc6-dev), if there is no `cc`: `npm run build` compiles the native element-wise kernels
#     (src/backend/native-kernels.c, kernel-setup/build-native.ts); without one the wasm kernels run, on one core.
# Needs root, or sudo without a password prompt; never asks questions (CI has no stdin). Elsewhere it only prints
# what to install.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

packages=()
if py=$(bash "$here/find-python.sh" 2>/dev/null); then
  echo "jupyter: found nbconvert + nbclient in $py"
else
  packages+=(jupyter-notebook python3-nbconvert python3-nbclient jupyter-client python3-ipykernel)
fi
if { command -v ldconfig >/dev/null 2>&1 && ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so'; } || ls /usr/lib/*/openblas-pthread/libopenblas.so.0 >/dev/null 2>&1; then
  echo "blas: found OpenBLAS"
else
  packages+=(libopenblas0-pthread)
fi
if command -v "${CC:-cc}" >/dev/null 2>&1; then
  echo "cc: found ${CC:-cc}"
else
  packages+=(gcc libc6-dev)
fi
[[ ${#packages[@]} -eq 0 ]] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: missing ${packages[*]} and this is not a Debian/Ubuntu machine; install Jupyter with" >&2
  echo "             pip install jupyterlab, and OpenBLAS and a C compiler with your package manager (or set" >&2
  echo "             MSD_BLAS=/path/to/libopenblas)" >&2
  exit 1
fi
bash "$here/apt-install.sh" system-deps "${packages[@]}"
bash "$here/find-python.sh" >/dev/null
