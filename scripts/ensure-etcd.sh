#!/usr/bin/env bash
# Makes sure Debian's etcd-server (and iproute2, for the netsplit namespaces and tc) is installed:
# the multi-node tests and workloads start a real 3-member etcd cluster on loopback
# themselves; they need only the binary. Sourced by scripts/test.sh and scripts/compare.sh.
set -euo pipefail

need=()
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
# tc (iproute2 too) impairs links in the netem test, which skips, saying why, without it.
command -v tc >/dev/null 2>&1 || [ -x /usr/sbin/tc ] || [[ " ${need[*]} " == *" iproute2 "* ]] || need+=(iproute2)
"$(dirname "$0")/apt-install.sh" ${need[@]+"${need[@]}"}
etcd --version | sed -n 1p >&2  # sed reads to the end: no SIGPIPE under pipefail
