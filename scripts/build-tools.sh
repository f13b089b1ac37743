#!/usr/bin/env bash
# The tools and compiled builds the hub's tests use, each a no-op when it is up to date.
#   scripts/build-tools.sh k8s        the manifest check's pinned tools and schemas
#   scripts/build-tools.sh compiled   the simulator's and the core's mypyc builds
#   scripts/build-tools.sh all        both, one after the other (bootstrap.sh)
# scripts/test.sh runs `k8s` and `compiled` as two background jobs while ruff and mypy run.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
if [ "$what" = "k8s" ] || [ "$what" = "all" ]; then
  # kubeconform, kustomize, Kubernetes, Strimzi and prometheus-operator schemas (deploy/k8s/README.md):
  # fetched and built once into deploy/local/cache/k8scheck (Go module proxy, Maven Central, a JDK 21+).
  .venv/bin/jeugdhub k8s-check --fetch-only
fi
if [ "$what" = "compiled" ] || [ "$what" = "all" ]; then
  if command -v cc >/dev/null || command -v gcc >/dev/null; then
    # The simulator's compiled build (mypyc; docs/simulator.md): without it, or if compiling fails,
    # the simulator runs from its Python source (slower).
    .venv/bin/python -m hubdev.simulate.compiler \
      || echo "build-tools: the simulator's compiled build failed; it runs from its Python source" >&2
    # The hub's compiled core (mypyc; services/compiled, docs/performance.md "Compiled core"): the
    # same rule; copied from the machine's cache (~/.cache/jeugdhub/core-build) when these sources
    # were built there before. The tests fail if it is missing where a C compiler is present.
    .venv/bin/python -m services.compiled build \
      || echo "build-tools: the core's compiled build failed; the services run from their Python source" >&2
  else
    echo "build-tools: no C compiler (cc): the simulator and the core run from their Python source (slower)" >&2
  fi
fi
