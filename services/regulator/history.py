"""Restated history (metrics.md, "History (v1.1)"): the figures as of many dates from every accepted
message known now, as replay-shaped documents or as the spec's CSV. No Kafka and no files here:
the command (``history_commands``) reads a feed file with replay's ``judge_lines`` or the hub's state
with rebuild's :func:`services.aggregate.state_source.read_state` and hands the accepted messages
over as a :class:`HistorySource`.

For other code (``jeugdhub report``) the entry points are :func:`history_documents` (the documents
``history --format json`` writes: public form and targets applied) and :func:`series_documents`
(exact documents only, for callers that apply the public form and targets themselves). Both
compute every date in one pass over each youth's facts (:func:`services.regulator.series.figure_series`).
The document for date D is ``replay --as-of D``'s document over the same messages (with
``--public`` and ``--baseline`` as given): ``{as_of, accepted, rejected, duplicates, regions}``.
"""

from __future__ import annotations

import csv
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from typing import Any, TextIO

from services.aggregate.facts import build_youth_facts
from services.aggregate.figures import FIGURE_KEYS
from services.aggregate.timeline import Message
from services.contracts.regions import RegionTable
from services.contracts.vocabulary import RESTRICTIVE_MEASURE_KINDS
from services.privacy.rotation import as_one_youth
from services.regulator.public import public_row
from services.regulator.series import Progress, figure_series
from services.regulator.targets import (
    TARGETS,
    TargetResult,
    check_baseline,
    evaluate,
    target_column_names,
    target_columns,
    targets_object,
)
from services.replay.offline import ReplayResult

MEASURES_KEY = "restrictive_measures_12m"
SUPPRESSED_KEY = "suppressed"
SUPPRESSED_SEPARATOR = ";"
"""How the ``suppressed`` list of a public row is written in one CSV cell."""


@dataclass(frozen=True)
class HistorySource:
    """The accepted messages per youth and what the documents say they were computed from.

    ``rejected`` and ``duplicates`` are ``None`` when unknown: the hub's state holds only
    accepted messages (rejections are kept 90 days on their own topic, duplicates nowhere).
    """

    by_youth: Mapping[str, Collection[Message]]
    accepted: int
    rejected: int | None
    duplicates: int | None

    @classmethod
    def from_replay(cls, result: ReplayResult) -> HistorySource:
        """A feed file judged by :func:`services.replay.offline.judge_lines`."""
        return cls(result.by_youth, result.accepted, result.rejected, result.duplicates)

    @classmethod
    def from_topic(cls, by_youth: Mapping[str, Mapping[str, dict[str, Any]]]) -> HistorySource:
        """What :func:`services.aggregate.state_source.read_state` reads (anchor → key → message).

        A youth is its anchor: during a key rotation its messages under the old and the new
        pseudonym are one youth, with facts derived under the anchor as the aggregate does
        (:func:`services.privacy.rotation.as_one_youth`)."""
        messages = {youth: as_one_youth(youth, by_key.values()) for youth, by_key in by_youth.items()}
        return cls(messages, sum(len(m) for m in messages.values()), None, None)

    def _document(self, as_of: date, rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "as_of": as_of.isoformat(),
            "accepted": self.accepted,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "regions": rows,
        }


def series_documents(
    source: HistorySource,
    dates: Iterable[date],
    regions: RegionTable,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Exact replay-shaped documents, one per distinct date of ``dates``, ascending.

    Add the baseline to ``dates`` when you need its figures: it costs one more evaluation per youth
    at most, not another pass."""
    wanted = sorted(set(dates))
    facts = (build_youth_facts(messages, regions) for messages in source.by_youth.values())
    series = figure_series(facts, wanted, regions, progress, len(source.by_youth))
    return [source._document(point.as_of, point.rows) for point in series]


def history_documents(
    source: HistorySource,
    dates: Sequence[date],
    regions: RegionTable,
    *,
    baseline: date | None = None,
    public: bool = False,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """The documents of ``jeugdhub history --format json``: one per date of ``dates`` (ascending,
    distinct), each ``replay --as-of D [--public] [--baseline B]``'s document over the same messages.

    With ``public`` every row is in the public form (:func:`services.regulator.public.public_row`,
    ``suppressed`` included); with ``baseline`` every row gets a ``targets`` object
    (:func:`services.regulator.targets.targets_object`), evaluated on the public rows of D and B
    when ``public`` is set (as ``replay`` does). The figures as of B come from the same pass.
    """
    if any(a >= b for a, b in pairwise(dates)):
        raise ValueError("the as-of dates must be ascending and distinct")
    if baseline is not None:
        check_baseline(baseline)
    documents = series_documents(source, [*dates, *([baseline] if baseline else [])], regions, progress)
    by_date = {document["as_of"]: document for document in documents}
    rows_b = None
    if baseline is not None:
        rows_b = by_date[baseline.isoformat()]["regions"]
        if public:
            rows_b = [public_row(row) for row in rows_b]
    out = []
    for as_of in dates:
        document = by_date[as_of.isoformat()]
        rows = [public_row(row) for row in document["regions"]] if public else document["regions"]
        if baseline is not None and rows_b is not None:
            rows = [
                _with_targets(row_d, row_b, as_of, baseline)
                for row_d, row_b in zip(rows, rows_b, strict=True)
            ]
        out.append({**document, "regions": rows})
    return out


def _with_targets(
    row_d: Mapping[str, Any], row_b: Mapping[str, Any], as_of: date, baseline: date
) -> dict[str, Any]:
    return {**row_d, "targets": targets_object(evaluate(row_d, row_b, as_of, baseline), baseline)}


# --- CSV ---------------------------------------------------------------------------------------------------


def csv_header(*, public: bool = False, baseline: bool = False) -> list[str]:
    """``as_of,region,`` then every figure in ``FIGURE_KEYS`` order, ``restrictive_measures_12m`` as
    one column per kind (metrics.md, History); then ``suppressed`` (public form) and the target
    columns of :func:`services.regulator.targets.target_column_names` (with a baseline)."""
    header = ["as_of"]
    for key in FIGURE_KEYS:
        if key == MEASURES_KEY:
            header += [f"{MEASURES_KEY}.{kind}" for kind in RESTRICTIVE_MEASURE_KINDS]
        else:
            header.append(key)
    if public:
        header.append(SUPPRESSED_KEY)
    if baseline:
        header += target_column_names()
    return header


def csv_rows(
    document: Mapping[str, Any], *, public: bool = False, baseline: date | None = None
) -> Iterator[list[str]]:
    """One document of :func:`history_documents` as CSV rows in :func:`csv_header`'s columns."""
    as_of = document["as_of"]
    for row in document["regions"]:
        cells = [as_of]
        for key in FIGURE_KEYS:
            if key == MEASURES_KEY:
                cells += [_cell(row[MEASURES_KEY][kind]) for kind in RESTRICTIVE_MEASURE_KINDS]
            else:
                cells.append(_cell(row[key]))
        if public:
            cells.append(SUPPRESSED_SEPARATOR.join(row[SUPPRESSED_KEY]))
        if baseline is not None:
            cells += [_cell(v) for v in _flat_targets(row["targets"], baseline).values()]
        yield cells


def _flat_targets(targets: Mapping[str, Any], baseline: date) -> dict[str, Any]:
    """The nested ``targets`` object back as :func:`target_columns`' flat columns."""
    results = [
        TargetResult(
            spec.name,
            targets[spec.name]["figure"],
            targets[spec.name]["value"],
            targets[spec.name]["met"],
            targets[spec.name]["baseline_value"],
            targets[spec.name].get("path"),
        )
        for spec in TARGETS
    ]
    return target_columns(results, baseline)


def _cell(value: Any) -> str:
    """Empty for null (the spec), ``true``/``false`` for booleans, else the JSON text of the number."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_csv(
    documents: Iterable[Mapping[str, Any]],
    handle: TextIO,
    *,
    public: bool = False,
    baseline: date | None = None,
) -> int:
    """Write the header and every document's rows; returns the number of data rows."""
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(csv_header(public=public, baseline=baseline is not None))
    count = 0
    for document in documents:
        for cells in csv_rows(document, public=public, baseline=baseline):
            writer.writerow(cells)
            count += 1
    return count
