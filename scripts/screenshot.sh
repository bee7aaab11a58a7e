#!/usr/bin/env bash
# Screenshots the report page with headless Chromium: results/index.html -> results/index.png
# (or DIR/index.html -> DIR/index.png with `scripts/screenshot.sh DIR`), installing Debian's
# chromium first if it is missing, then checks the PNG is non-trivial.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-results}
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac
page="$dir/index.html"
png="$dir/index.png"

if [ ! -f "$page" ]; then
  echo "screenshot: $page not found; run 'cargo run --release -- compare --quick' or '... -- report' first" >&2
  exit 1
fi

if ! command -v chromium >/dev/null 2>&1; then
  scripts/apt-install.sh chromium
fi

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$png"
timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --screenshot="$png" --window-size=1400,3000 \
  "file://$page" 2>"$profile/chromium.log" || {
  cat "$profile/chromium.log" >&2
  echo "screenshot: chromium failed" >&2
  exit 1
}

# Non-trivial: a PNG, 1400x3000 as asked, and large enough to hold drawn charts
# (a blank page of that size compresses to a few kB).
if [ ! -s "$png" ]; then
  echo "screenshot: $png was not written" >&2
  exit 1
fi
magic=$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')
if [ "$magic" != "89504e470d0a1a0a" ]; then
  echo "screenshot: $png is not a PNG" >&2
  exit 1
fi
width=$((16#$(od -An -tx1 -j16 -N4 "$png" | tr -d ' \n')))
height=$((16#$(od -An -tx1 -j20 -N4 "$png" | tr -d ' \n')))
size=$(stat -c %s "$png")
if [ "$width" -ne 1400 ] || [ "$height" -ne 3000 ]; then
  echo "screenshot: $png is ${width}x${height}, expected 1400x3000" >&2
  exit 1
fi
if [ "$size" -lt 50000 ]; then
  echo "screenshot: $png is only $size bytes: the page looks blank" >&2
  exit 1
fi
echo "screenshot: $png (${width}x${height}, $size bytes)"
