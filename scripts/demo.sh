#!/usr/bin/env bash
# `make demo`: the main job on bundled data, offline, on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
SKILLMIX=.venv/bin/skillmix
OUT=${DEMO_OUT:-demo-out}
rm -rf "$OUT" && mkdir -p "$OUT"

echo "== 1. inspect the bundled sources (four shapes: messages, Alpaca, prompt/completion, ShareGPT)"
$SKILLMIX inspect data/demo/math.jsonl data/demo/code.jsonl data/demo/precise_if.jsonl \
  data/demo/chat.jsonl

echo
echo "== 2. the whole pipeline: augment-if, tag, decontaminate, dedup, two mixes, CPU SFT"
$SKILLMIX run manifests/recipes/demo_run.yaml --run-dir "$OUT/run" --dry-run
$SKILLMIX run manifests/recipes/demo_run.yaml --run-dir "$OUT/run" 2> "$OUT/run.log"
grep '^\[' "$OUT/run.log"

echo
echo "== 3. check the sft mix against its manifest, and chart it"
$SKILLMIX verify "$OUT/run/04-mix/mix"
$SKILLMIX stats "$OUT/run/04-mix/mix"

RUN=$(cd "$OUT/run" && pwd)
cat <<MSG

Done. Where things are:
  run report (rows through the stages, mixes, contamination): $RUN/report.html
  contamination audit:  $RUN/02-decontaminate/report/report.html
  sft mix shards:       $RUN/04-mix/mix/   (manifest.json, shard-*.arrow)
  rlvr mix shards:      $RUN/05-rlvr_mix/mix/
  trained tiny model:   $RUN/06-train/model/final   (metrics.jsonl beside it)
  full log:             $(cd "$OUT" && pwd)/run.log
Run it again and every stage is reused; change a stage's options and it (and what follows)
is redone.

To synthesize new prompts and answers with a real model, serve one with an
OpenAI-compatible API (vLLM, SGLang, TGI or a hosted API) and run, for example:
  $SKILLMIX synth out/prompts.jsonl --base-url http://localhost:8000/v1 --model MODEL \\
      --skills math,gsm,code,precise_if -n 100
  $SKILLMIX synth out/answers.jsonl --responses out/prompts.jsonl \\
      --base-url http://localhost:8000/v1 --model MODEL
or add a "synth" stage to a run recipe (see docs/pipeline.md).
MSG
