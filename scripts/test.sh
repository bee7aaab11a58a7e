#!/usr/bin/env bash
# Runs every test of the workspace: the runtime's own tests, the conformance suite over
# every backend, the workloads at tiny sizes, and the multi-node tests, which start a real
# cluster of node processes (in network namespaces where the machine allows) and a real
# 3-member etcd cluster themselves, the BEAM originals on a real BEAM node, and the report
# page in headless Chromium. Installs etcd-server, elixir and chromium first if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-etcd.sh
# The BEAM originals run on a real BEAM node (tests/beam.rs): Debian's elixir and erlang.
scripts/ensure-elixir.sh

# The report's browser test (tests/report_browser.rs) needs Chromium: install Debian's
# chromium if it is missing.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  scripts/apt-install.sh chromium
fi

# Here etcd, chromium and elixir are installed, so their tests must run rather than skip.
export NAMING_BENCH_REQUIRE_ETCD=1
export NAMING_BENCH_REQUIRE_BROWSER=1
export NAMING_BENCH_REQUIRE_BEAM=1
cargo test --workspace --release "$@"

# Every example must run to completion (built first, so the time limit is the run's alone).
cargo build --release --examples --quiet
for ex in examples/*.rs; do
  [ -e "$ex" ] || continue
  name=$(basename "$ex" .rs)
  echo "== example $name"
  timeout 120 cargo run --release --quiet --example "$name"
done
