"""The keyring's errors, defined outside :mod:`services.privacy.pseudonym` because that module is
compiled with mypyc (services/compiled), which cannot compile a class derived from RuntimeError;
``pseudonym`` re-exports both."""

from __future__ import annotations


class KeyringError(ValueError):
    """The keyring configuration is unusable; the message names the source, the key and the problem."""


class KeyRotationError(RuntimeError):
    """The keyring does not fit the key the stored state was built with (see module docstring)."""
