#!/usr/bin/env bash
# Runs a spec that takes longer than one sitting, keeping its call cache and finished cells in
# Checkpoints/ so that the run survives the machine:
#   1. imports Checkpoints/NAME.calls.jsonl.xz into DB, when both exist (calls already stored are
#      kept), and merges the finished cells of Checkpoints/NAME.results.sqlite (cells finished in
#      DB are kept), so a fresh machine resumes where the last export was taken;
#   2. exports DB's call cache to the first file every EVERY seconds (default 1200) while
#      `reclab COMMAND SPEC --db DB ARGS...` runs, and once more when it ends; for `run`, it also
#      rewrites the second with DB's finished cells (`reclab merge --results-only`: results,
#      notes and examples, no trained models);
#   3. exits with the command's status.
# Commit the checkpoints when a sitting ends. COMMAND is `run` or `augment` (`augment` needs
# `--export FILE`, as `reclab augment --help` says). NAME is the spec's file name without .yaml.
# Needs `swift build -c release`.
#
# LANES=N (run only; default 1) runs the spec as N processes on DB, lane i on core i alone
# (taskset, one OpenBLAS thread): even lanes take the pipelines in the spec's order, odd lanes
# in reverse, and the runner gives each cell to one process (a cell another lane runs is waited
# for, never run twice). It pays for work that does not use two cores well: LoRA training runs
# 1.61 s per example on two cores and 1.87 s on one, so two lanes do 1.7x the work
# (`reclab bench lora --tokens 256 --examples 4`, alone and as two pinned copies), and an
# epoch of llmrec.mlp on ML-1M takes 9 s on one core as on two. The local engine's generation
# does not (16 slots: 228 generated tokens/s on two cores, 159 in all on two lanes), so the
# spec's stages (`run --stages-only`) are built first in one process on every core.
# PIPELINES=a,b,... (with LANES) runs those pipelines only, in that order: cells that need no
# new generation can go first, and a sitting's end then leaves finished cells behind.
# Usage: scripts/long-run.sh run|augment SPEC DB [reclab options...]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 3 ]; then
  echo "usage: scripts/long-run.sh run|augment SPEC DB [reclab options...]" >&2
  exit 64
fi
command=$1 spec=$2 db=$3
shift 3
case "$command" in run | augment) ;; *) echo "long-run: COMMAND is run or augment, not '$command'" >&2; exit 64 ;; esac
[ -f "$spec" ] || { echo "long-run: no spec at $spec" >&2; exit 64; }
reclab=.build/release/reclab
[ -x "$reclab" ] || { echo "long-run: build first: swift build -c release" >&2; exit 1; }
checkpoint=Checkpoints/$(basename "$spec" .yaml).calls.jsonl.xz
results=Checkpoints/$(basename "$spec" .yaml).results.sqlite
every=${EVERY:-1200}

if [ -f "$checkpoint" ]; then
  "$reclab" cache import "$checkpoint" --db "$db"
fi
if [ -f "$results" ]; then
  "$reclab" merge --db "$db" "$results"
fi
export_calls() { "$reclab" cache export "$checkpoint" --db "$db" || echo "long-run: export to $checkpoint failed; the database keeps every call" >&2; }
# A fresh file each time, moved into place, so that an interrupted export leaves the last one.
export_results() {
  [ "$command" = run ] || return 0
  rm -f "$results.partial" "$results.partial-wal" "$results.partial-shm"
  # The merge closes its database, which folds the write-ahead log into the file; a log left
  # behind would hold cells that the moved file lacks.
  # A database with no finished cell yet (the stages are still being built) leaves no file.
  if copied=$("$reclab" merge --db "$results.partial" "$db" --results-only) && [ ! -s "$results.partial-wal" ]; then
    if [[ $copied == *": 0 cell(s) copied"* ]]; then
      rm -f "$results.partial"
    else
      mv "$results.partial" "$results"
    fi
  else
    echo "long-run: export to $results failed; the database keeps every cell" >&2
  fi
}
# The exporter's sleep is its own child: killing the loop alone would leave it holding the
# script's output open, so the loop takes it down on TERM.
(
  trap 'kill $! 2>/dev/null; exit 0' TERM
  while true; do
    sleep "$every" &
    wait $!
    export_calls
    export_results
  done
) &
exporter=$!
trap 'kill $exporter 2>/dev/null || true' EXIT
status=0
lanes=${LANES:-1}
if [ "$lanes" -gt 1 ] && [ "$command" = run ]; then
  [ "$lanes" -le "$(nproc)" ] || { echo "long-run: LANES=$lanes, but this machine has $(nproc) cores" >&2; exit 64; }
  case " $* " in *" --pipelines "*) echo "long-run: LANES orders the pipelines itself; name them as PIPELINES=a,b instead of --pipelines" >&2; exit 64 ;; esac
  if [ -n "${PIPELINES:-}" ]; then
    pipelines=$(echo "$PIPELINES" | tr , '\n')
  else
    pipelines=$("$reclab" plan "$spec" | cut -f3 | awk '!seen[$0]++')
  fi
  forward=$(echo "$pipelines" | paste -sd,)
  backward=$(echo "$pipelines" | tac | paste -sd,)
  lane_pids=()
  trap 'kill "${lane_pids[@]}" 2>/dev/null; exit 143' TERM INT
  # The stages first (augment texts, encoder vectors), in one process on every core: the local
  # engine's generation is faster that way. The lanes then restore them from the stage cache.
  if "$reclab" run "$spec" --db "$db" --stages-only --pipelines "$forward" "$@"; then
    for ((lane = 0; lane < lanes; lane++)); do
      order=$forward
      [ $((lane % 2)) = 1 ] && order=$backward
      OPENBLAS_NUM_THREADS=1 taskset -c "$lane" "$reclab" run "$spec" --db "$db" --pipelines "$order" "$@" &
      lane_pids+=($!)
      # Lanes of one direction start apart, so that each marks its first cell before the next looks.
      sleep 5
    done
    for pid in "${lane_pids[@]}"; do wait "$pid" || status=$?; done
  else
    status=$?
  fi
else
  "$reclab" "$command" "$spec" --db "$db" "$@" || status=$?
fi
kill $exporter 2>/dev/null || true
if [ -f "$db" ]; then export_calls; export_results; fi
exit $status
