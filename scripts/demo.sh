#!/usr/bin/env bash
# `make demo`: the main job on bundled data, offline. Grows as the rooms land.
set -euo pipefail
cd "$(dirname "$0")/.."
SKILLMIX=.venv/bin/skillmix
OUT=${DEMO_OUT:-demo-out}
rm -rf "$OUT" && mkdir -p "$OUT"

echo "== 1. inspect the bundled samples (Alpaca and ShareGPT shapes)"
$SKILLMIX inspect data/sample/alpaca.jsonl data/sample/sharegpt.jsonl

echo "== 2. convert them into the sft row contract (Parquet and Arrow)"
$SKILLMIX convert data/sample/alpaca.jsonl "$OUT/alpaca.parquet" --kind sft --skill general
$SKILLMIX convert data/sample/sharegpt.jsonl "$OUT/sharegpt.arrow" --kind sft --skill chat
$SKILLMIX inspect "$OUT/alpaca.parquet" "$OUT/sharegpt.arrow" --json > "$OUT/inspect.json"

echo
echo "demo output: $(cd "$OUT" && pwd)"
