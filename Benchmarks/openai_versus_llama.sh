#!/bin/bash
# RecLab's OpenAI-compatible client against the server's own parallel throughput: llama-server
# on the SmolLM2 GGUF with SLOTS parallel slots (default 8, `-np 8 -cb -t 2`), then N prompts
# (default 16) of Benchmarks/openai_concurrency.py's workload sent with C requests in flight
# (default 8), alternately from Python's standard library and from `reclab bench lm --openai`,
# for ROUNDS rounds (default 3). The medians and their ratio are printed last; a ratio near 1
# means the client is not the bottleneck.
# Needs the peers (bash scripts/peers.sh --full) and `swift build -c release`.
# Usage: bash Benchmarks/openai_versus_llama.sh [ROUNDS]
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-3}
PEER=${PEER:-/tmp/peer}
model=${RECLAB_MODELS:-models}/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf
movies=${RECLAB_DATA:-../shared/data}/ml-1m/movies.dat
port=${PORT:-8093} slots=${SLOTS:-8} n=${N:-16} c=${C:-8}
log=$(mktemp)
LD_LIBRARY_PATH="$PEER/llama/bin" "$PEER/llama/bin/llama-server" -m "$model" -t 2 -np "$slots" -cb -c $((slots * 1024)) --port "$port" >/tmp/openai_bench_server.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -f "$log"' EXIT
until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.5; done
# One uncounted round, so that both sides meet a server whose slots hold these prompts.
python3 Benchmarks/openai_concurrency.py "http://127.0.0.1:$port" "$movies" "$n" "$c" 1 >/dev/null
for round in $(seq "$rounds"); do
  python3 Benchmarks/openai_concurrency.py "http://127.0.0.1:$port" "$movies" "$n" "$c" 1 | tee -a "$log"
  .build/release/reclab bench lm --openai "http://127.0.0.1:$port" --batch "$n" --concurrency "$c" --movies "$movies" --repeat 1 | grep '^openai' | tee -a "$log"
done
python3 - "$log" <<'PY'
import re, statistics, sys
rates = {'python': [], 'openai': []}
for line in open(sys.argv[1]):
    m = re.match(r'(python|openai) N=\s*\d+\s+concurrency \d+\s+end-to-end\s+([\d.]+)', line)
    if m: rates[m[1]].append(float(m[2]))
p, r = statistics.median(rates['python']), statistics.median(rates['openai'])
print(f"medians over rounds (generated tokens/s of wall time): server driven from Python {p:.1f}, RecLab's client {r:.1f}; ratio {r / p:.2f}x")
PY
