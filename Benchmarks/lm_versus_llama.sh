#!/bin/bash
# Issue 5's speed comparison, in one session on one machine: llama-server (2 threads, one slot,
# prompt cache) and `reclab bench lm` on the same GGUF, alternating for ROUNDS rounds (default 2;
# each side runs its workloads 3 times per round and prints median and best), because this
# machine's neighbours move single runs by up to 1.5x. Needs the peers
# (bash ../shared/peers/setup.sh, which builds llama-server under $PEER, default /tmp/peer) and
# `swift build -c release`. Extra arguments go to `reclab bench lm` (e.g. --numerics fast).
# LM_MODEL names the model folder under models/ (default SmolLM2-135M-Instruct; e.g.
# gemma-3-270m). llama-server runs its defaults, its fastest kernels included (repacked and
# tiled k-quant products, which RecLab does not follow); LLAMA_ARGS adds server options.
# Usage: [LM_MODEL=NAME] bash Benchmarks/lm_versus_llama.sh [ROUNDS] [reclab bench lm options]
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-2}; shift || true
PEER=${PEER:-/tmp/peer}
name=${LM_MODEL:-SmolLM2-135M-Instruct}
model=$(ls "${RECLAB_MODELS:-models}/$name"/*.gguf | head -1)
extra=${LLAMA_ARGS:-}
movies=${RECLAB_DATA:-../shared/data}/ml-1m/movies.dat
port=${PORT:-8091}
LD_LIBRARY_PATH="$PEER/llama/bin" "$PEER/llama/bin/llama-server" -m "$model" -t 2 -np 1 -c 4096 --port "$port" $extra >/tmp/lm_versus_llama.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.5; done
for round in $(seq "$rounds"); do
  echo "== round $round"
  python3 Benchmarks/llama_speed.py "http://127.0.0.1:$port" "$movies" 3
  .build/release/reclab bench lm --model "$name" --movies "$movies" --repeat 3 "$@"
done
