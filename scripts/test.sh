#!/usr/bin/env bash
# The one test command: bootstrap, lint, type-check, then every test tier. The integration tests
# start (and stop) their own Kafka broker; nothing needs to run beforehand.
set -euo pipefail
cd "$(dirname "$0")/.."
JEUGDHUB_BOOTSTRAP_CORE_BUILD=later scripts/bootstrap.sh --tests
export PATH="$PWD/.venv/bin:$PATH"
# The compiled core's build (a minute of mypyc and gcc when the machine's cache lacks it) runs on
# the second core while ruff and mypy run; the tests wait for it, and fail if it is missing where
# a C compiler is present (tests/unit/replay/test_core_build.py). It has a mypy cache of its own.
core_build_pid=
if command -v cc >/dev/null || command -v gcc >/dev/null; then
  python -m services.compiled build & core_build_pid=$!
  trap '[ -z "$core_build_pid" ] || kill "$core_build_pid" 2>/dev/null || true' EXIT
fi
echo "== ruff"; ruff check . && ruff format --check .
echo "== mypy"; mypy
if [ -n "$core_build_pid" ]; then
  wait "$core_build_pid" || echo "test.sh: the core's compiled build failed; the tests that need it fail" >&2
  core_build_pid=
fi
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
