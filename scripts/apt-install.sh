#!/usr/bin/env bash
# Installs the Debian packages named as arguments (as root, or with sudo), quietly; fails
# with a clear message when neither is available. Used by the scripts that need a real
# server or browser on a fresh machine (ensure-etcd.sh, test.sh, screenshot.sh).
set -euo pipefail
[ $# -gt 0 ] || exit 0
if [ "$(id -u)" -eq 0 ]; then
  sudo=""
elif command -v sudo >/dev/null 2>&1; then
  sudo="sudo"
else
  echo "apt-install: need $* but cannot install (not root, no sudo)" >&2
  exit 1
fi
echo "apt-install: installing $*" >&2
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
