#!/usr/bin/env bash
# Runs this repository's long experiments one after another, each through scripts/long-run.sh,
# so that one command resumes all of them on any machine: calls and finished cells come back
# from Checkpoints/, and each spec's run skips what is done. Each spec's database is
# RESULTS/NAME.sqlite (RESULTS defaults to results/) and its report RESULTS/NAME.md; copy a
# report into Reports/ (`reclab report NAME --db RESULTS/NAME.sqlite`) once its cells are all
# finished. Stops at the first failure. Needs `swift build -c release` and the models and data
# of scripts/setup.sh. Run it in the background and commit Checkpoints/ when a sitting ends:
#   nohup bash scripts/queue.sh > queue.log 2>&1 &
# An entry SPEC@N runs that spec in N lanes (LANES=N, see scripts/long-run.sh): the rating
# specs (LoRA training does 1.7x the work as two one-core processes) and LLM-Rec (its MLP
# trains as fast on one core as on two).
# Usage: scripts/queue.sh [SPEC[@LANES]...]   (default: the list below, in this order)
set -euo pipefail
cd "$(dirname "$0")/.."
specs=("$@")
if [ ${#specs[@]} -eq 0 ]; then
  specs=(
    Experiments/kar-ml1m.yaml
    Experiments/llmrec-ml1m.yaml@2
    Experiments/llmrec-scientific.yaml@2
    Experiments/rating-llm-ml100k.yaml@2
    Experiments/rating-llm-ml1m.yaml@2
  )
fi
results=${RESULTS:-results}
mkdir -p "$results"
for entry in "${specs[@]}"; do
  spec=${entry%@*} lanes=1
  [ "$spec" != "$entry" ] && lanes=${entry##*@}
  name=$(basename "$spec" .yaml)
  echo "queue: $(date -u +%FT%TZ) $spec -> $results/$name.sqlite ($lanes lane(s))"
  LANES=$lanes bash scripts/long-run.sh run "$spec" "$results/$name.sqlite" --report "$results/$name.md"
done
echo "queue: $(date -u +%FT%TZ) all done"
