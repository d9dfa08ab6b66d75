#!/usr/bin/env bash
# Leaves a working `jupyter lab` (JupyterLab 4) for the notebooks:
#   - one already on PATH (jupyter-lab 4.x), or already in this checkout's .venv: nothing to do;
#   - else JupyterLab 4 is installed into .venv inside the checkout (`python3 -m venv`, Debian's python3-venv through
#     apt-install.sh where the venv module is missing; pip refuses Debian 12's system Python, PEP 668).
# `source kernel-setup/env.sh` then puts .venv/bin on PATH (and the tslab kernel on JUPYTER_PATH).
# pip: short timeouts and one retry (MSD_PIP_TIMEOUT, MSD_PIP_RETRIES), so an index that does not answer (pypi.org on
# a machine that reaches only a local mirror) fails fast and pip moves on to the next index; measured here 79 s for
# the whole install at load 13 with --timeout 5 --retries 0.
#
#   bash kernel-setup/jupyterlab.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv=$PWD/.venv

# The checkout's package.json says "type": "module", which makes Node read the JavaScript that JupyterLab ships inside
# .venv (jupyter_builder's yarn.js, run at start-up) as ES modules, and it fails ("Dynamic require of util"); a
# package.json in .venv marks that tree as CommonJS.
mark_commonjs() { [[ -f $venv/package.json ]] || echo '{ "type": "commonjs" }' >"$venv/package.json"; }
is_lab4() { "$1" --version 2>/dev/null | grep -q '^4\.'; }
if command -v jupyter-lab >/dev/null 2>&1 && is_lab4 "$(command -v jupyter-lab)"; then
  echo "jupyterlab: JupyterLab $(jupyter-lab --version) on PATH ($(command -v jupyter-lab))"
  exit 0
fi
if [[ -x $venv/bin/jupyter-lab ]] && is_lab4 "$venv/bin/jupyter-lab"; then
  mark_commonjs
  echo "jupyterlab: JupyterLab $("$venv/bin/jupyter-lab" --version) in $venv"
  exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "jupyterlab: no python3; install Python 3 (apt-get install python3-venv) and run this again" >&2
  exit 1
fi
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  bash kernel-setup/apt-install.sh jupyterlab python3-venv
fi
started=$SECONDS
echo "jupyterlab: installing JupyterLab 4 into $venv (pip)"
[[ -x $venv/bin/pip ]] || python3 -m venv "$venv"
mark_commonjs
"$venv/bin/pip" install --disable-pip-version-check --timeout "${MSD_PIP_TIMEOUT:-5}" --retries "${MSD_PIP_RETRIES:-1}" \
  'jupyterlab>=4,<5' >"$venv/pip-install.log" 2>&1 || {
  tail -20 "$venv/pip-install.log" >&2
  echo "jupyterlab: pip could not install JupyterLab (log: $venv/pip-install.log); the rest of the setup works" \
    "without it (the notebooks also run headless: npm run test:notebooks)" >&2
  exit 1
}
echo "jupyterlab: JupyterLab $("$venv/bin/jupyter-lab" --version) in $venv ($((SECONDS - started)) s)"
