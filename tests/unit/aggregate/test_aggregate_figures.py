"""Every figure of metrics.md on small hand-made timelines (D = 2026-03-31 unless said)."""

from __future__ import annotations

from datetime import date

from services.aggregate.dates import perspective_deadline
from services.aggregate.figures import FIGURE_KEYS, FigureAccumulator, contribution, region_figures
from tests.unit.aggregate.aggregate_support import TABLE, Feed, Msg, facts_of, figures_of

A, B, C = "10000001", "10000002", "10000003"
D = date(2026, 3, 31)
IN_WINDOW_FIRST = "2025-04-01"  # D − 364
BEFORE_WINDOW = "2025-03-31"  # D − 365


def figure(messages: list[Msg], key: str, region: str = "R1", as_of: date = D) -> object:
    return figures_of(messages, as_of)[region][key]


# --- shape -------------------------------------------------------------------------------------------


def test_every_region_of_the_table_then_nl_with_exactly_the_spec_keys() -> None:
    rows = region_figures([], D, TABLE)
    assert [row["region"] for row in rows] == ["R1", "R2", "R3", "NL"]
    for row in rows:
        assert set(row) == set(FIGURE_KEYS)
        assert row["restrictive_measures_12m"] == {
            "afzondering": 0,
            "separatie": 0,
            "fixatie": 0,
            "insluiting_eigen_kamer": 0,
        }
        assert row["perspective_in_time_rate"] is None
        assert row["median_length_of_stay_days_12m"] is None
        assert row["occupancy"] == 0


# --- occupancy ---------------------------------------------------------------------------------------


def test_open_on_d_means_start_on_or_before_and_end_after() -> None:
    cases = {
        ("2026-03-31", None): 1,  # starts on D
        ("2026-04-01", None): 0,  # starts after D
        ("2026-01-01", "2026-03-31"): 0,  # ends on D: gone
        ("2026-01-01", "2026-04-01"): 1,  # ends after D (a replay with an earlier as-of)
    }
    for (start, end), expected in cases.items():
        feed = Feed()
        messages = [feed.start(A, "P1", start)]
        if end is not None:
            messages.append(feed.end(A, "P1", end))
        rows = figures_of(messages, D)
        assert rows["R1"]["occupancy"] == rows["NL"]["occupancy"] == expected, (start, end)
        assert rows["R1"]["occupancy_residential"] == expected


def test_occupancy_counts_gesloten_only_residential_counts_any_care_type() -> None:
    feed = Feed()
    rows = figures_of([feed.start(A, "P1", "2026-01-01", care_type="pleegzorg")], D)
    assert (rows["R1"]["occupancy"], rows["R1"]["occupancy_residential"]) == (0, 1)


def test_youth_with_several_open_placements_counts_once_per_figure_in_the_latest_ones_region() -> None:
    feed = Feed()
    messages = [
        feed.start(A, "P1", "2026-01-01", municipality="0363"),  # gesloten, R1
        feed.start(B, "P2", "2026-02-01", care_type="gezinshuis", municipality="0599"),  # R2, later
        feed.start(C, "P3", "2025-12-01", municipality="0014"),  # gesloten, R3, earlier
    ]
    rows = figures_of(messages, D)
    assert [rows[r]["occupancy"] for r in ("R1", "R2", "R3", "NL")] == [1, 0, 0, 1]
    assert [rows[r]["occupancy_residential"] for r in ("R1", "R2", "R3", "NL")] == [0, 1, 0, 1]


def test_occupancy_tie_on_start_date_goes_to_the_greatest_provider_and_placement_id() -> None:
    feed = Feed()
    messages = [
        feed.start(B, "P1", "2026-01-01", municipality="0599"),
        feed.start(A, "P9", "2026-01-01", municipality="0363"),
        feed.start(B, "P0", "2026-01-01", municipality="0014"),
    ]
    rows = figures_of(messages, D)
    assert [rows[r]["occupancy"] for r in ("R1", "R2", "R3")] == [0, 1, 0]
    assert [rows[r]["occupancy_residential"] for r in ("R1", "R2", "R3")] == [0, 1, 0]


# --- placements started, youth placed ----------------------------------------------------------------


def test_window_edges_d_minus_364_counted_d_minus_365_not() -> None:
    feed = Feed()
    messages = [feed.start(A, "P1", IN_WINDOW_FIRST), feed.start(A, "P2", BEFORE_WINDOW)]
    assert figure(messages, "placements_started_12m") == 1
    assert figure([Feed().start(A, "P1", "2026-03-31")], "placements_started_12m") == 1
    assert figure([Feed().start(A, "P1", "2026-04-01")], "placements_started_12m", as_of=D) == 0


def test_placements_started_count_gesloten_only_and_youth_are_distinct() -> None:
    y1, y2 = Feed("y1"), Feed("y2")
    messages = [
        y1.start(A, "P1", "2025-06-01"),
        y1.end(A, "P1", "2025-07-01"),
        y1.start(A, "P2", "2025-10-01"),
        y1.start(A, "P3", "2025-11-01", care_type="open_residentieel"),
        y2.start(B, "Q1", "2025-12-01"),
    ]
    rows = figures_of(messages, D)
    assert (rows["R1"]["placements_started_12m"], rows["R1"]["youth_placed_12m"]) == (3, 2)
    assert (rows["NL"]["placements_started_12m"], rows["NL"]["youth_placed_12m"]) == (3, 2)


def test_youth_placed_in_two_regions_counts_in_both_and_once_nationally() -> None:
    feed = Feed()
    messages = [
        feed.start(A, "P1", "2025-06-01", municipality="0363"),
        feed.end(A, "P1", "2025-07-01"),
        feed.start(B, "P2", "2025-10-01", municipality="0599"),
    ]
    rows = figures_of(messages, D)
    assert [rows[r]["youth_placed_12m"] for r in ("R1", "R2", "R3", "NL")] == [1, 1, 0, 1]
    assert [rows[r]["placements_started_12m"] for r in ("R1", "R2", "R3", "NL")] == [1, 1, 0, 2]


# --- transfers ---------------------------------------------------------------------------------------


def test_transfer_reported_explicitly_and_as_end_plus_start_is_counted_once() -> None:
    feed = Feed()
    messages = [
        feed.start(A, "P1", "2025-06-01"),
        feed.transfer(A, "P1", "2025-09-01", B, "Q1", to_location="L3"),
        feed.end(A, "P1", "2025-09-01", reason="38", destination="residentieel"),
        feed.start(B, "Q1", "2025-09-01", location="L3"),
    ]
    rows = figures_of(messages, D)
    assert (rows["R1"]["transfers_12m"], rows["R1"]["transfers_between_providers_12m"]) == (1, 1)
    assert rows["NL"]["transfers_12m"] == 1


def test_transfer_found_from_end_and_start_within_seven_days() -> None:
    def transfers(gap_days: int, location: str = "L2", provider: str = B) -> tuple[int, int, int]:
        feed = Feed()
        start = date(2025, 9, 1).toordinal() + gap_days
        messages = [
            feed.start(A, "P1", "2025-06-01", location="L1"),
            feed.end(A, "P1", "2025-09-01"),
            feed.start(provider, "Q1", date.fromordinal(start).isoformat(), location=location),
        ]
        row = figures_of(messages, D)["R1"]
        return (
            row["transfers_12m"],
            row["transfers_between_providers_12m"],
            row["transfers_within_provider_12m"],
        )

    assert transfers(0) == (1, 1, 0)
    assert transfers(7) == (1, 1, 0)
    assert transfers(8) == (0, 0, 0)
    assert transfers(3, provider=A) == (1, 0, 1)  # same provider, other location: within
    assert transfers(3, provider=A, location="L1") == (0, 0, 0)  # same house: no transfer


def test_transfer_from_a_predecessor_still_open_and_in_the_successors_region() -> None:
    feed = Feed()
    messages = [
        feed.start(A, "P1", "2025-06-01", care_type="pleegzorg", municipality="0363"),
        feed.start(A, "P2", "2025-08-01", location="L2", municipality="0599"),
    ]
    rows = figures_of(messages, D)
    assert (rows["R1"]["transfers_12m"], rows["R2"]["transfers_12m"]) == (0, 1)
    assert rows["R2"]["transfers_within_provider_12m"] == 1


def test_transfer_dated_by_the_successors_start_within_the_window() -> None:
    feed = Feed()
    messages = [
        feed.start(A, "P1", "2024-06-01"),
        feed.transfer(A, "P1", BEFORE_WINDOW, B, "Q1"),
        feed.transfer(B, "Q1", IN_WINDOW_FIRST, C, "R1"),
    ]
    assert figure(messages, "transfers_12m") == 1


# --- episodes and perspectives -----------------------------------------------------------------------


def test_deadline_is_six_calendar_months_clamped_to_month_end() -> None:
    assert perspective_deadline(date(2025, 8, 31)) == date(2026, 2, 28)
    assert perspective_deadline(date(2023, 8, 31)) == date(2024, 2, 29)
    assert perspective_deadline(date(2025, 1, 15)) == date(2025, 7, 15)


def test_perspective_on_the_deadline_is_in_time_one_day_late_is_not() -> None:
    def in_time(determined: str) -> tuple[object, object]:
        feed = Feed()
        messages = [feed.start(A, "P1", "2025-08-31"), feed.perspective("0363", determined)]
        row = figures_of(messages, D)["R1"]
        return row["perspective_cohort_12m"], row["perspective_in_time_12m"]

    assert in_time("2026-02-28") == (1, 1)
    assert in_time("2026-03-01") == (1, 0)
    assert in_time("2025-08-31") == (1, 1)  # on the episode's start
    assert in_time("2025-08-30") == (1, 0)  # before it: not this episode's perspective


def test_episode_across_two_providers_keeps_its_clock() -> None:
    feed = Feed()
    messages = [
        feed.start(A, "P1", "2025-08-31"),
        feed.transfer(A, "P1", "2025-11-15", B, "Q1"),
        feed.end(B, "Q1", "2026-01-10", destination="thuis"),
    ]
    [facts] = facts_of(messages)
    [episode] = facts.episodes
    assert (episode.start_date, episode.deadline, episode.end_date) == (
        date(2025, 8, 31),
        date(2026, 2, 28),
        date(2026, 1, 10),
    )
    row = figures_of(messages, D)["R1"]
    assert (row["perspective_cohort_12m"], row["perspective_in_time_12m"]) == (1, 1)  # ended home in time
    assert (row["episodes_ended_12m"], row["median_length_of_stay_days_12m"]) == (1, 132.0)


def test_episode_joins_within_seven_days_of_its_latest_end_and_splits_after() -> None:
    def episodes(second_start: str) -> int:
        feed = Feed()
        messages = [
            feed.start(A, "P1", "2025-06-01"),
            feed.end(A, "P1", "2025-09-01"),
            feed.start(B, "Q1", second_start),
        ]
        [facts] = facts_of(messages)
        return len(facts.episodes)

    assert episodes("2025-09-08") == 1
    assert episodes("2025-09-09") == 2


def test_episode_ignores_non_closed_care_between_its_stays() -> None:
    feed = Feed()
    messages = [
        feed.start(A, "P1", "2025-06-01"),
        feed.end(A, "P1", "2025-09-01"),
        feed.start(B, "Q1", "2025-09-02", care_type="pleegzorg"),
        feed.start(C, "S1", "2025-09-05"),
    ]
    [facts] = facts_of(messages)
    assert [e.start_date for e in facts.episodes] == [date(2025, 6, 1)]
    assert len(facts.transfers) == 2


def test_final_placement_destination_decides_in_time_only_by_the_deadline() -> None:
    def in_time(end: str, destination: str) -> object:
        feed = Feed()
        messages = [feed.start(A, "P1", "2025-06-15"), feed.end(A, "P1", end, destination=destination)]
        return figure(messages, "perspective_in_time_12m")

    assert in_time("2025-12-15", "pleeggezin") == 1  # on the deadline
    assert in_time("2025-12-16", "pleeggezin") == 0  # after it
    assert in_time("2025-10-01", "residentieel") == 0
    assert in_time("2025-10-01", "onbekend") == 0


def test_final_placement_is_the_one_with_the_latest_end() -> None:
    feed = Feed()
    messages = [
        feed.start(A, "P1", "2025-06-15"),
        feed.start(B, "Q1", "2025-06-20", location="L2"),
        feed.end(A, "P1", "2025-10-01", destination="thuis"),
        feed.end(B, "Q1", "2025-09-01", destination="jeugdinrichting"),
    ]
    [facts] = facts_of(messages)
    [episode] = facts.episodes
    assert (episode.end_date, episode.final_destination, episode.perspective_in_time) == (
        date(2025, 10, 1),
        "thuis",
        True,
    )


def test_cohort_window_by_deadline() -> None:
    inside = Feed("y1").start(A, "P1", "2024-10-01")  # deadline 2025-04-01 = D − 364
    outside = Feed("y2").start(A, "P1", "2024-09-30")  # deadline 2025-03-30 (< D − 364)
    not_yet = Feed("y3").start(A, "P1", "2025-10-01")  # deadline 2026-04-01 > D
    assert figure([inside, outside, not_yet], "perspective_cohort_12m") == 1


def test_rate_is_rounded_to_four_decimals() -> None:
    y = [Feed(f"y{i}") for i in range(3)]
    messages = [f.start(A, "P1", "2025-06-01") for f in y]
    messages += [y[0].perspective("0363", "2025-07-01"), y[1].perspective("0363", "2025-08-01")]
    row = figures_of(messages, D)["R1"]
    assert (row["perspective_cohort_12m"], row["perspective_in_time_12m"]) == (3, 2)
    assert row["perspective_in_time_rate"] == 0.6667


def test_overdue_without_perspective() -> None:
    def overdue(*extra: tuple[str, str], start: str = "2025-06-01", end: str | None = None) -> object:
        feed = Feed()
        messages = [feed.start(A, "P1", start)]
        if end is not None:
            messages.append(feed.end(A, "P1", end))
        for kind, day in extra:
            assert kind == "perspective"
            messages.append(feed.perspective("0363", day))
        return figure(messages, "overdue_without_perspective")

    assert overdue() == 1  # deadline 2025-12-01 < D, still open, no perspective
    assert overdue(("perspective", "2026-02-01")) == 0  # late, but by D
    assert overdue(("perspective", "2025-05-31")) == 1  # before the episode: does not count
    assert overdue(end="2026-03-01") == 0  # no longer open on D


def test_overdue_needs_the_deadline_strictly_before_d() -> None:
    messages = [Feed().start(A, "P1", "2025-09-30")]  # deadline 2026-03-30
    assert figure(messages, "overdue_without_perspective", as_of=date(2026, 3, 30)) == 0
    assert figure(messages, "overdue_without_perspective", as_of=date(2026, 3, 31)) == 1


def test_overdue_episode_in_a_gap_between_its_stays_is_not_open() -> None:
    feed = Feed()
    messages = [
        feed.start(A, "P1", "2025-06-01"),
        feed.end(A, "P1", "2026-03-28"),
        feed.start(B, "Q1", "2026-04-02"),  # joins the episode (5 days), known in a later replay
    ]
    [facts] = facts_of(messages)
    assert len(facts.episodes) == 1
    assert figure(messages, "overdue_without_perspective", as_of=date(2026, 3, 31)) == 0
    assert figure(messages, "overdue_without_perspective", as_of=date(2026, 4, 2)) == 1


def test_episodes_ended_window_and_median_odd_and_even() -> None:
    def youth(name: str, start: str, end: str) -> list[Msg]:
        feed = Feed(name)
        return [feed.start(A, "P1", start), feed.end(A, "P1", end)]

    odd = youth("y1", "2025-06-01", "2025-09-09") + youth("y2", "2025-06-01", "2025-09-29")
    odd += youth("y3", "2025-06-01", "2025-12-18")  # 100, 120, 200 days
    row = figures_of(odd, D)["R1"]
    assert (row["episodes_ended_12m"], row["median_length_of_stay_days_12m"]) == (3, 120.0)

    even = odd + youth("y4", "2025-06-01", "2025-12-28")  # 210
    assert figures_of(even, D)["R1"]["median_length_of_stay_days_12m"] == 160.0

    half = youth("y1", "2025-06-01", "2025-09-09") + youth("y2", "2025-06-01", "2025-09-30")  # 100, 121
    assert figures_of(half, D)["R1"]["median_length_of_stay_days_12m"] == 110.5

    edges = youth("y1", "2025-01-01", IN_WINDOW_FIRST) + youth("y2", "2025-01-01", BEFORE_WINDOW)
    assert figures_of(edges, D)["R1"]["episodes_ended_12m"] == 1


def test_episode_counted_in_its_first_placements_region() -> None:
    feed = Feed()
    messages = [
        feed.start(A, "P1", "2025-06-01", municipality="0363"),
        feed.transfer(A, "P1", "2025-08-01", B, "Q1", municipality="0599"),
        feed.end(B, "Q1", "2025-10-01", municipality="0599"),
    ]
    rows = figures_of(messages, D)
    assert (rows["R1"]["episodes_ended_12m"], rows["R2"]["episodes_ended_12m"]) == (1, 0)
    assert (rows["R1"]["perspective_cohort_12m"], rows["R2"]["perspective_cohort_12m"]) == (1, 0)
    assert (rows["R1"]["transfers_12m"], rows["R2"]["transfers_12m"]) == (0, 1)


# --- restrictive measures ----------------------------------------------------------------------------


def test_restrictive_measures_per_kind_in_the_window_and_the_messages_region() -> None:
    feed = Feed()
    messages = [
        feed.measure(A, "M1", "separatie", IN_WINDOW_FIRST),
        feed.measure(A, "M2", "separatie", BEFORE_WINDOW),
        feed.measure(A, "M3", "fixatie", "2026-03-31", municipality="0599"),
        feed.measure(A, "M4", "insluiting_eigen_kamer", "2026-04-01"),
        feed.measure("0363", "M5", "machtiging_gesloten_jeugdhulp", "2026-01-01"),
        feed.measure(A, "M6", "separatie", "2026-01-01"),
    ]
    rows = figures_of(messages, D)
    assert rows["R1"]["restrictive_measures_12m"] == {
        "afzondering": 0,
        "separatie": 2,
        "fixatie": 0,
        "insluiting_eigen_kamer": 0,
    }
    assert rows["R2"]["restrictive_measures_12m"]["fixatie"] == 1
    assert rows["NL"]["restrictive_measures_12m"]["separatie"] == 2


# --- national row, unknown regions, accumulator --------------------------------------------------------


def test_unknown_region_counts_nationally_only() -> None:
    feed = Feed(municipality="9999")
    rows = figures_of([feed.start(A, "P1", "2026-01-01"), feed.measure(A, "M1", "fixatie", "2026-01-01")], D)
    assert sum(rows[r]["occupancy"] for r in ("R1", "R2", "R3")) == 0
    assert rows["NL"]["occupancy"] == 1
    assert rows["NL"]["restrictive_measures_12m"]["fixatie"] == 1


def test_accumulator_takes_a_contribution_back() -> None:
    feed = Feed()
    facts = facts_of(
        [
            feed.start(A, "P1", "2025-06-01"),
            feed.transfer(A, "P1", "2025-08-01", B, "Q1"),
            feed.end(B, "Q1", "2025-10-01"),
            feed.measure(A, "M1", "fixatie", "2025-07-01"),
        ]
    )
    empty = FigureAccumulator(TABLE).rows()
    accumulator = FigureAccumulator(TABLE)
    share = contribution(facts[0], D)
    accumulator.add(share)
    assert accumulator.rows() != empty
    accumulator.add(share, sign=-1)
    assert accumulator.rows() == empty


def test_figures_move_with_the_as_of_date_without_new_messages() -> None:
    feed = Feed()
    facts = facts_of([feed.start(A, "P1", "2025-06-01")])
    before = {row["region"]: row for row in region_figures(facts, date(2025, 11, 30), TABLE)}
    after = {row["region"]: row for row in region_figures(facts, date(2025, 12, 2), TABLE)}
    assert (before["R1"]["overdue_without_perspective"], after["R1"]["overdue_without_perspective"]) == (0, 1)
    assert (before["R1"]["perspective_cohort_12m"], after["R1"]["perspective_cohort_12m"]) == (0, 1)
