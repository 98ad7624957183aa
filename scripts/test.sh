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
# Each test project writes its own results file (no LogFileName: one fixed name would be overwritten by the next project).
dotnet test Smile.sln -c Release --no-build --logger trx --results-directory "$results" "$@" || status=$?

mapfile -t trxs < <(find "$results" -name '*.trx')
if [ "${#trxs[@]}" -eq 0 ]; then
  echo "error: no test results were written" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
# The sum of the <Counters> of every project's results file.
passed=0; failed=0; total=0; executed=0
get() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*'; }
for trx in "${trxs[@]}"; do
  counters=$(grep -o '<Counters [^>]*>' "$trx" || true)
  if [ -z "$counters" ]; then # a run that broke off: counted as one failure
    echo "error: no counters in $trx" >&2
    failed=$((failed + 1)); continue
  fi
  passed=$((passed + $(get passed))); failed=$((failed + $(get failed)))
  total=$((total + $(get total))); executed=$((executed + $(get executed)))
done
skipped=$((total - executed))
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
