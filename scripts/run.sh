#!/usr/bin/env bash
# The main job: install what is missing, then run the hub locally (jeugdhub run when it exists).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
if jeugdhub run --help >/dev/null 2>&1; then
  exec jeugdhub run "$@"
fi
jeugdhub kafka start
bootstrap=$(python -c 'from hubdev.localkafka.named import running_state, DEFAULT_STATE_DIR; print(running_state(DEFAULT_STATE_DIR.resolve()).bootstrap)')
jeugdhub topics --create --bootstrap "$bootstrap"
echo "Kafka keeps running; stop it with: .venv/bin/jeugdhub kafka stop"
