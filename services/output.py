"""Writing a command's JSON result: to a file when asked, else to stdout."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson


def write_json_document(document: Any, output: str | Path | None) -> None:
    text = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
    if output:
        Path(output).write_bytes(text)
    else:
        sys.stdout.buffer.write(text)
