#!/usr/bin/env bash
# Runs fuzz targets for a time each: fuzz/run.sh [--fresh] SECONDS [TARGET...] (default:
# every fuzz/fuzz_*.c). Needs the targets built in $BUILD (default build-fuzz: `make
# fuzz-build`). New inputs go to $BUILD/corpus/<target>/ (fuzz/corpus/<target>/ holds the
# committed seeds and is only read); --fresh starts from the seeds alone, in a corpus dir
# emptied first (so a short smoke run does not spend its time replaying a grown corpus).
# Crashes go to $BUILD/artifacts/<target>/ and fail the run (exit 1).
# FUZZ_ARGS adds libFuzzer flags; FUZZ_NICE (default 10) is the nice level.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD:-$root/build-fuzz}
fresh=
if [ "${1:-}" = --fresh ]; then fresh=1; shift; fi
secs=${1:?usage: fuzz/run.sh [--fresh] SECONDS [TARGET...]}
shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$here"/fuzz_*.c; do n=$(basename "$f" .c); targets+=("${n#fuzz_}"); done
fi
status=0
for t in "${targets[@]}"; do
  bin=$build/fuzz_$t
  [ -x "$bin" ] || { echo "run.sh: $bin is not built (make fuzz-build)" >&2; exit 2; }
  work=$build/corpus/$t
  if [ -n "$fresh" ]; then work=$build/corpus-fresh/$t; rm -rf "$work"; fi
  mkdir -p "$work" "$build/artifacts/$t" "$here/corpus/$t"
  dict=()
  [ -f "$here/$t.dict" ] && dict=(-dict="$here/$t.dict")
  log=$build/fuzz-$t${fresh:+-fresh}.log
  echo "== fuzz_$t for ${secs}s (log: $log)"
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1:quarantine_size_mb=32} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  nice -n "${FUZZ_NICE:-10}" "$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 "${dict[@]}" \
    -artifact_prefix="$build/artifacts/$t/" ${FUZZ_ARGS:-} \
    "$work" "$here/corpus/$t" >"$log" 2>&1
  rc=$?
  grep -aE '^#[0-9]+[[:space:]]+(DONE|INITED)|stat::number_of_executed_units|stat::peak_rss' "$log" | tail -4
  if [ $rc -ne 0 ]; then
    echo "fuzz_$t FAILED (exit $rc); crash input in $build/artifacts/$t/:" >&2
    grep -E 'ERROR|FUZZ FINDING|runtime error|SUMMARY' "$log" | head -5 >&2
    status=1
  fi
done
exit $status
