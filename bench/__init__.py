"""The benchmarks: run each from the checkout's root as a module, e.g. ``.venv/bin/python -m
bench.suite --quick`` (docs/performance.md lists them and their targets)."""
