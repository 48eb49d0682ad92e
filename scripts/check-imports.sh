#!/usr/bin/env bash
# Checks the import direction of docs/architecture.md: common imports nothing
# of ours; agent never imports backend or ent; the in-container binaries
# import only common; backend never imports agent.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=baigo.dev/bai
fail=0
check() { # package pattern, forbidden import regex, why
  local bad
  bad=$(go list -f '{{.ImportPath}}: {{join .Imports " "}}' "$1" 2>/dev/null | grep -E " ($2)" || true)
  if [ -n "$bad" ]; then echo "import rule broken ($3):"; echo "$bad"; fail=1; fi
}
check "./common/..." "$mod/(backend|agent|ent|clients|cmd)" "common imports nothing of ours"
check "./agent/..." "$mod/(backend|ent)" "agent never imports backend or ent"
check "./agent/runner/..." "$mod/(agent/[^r]|backend|ent|clients)" "the runner imports only common"
check "./backend/..." "$mod/agent" "backend never imports agent"
check "./clients/..." "$mod/(backend|agent|ent)" "clients import only common"
exit $fail
