"""Loads the ``.avsc`` files of ``schemas/avro`` once and resolves their shared named types.

Each file holds one named type (``<namespace>.<Name>.avsc``) and refers to the others by full name.
For encoding we need each record as a *standalone* schema (named types defined inline at their
first use), because that is what the Parsing Canonical Form and thus the single-object fingerprint
are computed from: a consumer holding the same ``.avsc`` files computes the same fingerprint.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

NAMESPACE = "nl.jeugdhub.v1"
_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def schema_dir() -> Path:
    """``JEUGDHUB_SCHEMA_DIR`` if set (container images), else ``schemas/avro`` in the source tree."""
    override = os.environ.get("JEUGDHUB_SCHEMA_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "schemas" / "avro"


@dataclass(frozen=True)
class RecordSchema:
    """One record type, ready for fastavro and for single-object encoding."""

    name: str
    standalone: Mapping[str, Any]
    parsed: Any
    canonical_form: str
    fingerprint: bytes  # 8 bytes, little-endian CRC-64-AVRO, as single-object encoding writes it


class SchemaRegistry:
    """All named types of the contract; built once per process via :func:`registry`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.named: dict[str, dict[str, Any]] = {}
        for path in sorted(directory.glob("*.avsc")):
            schema = json.loads(path.read_text(encoding="utf-8"))
            full = _fullname(schema)
            if path.name != f"{full}.avsc":
                raise ValueError(f"{path}: file must be named {full}.avsc")
            self.named[full] = schema
        if not self.named:
            raise ValueError(f"no .avsc files in {directory}")
        self._records: dict[str, RecordSchema] = {}

    def resolve(self, type_: Any) -> Any:
        """Replace a reference by full name with the named type's JSON; leave anything else as is."""
        if isinstance(type_, str) and type_ not in _PRIMITIVES:
            return self.named[type_ if "." in type_ else f"{NAMESPACE}.{type_}"]
        return type_

    def record(self, name: str) -> RecordSchema:
        full = name if "." in name else f"{NAMESPACE}.{name}"
        cached = self._records.get(full)
        if cached is None:
            standalone = self._inline(self.named[full], set())
            parsed = fastavro.parse_schema(standalone)
            pcf = to_parsing_canonical_form(standalone)
            # fastavro prints the CRC-64-AVRO value as its little-endian bytes, the order SOE writes.
            fp = bytes.fromhex(fingerprint(pcf, "CRC-64-AVRO"))
            cached = RecordSchema(full, standalone, parsed, pcf, fp)
            self._records[full] = cached
        return cached

    def _inline(self, node: Any, seen: set[str]) -> Any:
        """Expand named references, defining each named type at its first occurrence only."""
        if isinstance(node, str):
            if node in _PRIMITIVES:
                return node
            full = node if "." in node else f"{NAMESPACE}.{node}"
            if full in seen:
                return full
            return self._inline(self.named[full], seen)
        if isinstance(node, list):
            return [self._inline(branch, seen) for branch in node]
        if isinstance(node, dict):
            kind = node.get("type")
            if kind in ("record", "enum", "fixed"):
                seen.add(_fullname(node))
            out = dict(node)
            if kind == "record":
                out["fields"] = [{**fld, "type": self._inline(fld["type"], seen)} for fld in node["fields"]]
            elif kind == "array":
                out["items"] = self._inline(node["items"], seen)
            elif kind == "map":
                out["values"] = self._inline(node["values"], seen)
            return out
        raise ValueError(f"unexpected schema node {node!r}")


def _fullname(schema: Mapping[str, Any]) -> str:
    name = str(schema["name"])
    if "." in name:
        return name
    return f"{schema.get('namespace', NAMESPACE)}.{name}"


@cache
def registry() -> SchemaRegistry:
    return SchemaRegistry(schema_dir())
