#!/bin/bash
# Batched generation, ours against llama-server on the same GGUF and thread count, in one
# session: for each batch size N (default "1 4 16"; SIZES="1 4 8 16 32" for all), llama-server
# started with `-np N -cb -t 2` runs Benchmarks/llama_batch.py's N prompts, then
# `reclab bench lm --batch N` runs the same prompts, alternating for ROUNDS rounds (default 3),
# one run per side per round. The medians over the rounds and their ratios are printed last.
# Needs the peers (bash scripts/peers.sh --full) and `swift build -c release`. Extra arguments
# go to `reclab bench lm` (e.g. --numerics fast).
# Usage: bash Benchmarks/lm_batch_versus_llama.sh [ROUNDS] [reclab bench lm options]
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-3}; shift || true
PEER=${PEER:-/tmp/peer}
model=${RECLAB_MODELS:-models}/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf
movies=${RECLAB_DATA:-../shared/data}/ml-1m/movies.dat
port=${PORT:-8092}
log=$(mktemp)
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; rm -f "$log"' EXIT
for round in $(seq "$rounds"); do
  for n in ${SIZES:-1 4 16}; do
    LD_LIBRARY_PATH="$PEER/llama/bin" "$PEER/llama/bin/llama-server" -m "$model" -t 2 -np "$n" -cb -c $((n * 512)) --port "$port" >/tmp/lm_batch_server.log 2>&1 &
    server=$!
    until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.5; done
    python3 Benchmarks/llama_batch.py "http://127.0.0.1:$port" "$movies" "$n" 1 | tee -a "$log"
    kill $server; wait $server 2>/dev/null || true; server=
    .build/release/reclab bench lm --batch "$n" --repeat 1 --movies "$movies" "$@" | grep '^N=' | sed 's/^/reclab /' | tee -a "$log"
  done
done
python3 - "$log" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r'(llama-server|reclab) N=(\d+)\s+decode\s+([\d.]+).*?prompt\s+([\d.]+).*?end-to-end\s+([\d.]+)', line)
    if m: rows.setdefault((m[1], int(m[2])), []).append(tuple(map(float, m.groups()[2:])))
print("medians over rounds (tokens/s): decode, prompt, end-to-end; ratio reclab / llama-server")
for n in sorted({n for _, n in rows}):
    med = {who: [statistics.median(r[i] for r in rows[(who, n)]) for i in range(3)] for who in ('reclab', 'llama-server') if (who, n) in rows}
    if len(med) == 2:
        ratios = ' '.join(f"{a / b:.2f}x" for a, b in zip(med['reclab'], med['llama-server']))
        print(f"N={n:<3d} reclab {med['reclab'][0]:.1f} {med['reclab'][1]:.1f} {med['reclab'][2]:.1f}  llama-server {med['llama-server'][0]:.1f} {med['llama-server'][1]:.1f} {med['llama-server'][2]:.1f}  ratios {ratios}")
PY
