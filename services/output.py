"""Writing a command's JSON result: to a file when asked, else to stdout; and checking, before the
work starts, that an output file can be written at all (a run of minutes must not fail at its end)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import orjson


class OutputPathError(ValueError):
    """An output file that cannot be written; the message names the file and the reason."""


def check_writable(path: str | Path, create_parents: bool = False) -> Path:
    """Raise :class:`OutputPathError` unless *path* can be created or overwritten.

    With *create_parents* a missing directory is fine when the nearest existing ancestor is a
    writable directory (the writer creates the rest). Writes nothing.
    """
    target = Path(path)
    if target.is_dir():
        raise OutputPathError(f"cannot write {target}: it is a directory")
    if target.exists() and not os.access(target, os.W_OK):
        raise OutputPathError(f"cannot write {target}: permission denied")
    directory = target.parent
    if create_parents:
        while not directory.exists() and directory != directory.parent:
            directory = directory.parent
    if not directory.is_dir():
        why = "is not a directory" if directory.exists() else "does not exist"
        raise OutputPathError(f"cannot write {target}: directory {directory} {why}")
    if not target.exists() and not os.access(directory, os.W_OK | os.X_OK):
        raise OutputPathError(f"cannot write {target}: directory {directory} is not writable")
    return target


def write_json_document(document: Any, output: str | Path | None) -> None:
    text = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
    if output:
        Path(output).write_bytes(text)
    else:
        sys.stdout.buffer.write(text)
