# Source this (bash/zsh) to put this project's JupyterLab and tslab kernel within reach:
#   source kernel-setup/env.sh && jupyter lab notebooks/01_teacher.ipynb
# It prepends the checkout's .venv/bin (JupyterLab, installed by kernel-setup/jupyterlab.sh when none was on PATH)
# and node_modules/.bin (tslab, msd) to PATH, and kernel-setup/.jupyter/share/jupyter (the tslab kernelspec, from
# kernel-setup/install.sh) to JUPYTER_PATH.
_msd_here=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)
for _msd_bin in "$_msd_here/../node_modules/.bin" "$_msd_here/../.venv/bin"; do
  _msd_bin=$(cd "$_msd_bin" 2>/dev/null && pwd) || continue
  case ":$PATH:" in
    *":$_msd_bin:"*) ;;
    *) export PATH="$_msd_bin:$PATH" ;;
  esac
done
unset _msd_bin
case ":${JUPYTER_PATH:-}:" in
  *":$_msd_here/.jupyter/share/jupyter:"*) ;;
  *) export JUPYTER_PATH="$_msd_here/.jupyter/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}" ;;
esac
if [[ ! -f "$_msd_here/.jupyter/share/jupyter/kernels/tslab/kernel.json" ]]; then
  echo "kernel-setup/env.sh: the tslab kernel is not registered yet; run: npm run kernel:install" >&2
fi
unset _msd_here
