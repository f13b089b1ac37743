"""The per-youth container of compactly kept messages that ``jeugdhub replay``, ``history`` and
``report`` hold until the end of a feed (:func:`services.replay.offline.judge_lines` with
``compact``).

Interpreted on purpose (not in ``services.compiled.COMPILED_MODULES``): a ``Sequence`` subclass,
which mypyc's native classes cannot be; the per-message work it calls
(:func:`services.aggregate.timeline.kept_as_message`) is compiled.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

from services.aggregate.timeline import Kept, Message, kept_as_message


class KeptMessages(Sequence[Message]):
    """One youth's accepted messages as :func:`~services.aggregate.timeline.keep_message` tuples
    (a third of a flat dict's memory); reading gives each back as a flat message with the fields
    the timeline reads, so ``build_youth_facts`` and the regulator's series read it as they read
    a list of dicts and compute the same figures."""

    __slots__ = ("kept", "youth")

    def __init__(self, youth: str) -> None:
        self.youth = youth
        self.kept: list[Kept] = []

    def __len__(self) -> int:
        return len(self.kept)

    def __iter__(self) -> Iterator[Message]:
        youth = self.youth
        for kept in self.kept:
            yield kept_as_message(youth, kept)

    @overload
    def __getitem__(self, index: int) -> Message: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Message]: ...

    def __getitem__(self, index: int | slice) -> Message | Sequence[Message]:
        if isinstance(index, slice):
            return [kept_as_message(self.youth, kept) for kept in self.kept[index]]
        return kept_as_message(self.youth, self.kept[index])
