#!/usr/bin/env bash
# Runs a spec whose language-model calls take longer than one sitting, keeping its call cache in
# Checkpoints/ so that the run survives the machine:
#   1. imports Checkpoints/NAME.calls.jsonl.xz into DB, when both exist (calls already stored are
#      kept), so a fresh machine resumes where the last export was taken;
#   2. exports DB's call cache to that file every EVERY seconds (default 1200) while
#      `reclab COMMAND SPEC --db DB ARGS...` runs, and once more when it ends;
#   3. exits with the command's status.
# Commit the checkpoint when a sitting ends. COMMAND is `run` or `augment` (`augment` needs
# `--export FILE`, as `reclab augment --help` says). NAME is the spec's file name without .yaml.
# Needs `swift build -c release`.
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
every=${EVERY:-1200}

if [ -f "$checkpoint" ]; then
  "$reclab" cache import "$checkpoint" --db "$db"
fi
export_calls() { "$reclab" cache export "$checkpoint" --db "$db" || echo "long-run: export to $checkpoint failed; the database keeps every call" >&2; }
(
  while sleep "$every"; do export_calls; done
) &
exporter=$!
trap 'kill $exporter 2>/dev/null || true' EXIT
status=0
"$reclab" "$command" "$spec" --db "$db" "$@" || status=$?
kill $exporter 2>/dev/null || true
[ -f "$db" ] && export_calls
exit $status
