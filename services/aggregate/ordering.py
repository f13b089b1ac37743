"""The order of published figures: which facts a snapshot reflects, and when one may follow another.

A region snapshot is computed from the figures state, which is the youth-facts topic read up to some
offset in each of its partitions. That *position* (plus the as-of date, and the number of accepted
messages the state holds) says how new the figures are. Two positions of the same log compare
partition by partition: ``a`` covers ``b`` when it has read at least as far in every partition, on
the same or a later as-of date; then every youth's facts in ``a`` are the ones in ``b`` or later
ones, so ``a`` reflects every accepted message ``b`` does (``FiguresState`` never replaces facts by
facts from fewer messages). Positions of two readers can be incomparable (one ahead in partition
0, the other in partition 1), so "newer" is this partial order, not a sum. The accepted-message
count is carried for consumers and tests; it is not part of the order (a deliberate deletion of a
youth's facts is a newer state with fewer messages).

The publisher keeps the *join* (componentwise maximum) of every position already on the aggregates
topic and publishes only from a position that covers it, so a consumer never sees figures that
reflect less than figures it saw before. The position travels in a Kafka record header (JSON), not in
the ``RegionSnapshot`` value: the value's Avro schema and fingerprint, and so every existing reader
and record, stay exactly as the contract has them. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import zip_longest

import orjson

POSITION_HEADER = "jeugdhub-position"
"""Header on every RegionSnapshot record: ``{"as_of": "YYYY-MM-DD", "facts": [o0, o1, ...], "accepted": n}``."""


@dataclass(frozen=True)
class Position:
    """What a snapshot reflects.

    ``facts[p]`` is the offset of the first record of youth-facts partition ``p`` *not* applied (0:
    nothing read; a missing partition counts as 0). ``accepted`` is the number of accepted messages
    behind the facts held (the sum of each youth's ``messages_applied``).
    """

    as_of: date
    facts: tuple[int, ...] = ()
    accepted: int = 0

    def covers(self, other: Position) -> bool:
        """Read at least as far as ``other`` everywhere: figures from here never reflect less."""
        return self.as_of >= other.as_of and all(
            mine >= theirs for mine, theirs in zip_longest(self.facts, other.facts, fillvalue=0)
        )

    def join(self, other: Position) -> Position:
        """The least position covering both (componentwise maximum)."""
        return Position(
            max(self.as_of, other.as_of),
            tuple(max(a, b) for a, b in zip_longest(self.facts, other.facts, fillvalue=0)),
            max(self.accepted, other.accepted),
        )

    def to_header(self) -> bytes:
        return orjson.dumps(
            {"as_of": self.as_of.isoformat(), "facts": list(self.facts), "accepted": self.accepted}
        )

    @classmethod
    def from_header(cls, value: bytes) -> Position:
        """Parse a header value; ``ValueError`` when it is not one this module wrote."""
        try:
            obj = orjson.loads(value)
            facts = obj["facts"]
            accepted = obj["accepted"]
            as_of = date.fromisoformat(obj["as_of"])
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"not a snapshot position: {exc}") from exc
        if not (
            isinstance(facts, list)
            and all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in facts)
            and isinstance(accepted, int)
            and not isinstance(accepted, bool)
            and accepted >= 0
        ):
            raise ValueError("not a snapshot position: offsets and count must be non-negative integers")
        return cls(as_of, tuple(facts), accepted)


def position_of(headers: Iterable[tuple[str, bytes | None]] | None) -> Position | None:
    """The position header of a consumed record (kafka-python and aiokafka give (key, value) pairs);
    None when it has none (written before positions existed) or it does not parse."""
    for key, value in headers or ():
        if key == POSITION_HEADER and value is not None:
            try:
                return Position.from_header(value)
            except ValueError:
                return None
    return None


def may_follow(new: Position, published: Position | None) -> bool:
    """The ordering rule: a snapshot from ``new`` may be published after every snapshot whose
    positions joined give ``published`` (None: nothing published yet)."""
    return published is None or new.covers(published)


def joined(positions: Sequence[Position]) -> Position | None:
    """The join of every position (None for none)."""
    out: Position | None = None
    for position in positions:
        out = position if out is None else out.join(position)
    return out
