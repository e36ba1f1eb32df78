#!/usr/bin/env bash
# The cluster test (part of scripts/test.sh): on a real single-node Slurm (scripts/slurm-start.sh),
#   1. the quick start submitted as 3 array tasks plus the merge job gives the same metric rows
#      as one `reclab run` of it;
#   2. submitted again, with one array task cancelled while it runs and then requeued, it ends
#      with the same rows.
# Needs root (it installs and starts slurmctld, slurmd and munged) and the release build.
#   SLURM_TEST_TIMEOUT=S bounds each wait (default 2400 s).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/slurm-start.sh
swift build -c release --product reclab > /dev/null
bin=$(pwd)/.build/release/reclab
spec=Experiments/quickstart.yaml
work=$(mktemp -d /tmp/reclab-slurm.XXXXXX)
timeout=${SLURM_TEST_TIMEOUT:-2400}
fail() { echo "slurm-test: $*" >&2; exit 1; }

# Every metric row (cell, metric, cutoff, value to the last digit) of quickstart in database $1.
rows() { "$bin" report quickstart --db "$1" --format csv --stdout | sort; }

# Waits until job $1 (and every task of it) has left the queue.
wait_for() {
    local waited=0
    while [ -n "$(squeue -h -j "$1" 2> /dev/null)" ]; do
        [ "$waited" -lt "$timeout" ] || fail "job $1 still queued after ${timeout}s: $(squeue -h -j "$1")"
        sleep 5
        waited=$((waited + 5))
    done
}

# The id a submission gave to its job named $2 (stages, shards or merge) in results folder $1.
job_id() { sed -n "s/.*\"$2\" : \"\([0-9]*\)\".*/\1/p" "$1/submission.json"; }

echo "slurm-test: one process"
"$bin" run "$spec" --db "$work/single.sqlite" --no-report --quiet
rows "$work/single.sqlite" > "$work/single.csv"
[ "$(wc -l < "$work/single.csv")" -gt 1 ] || fail "the single-process run stored no metric rows"

echo "slurm-test: 3 array tasks and the merge job"
"$bin" submit slurm "$spec" --jobs 3 --results "$work/array" --cpus 1
wait_for "$(job_id "$work/array" merge)"
"$bin" status "$work/array"
[ -f "$work/array/quickstart.md" ] || fail "the merge job wrote no report; logs: $(tail -n 5 "$work"/array/logs/*.log)"
rows "$work/array/merged.sqlite" > "$work/array.csv"
diff "$work/single.csv" "$work/array.csv" > /dev/null || fail "merged rows differ from one process's: $(diff "$work/single.csv" "$work/array.csv" | head)"
echo "slurm-test: $(($(wc -l < "$work/array.csv") - 1)) metric rows equal"

echo "slurm-test: a task cancelled while running, then requeued"
"$bin" submit slurm "$spec" --jobs 3 --results "$work/requeue" --cpus 1
shards=$(job_id "$work/requeue" shards)
# Cancel task 1 once it has finished its first cell (ItemKNN, seconds) and is training its
# second (SASRec, a minute or more).
waited=0
until "$bin" status "$work/requeue" 2> /dev/null | grep -q "^shard 1: 1 done"; do
    [ "$waited" -lt "$timeout" ] || fail "task ${shards}_1 never finished its first cell"
    sleep 1
    waited=$((waited + 1))
done
sleep 5
scancel "${shards}_1"
sleep 3
"$bin" status "$work/requeue"
scontrol requeue "${shards}_1"
wait_for "$(job_id "$work/requeue" merge)"
"$bin" status "$work/requeue"
# Task 1's log shows the cancel, then the restarted task skipping the cell it had finished.
grep -q "CANCELLED" "$work/requeue/logs/shard-1.log" || fail "task 1 was not cancelled while it ran: $(cat "$work/requeue/logs/shard-1.log")"
grep -q "already done" "$work/requeue/logs/shard-1.log" || fail "the requeued task 1 did not resume its shard: $(cat "$work/requeue/logs/shard-1.log")"
rows "$work/requeue/merged.sqlite" > "$work/requeue.csv"
diff "$work/single.csv" "$work/requeue.csv" > /dev/null || fail "rows after the requeue differ: $(diff "$work/single.csv" "$work/requeue.csv" | head)"
echo "slurm-test: passed ($work)"
