#!/usr/bin/env bash
# The main job: installs etcd if missing (the multi-node workloads start their own etcd
# cluster), then runs the comparison in quick mode (about 2 minutes) and writes the CSVs,
# charts, REPORT.md and index.html under results/. `scripts/compare.sh --full` runs the
# full sizes; other arguments go to `naming-bench compare`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-etcd.sh
# The BEAM originals (beam/harness.exs) need elixir.
scripts/ensure-elixir.sh

args=(--quick)
if [ "${1:-}" = "--full" ]; then
  args=()
  shift
fi
cargo run --release -- compare "${args[@]}" "$@"
