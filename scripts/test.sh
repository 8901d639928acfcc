#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this).
# Installs what it needs (Go modules come from the module proxy), then runs
# formatting and vet checks, every test against real servers started on
# loopback, and a short run of every fuzz target.
#
#   FUZZTIME=2m ./scripts/test.sh      longer fuzz runs (default 10s each)
#   TRIBUTARY_CRASH_ROUNDS=50 ...      more SIGKILL rounds in tests/crash
set -euo pipefail
cd "$(dirname "$0")/.."
export CI="${CI:-}"
FUZZTIME="${FUZZTIME:-10s}"

step() { printf '\n=== %s\n' "$*"; }

step "go mod download"
go mod download

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "go test"
go test -count=1 -timeout 20m ./...

step "fuzz (each target for $FUZZTIME)"
# go test -fuzz takes one target per run: find them all.
while IFS= read -r line; do
  file=${line%%:*}
  target=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' <<<"${line#*:}")
  pkg="./$(dirname "$file")"
  echo "--- $target in $pkg"
  go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" "$pkg"
done < <(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' . | sed -E 's/^\.\///; s/^([^:]*):[0-9]+:/\1:/')

echo
echo "all tests passed"
