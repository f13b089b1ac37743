"""The development commands: ``jeugdhub kafka``, ``run``, ``simulate``, ``k8s-check`` and ``k8s-dry-run``.

``services.cli`` registers them when this package is importable (a checkout with ``pip install
-e .``); the image has no ``hubdev`` and so no development commands.
"""

from __future__ import annotations

import importlib
from typing import Any

COMMAND_MODULES = (
    "hubdev.localkafka.commands",
    "hubdev.run.commands",
    "hubdev.simulate.commands",
    "hubdev.k8scheck.commands",
    "hubdev.apiserver_check",
)
"""Each has a ``register(subparsers)`` that imports nothing heavy at module level."""


def register(sub: Any) -> None:
    """Add every development command to the ``jeugdhub`` subparsers; an import error propagates."""
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
