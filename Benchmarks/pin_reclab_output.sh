#!/usr/bin/env bash
# Writes Tests/Fixtures/smollm2/reclab-exact.json: RecLab's exact-numerics greedy continuations
# (32 tokens) of the llama.cpp fixture's 22 prompts, which RecLabPinnedOutputTests then holds
# every machine to. Run it only when the engine's arithmetic is meant to change.
set -euo pipefail
cd "$(dirname "$0")/.."
RECLAB_WRITE_PIN=1 swift test --filter RecLabPinnedOutputTests
echo "pinned: Tests/Fixtures/smollm2/reclab-exact.json"
