"""The one exception type for everything that does not match the contract."""

from __future__ import annotations


class ContractError(ValueError):
    """A value does not match the Avro contract; ``field`` is the dotted path of the first offence.

    Decoding and schema errors from fastavro, orjson or our own checks are all wrapped in this type so
    callers can turn them into a ``SCHEMA`` rule violation without knowing which library failed.
    """

    code = "SCHEMA"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message
