"""Generated Avro binary encoders for the contract's records: fastavro's bytes, a few times faster.

``fastavro.schemaless_writer`` spends most of its time per call rather than per byte (it sets up an
encoder and, for every ``["null", X]`` union, validates the value against each branch): 10-25 µs
for a Retour of 60 bytes. The workers encode three or four records per message, so
:func:`encoder` compiles, once per record type, a Python function that writes the same bytes
directly from the standalone schema (the one the single-object fingerprint is computed from).

Like the fast path of ``canonical``, a generated encoder only *accepts*: any value it does not
handle exactly as fastavro would (a naive datetime, a date given as text, an int outside its
range, a tuple where a list is expected, a missing or extra field, ...) makes it return ``None``,
and the caller encodes with fastavro, which then writes or raises as before.
tests/unit/contracts/test_fastcodec.py compares both byte for byte.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

Encoder = Callable[[Any], "bytes | None"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_INT = (-(2**31), 2**31 - 1)
_LONG = (-(2**63), 2**63 - 1)
_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


class _Fallback(Exception):
    """The value is not one the generated code writes: encode it with fastavro instead."""


def _varint(n: int) -> bytes:
    """Avro long: zig-zag, then 7 bits a byte, low bits first."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


_SMALL = [_varint(n) for n in range(64)]


def avro_long(n: int) -> bytes:
    """An Avro long (zig-zag varint; the 64 smallest non-negative values precomputed)."""
    return _SMALL[n] if 0 <= n < 64 else _varint(n)


_long = avro_long  # the name the generated encoders use


def _millis(value: datetime) -> int:
    """fastavro's timestamp-millis of an aware datetime."""
    delta = value - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000


_pack_double = struct.Struct("<d").pack


class _Unsupported(Exception):
    """A schema construct without generated code: that record is always encoded by fastavro."""


class _Generator:
    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {
            "_Fallback": _Fallback,
            "_long": _long,
            "_millis": _millis,
            "_pack_double": _pack_double,
            "_MISSING": object(),
            "datetime": datetime,
            "date": date,
            "_EPOCH_DAY": _EPOCH_DAY,
        }
        self.named: dict[str, Mapping[str, Any]] = {}
        self.record_functions: dict[str, str] = {}
        self.sources: list[str] = []
        self._counter = 0

    def const(self, value: Any) -> str:
        self._counter += 1
        name = f"_k{self._counter}"
        self.namespace[name] = value
        return name

    def var(self) -> str:
        self._counter += 1
        return f"x{self._counter}"

    def resolve(self, schema: Any) -> Any:
        if isinstance(schema, str) and schema not in _PRIMITIVES:
            if schema not in self.named:
                raise _Unsupported(f"unknown named type {schema}")
            return self.named[schema]
        if isinstance(schema, dict) and schema.get("type") in ("record", "enum", "fixed"):
            self.named.setdefault(_full_name(schema), schema)
        return schema

    def statements(self, schema: Any, value: str, indent: str) -> list[str]:
        """Code that appends ``value`` encoded as ``schema`` to ``out`` (or raises _Fallback)."""
        node = self.resolve(schema)
        if isinstance(node, list):
            return self._union(node, value, indent)
        kind = node["type"] if isinstance(node, dict) else node
        logical = node.get("logicalType") if isinstance(node, dict) else None
        if isinstance(kind, (dict, list)):  # {"type": {...}}: a nested type definition
            return self.statements(kind, value, indent)
        if kind == "null":
            return [f"{indent}if {value} is not None:", f"{indent}    raise _Fallback"]
        if kind == "boolean":
            return [
                f"{indent}if {value} is True:",
                f"{indent}    out += b'\\x01'",
                f"{indent}elif {value} is False:",
                f"{indent}    out += b'\\x00'",
                f"{indent}else:",
                f"{indent}    raise _Fallback",
            ]
        if kind in ("int", "long"):
            low, high = _INT if kind == "int" else _LONG
            lines = []
            if logical == "timestamp-millis" and kind == "long":
                lines += [
                    f"{indent}if type({value}) is datetime and {value}.tzinfo is not None:",
                    f"{indent}    {value} = _millis({value})",
                ]
            elif logical == "date" and kind == "int":
                lines += [
                    f"{indent}if type({value}) is date:",
                    f"{indent}    {value} = {value}.toordinal() - _EPOCH_DAY",
                ]
            elif logical is not None:
                raise _Unsupported(f"logical type {logical}")
            lines += [
                f"{indent}if type({value}) is not int or not {low} <= {value} <= {high}:",
                f"{indent}    raise _Fallback",
                f"{indent}out += _long({value})",
            ]
            return lines
        if kind == "double":
            return [
                f"{indent}if type({value}) is not float:",
                f"{indent}    raise _Fallback",
                f"{indent}out += _pack_double({value})",
            ]
        if kind == "bytes" and logical is None:
            return [
                f"{indent}if type({value}) is not bytes:",
                f"{indent}    raise _Fallback",
                f"{indent}out += _long(len({value}))",
                f"{indent}out += {value}",
            ]
        if kind == "string" and logical in (None, "uuid"):
            encoded = self.var()
            return [
                f"{indent}if type({value}) is not str:",
                f"{indent}    raise _Fallback",
                f"{indent}{encoded} = {value}.encode()",
                f"{indent}out += _long(len({encoded}))",
                f"{indent}out += {encoded}",
            ]
        if kind == "enum":
            index = self.var()
            symbols = self.const({symbol: i for i, symbol in enumerate(node["symbols"])})
            return [
                f"{indent}{index} = {symbols}.get({value}) if type({value}) is str else None",
                f"{indent}if {index} is None:",
                f"{indent}    raise _Fallback",
                f"{indent}out += _long({index})",
            ]
        if kind == "array":
            item = self.var()
            return [
                f"{indent}if type({value}) is not list:",
                f"{indent}    raise _Fallback",
                f"{indent}if {value}:",
                f"{indent}    out += _long(len({value}))",
                f"{indent}    for {item} in {value}:",
                *self.statements(node["items"], item, indent + "        "),
                f"{indent}out += b'\\x00'",
            ]
        if kind == "record":
            return [f"{indent}{self.record_function(node)}({value}, out)"]
        raise _Unsupported(f"schema type {kind!r}")

    def _union(self, branches: list[Any], value: str, indent: str) -> list[str]:
        non_null = [b for b in branches if b != "null"]
        null_index = branches.index("null") if "null" in branches else None
        if len(non_null) == 1 and null_index is not None:
            index = branches.index(non_null[0])
            return [
                f"{indent}if {value} is None:",
                f"{indent}    out += {_long(null_index)!r}",
                f"{indent}else:",
                f"{indent}    out += {_long(index)!r}",
                *self.statements(non_null[0], value, indent + "    "),
            ]
        # Several records: only the (full name, record) tuple notation, as our messages use it.
        lines = []
        if null_index is not None:
            lines += [f"{indent}if {value} is None:", f"{indent}    out += {_long(null_index)!r}"]
        else:
            lines += [f"{indent}if False:", f"{indent}    pass"]
        for index, branch in enumerate(branches):
            if branch == "null":
                continue
            node = self.resolve(branch)
            if not (isinstance(node, dict) and node.get("type") == "record"):
                raise _Unsupported("a union of several branches that are not all records")
            name = _full_name(node)
            lines += [
                f"{indent}elif type({value}) is tuple and len({value}) == 2 and {value}[0] == {name!r}:",
                f"{indent}    out += {_long(index)!r}",
                f"{indent}    {self.record_function(node)}({value}[1], out)",
            ]
        lines += [f"{indent}else:", f"{indent}    raise _Fallback"]
        return lines

    def record_function(self, node: Mapping[str, Any]) -> str:
        full = _full_name(node)
        existing = self.record_functions.get(full)
        if existing is not None:
            return existing
        function = f"_record{len(self.record_functions)}"
        self.record_functions[full] = function
        names = self.const(frozenset(f["name"] for f in node["fields"]))
        lines = [
            f"def {function}(record, out):",
            "    if type(record) is not dict or not record.keys() <= " + names + ":",
            "        raise _Fallback",
            "    get = record.get",
        ]
        for field in node["fields"]:
            value = self.var()
            lines += [
                f"    {value} = get({field['name']!r}, _MISSING)",
                f"    if {value} is _MISSING:",
                "        raise _Fallback",
                *self.statements(field["type"], value, "    "),
            ]
        self.sources.append("\n".join(lines))
        return function


def _full_name(node: Mapping[str, Any]) -> str:
    name = str(node["name"])
    if "." in name or not node.get("namespace"):
        return name
    return f"{node['namespace']}.{name}"


def encoder(standalone: Mapping[str, Any], header: bytes) -> Encoder | None:
    """An encoder for a record schema (``header`` + body bytes), or None if it needs fastavro."""
    generator = _Generator()
    try:
        top = generator.record_function(generator.resolve(dict(standalone)))
    except _Unsupported:
        return None
    source = "\n\n".join(generator.sources)
    source += (
        "\n\ndef encode(record):\n"
        f"    out = bytearray({header!r})\n"
        "    try:\n"
        f"        {top}(record, out)\n"
        "    except (_Fallback, UnicodeEncodeError):\n"
        "        return None\n"
        "    return bytes(out)\n"
    )
    exec(compile(source, f"<fastcodec {standalone.get('name')}>", "exec"), generator.namespace)
    function: Encoder = generator.namespace["encode"]
    return function


# -- decoders -------------------------------------------------------------------------------------
# The same idea the other way round: what ``fastavro.schemaless_reader(..., return_record_name=True,
# return_record_name_override=True)`` returns, from generated code; any malformed input (truncated,
# bad UTF-8, unknown union branch or enum index, a varint longer than 64 bits, trailing bytes)
# makes the decoder return None and the caller decodes with fastavro, which raises as before.

Decoder = Callable[[bytes, int], "dict[str, Any] | None"]


def _read_long(data: bytes, pos: int) -> tuple[int, int]:
    byte = data[pos]
    pos += 1
    n = byte & 0x7F
    shift = 7
    while byte & 0x80:
        if shift > 63:
            raise _Fallback
        byte = data[pos]
        pos += 1
        n |= (byte & 0x7F) << shift
        shift += 7
    return (n >> 1) ^ -(n & 1), pos


_unpack_double = struct.Struct("<d").unpack_from


class _ReadGenerator(_Generator):
    def __init__(self) -> None:
        super().__init__()
        import uuid
        from datetime import timedelta

        self.namespace.update(
            {
                "_read_long": _read_long,
                "_unpack_double": _unpack_double,
                "_EPOCH": _EPOCH,
                "timedelta": timedelta,
                "UUID": uuid.UUID,
            }
        )

    def read(self, schema: Any, target: str, indent: str) -> list[str]:
        """Code that reads one ``schema`` value at ``pos`` into ``target``, advancing ``pos``."""
        node = self.resolve(schema)
        if isinstance(node, list):
            return self._read_union(node, target, indent)
        kind = node["type"] if isinstance(node, dict) else node
        logical = node.get("logicalType") if isinstance(node, dict) else None
        if isinstance(kind, (dict, list)):
            return self.read(kind, target, indent)
        if kind == "null":
            return [f"{indent}{target} = None"]
        if kind == "boolean":
            return [
                f"{indent}{target} = data[pos]",
                f"{indent}pos += 1",
                f"{indent}if {target} > 1:",
                f"{indent}    raise _Fallback",
                f"{indent}{target} = {target} == 1",
            ]
        if kind in ("int", "long"):
            lines = self._long(target, indent)
            low, high = _INT if kind == "int" else _LONG
            lines += [f"{indent}if not {low} <= {target} <= {high}:", f"{indent}    raise _Fallback"]
            if logical == "timestamp-millis" and kind == "long":
                lines.append(f"{indent}{target} = _EPOCH + timedelta(microseconds={target} * 1000)")
            elif logical == "date" and kind == "int":
                lines.append(f"{indent}{target} = date.fromordinal({target} + _EPOCH_DAY)")
            elif logical is not None:
                raise _Unsupported(f"logical type {logical}")
            return lines
        if kind == "double":
            return [f"{indent}({target},) = _unpack_double(data, pos)", f"{indent}pos += 8"]
        if kind in ("string", "bytes") and (logical is None or (kind == "string" and logical == "uuid")):
            size = self.var()
            lines = [
                *self._long(size, indent),
                f"{indent}if {size} < 0 or pos + {size} > len(data):",
                f"{indent}    raise _Fallback",
                f"{indent}{target} = data[pos:pos + {size}]",
                f"{indent}pos += {size}",
            ]
            if kind == "string":
                lines.append(f"{indent}{target} = {target}.decode()")
                if logical == "uuid":
                    lines.append(f"{indent}{target} = UUID({target})")
            return lines
        if kind == "enum":
            symbols = self.const(tuple(node["symbols"]))
            index = self.var()
            return [
                *self._long(index, indent),
                f"{indent}if not 0 <= {index} < {len(node['symbols'])}:",
                f"{indent}    raise _Fallback",
                f"{indent}{target} = {symbols}[{index}]",
            ]
        if kind == "array":
            count, item = self.var(), self.var()
            return [
                f"{indent}{target} = []",
                f"{indent}while True:",
                *self._long(count, indent + "    "),
                f"{indent}    if {count} == 0:",
                f"{indent}        break",
                f"{indent}    if {count} < 0:",
                f"{indent}        {count} = -{count}",
                *self._long(self.var(), indent + "        "),
                f"{indent}    for _ in range({count}):",
                *self.read(node["items"], item, indent + "        "),
                f"{indent}        {target}.append({item})",
            ]
        if kind == "record":
            return [f"{indent}{target}, pos = {self.read_record_function(node)}(data, pos)"]
        raise _Unsupported(f"schema type {kind!r}")

    def _long(self, target: str, indent: str) -> list[str]:
        byte = self.var()
        return [
            f"{indent}{byte} = data[pos]",
            f"{indent}if {byte} < 0x80:",
            f"{indent}    {target} = ({byte} >> 1) ^ -({byte} & 1)",
            f"{indent}    pos += 1",
            f"{indent}else:",
            f"{indent}    {target}, pos = _read_long(data, pos)",
        ]

    def _read_union(self, branches: list[Any], target: str, indent: str) -> list[str]:
        index = self.var()
        records = [
            b
            for b in branches
            if isinstance(self.resolve(b), dict) and self.resolve(b).get("type") == "record"
        ]
        lines = [*self._long(index, indent)]
        first = True
        for i, branch in enumerate(branches):
            keyword = "if" if first else "elif"
            first = False
            lines.append(f"{indent}{keyword} {index} == {i}:")
            lines += self.read(branch, target, indent + "    ")
            node = self.resolve(branch)
            if len(records) > 1 and isinstance(node, dict) and node.get("type") == "record":
                lines.append(f"{indent}    {target} = ({_full_name(node)!r}, {target})")
        lines += [f"{indent}else:", f"{indent}    raise _Fallback"]
        return lines

    def read_record_function(self, node: Mapping[str, Any]) -> str:
        full = _full_name(node)
        existing = self.record_functions.get(full)
        if existing is not None:
            return existing
        function = f"_read{len(self.record_functions)}"
        self.record_functions[full] = function
        lines = [f"def {function}(data, pos):"]
        items = []
        for field in node["fields"]:
            value = self.var()
            lines += self.read(field["type"], value, "    ")
            items.append(f"{field['name']!r}: {value}")
        lines.append("    return {" + ", ".join(items) + "}, pos")
        self.sources.append("\n".join(lines))
        return function


def decoder(standalone: Mapping[str, Any]) -> Decoder | None:
    """A decoder ``(data, offset) -> record or None`` for a record schema, or None if unsupported."""
    generator = _ReadGenerator()
    try:
        top = generator.read_record_function(generator.resolve(dict(standalone)))
    except _Unsupported:
        return None
    source = "\n\n".join(generator.sources)
    source += (
        "\n\ndef decode(data, pos):\n"
        "    try:\n"
        f"        record, pos = {top}(data, pos)\n"
        "    except (_Fallback, IndexError, ValueError, OverflowError, UnicodeDecodeError, struct_error):\n"
        "        return None\n"
        "    return record if pos == len(data) else None\n"
    )
    generator.namespace["struct_error"] = struct.error
    exec(compile(source, f"<fastcodec read {standalone.get('name')}>", "exec"), generator.namespace)
    function: Decoder = generator.namespace["decode"]
    return function
