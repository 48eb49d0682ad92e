#!/usr/bin/env bash
# Runs every Go fuzz target of the root module for a bounded time each
# (default 5s): make test and CI call it so the fuzzers run on every change,
# not only their seed corpora (which plain `go test` always runs).
#
# A real finding writes the failing input to the package's testdata/fuzz/
# (commit it as a regression seed) and fails. A failure that leaves no input
# behind is the fuzzing engine itself (a worker lost under load): that
# target is run up to twice more before it counts (Go reports "context
# deadline exceeded" when -fuzztime ends while a worker is busy).
set -uo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-5s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
targets=$(grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . | grep -v '^./e2e/' | sort |
  while read -r file; do
    for fn in $(grep -oE '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //'); do
      echo "./$(dirname "${file#./}"):$fn"
    done
  done)
for t in $targets; do
  pkg=${t%%:*} fn=${t##*:}
  for attempt in 1 2 3; do
    before=$(find "$pkg/testdata/fuzz/$fn" -type f 2>/dev/null | wc -l)
    echo "fuzz $fn ($pkg) for $fuzztime"
    if go test "$pkg" -run '^$' -fuzz "^${fn}\$" -fuzztime "$fuzztime" >"$log" 2>&1; then
      tail -n 1 "$log"
      break
    fi
    after=$(find "$pkg/testdata/fuzz/$fn" -type f 2>/dev/null | wc -l)
    tail -n 40 "$log"
    if [ "$after" -gt "$before" ]; then
      echo "fuzz $fn found a failing input: it is in $pkg/testdata/fuzz/$fn/" >&2
      exit 1
    fi
    if [ "$attempt" -eq 3 ]; then
      echo "fuzz $fn failed three times without a failing input" >&2
      exit 1
    fi
    echo "fuzz $fn: the engine failed without a failing input; running it again" >&2
  done
done
