#!/usr/bin/env bash
# The test command (the README's, and what CI runs): `swift format lint` against the committed
# .swift-format, a short bounded fuzzing pass over every libFuzzer harness (committed
# regression inputs first), then the whole test suite.
#   FUZZ_SECONDS=N sets the time per harness (default 15; 0 skips the pass).
set -euo pipefail
cd "$(dirname "$0")/.."
swift format lint --strict --recursive Sources Plugins Tests Fuzz Package.swift
seconds=${FUZZ_SECONDS:-15}
if [ "$seconds" -gt 0 ]; then bash scripts/fuzz.sh "$seconds"; fi
swift test
