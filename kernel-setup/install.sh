#!/usr/bin/env bash
# Registers the tslab (TypeScript) kernel for this project, in a project-local Jupyter data dir:
#   kernel-setup/.jupyter/share/jupyter/kernels/{tslab,jslab}/kernel.json
# Jupyter finds it through JUPYTER_PATH (source kernel-setup/env.sh); the user's own Jupyter config and kernels
# are left alone unless --user is given.
#
#   bash kernel-setup/install.sh [--user] [--python PY] [--no-system-deps]
#     --user            also register the kernel in the per-user kernel registry (~/.local/share/jupyter)
#     --python PY       the Python whose jupyter_client writes the kernelspec (default: kernel-setup/find-python.sh)
#     --no-system-deps  do not apt-get install Jupyter when it is missing (fail instead)
#
# The kernelspec runs node_modules/.bin/tslab by absolute path: re-run this after moving the checkout
# (npm run test:notebooks does so by itself when the path is stale).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
prefix="$here/.jupyter"

user=0
system_deps=1
python=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --user) user=1 ;;
    --no-system-deps) system_deps=0 ;;
    --python) python="${2:?--python needs a value}"; shift ;;
    --python=*) python="${1#--python=}" ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

tslab="$root/node_modules/.bin/tslab"
if [[ ! -x "$tslab" ]]; then
  echo "install.sh: $tslab is missing; run 'npm ci' in $root first" >&2
  exit 1
fi

if [[ -z "$python" ]]; then
  if ! python=$(bash "$here/find-python.sh" 2>/dev/null); then
    if [[ $system_deps -eq 1 ]]; then
      bash "$here/system-deps.sh"
    fi
    python=$(bash "$here/find-python.sh")
  fi
fi

"$tslab" install --python="$python" --binary="$tslab" --prefix="$prefix"
if [[ $user -eq 1 ]]; then
  "$tslab" install --python="$python" --binary="$tslab" --user
fi

echo "tslab kernel registered in $prefix/share/jupyter (python: $python)"
echo "Jupyter finds it with:  export JUPYTER_PATH=$prefix/share/jupyter\${JUPYTER_PATH:+:\$JUPYTER_PATH}"
echo "                   or:  source kernel-setup/env.sh"
