#!/usr/bin/env bash
# The test command: installs dependencies, builds, runs every test, and ends with one line
# "N passed, N failed, N skipped" read from the test results.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
dotnet restore Smile.sln
dotnet build Smile.sln -c Release --no-restore -v quiet -nologo

results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT
status=0
dotnet test Smile.sln -c Release --no-build --logger "trx;LogFileName=results.trx" --results-directory "$results" "$@" || status=$?

trx=$(find "$results" -name '*.trx' | head -n 1)
if [ -z "$trx" ]; then
  echo "error: no test results were written" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
counters=$(grep -o '<Counters [^>]*>' "$trx")
get() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*'; }
passed=$(get passed); failed=$(get failed); total=$(get total); executed=$(get executed)
skipped=$((total - executed))
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
