#!/usr/bin/env bash
# Installs Debian's chromium for test/viz/report.test.ts when it is missing (CI's fresh machine). Needs root or
# passwordless sudo; never prompts. Prints the browser's path on success; exits 1 with the reason otherwise.
set -euo pipefail
for c in chromium chromium-browser google-chrome; do
  if p=$(command -v "$c" 2>/dev/null); then echo "$p"; exit 0; fi
done
bash "$(dirname "${BASH_SOURCE[0]}")/../../kernel-setup/apt-install.sh" chromium chromium
command -v chromium
