#!/usr/bin/env bash
# Makes sure Debian's elixir (and erlang, the BEAM it runs on) is installed: the BEAM
# originals (src/foreign/beam.rs) run the project's Elixir harness (beam/harness.exs) with
# the `elixir` command; no mix or hex is needed. Called by scripts/test.sh and
# scripts/compare.sh.
set -euo pipefail

need=()
command -v elixir >/dev/null 2>&1 || need+=(elixir erlang)
"$(dirname "$0")/apt-install.sh" ${need[@]+"${need[@]}"}
elixir --version 2>/dev/null | sed -n '/Elixir/p' >&2  # sed reads to the end: no SIGPIPE
