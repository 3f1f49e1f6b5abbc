#!/usr/bin/env bash
# Debian packages the project needs beyond Node: Jupyter (nbconvert to execute the notebook
# headlessly; the classic Notebook to run it in a browser, which test/notebook/browser.test.ts
# drives), Chromium (the report and browser tests), PyTorch (reference scripts, benchmark baseline).
# Safe to run again: apt skips what is installed. Needs root (or sudo).
#
# Another apt (unattended-upgrades on a fresh machine, a second terminal) may hold apt's locks:
# we wait for them, up to SETUP_LOCK_TIMEOUT seconds (default 600), instead of failing at once.
set -euo pipefail
pkgs=(jupyter-nbconvert jupyter-client jupyter-notebook python3-ipykernel chromium python3-torch python3-numpy libopenblas0-pthread)
lock_timeout="${SETUP_LOCK_TIMEOUT:-600}"
lock_poll="${SETUP_LOCK_POLL:-5}"

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

# `apt-get update` takes the lists lock (/var/lib/apt/lists/lock), which DPkg::Lock::Timeout
# does not cover: retry while apt says the lock is held, and fail on any other error.
waited=0
while :; do
  if out=$($SUDO apt-get update -q 2>&1); then
    echo "$out"
    break
  fi
  if ! grep -qiE 'could not get lock|unable to lock' <<<"$out"; then
    echo "$out" >&2
    echo "setup-system: apt-get update failed (see above)" >&2
    exit 1
  fi
  if [ "$waited" -ge "$lock_timeout" ]; then
    echo "$out" >&2
    echo "setup-system: apt's lists lock was still held after ${lock_timeout} s (another apt-get or unattended-upgrades is running; wait for it, or raise SETUP_LOCK_TIMEOUT)" >&2
    exit 1
  fi
  [ "$waited" -eq 0 ] && echo "setup-system: another apt holds the package lists lock; waiting up to ${lock_timeout} s"
  sleep "$lock_poll"
  waited=$((waited + lock_poll))
done
# dpkg's frontend lock: apt itself waits up to the timeout.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
  -o "DPkg::Lock::Timeout=${lock_timeout}" "${missing[@]}"
