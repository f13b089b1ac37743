"""The generated fast path of :mod:`services.contracts.canonical`: schema checks compiled, not walked.

The reference walk (:mod:`services.contracts.canonical_reference`) reads the schema JSON for every
value, which costs tens of microseconds per message. The code here is compiled from the same schemas
once and only *accepts*: a value it accepts is converted exactly as the reference would convert it
(same dict, same key order, same Avro-ready values); anything it does not accept (including every
invalid value) goes down the reference walk, which raises the ContractError with the first offending
path. So the schema stays the single description and every error message is unchanged. For the flat
messages the checks are generated as Python source (one function per record and direction) so that
a valid message costs a few microseconds. tests/unit/contracts/test_canonical_fast_path.py compares
both paths on valid and mutated messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import cache, lru_cache
from typing import Any, cast

from services.contracts.canonical_reference import (
    BODY_RECORDS,
    DATE,
    TIMESTAMP,
    format_timestamp,
    is_nullable,
    record_fields,
)
from services.contracts.schemas import NAMESPACE, registry

_MISSING = object()


class _Unsupported(Exception):
    """A schema construct the fast path does not handle: the record always takes the slow path."""


class _Gen:
    """Names for the constants generated code refers to."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {"_MISSING": _MISSING, "_DATES": _DATES}

    def const(self, value: Any) -> str:
        name = f"_c{len(self.namespace)}"
        self.namespace[name] = value
        return name


class _Node:
    __slots__ = ()

    def check(self, value: Any) -> bool:
        """True only when the slow path accepts ``value`` and converts it as avro()/json() do."""
        raise NotImplementedError

    def avro(self, value: Any) -> Any:
        return value

    def json(self, value: Any) -> Any:
        """The canonical JSON the slow path's round trip returns (identity for scalars)."""
        return value

    def check_expr(self, gen: _Gen, var: str) -> str:
        return f"{gen.const(self.check)}({var})"

    def from_avro_expr(self, gen: _Gen, var: str) -> str:
        """JSON from a decoded, non-null Avro value, as ``avro_to_json``; may raise _Fallback."""
        return var

    def avro_expr(self, gen: _Gen, var: str) -> str:
        return var

    def json_expr(self, gen: _Gen, var: str) -> str:
        return var


class _Scalar(_Node):
    """string (with its facets), enum, int/long: accepted values convert to themselves."""

    __slots__ = ("_high", "_kind", "_low", "_pattern", "_symbols", "_uuid")

    def __init__(self, kind: type, node: Any) -> None:
        facets = node if isinstance(node, dict) else {}
        self._kind = kind
        self._low: int | None = facets.get("minLength")
        self._high: int | None = facets.get("maxLength")
        pattern = facets.get("pattern")
        self._pattern = re.compile(pattern) if pattern is not None else None
        symbols = facets.get("symbols") if facets.get("type") == "enum" else None
        self._symbols = frozenset(symbols) if symbols is not None else None
        self._uuid = facets.get("logicalType") == "uuid"

    def from_avro_expr(self, gen: _Gen, var: str) -> str:
        return f"str({var})" if self._uuid else var

    def check(self, value: Any) -> bool:
        if type(value) is not self._kind:
            return False
        if self._symbols is not None:
            return value in self._symbols
        text = cast(str, value)
        if self._low is not None and len(text) < self._low:
            return False
        if self._high is not None and len(text) > self._high:
            return False
        return self._pattern is None or self._pattern.match(text) is not None

    def check_expr(self, gen: _Gen, var: str) -> str:
        parts = [f"type({var}) is {self._kind.__name__}"]
        if self._symbols is not None:
            parts.append(f"{var} in {gen.const(self._symbols)}")
        else:
            if self._low is not None:
                parts.append(f"len({var}) >= {self._low}")
            if self._high is not None:
                parts.append(f"len({var}) <= {self._high}")
            if self._pattern is not None:
                parts.append(f"{gen.const(self._pattern.match)}({var}) is not None")
        return "(" + " and ".join(parts) + ")"


_DATES: dict[str, date] = {}
"""Date strings already found valid, with their value (dates repeat a lot); bounded."""
_DATES_MAX = 100_000


class _Date(_Node):
    __slots__ = ()

    def check(self, value: Any) -> bool:
        if type(value) is not str:
            return False
        if value in _DATES:
            return True
        if len(value) != 10 or not DATE.match(value):
            return False
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return False
        if len(_DATES) >= _DATES_MAX:
            _DATES.clear()
        _DATES[value] = day
        return True

    def avro(self, value: Any) -> Any:
        day = _DATES.get(value)
        return day if day is not None else date.fromisoformat(value)

    def check_expr(self, gen: _Gen, var: str) -> str:
        return f"(type({var}) is str and ({var} in _DATES or {gen.const(self.check)}({var})))"

    def from_avro_expr(self, gen: _Gen, var: str) -> str:
        return f"{gen.const(_date_text)}({var})"

    def avro_expr(self, gen: _Gen, var: str) -> str:
        return f"{gen.const(self.avro)}({var})"


class _Timestamp(_Node):
    __slots__ = ()

    def check(self, value: Any) -> bool:
        # Years before 1000 are left to the slow path (strftime would not print them as 4 digits),
        # and hour 24 too (newer Pythons' fromisoformat take it as midnight, strptime refuses it).
        if (
            type(value) is not str
            or len(value) != 20
            or value[0] == "0"
            or not TIMESTAMP.match(value)
            or value[11:13] > "23"
        ):
            return False
        try:
            _timestamp_fields(value)
        except ValueError:
            return False
        return True

    def avro(self, value: Any) -> Any:
        return _timestamp_fields(value)

    def avro_expr(self, gen: _Gen, var: str) -> str:
        return f"{gen.const(_timestamp_fields)}({var})"

    def from_avro_expr(self, gen: _Gen, var: str) -> str:
        return f"{gen.const(_timestamp_text)}({var})"


class _Fallback(Exception):
    """Raised by generated code for a value it does not convert: the slow path takes over."""


def _date_text(value: Any) -> str:
    if type(value) is not date:
        raise _Fallback
    return value.isoformat()


@lru_cache(maxsize=4096)
def _formatted_timestamp(value: datetime) -> str:
    return format_timestamp(value)


def _timestamp_text(value: Any) -> str:
    """format_timestamp of a decoded timestamp; records of one batch share their second, so cached."""
    if type(value) is not datetime:
        raise _Fallback
    return _formatted_timestamp(value)


def _timestamp_fields(text: str) -> datetime:
    """An aware UTC datetime from text already matching ``TIMESTAMP`` (strptime's value for it)."""
    return datetime.fromisoformat(text)


class _Nullable(_Node):
    __slots__ = ("_inner",)

    def __init__(self, inner: _Node) -> None:
        self._inner = inner

    def check(self, value: Any) -> bool:
        return value is None or self._inner.check(value)

    def avro(self, value: Any) -> Any:
        return None if value is None else self._inner.avro(value)

    def json(self, value: Any) -> Any:
        return None if value is None else self._inner.json(value)

    def check_expr(self, gen: _Gen, var: str) -> str:
        return f"({var} is None or {self._inner.check_expr(gen, var)})"

    def avro_expr(self, gen: _Gen, var: str) -> str:
        inner = self._inner.avro_expr(gen, var)
        return var if inner == var else f"(None if {var} is None else {inner})"

    def from_avro_expr(self, gen: _Gen, var: str) -> str:
        return self._inner.from_avro_expr(gen, var)

    def json_expr(self, gen: _Gen, var: str) -> str:
        inner = self._inner.json_expr(gen, var)
        return var if inner == var else f"(None if {var} is None else {inner})"


class _Array(_Node):
    __slots__ = ("_items",)

    def __init__(self, items: _Node) -> None:
        self._items = items

    def check(self, value: Any) -> bool:
        if type(value) is not list:
            return False
        check = self._items.check
        return all(check(item) for item in value)

    def avro(self, value: Any) -> Any:
        convert = self._items.avro
        return [convert(item) for item in value]

    def json(self, value: Any) -> Any:
        convert = self._items.json
        return [convert(item) for item in value]

    def avro_expr(self, gen: _Gen, var: str) -> str:
        return f"{gen.const(self.avro)}({var})"

    def json_expr(self, gen: _Gen, var: str) -> str:
        return f"{gen.const(self.json)}({var})"

    def from_avro_expr(self, gen: _Gen, var: str) -> str:
        raise _Unsupported("arrays in a flat message")


_Field = tuple[str, _Node, bool]  # name, node, nullable (may be absent)


class _Record(_Node):
    __slots__ = ("_fields", "_names")

    def __init__(self, fields: tuple[_Field, ...]) -> None:
        self._fields = fields
        self._names = frozenset(name for name, _, _ in fields)

    def check(self, value: Any) -> bool:
        if type(value) is not dict:
            return False
        names = self._names
        for key in value:
            if key not in names:
                return False
        for name, node, nullable in self._fields:
            if name in value:
                if not node.check(value[name]):
                    return False
            elif not nullable:
                return False
        return True

    def avro(self, value: Any) -> Any:
        return {name: node.avro(value.get(name)) for name, node, _ in self._fields}

    def json(self, value: Any) -> Any:
        return {name: node.json(value.get(name)) for name, node, _ in self._fields}

    def check_expr(self, gen: _Gen, var: str) -> str:
        return f"{gen.const(self.generated_check())}({var})"

    def generated_check(self) -> Callable[[Any], bool]:
        """``check`` as generated code (records nested in messages, such as ``sender``)."""
        gen = _Gen()
        lines = [
            "def check(obj):",
            "    if type(obj) is not dict:",
            "        return False",
            f"    if not obj.keys() <= {gen.const(self._names)}:",
            "        return False",
            "    get = obj.get",
        ]
        lines += _field_lines(gen, self._fields, 0, "False")
        lines.append("    return True")
        exec(compile("\n".join(lines), "<canonical fast record>", "exec"), gen.namespace)
        function: Callable[[Any], bool] = gen.namespace["check"]
        return function

    def avro_expr(self, gen: _Gen, var: str) -> str:
        return self._build(gen, var, "avro")

    def from_avro_expr(self, gen: _Gen, var: str) -> str:
        return f"{gen.const(self.generated_from_avro())}({var})"

    def generated_from_avro(self) -> Callable[[Any], dict[str, Any]]:
        gen = _Gen()
        lines = ["def convert(value):", "    if type(value) is not dict:", "        raise _Fallback"]
        items = []
        for i, (name, node, _) in enumerate(self._fields):
            lines.append(f"    v{i} = value.get({name!r})")
            items.append(f"{name!r}: {_none_or(node.from_avro_expr(gen, f'v{i}'), f'v{i}')}")
        lines.append("    return {" + ", ".join(items) + "}")
        gen.namespace["_Fallback"] = _Fallback
        exec(compile("\n".join(lines), "<canonical fast record from avro>", "exec"), gen.namespace)
        function: Callable[[Any], dict[str, Any]] = gen.namespace["convert"]
        return function

    def json_expr(self, gen: _Gen, var: str) -> str:
        return self._build(gen, var, "json")

    def _build(self, gen: _Gen, var: str, direction: str) -> str:
        items = []
        for name, node, _ in self._fields:
            value = f"{var}.get({name!r})"
            converted = node.json_expr(gen, value) if direction == "json" else node.avro_expr(gen, value)
            items.append(f"{name!r}: {converted}")
        return "{" + ", ".join(items) + "}"


def _compile(type_: Any) -> _Node:
    node = registry().resolve(type_)
    if isinstance(node, list):
        branches = [b for b in node if b != "null"]
        if len(branches) != 1:
            raise _Unsupported("union of several branches")
        inner = _compile(branches[0])
        return _Nullable(inner) if "null" in node else inner
    kind = node["type"] if isinstance(node, dict) else node
    logical = node.get("logicalType") if isinstance(node, dict) else None
    if logical == "date":
        return _Date()
    if logical == "timestamp-millis":
        return _Timestamp()
    if kind in ("string", "enum"):
        return _Scalar(str, node)
    if kind in ("int", "long"):
        return _Scalar(int, node)
    if kind == "array":
        return _Array(_compile(node["items"]))
    if kind == "record":
        return _Record(
            tuple((f["name"], _compile(f["type"]), is_nullable(f["type"])) for f in node["fields"])
        )
    raise _Unsupported(f"schema type {kind!r}")


@cache
def fast_record(record_name: str) -> _Record | None:
    try:
        node = _compile(f"{NAMESPACE}.{record_name}")
    except _Unsupported:
        return None
    return node if isinstance(node, _Record) else None


FastMessage = Callable[[Any], "dict[str, Any] | None"]


def _field_lines(
    gen: _Gen, fields: Sequence[tuple[str, _Node, bool]], first: int, failed: str = "None"
) -> list[str]:
    """Read, and check, each field into v<i>; ``return <failed>`` from the function when one fails."""
    lines = []
    for i, (name, node, nullable) in enumerate(fields, start=first):
        var = f"v{i}"
        if nullable:
            lines.append(f"    {var} = get({name!r})")
        else:
            lines.append(f"    {var} = get({name!r}, _MISSING)")
            lines.append(f"    if {var} is _MISSING:")
            lines.append(f"        return {failed}")
        lines.append(f"    if not {node.check_expr(gen, var)}:")
        lines.append(f"        return {failed}")
    return lines


@cache
def _fast_message(record_name: str, direction: str) -> FastMessage | None:
    """Generated ``obj -> result or None``: ``direction`` "json" is check_inbound's round trip of
    ``message_from_json`` + ``message_to_json``, "avro" is ``message_from_json``."""
    try:
        envelope = [(n, _compile(t), is_nullable(t)) for n, t in record_fields(record_name) if n != "body"]
        bodies = {
            message_type: (body_name, [(n, _compile(t), is_nullable(t)) for n, t in record_fields(body_name)])
            for message_type, body_name in BODY_RECORDS.items()
        }
    except _Unsupported:
        return None
    names = [n for n, _, _ in envelope]
    if "status" not in names or "message_type" not in names:
        return None
    gen = _Gen()

    def convert(node: _Node, var: str) -> str:
        return node.json_expr(gen, var) if direction == "json" else node.avro_expr(gen, var)

    env_items = [f"{name!r}: {convert(node, f'v{i}')}" for i, (name, node, _) in enumerate(envelope)]
    lines = ["def fast(obj):", "    if type(obj) is not dict:", "        return None", "    get = obj.get"]
    lines += _field_lines(gen, envelope, 0)
    status, message_type = f"v{names.index('status')}", f"v{names.index('message_type')}"
    lines += [
        f"    if {status} == 'cancel':",
        "        for key in obj:",
        f"            if key not in {gen.const(frozenset(names))}:",
        "                return None",
        "        return {" + ", ".join(env_items + ([] if direction == "json" else ["'body': None"])) + "}",
    ]
    offset = len(envelope)
    for message_type_value, (body_name, fields) in bodies.items():
        allowed = frozenset(names) | {n for n, _, _ in fields}
        body_items = [
            f"{n!r}: {convert(node, f'v{i}')}" for i, (n, node, _) in enumerate(fields, start=offset)
        ]
        lines += [
            f"    if {message_type} == {message_type_value!r}:",
            "        for key in obj:",
            f"            if key not in {gen.const(allowed)}:",
            "                return None",
        ]
        lines += ["    " + line for line in _field_lines(gen, fields, offset)]
        if direction == "json":
            result = "{" + ", ".join(env_items + body_items) + "}"
        else:
            result = (
                "{" + ", ".join([*env_items, f"'body': ({body_name!r}, {{{', '.join(body_items)}}})"]) + "}"
            )
        lines.append(f"        return {result}")
    lines.append("    return None")
    exec(compile("\n".join(lines), f"<canonical fast {record_name} {direction}>", "exec"), gen.namespace)
    function: FastMessage = gen.namespace["fast"]
    return function


def fast_check_message(record_name: str, obj: Any) -> dict[str, Any] | None:
    """``message_to_json(message_from_json(obj))`` for a valid message; None: take the slow path."""
    fast = _fast_message(record_name, "json")
    return fast(obj) if fast is not None else None


def fast_message_to_avro(record_name: str, obj: Any) -> dict[str, Any] | None:
    """``message_from_json(obj)`` for a valid message; None: take the slow path."""
    fast = _fast_message(record_name, "avro")
    return fast(obj) if fast is not None else None


def _none_or(expression: str, var: str) -> str:
    return var if expression == var else f"(None if {var} is None else {expression})"


@cache
def _fast_from_avro(record_name: str) -> Callable[[Any], dict[str, Any] | None] | None:
    """Generated ``message_to_json``: decoded Avro record -> flat JSON; None: take the slow path."""
    try:
        gen = _Gen()
        gen.namespace["_Fallback"] = _Fallback
        envelope = [(n, _compile(t)) for n, t in record_fields(record_name) if n != "body"]
        names = [n for n, _ in envelope]
        if "status" not in names or "message_type" not in names:
            return None
        lines = ["def fast(record):", "    get = record.get", "    try:"]
        items = []
        for i, (name, node) in enumerate(envelope):
            lines.append(f"        v{i} = get({name!r})")
            items.append(f"{name!r}: {_none_or(node.from_avro_expr(gen, f'v{i}'), f'v{i}')}")
        lines.append("        out = {" + ", ".join(items) + "}")
        status, message_type = f"v{names.index('status')}", f"v{names.index('message_type')}"
        lines += [
            "        body = get('body')",
            "        if body is None:",
            f"            return out if {status} == 'cancel' else None",
            f"        if type(body) is not tuple or len(body) != 2 or {status} == 'cancel':",
            "            return None",
            "        body_name, body_record = body",
            "        if type(body_record) is not dict:",
            "            return None",
            "        get = body_record.get",
        ]
        for message_type_value, body_name in BODY_RECORDS.items():
            fields = [(n, _compile(t)) for n, t in record_fields(body_name)]
            lines.append(
                f"        if {message_type} == {message_type_value!r} and body_name == {body_name!r}:"
            )
            for j, (name, node) in enumerate(fields):
                var = f"b{j}"
                lines.append(f"            {var} = get({name!r})")
                lines.append(f"            out[{name!r}] = {_none_or(node.from_avro_expr(gen, var), var)}")
            lines.append("            return out")
        lines += ["        return None", "    except _Fallback:", "        return None"]
    except _Unsupported:
        return None
    exec(compile("\n".join(lines), f"<canonical fast {record_name} from avro>", "exec"), gen.namespace)
    function: Callable[[Any], dict[str, Any] | None] = gen.namespace["fast"]
    return function


def fast_message_from_avro(record_name: str, record: Any) -> dict[str, Any] | None:
    fast = _fast_from_avro(record_name)
    return fast(record) if fast is not None and type(record) is dict else None
