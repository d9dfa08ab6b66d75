# Source this (bash/zsh) to let Jupyter find this project's tslab kernel:
#   source kernel-setup/env.sh && jupyter lab notebooks/01_teacher.ipynb
# It prepends kernel-setup/.jupyter/share/jupyter to JUPYTER_PATH (run kernel-setup/install.sh once first).
_msd_here=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)
case ":${JUPYTER_PATH:-}:" in
  *":$_msd_here/.jupyter/share/jupyter:"*) ;;
  *) export JUPYTER_PATH="$_msd_here/.jupyter/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}" ;;
esac
if [[ ! -f "$_msd_here/.jupyter/share/jupyter/kernels/tslab/kernel.json" ]]; then
  echo "kernel-setup/env.sh: the tslab kernel is not registered yet; run: npm run kernel:install" >&2
fi
unset _msd_here
