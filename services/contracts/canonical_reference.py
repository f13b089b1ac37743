"""The reference conversion of the canonical JSON of ``messages.md``: a walk over the ``.avsc`` schema.

The ``.avsc`` files are the one description of the contract: this module walks them to check a JSON
value (exact fields, types, enum symbols, the ``pattern``/``minLength``/``maxLength`` attributes and
the date/timestamp formats), so a rule cannot be in the schema and missing here or the other way
round. Every mismatch is a :class:`ContractError` naming the first offending path.

This walk is the definition (and the only source of error messages); it is slow, tens of
microseconds per message, so :mod:`services.contracts.canonical_compiled` holds the generated fast
path that accepts valid values in a few, and :mod:`services.contracts.canonical` chooses between
them. The canonical JSON of a message is *flat* (envelope and body fields side by side); in Avro
the body is a union field ``body`` holding the record of the message type, ``null`` on a cancel.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from services.contracts.errors import ContractError
from services.contracts.schemas import NAMESPACE, registry

BODY_RECORDS: dict[str, str] = {
    "placement_started": f"{NAMESPACE}.PlacementStarted",
    "placement_ended": f"{NAMESPACE}.PlacementEnded",
    "transfer": f"{NAMESPACE}.Transfer",
    "measure": f"{NAMESPACE}.Measure",
    "perspective_determined": f"{NAMESPACE}.PerspectiveDetermined",
}
DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# Values at these paths identify a person: a schema error about them must not repeat the value.
_SENSITIVE = frozenset({"bsn", "birth_date"})


def parse_date(text: str) -> date:
    """Exactly ``YYYY-MM-DD`` and a real calendar date (2023-02-29 is refused)."""
    if not DATE.match(text):
        raise ValueError(f"{text!r} is not a YYYY-MM-DD date")
    return date.fromisoformat(text)


def parse_timestamp(text: str) -> datetime:
    """Exactly ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds)."""
    if not TIMESTAMP.match(text):
        raise ValueError(f"{text!r} is not a YYYY-MM-DDTHH:MM:SSZ timestamp")
    if len(text) == 20:  # not "...Z\n", which the pattern's $ lets through (strptime refuses it)
        try:  # the fields by position: about 15 times cheaper than strptime (once per message)
            return datetime(int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]),
                            int(text[14:16]), int(text[17:19]), tzinfo=UTC)  # fmt: skip
        except ValueError:
            pass  # not a real time: strptime's error, word for word as before
    return datetime.strptime(text, _TIMESTAMP_FORMAT).replace(tzinfo=UTC)


def format_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime(_TIMESTAMP_FORMAT)


@cache
def record_fields(record_name: str) -> tuple[tuple[str, Any], ...]:
    schema = registry().named[record_name if "." in record_name else f"{NAMESPACE}.{record_name}"]
    return tuple((fld["name"], fld["type"]) for fld in schema["fields"])


def is_nullable(type_: Any) -> bool:
    return isinstance(type_, list) and "null" in type_


def _json_to_avro(type_: Any, value: Any, path: str) -> Any:
    """Check ``value`` against one schema node and convert dates and timestamps."""
    node = registry().resolve(type_)
    if isinstance(node, list):
        if value is None:
            if "null" in node:
                return None
            raise ContractError(path, "must not be null")
        branches = [b for b in node if b != "null"]
        if len(branches) != 1:
            raise ContractError(path, "ambiguous union: convert it explicitly")
        return _json_to_avro(branches[0], value, path)
    kind = node["type"] if isinstance(node, dict) else node
    logical = node.get("logicalType") if isinstance(node, dict) else None
    if value is None:
        raise ContractError(path, "is required and must not be null")
    if logical == "date":
        return _convert_text(path, value, parse_date)
    if logical == "timestamp-millis":
        return _convert_text(path, value, parse_timestamp)
    if kind == "string":
        if not isinstance(value, str):
            raise ContractError(path, f"must be a string, got {_json_type(value)}")
        if isinstance(node, dict):
            _check_string_facets(node, value, path)
        return value
    if kind in ("int", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ContractError(path, f"must be an integer, got {_json_type(value)}")
        return value
    if kind == "double":
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ContractError(path, f"must be a number, got {_json_type(value)}")
        return float(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ContractError(path, f"must be a boolean, got {_json_type(value)}")
        return value
    if kind == "bytes":
        if not isinstance(value, bytes):
            raise ContractError(path, f"must be bytes, got {_json_type(value)}")
        return value
    if kind == "enum":
        if not isinstance(value, str) or value not in node["symbols"]:
            raise ContractError(path, f"{value!r} is not one of {', '.join(node['symbols'])}")
        return value
    if kind == "array":
        if not isinstance(value, list):
            raise ContractError(path, f"must be an array, got {_json_type(value)}")
        return [_json_to_avro(node["items"], item, f"{path}[{i}]") for i, item in enumerate(value)]
    if kind == "record":
        return record_to_avro(node, value, path)
    raise ContractError(path, f"unsupported schema type {kind!r}")


def record_to_avro(node: dict[str, Any], value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ContractError(path, f"must be an object, got {_json_type(value)}")
    names = [fld["name"] for fld in node["fields"]]
    _reject_unknown(value, names, path, node["name"])
    out: dict[str, Any] = {}
    for fld in node["fields"]:
        out[fld["name"]] = _field_to_avro(fld["type"], value, fld["name"], path)
    return out


def _field_to_avro(type_: Any, container: dict[str, Any], name: str, path: str) -> Any:
    sub = f"{path}.{name}" if path else name
    if name not in container:
        if is_nullable(type_):
            return None
        raise ContractError(sub, "is required")
    return _json_to_avro(type_, container[name], sub)


def _reject_unknown(value: dict[str, Any], allowed: list[str], path: str, what: str) -> None:
    for key in value:
        if key not in allowed:
            sub = f"{path}.{key}" if path else str(key)
            raise ContractError(sub, f"unknown field for {what} (allowed: {', '.join(allowed)})")


def _check_string_facets(node: dict[str, Any], value: str, path: str) -> None:
    low, high, pattern = node.get("minLength"), node.get("maxLength"), node.get("pattern")
    if low is not None and len(value) < low:
        raise ContractError(path, f"must be at least {low} characters")
    if high is not None and len(value) > high:
        raise ContractError(path, f"must be at most {high} characters, got {len(value)}")
    if pattern is not None and not re.match(pattern, value):
        shown = "the value" if path in _SENSITIVE else repr(value)
        raise ContractError(path, f"{shown} does not match {pattern}")


def _convert_text(path: str, value: Any, parse: Any) -> Any:
    if not isinstance(value, str):
        raise ContractError(path, f"must be a string, got {_json_type(value)}")
    try:
        return parse(value)
    except ValueError as exc:
        if path in _SENSITIVE:
            raise ContractError(path, "is not a valid YYYY-MM-DD calendar date") from None
        raise ContractError(path, str(exc)) from exc


def _json_type(value: Any) -> str:
    return {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
    }.get(type(value), "null" if value is None else type(value).__name__)


def avro_to_json(type_: Any, value: Any) -> Any:
    node = registry().resolve(type_)
    if value is None:
        return None
    if isinstance(node, list):
        branches = [b for b in node if b != "null"]
        if isinstance(value, tuple):  # a named union branch: (full name, record)
            return avro_to_json(value[0], value[1])
        return avro_to_json(branches[0], value)
    logical = node.get("logicalType") if isinstance(node, dict) else None
    if logical == "date":
        return value.isoformat()
    if logical == "timestamp-millis":
        return format_timestamp(value)
    if logical == "uuid":
        return str(value)
    if isinstance(node, dict) and node.get("type") == "record":
        return {fld["name"]: avro_to_json(fld["type"], value.get(fld["name"])) for fld in node["fields"]}
    if isinstance(node, dict) and node.get("type") == "array":
        return [avro_to_json(node["items"], item) for item in value]
    return value


def message_from_json(record_name: str, obj: Any) -> dict[str, Any]:
    """Flat canonical JSON -> Avro-ready record of InboundMessage or ValidatedMessage."""
    if not isinstance(obj, dict):
        raise ContractError("", f"a message must be a JSON object, got {_json_type(obj)}")
    envelope = [(n, t) for n, t in record_fields(record_name) if n != "body"]
    out: dict[str, Any] = {}
    for name, type_ in envelope:
        out[name] = _field_to_avro(type_, obj, name, "")
    envelope_names = [n for n, _ in envelope]
    body_keys = [k for k in obj if k not in envelope_names]
    if out["status"] == "cancel":
        if body_keys:
            raise ContractError(str(body_keys[0]), "a cancel carries no body fields (nor unknown fields)")
        out["body"] = None
        return out
    body_name = BODY_RECORDS[out["message_type"]]
    body_fields = record_fields(body_name)
    allowed = envelope_names + [n for n, _ in body_fields]
    _reject_unknown(obj, allowed, "", out["message_type"])
    out["body"] = (body_name, {n: _field_to_avro(t, obj, n, "") for n, t in body_fields})
    return out


def message_to_json(record_name: str, record: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, type_ in record_fields(record_name):
        if name != "body":
            out[name] = avro_to_json(type_, record.get(name))
    body = record.get("body")
    if body is None:
        if out["status"] != "cancel":
            raise ContractError("body", "a new message needs the body of its type")
        return out
    body_name, body_record = body if isinstance(body, tuple) else (BODY_RECORDS[out["message_type"]], body)
    if body_name != BODY_RECORDS[out["message_type"]]:
        raise ContractError("body", f"{body_name} does not belong to message_type {out['message_type']}")
    if out["status"] == "cancel":
        raise ContractError("body", "a cancel carries no body")
    out.update(avro_to_json(body_name, body_record))
    return out
