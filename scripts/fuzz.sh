#!/usr/bin/env bash
# Builds RecLab's libFuzzer harnesses (Fuzz/, with the address sanitizer) and runs each for a
# bounded time on a copy of its seed corpus (Tests/Fixtures/fuzz/<harness>/).
#   bash scripts/fuzz.sh [SECONDS] [HARNESS...]   (default: 60 s each, every harness)
# Prints, per harness, executions, seconds and crashes found; exits 1 when any harness found a
# crash, a leak, a time-out or ran out of memory. Findings are kept in .build/fuzz-findings/<harness>/:
# copy each into Tests/Fixtures/fuzz/<harness>/ once fixed, so it stays a regression input.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(FuzzSpec FuzzData FuzzGGUF FuzzSafetensors FuzzTokenizers FuzzOpenAIReply)
build=.build/fuzz
# Instrumented as -sanitize=fuzzer would (coverage and comparisons, with the address
# sanitizer), and linked with libFuzzer without its main: SwiftPM gives an executable a main of
# its own, which calls libFuzzer's driver (RecTesting's runLibFuzzer).
runtime=$(ls "$(dirname "$(readlink -f "$(command -v swiftc)")")"/../lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a | head -1)
flags=(-Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table -Xswiftc -enable-testing
       -Xlinker --whole-archive -Xlinker "$runtime" -Xlinker --no-whole-archive -Xlinker -lstdc++ -Xlinker --export-dynamic-symbol=LLVMFuzzerRunDriver)
for harness in "${harnesses[@]}"; do
  RECLAB_FUZZ=1 swift build --build-path "$build" "${flags[@]}" --product "$harness" 2>&1 | grep -Ev "warning: Cannot export local symbol|^\[" || true
  [ -x "$build/debug/$harness" ] || { echo "fuzz: $harness did not build" >&2; exit 1; }
done
# The Swift runtime's interactive backtracer would wait on a crash; libFuzzer reports it.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}
failed=0
for harness in "${harnesses[@]}"; do
  corpus=.build/fuzz-corpus/$harness findings=.build/fuzz-findings/$harness
  mkdir -p "$corpus" "$findings"
  seeds=Tests/Fixtures/fuzz/$harness
  # Every committed input runs first: a regression fixture that fails again is a failure.
  if [ -d "$seeds" ] && [ -n "$(ls -A "$seeds")" ]; then
    "$build/debug/$harness" -runs=0 -timeout=10 -rss_limit_mb=2048 "$seeds" > "$findings/regressions.log" 2>&1 || {
      echo "fuzz: $harness: a regression input in $seeds fails again (see $findings/regressions.log)"; failed=1; }
    cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
  fi
  log=$findings/run.log
  set +e
  "$build/debug/$harness" "$corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$findings/" -print_final_stats=1 > "$log" 2>&1
  status=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  time=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' || echo "$seconds")
  crashes=$(ls "$findings" | grep -cE '^(crash|leak|timeout|oom|slow-unit)-' || true)
  corpusSize=$(ls "$corpus" | wc -l)
  echo "fuzz: $harness: ${runs:-0} executions in ${time:-?} s, corpus $corpusSize inputs, findings $crashes (exit $status)"
  if [ "$status" -ne 0 ] || [ "$crashes" -gt 0 ]; then
    failed=1
    grep -E "ERROR|Fatal error|SUMMARY" "$log" | head -5 || true
  fi
done
total=${#harnesses[@]}
echo "fuzz: $total harnesses run, seconds each: $seconds"
[ "$failed" -eq 0 ] && echo "fuzz: $total passed, 0 failed" || echo "fuzz: some harness failed, see above"
exit "$failed"
