#!/usr/bin/env bash
# From a fresh clone to a working setup, in one command (the README's first command):
#   1. Jupyter's headless executor and OpenBLAS from apt, where missing (kernel-setup/system-deps.sh)
#   2. npm ci             (the locked dependencies; `prepare` builds lib/, which notebooks import)
#   3. the tslab kernel, registered in kernel-setup/.jupyter (kernel-setup/install.sh; --user is passed through)
#   4. JupyterLab 4: the one on PATH, else installed into .venv in the checkout (kernel-setup/jupyterlab.sh)
#   5. notebooks/00_setup.ipynb executed headless; the executed copy is kept in runs/notebooks/
#   6. the main job: the demo pipeline (`msd demo`: tiny preset, teacher on CoNLL-2002 es, student on nl, per-layer
#      evaluation) into runs/demo/ (resumed if a previous setup was interrupted). Its corpora and mBERT's tokenizer
#      files come from the Hugging Face Hub into ~/.cache/msd-ner (or $MSD_CACHE) the first time, unless
#      MSD_DATA_ROOT / MSD_TOKENIZER_DIR name local copies (README, "Data").
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

step "JupyterLab"
lab=ok
bash kernel-setup/jupyterlab.sh || lab=missing

step "notebooks/00_setup.ipynb"
node --import tsx kernel-setup/run-notebooks.ts --out runs/notebooks notebooks/00_setup.ipynb

step "demo pipeline (msd demo -> runs/demo)"
node lib/cli/msd.js demo --out runs/demo --resume

root_flag=''
[[ $(id -u) -eq 0 ]] && root_flag=' --allow-root'
echo
echo "Set up; the demo's run directory is runs/demo (results/summary.json, per-layer F1)."
if [[ $lab == ok ]]; then
  echo "Open the notebooks in JupyterLab:"
  echo "  source kernel-setup/env.sh && jupyter lab$root_flag notebooks/01_teacher.ipynb"
  echo "(as root, jupyter refuses to start without --allow-root; on a remote machine add --no-browser and open the"
  echo " printed http://localhost:8888/lab?token=... URL through an SSH tunnel: ssh -L 8888:localhost:8888 <host>)"
else
  echo "JupyterLab could not be installed (see above); the notebooks run headless with: npm run test:notebooks"
fi
