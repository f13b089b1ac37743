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
command -v java >/dev/null || { echo "bootstrap: a JDK (17+) is needed for the local Kafka broker: apt-get install openjdk-17-jdk-headless (javac too: the consumer-docs test compiles a Java Avro reader)" >&2; exit 1; }
command -v mvn >/dev/null || { echo "bootstrap: Maven is needed to fetch the Kafka jars: apt-get install maven" >&2; exit 1; }
# Prometheus and promtool for the monitoring tests (tests/unit/deploy, tests/integration/
# test_prometheus_scrape.py): Debian's package. Its system service is not started (a temporary
# policy-rc.d denies it, and systemd's unit is disabled): tests run their own process and config.
if ! command -v prometheus >/dev/null; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing prometheus (apt-get, Debian package)"
    own_policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && own_policy=1
    fi
    rc=0
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; } || rc=$?
    [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
    [ "$rc" -eq 0 ] || { echo "bootstrap: apt-get install prometheus failed ($rc)" >&2; exit 1; }
    if [ -d /run/systemd/system ]; then systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
  else
    echo "bootstrap: prometheus not found and not root: apt-get install --no-install-recommends prometheus (the Prometheus tests skip without it)" >&2
  fi
fi
# Chromium and its WebDriver for the report's browser test (tests/integration/test_report_browser.py):
# Debian's chromium and chromium-driver, installed only for the tests (`bootstrap.sh --tests`, as
# scripts/test.sh runs it, or CI=true), never for `make run`. A failed install is not fatal: the test
# then skips and says why.
for_tests=${CI:-}
for arg in "$@"; do if [ "$arg" = "--tests" ]; then for_tests=true; fi; done
if [ "$for_tests" = "true" ] && ! { command -v chromium >/dev/null && command -v chromedriver >/dev/null; }; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing chromium and chromium-driver for the report's browser test (apt-get, Debian packages)"
    rc=0
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; } || rc=$?
    [ "$rc" -eq 0 ] || echo "bootstrap: apt-get install chromium chromium-driver failed ($rc): the report's browser test skips" >&2
  else
    echo "bootstrap: chromium or chromedriver not found and not root: apt-get install --no-install-recommends chromium chromium-driver (the report's browser test skips without them)" >&2
  fi
fi
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
# The builds the tests and `make run` need: scripts/test.sh sets JEUGDHUB_BOOTSTRAP_BUILDS=later and
# makes them itself, beside ruff and mypy (scripts/build-tools.sh). Here they run one after another.
if [ "${JEUGDHUB_BOOTSTRAP_BUILDS:-}" != "later" ]; then
  scripts/build-tools.sh all
fi
