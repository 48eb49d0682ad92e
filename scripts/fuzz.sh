#!/usr/bin/env bash
# Runs every Go fuzz target of the root module for a bounded time each
# (default 5s): make test and CI call it so the fuzzers run on every change,
# not only their seed corpora (which plain `go test` always runs). A failure
# leaves the crashing input in the package's testdata/fuzz/ to commit as a
# regression seed.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-5s}
grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . | grep -v '^./e2e/' | sort | while read -r file; do
  pkg=./$(dirname "${file#./}")
  for fn in $(grep -oE '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //'); do
    echo "fuzz $fn ($pkg) for $fuzztime"
    go test "$pkg" -run '^$' -fuzz "^${fn}\$" -fuzztime "$fuzztime" 2>&1 | tail -n 3
    test "${PIPESTATUS[0]}" -eq 0
  done
done
