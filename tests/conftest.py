"""Settings for the whole test run, applied before any test module imports the services.

The simulator's generator is tested from its Python source (tests patch its classes, which a
compiled build does not allow); tests/unit/simulate/test_simulate_build.py checks that the mypyc
build, which ``jeugdhub simulate`` runs when it exists, makes the same bytes and behaves the same
at the process level. Processes the tests start inherit this unless they set their own value.
"""

import os

os.environ.setdefault("JEUGDHUB_SIMULATOR_BUILD", "pure")
