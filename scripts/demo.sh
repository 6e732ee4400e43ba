#!/usr/bin/env bash
# `make demo`: the main job on bundled data, offline, on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
SKILLMIX=.venv/bin/skillmix
OUT=${DEMO_OUT:-demo-out}
rm -rf "$OUT" && mkdir -p "$OUT"

# The recipe's preference stage asks a model pool and a judge: here skillmix's mock
# OpenAI-compatible server on a fixed port (the recipe names it), stopped on exit.
MOCK_PORT=18931
.venv/bin/python -m curate.backends.mock_server --port "$MOCK_PORT" --answers templates \
  > "$OUT/mock_server.log" 2>&1 &
MOCK_PID=$!
trap 'kill "$MOCK_PID" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q "serving on" "$OUT/mock_server.log" 2>/dev/null && break
  kill -0 "$MOCK_PID" 2>/dev/null || { cat "$OUT/mock_server.log"; echo "mock server on port $MOCK_PORT did not start (port taken?)" >&2; exit 1; }
  sleep 0.1
done
grep -q "serving on" "$OUT/mock_server.log" || { echo "mock server did not answer in 10 s" >&2; exit 1; }

echo "== 1. inspect the bundled sources (four shapes: messages, Alpaca, prompt/completion, ShareGPT)"
$SKILLMIX inspect data/demo/math.jsonl data/demo/code.jsonl data/demo/precise_if.jsonl \
  data/demo/chat.jsonl

echo
echo "== 2. the whole pipeline: augment-if, preference pairs (mock pool + judge), tag,"
echo "      decontaminate, dedup, three mixes (sft, rlvr, preference), CPU SFT"
$SKILLMIX run manifests/recipes/demo_run.yaml --run-dir "$OUT/run" --dry-run
$SKILLMIX run manifests/recipes/demo_run.yaml --run-dir "$OUT/run" 2> "$OUT/run.log"
grep '^\[' "$OUT/run.log"

echo
echo "== 3. check the sft mix against its manifest, and chart it"
$SKILLMIX verify "$OUT/run/05-mix/mix"
$SKILLMIX stats "$OUT/run/05-mix/mix"
$SKILLMIX verify "$OUT/run/07-pref_mix/mix"
grep -o '<h2>Preference pairs[^<]*</h2>' "$OUT/run/report.html"

RUN=$(cd "$OUT/run" && pwd)
cat <<MSG

Done. Where things are:
  run report (rows through the stages, mixes, contamination): $RUN/report.html
  contamination audit:  $RUN/03-decontaminate/report/report.html
  preference pairs:     $RUN/01-preferences/pairs.jsonl (summary beside it)
  sft mix shards:       $RUN/05-mix/mix/   (manifest.json, shard-*.arrow)
  rlvr mix shards:      $RUN/06-rlvr_mix/mix/
  preference mix:       $RUN/07-pref_mix/mix/
  trained tiny model:   $RUN/08-train/model/final   (metrics.jsonl beside it)
  full log:             $(cd "$OUT" && pwd)/run.log
Run it again and every stage is reused; change a stage's options and it (and what follows)
is redone.

To synthesize new prompts and answers with a real model, serve one with an
OpenAI-compatible API (vLLM, SGLang, TGI or a hosted API) and run, for example:
  $SKILLMIX synth out/prompts.jsonl --base-url http://localhost:8000/v1 --model MODEL \\
      --skills math,gsm,code,precise_if -n 100
  $SKILLMIX synth out/answers.jsonl --responses out/prompts.jsonl \\
      --base-url http://localhost:8000/v1 --model MODEL
  $SKILLMIX synth out/pairs.jsonl --preferences out/prompts.jsonl \\
      --model POLICY@http://localhost:8000/v1 --model OTHER@http://localhost:8001/v1 \\
      --judge-model JUDGE --judge-base-url http://localhost:8002/v1 --samples 2
or add a "synth" stage to a run recipe (see docs/pipeline.md).
MSG
