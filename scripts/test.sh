#!/usr/bin/env bash
# Runs every test of the workspace: the runtime's own tests, the conformance suite over
# every backend, and the workloads at tiny sizes. Installs nothing beyond the Rust toolchain
# today; servers that later tests need (etcd) will be installed and started here.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --release "$@"

# Every example must run to completion.
for ex in examples/*.rs; do
  [ -e "$ex" ] || continue
  name=$(basename "$ex" .rs)
  echo "== example $name"
  timeout 120 cargo run --release --quiet --example "$name"
done
