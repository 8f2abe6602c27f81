#!/usr/bin/env bash
# The README's first command as a new user meets it, but from the wheel: build it, install it into a bare venv with
# no extras, start `gerbang demo`, make one lookup and one submission (.ci/smoke_demo.py). The Dockerfile installs
# the same way. Why: the suite runs with the test extras installed, which once hid a dependency only they brought.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
started=$(date +%s)
python3 -m venv "$work/venv"
"$work/venv/bin/pip" wheel -q --no-deps -w "$work/dist" .
wheel=$(ls "$work"/dist/gerbang-*.whl)
"$work/venv/bin/pip" install -q "$wheel"
"$work/venv/bin/gerbang" --help >/dev/null
mkdir "$work/run"
python3 .ci/smoke_demo.py "$work/venv/bin/gerbang" "$work/run"
echo "wheel smoke test passed in $(( $(date +%s) - started ))s ($(basename "$wheel"))"
