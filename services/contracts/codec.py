"""Avro single-object encoding (``C3 01`` + 8-byte CRC-64-AVRO fingerprint + binary body).

Every record on our topics carries its schema's fingerprint, so any consumer that holds the
``.avsc`` files can decode without a schema registry, and a record of the wrong type is refused
instead of being misread.
"""

from __future__ import annotations

import io
from functools import cache
from typing import Any

from fastavro import schemaless_reader, schemaless_writer

from services.contracts.errors import ContractError
from services.contracts.fastcodec import Decoder, Encoder
from services.contracts.fastcodec import decoder as fast_decoder
from services.contracts.fastcodec import encoder as fast_encoder
from services.contracts.schemas import RecordSchema, registry

MARKER = b"\xc3\x01"
HEADER_LEN = 10


@cache
def _schema(name: str) -> RecordSchema:
    return registry().record(name)


@cache
def _by_fingerprint() -> dict[bytes, RecordSchema]:
    reg = registry()
    records = [n for n, s in reg.named.items() if s.get("type") == "record"]
    return {reg.record(n).fingerprint: reg.record(n) for n in records}


@cache
def _fast_encoder(name: str) -> Encoder | None:
    schema = _schema(name)
    return fast_encoder(schema.standalone, MARKER + schema.fingerprint)


def encode(name: str, record: dict[str, Any]) -> bytes:
    """Encode an Avro-ready record (dates as ``date``, timestamps as aware ``datetime``)."""
    fast = _fast_encoder(name)
    if fast is not None:
        data = fast(record)
        if data is not None:
            return data
    schema = _schema(name)
    buffer = io.BytesIO()
    buffer.write(MARKER)
    buffer.write(schema.fingerprint)
    try:
        schemaless_writer(buffer, schema.parsed, record, strict_allow_default=True)
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        raise ContractError(_field_from_error(exc), f"cannot encode as {name}: {exc}") from exc
    return buffer.getvalue()


def decode(name: str, data: bytes) -> dict[str, Any]:
    """Decode single-object bytes that must be of record type ``name``."""
    schema = _schema(name)
    _check_header(data)
    if data[2:HEADER_LEN] != schema.fingerprint:
        other = _by_fingerprint().get(data[2:HEADER_LEN])
        found = f"the fingerprint of {other.name.rsplit('.', 1)[-1]}" if other else "of an unknown schema"
        raise ContractError(
            "",
            f"fingerprint {data[2:HEADER_LEN].hex()} is {found}, expected {name} ({schema.fingerprint.hex()})",
        )
    return _read_body(schema, data)


def decode_any(data: bytes) -> tuple[str, dict[str, Any]]:
    """Decode single-object bytes of any contract record; returns (short record name, record)."""
    _check_header(data)
    schema = _by_fingerprint().get(data[2:HEADER_LEN])
    if schema is None:
        raise ContractError("", f"unknown schema fingerprint {data[2:HEADER_LEN].hex()}")
    return schema.name.rsplit(".", 1)[-1], _read_body(schema, data)


def _check_header(data: bytes) -> None:
    if len(data) < HEADER_LEN:
        raise ContractError("", f"truncated: {len(data)} bytes, a single-object header needs {HEADER_LEN}")
    if data[:2] != MARKER:
        raise ContractError("", f"not Avro single-object encoded: marker {data[:2].hex()}, expected c301")


@cache
def _fast_decoder(name: str) -> Decoder | None:
    return fast_decoder(registry().record(name).standalone)


def _read_body(schema: RecordSchema, data: bytes) -> dict[str, Any]:
    fast = _fast_decoder(schema.name)
    if fast is not None:
        fast_record = fast(data, HEADER_LEN)
        if fast_record is not None:
            return fast_record
    stream = io.BytesIO(data)
    stream.seek(HEADER_LEN)
    try:
        # Unions of several records (the message body) come back as (full name, record) tuples.
        record = schemaless_reader(
            stream, schema.parsed, None, return_record_name=True, return_record_name_override=True
        )
    except (EOFError, ValueError, TypeError, IndexError, KeyError, UnicodeDecodeError, OverflowError) as exc:
        raise ContractError(
            "", f"cannot decode {schema.name.rsplit('.', 1)[-1]}: {type(exc).__name__}: {exc}"
        ) from exc
    if stream.tell() != len(data):
        raise ContractError("", f"{len(data) - stream.tell()} trailing bytes after the record")
    if not isinstance(record, dict):
        raise ContractError("", "decoded value is not a record")
    return record


def _field_from_error(exc: Exception) -> str:
    """fastavro names the field in some messages (``... on field <name>``); keep it when it does."""
    text = str(exc)
    marker = "on field "
    if marker in text:
        return text.split(marker, 1)[1].split()[0].strip("'\"")
    return ""
