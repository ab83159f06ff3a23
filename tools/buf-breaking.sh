#!/usr/bin/env bash
# The proto contract may only grow: `buf breaking` (rules in buf.yaml) against
# the previous commit. A clone without history (a shallow CI checkout) has no
# previous commit to compare with; that is said, not hidden.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! git rev-parse --verify --quiet HEAD~1 >/dev/null; then
  echo "buf breaking: no previous commit in this clone (shallow?); nothing to compare with" >&2
  exit 0
fi
npx buf breaking --against '.git#ref=HEAD~1'
echo "buf breaking: the contract is compatible with HEAD~1 ($(git rev-parse --short HEAD~1))"
