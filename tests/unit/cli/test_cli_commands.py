"""How ``jeugdhub`` finds its commands (issue 14, item 1): the services' own modules always, the
development commands (``kafka``, ``run``, ``simulate``) from ``hubdev`` when it is installed, and a
command module that fails to import is an error, never a command that silently disappears."""

from __future__ import annotations

import argparse
import importlib.abc
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

import pytest

from services import cli

DEV_COMMANDS = {"kafka", "run", "simulate", "k8s-check", "k8s-dry-run"}
SERVICE_COMMANDS = {
    "topics",
    "validate",
    "ingest",
    "tokens",
    "aggregate",
    "rebuild",
    "replay",
    "erase",
    "deploy",
    "figures",
    "report",
    "history",
    "keys",
}


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return set(sub.choices)


def test_a_checkout_has_the_service_and_the_development_commands() -> None:
    assert _commands(cli.build_parser()) == SERVICE_COMMANDS | DEV_COMMANDS


class NoHubdev(importlib.abc.MetaPathFinder):
    """The image: ``hubdev`` is not installed, so importing it fails as a missing top-level module."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname == "hubdev" or fullname.startswith("hubdev."):
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


def test_without_hubdev_only_the_development_commands_are_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "hubdev" or m.startswith("hubdev.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [NoHubdev(), *sys.meta_path])
    assert _commands(cli.build_parser()) == SERVICE_COMMANDS


def test_a_broken_development_command_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hubdev.run.commands", None)  # hubdev is there, one module is not
    with pytest.raises(ModuleNotFoundError) as caught:
        cli.build_parser()
    assert caught.value.name == "hubdev.run.commands"


def test_a_service_command_module_that_does_not_import_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "services.nowhere.commands"))
    with pytest.raises(ModuleNotFoundError):
        cli.build_parser()
