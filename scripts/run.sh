#!/usr/bin/env bash
# The main job: install what is missing, then run the hub locally (`jeugdhub run`, hubdev/run/).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
exec jeugdhub run "$@"
