#!/usr/bin/env bash
# Installs what a fresh machine lacks: a virtualenv with Jeugdhub and its test tools.
# Idempotent and quick when nothing changed (keyed on pyproject.toml's hash).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "bootstrap: Python 3.11+ is needed, $("$PYTHON" --version 2>&1) found" >&2
  exit 1
fi
command -v java >/dev/null || { echo "bootstrap: a JDK (17+) is needed for the local Kafka broker: apt-get install openjdk-17-jre-headless" >&2; exit 1; }
command -v mvn >/dev/null || { echo "bootstrap: Maven is needed to fetch the Kafka jars: apt-get install maven" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.jeugdhub-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "bootstrap: installing jeugdhub and test tools into .venv (pip)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[test]"
  echo "$want" > "$stamp"
fi
