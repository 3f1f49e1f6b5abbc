#!/usr/bin/env bash
# Debian packages the project needs beyond Node: Jupyter (to execute the notebook headlessly),
# Chromium (to check the HTML report renders), PyTorch (reference scripts, benchmark baseline).
# Safe to run again: apt skips what is installed. Needs root (or sudo).
set -euo pipefail
pkgs=(jupyter-nbconvert jupyter-client python3-ipykernel chromium python3-torch python3-numpy libopenblas0-pthread)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-system: all Debian packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup-system: installing ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
