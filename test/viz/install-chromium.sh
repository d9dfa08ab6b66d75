#!/usr/bin/env bash
# Installs Debian's chromium for test/viz/report.test.ts when it is missing (CI's fresh machine). Needs root or
# passwordless sudo; never prompts. Prints the browser's path on success; exits 1 with the reason otherwise.
set -euo pipefail
for c in chromium chromium-browser google-chrome; do
  if p=$(command -v "$c" 2>/dev/null); then echo "$p"; exit 0; fi
done
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium: not found and this is not a Debian/Ubuntu machine (set MSD_CHROMIUM to a Chromium binary)" >&2
  exit 1
fi
if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "chromium: not found; as root run: apt-get install -y chromium" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
lock=()
command -v flock >/dev/null 2>&1 && lock=(flock /tmp/apt.lock)
"${as_root[@]}" "${lock[@]}" apt-get update -q >&2
"${as_root[@]}" "${lock[@]}" apt-get install -y -q --no-install-recommends chromium >&2
command -v chromium
