#!/usr/bin/env bash
# Prints the absolute path of a Python that can run Jupyter's headless executor (nbconvert + nbclient +
# jupyter_client), or exits 1 saying how to get one.
#
# Order: $MSD_JUPYTER_PYTHON (if set, it must work), then Debian's /usr/bin/python3 (where the apt packages
# live; a pyenv/conda python3 earlier on PATH usually lacks them), then python3 and python on PATH.
set -euo pipefail

probe='import nbconvert, nbclient, jupyter_client'

if [[ -n "${MSD_JUPYTER_PYTHON:-}" ]]; then
  if py=$(command -v "$MSD_JUPYTER_PYTHON") && "$py" -c "$probe" >/dev/null 2>&1; then
    echo "$py"
    exit 0
  fi
  echo "MSD_JUPYTER_PYTHON=$MSD_JUPYTER_PYTHON cannot import nbconvert, nbclient and jupyter_client" >&2
  exit 1
fi

for candidate in /usr/bin/python3 python3 python; do
  py=$(command -v "$candidate" 2>/dev/null) || continue
  if "$py" -c "$probe" >/dev/null 2>&1; then
    echo "$py"
    exit 0
  fi
done

cat >&2 <<'MSG'
No Python with Jupyter (nbconvert, nbclient, jupyter_client) was found.
  Debian/Ubuntu: bash kernel-setup/system-deps.sh   (apt-get install jupyter-notebook python3-nbconvert ...)
  any pip:       pip install jupyterlab             (then set MSD_JUPYTER_PYTHON to that python if it is not python3)
MSG
exit 1
