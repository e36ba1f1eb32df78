#!/usr/bin/env bash
# The test command (the README's, and what CI runs): `swift format lint` against the committed
# .swift-format, a short bounded fuzzing pass over every libFuzzer harness (committed
# regression inputs first), the whole test suite, then the cluster test: the quick start on a real
# single-node Slurm (scripts/slurm-test.sh; it installs and starts Slurm as root).
#   FUZZ_SECONDS=N sets the time per harness (default 15; 0 skips the pass).
#   SKIP_SLURM_TEST=1 skips the cluster test, except under CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."
swift format lint --strict --recursive Sources Plugins Tests Fuzz Package.swift
seconds=${FUZZ_SECONDS:-15}
if [ "$seconds" -gt 0 ]; then bash scripts/fuzz.sh "$seconds"; fi
swift test
if [ "${SKIP_SLURM_TEST:-0}" = 1 ] && [ "${CI:-}" != true ]; then
    echo "test.sh: the cluster test is skipped (SKIP_SLURM_TEST=1)"
else
    bash scripts/slurm-test.sh
fi
