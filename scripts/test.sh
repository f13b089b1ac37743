#!/usr/bin/env bash
# The one test command: bootstrap, lint, type-check, then every test tier. The integration tests
# start (and stop) their own Kafka broker; nothing needs to run beforehand.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --tests
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff"; ruff check . && ruff format --check .
echo "== mypy"; mypy
echo "== pytest"
set +e
pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$rc"
