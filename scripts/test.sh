#!/usr/bin/env bash
# The one test command: bootstrap, lint, type-check, then every test tier. The integration tests
# start (and stop) their own Kafka broker; nothing needs to run beforehand.
set -euo pipefail
cd "$(dirname "$0")/.."
JEUGDHUB_BOOTSTRAP_BUILDS=later scripts/bootstrap.sh --tests
export PATH="$PWD/.venv/bin:$PATH"
# The manifest check's tools (about a minute on a fresh clone: Go builds, downloads, a JVM) and the
# compiled builds (simulator and core: mypyc and gcc, a minute each when the machine's cache lacks
# them) run as two background jobs while ruff and mypy run; pytest starts when all are done.
mkdir -p .build
scripts/build-tools.sh k8s > .build/tools-k8s.log 2>&1 & k8s_pid=$!
scripts/build-tools.sh compiled > .build/tools-compiled.log 2>&1 & compiled_pid=$!
trap 'kill "$k8s_pid" "$compiled_pid" 2>/dev/null || true' EXIT
lint_rc=0
{ echo "== ruff"; ruff check . && ruff format --check . && echo "== mypy" && mypy; } || lint_rc=$?
builds_rc=0
wait "$k8s_pid" || builds_rc=$?
wait "$compiled_pid" || builds_rc=$?
cat .build/tools-k8s.log .build/tools-compiled.log
rm -f .build/tools-k8s.log .build/tools-compiled.log
[ "$lint_rc" -eq 0 ] || exit "$lint_rc"
[ "$builds_rc" -eq 0 ] || { echo "test.sh: the test tools could not be built (above)" >&2; exit "$builds_rc"; }
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
