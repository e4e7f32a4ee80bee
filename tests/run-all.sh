#!/usr/bin/env bash
# `make test`: ruff and vulture, then the whole suite on SQLite and then on PostgreSQL
# (the browser walks once, on SQLite), with the
# two ten-minute soak tests running beside them, once each (tests/soak/): the
# embedded stack as `make run` starts it on SQLite, worker.py on the machine's Redis
# on PostgreSQL. Their output goes to test-artifacts/soak-*.log and is shown at
# the end. Prints the total duration. Extra arguments go to the two suite runs.
set -u
cd "$(dirname "$0")/.."
BIN=.venv/bin
PYTEST=("$BIN/python" -m pytest -p no:cacheprovider)
# The slowest tests of each run are listed at its end: what to look at when the
# whole nears its 45 minutes.
SUITE=(--durations=15 --durations-min=5)
started=$(date +%s)
"$BIN/ruff" check . || exit 1
"$BIN/vulture" app/ whitelist.py --min-confidence 60 || exit 1  # dead code

mkdir -p test-artifacts
soaks=()
# Interrupted or done, no soak is left running (their stacks die with them).
trap 'for pid in "${soaks[@]}"; do kill "$pid" 2>/dev/null; done' EXIT
trap 'exit 130' INT TERM
"${PYTEST[@]}" -q -m soak --db=sqlite tests/soak/test_embedded_stack.py \
  > test-artifacts/soak-sqlite.log 2>&1 &
soaks+=($!)
"${PYTEST[@]}" -q -m soak --db=postgresql tests/soak/test_production_worker.py \
  > test-artifacts/soak-postgresql.log 2>&1 &
soaks+=($!)

status=0
"${PYTEST[@]}" "${SUITE[@]}" --db=sqlite "$@" || status=1
# The browser walks run once, on the SQLite run (their live stack is gunicorn and
# worker.py on the machine's Redis either way; every other test runs on both).
"${PYTEST[@]}" "${SUITE[@]}" --db=postgresql -m "not soak and not browser" "$@" || status=1

for i in 0 1; do
  db=$([ "$i" = 0 ] && echo sqlite || echo postgresql)
  if wait "${soaks[$i]}"; then
    echo "soak ($db): $(tail -n 1 "test-artifacts/soak-$db.log")"
  else
    status=1
    echo "soak ($db) FAILED:"
    cat "test-artifacts/soak-$db.log"
  fi
done
echo "make test: $(( $(date +%s) - started )) s in all ($( [ "$status" = 0 ] && echo passed || echo FAILED ))"
exit "$status"
