#!/usr/bin/env bash
# A Python venv with Hugging Face transformers for test/model/export-hf.test.ts, which checks `msd export --format hf`
# against the real library. It sees the system's site packages (Debian's python3-torch) and pip-installs
# transformers; where transformers needs a newer PyTorch than the system's (Debian 12 ships 1.13, transformers 5
# wants >= 2.5), it installs the version transformers names into the venv. Nothing outside the venv changes.
#   bash kernel-setup/hf-venv.sh            # into .venv/transformers (MSD_HF_VENV overrides); idempotent
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv="${MSD_HF_VENV:-.venv/transformers}"
py=/usr/bin/python3
[[ -x $py ]] || py=$(command -v python3)
started=$SECONDS
if [[ ! -x $venv/bin/python ]]; then
  "$py" -m venv --system-site-packages "$venv"
fi
pip() { "$venv/bin/pip" install --disable-pip-version-check --timeout 5 --retries 0 "$@"; }
"$venv/bin/python" -c 'import transformers' 2>/dev/null || pip transformers
probe='import transformers.utils as u; print("ok" if u.is_torch_available() else "no")'
if [[ $("$venv/bin/python" -c "$probe" 2>/dev/null) != ok ]]; then
  need=$("$venv/bin/python" -c "$probe" 2>&1 | sed -n 's/.*PyTorch >= \([0-9.]*\) is required.*/\1/p' | head -1)
  echo "hf-venv: transformers disables the system PyTorch; installing torch>=${need:-2} into $venv"
  pip "torch>=${need:-2}"
fi
"$venv/bin/python" -c 'import torch, transformers; print(f"hf-venv: transformers {transformers.__version__}, torch {torch.__version__}")'
echo "hf-venv: $venv ready in $((SECONDS - started)) s"
