#!/usr/bin/env bash
# From a fresh clone to a working setup, in one command (the README's first command):
#   1. Jupyter's headless executor and OpenBLAS from apt, where missing (kernel-setup/system-deps.sh)
#   2. npm ci             (the locked dependencies; `prepare` builds lib/, which notebooks import)
#   3. the tslab kernel, registered in kernel-setup/.jupyter (kernel-setup/install.sh; --user is passed through)
#   4. notebooks/00_setup.ipynb executed headless; the executed copy is kept in runs/notebooks/
#   5. the main job: the demo pipeline (`msd demo`: tiny preset, teacher on CoNLL-2002 es, student on nl, per-layer
#      evaluation) into runs/demo/ (resumed if a previous setup was interrupted)
#
#   bash kernel-setup/setup.sh [--user]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n== %s\n' "$*"; }

step "Jupyter"
bash kernel-setup/system-deps.sh

step "npm ci (builds lib/)"
npm ci

step "tslab kernel"
bash kernel-setup/install.sh --no-system-deps "$@"

step "notebooks/00_setup.ipynb"
node --import tsx kernel-setup/run-notebooks.ts --out runs/notebooks notebooks/00_setup.ipynb

step "demo pipeline (msd demo -> runs/demo)"
node lib/cli/msd.js demo --out runs/demo --resume

cat <<'MSG'

Set up; the demo's run directory is runs/demo (results/summary.json, per-layer F1). Open the notebooks in JupyterLab (pip install jupyterlab, if it is not installed):
  source kernel-setup/env.sh && jupyter lab notebooks/00_setup.ipynb
MSG
