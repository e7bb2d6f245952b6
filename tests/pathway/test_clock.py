"""The pathway's clock: elapsed hours, calendar days and months in Europe/London, DST and month ends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hub.pathway.clock import Calendar, Offset, add_months, end_of_day, instant_of
from hub.pathway.spec import Closer, MilestoneSpec

LONDON = ZoneInfo("Europe/London")


def london(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        ((2027, 1, 31), 1, (2027, 2, 28)),  # 31 January + 1 month: the last day of February
        ((2028, 1, 31), 1, (2028, 2, 29)),  # a leap year
        ((2026, 8, 31), 3, (2026, 11, 30)),
        ((2026, 12, 31), 2, (2027, 2, 28)),  # across the year end
        ((2026, 5, 15), 12, (2027, 5, 15)),
        ((2027, 3, 31), -1, (2027, 2, 28)),  # backwards (a reminder before a due date)
    ],
)
def test_calendar_months_keep_the_day_or_clamp_it_to_the_months_last(
    start: tuple[int, int, int], months: int, expected: tuple[int, int, int]
) -> None:
    (year, month, day), (to_year, to_month, to_day) = start, expected
    assert add_months(datetime(year, month, day, 9, 30), months) == datetime(to_year, to_month, to_day, 9, 30)


def test_a_month_after_31_january_in_london_is_the_last_of_february_at_the_same_wall_time() -> None:
    due = Offset.parse("1mo").add(london(2027, 1, 31, 10, 0), LONDON)
    assert due == datetime(2027, 2, 28, 10, 0, tzinfo=UTC)


def test_calendar_days_keep_the_wall_time_across_the_clocks_going_forward_and_back() -> None:
    spring = london(2026, 3, 28, 12, 0)  # British Summer Time starts at 01:00 GMT on 29 March 2026
    after = Offset.parse("1d").add(spring, LONDON)
    assert after.astimezone(LONDON).replace(tzinfo=None) == datetime(2026, 3, 29, 12, 0)
    assert after - spring == timedelta(hours=23)
    autumn = london(2026, 10, 24, 12, 0)  # and ends at 01:00 GMT on 25 October 2026
    after = Offset.parse("1d").add(autumn, LONDON)
    assert after.astimezone(LONDON).replace(tzinfo=None) == datetime(2026, 10, 25, 12, 0)
    assert after - autumn == timedelta(hours=25)


def test_hours_are_elapsed_time_whatever_the_clocks_do() -> None:
    start = london(2026, 3, 28, 12, 0)
    due = Offset.parse("72h").add(start, LONDON)
    assert due - start == timedelta(hours=72)
    assert due.astimezone(LONDON).hour == 13  # the wall clock moved on an hour meanwhile


def test_three_months_after_a_winter_discharge_is_the_same_wall_time_in_summer_time() -> None:
    due = Offset.parse("3mo").add(london(2026, 12, 31, 10, 0), LONDON)
    assert due == datetime(2027, 3, 31, 9, 0, tzinfo=UTC)  # 10:00 BST
    assert due.astimezone(LONDON).replace(tzinfo=None) == datetime(2027, 3, 31, 10, 0)


def test_a_wall_time_the_clocks_skip_moves_forward_by_the_gap() -> None:
    due = Offset.parse("1mo").add(london(2027, 2, 28, 1, 30), LONDON)  # 01:30 on 28 March 2027 never happens
    assert due == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)  # read as GMT: 02:30 BST


def test_a_wall_time_that_happens_twice_is_the_first() -> None:
    due = Offset.parse("1d").add(london(2026, 10, 24, 1, 30), LONDON)  # 01:30 on 25 October 2026 happens twice
    assert due == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # the first, in BST


def test_a_reminder_seven_days_before_a_summer_due_date_is_at_the_same_wall_time_in_winter() -> None:
    remind = Offset.parse("7d").subtract(london(2026, 3, 30, 10, 0), LONDON)
    assert remind == datetime(2026, 3, 23, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "72", "h", "3 months", "-1d", "1.5h", "1y", None])
def test_an_offset_that_is_not_a_number_and_a_unit_is_refused_saying_what_is_accepted(text) -> None:
    with pytest.raises(ValueError, match="give a whole number and a unit"):
        Offset.parse(text)


def test_field_values_are_read_as_instants_dates_at_midnight_in_the_zone() -> None:
    assert instant_of("2026-07-01", LONDON) == datetime(2026, 6, 30, 23, 0, tzinfo=UTC)
    assert instant_of("2026-07-01T10:00:00Z", LONDON) == datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    assert instant_of("2026-07-01T10:00:00", LONDON) == datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
    assert instant_of("soon", LONDON) is None and instant_of(None, LONDON) is None


def spec(after: str, remind: str | None = None, due_from: str = "payload.discharge.date_time") -> MilestoneSpec:
    return MilestoneSpec("m", "DischargeNotice", "received", Offset.parse(after), due_from, "sender",
                         (Closer("FollowUp"),), remind_before=Offset.parse(remind) if remind else None)  # fmt: skip


def test_a_milestone_is_due_an_offset_after_its_field_and_reminded_before() -> None:
    message = {"type": "DischargeNotice", "payload": {"discharge": {"date_time": "2027-01-31T10:00:00Z"}}}
    event = datetime(2027, 1, 30, 9, 0, tzinfo=UTC)
    m = spec("1mo", "7d")
    due = m.due(message, event, LONDON)
    assert due == datetime(2027, 2, 28, 10, 0, tzinfo=UTC)
    assert m.remind_at(due, LONDON, event) == datetime(2027, 2, 21, 10, 0, tzinfo=UTC)
    assert m.remind_at(due, LONDON, due - timedelta(days=1)) is None  # opened after its reminder's time
    with pytest.raises(ValueError, match=r"payload\.discharge\.date_time"):
        m.due({"type": "DischargeNotice", "payload": {}}, event, LONDON)


def test_a_compressed_clock_counts_the_calendar_offset_from_the_event_divided_by_the_scale() -> None:
    message = {"type": "DischargeNotice", "payload": {"discharge": {"date_time": "2027-01-31T10:00:00Z"}}}
    event = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
    due = spec("72h", "24h").due(message, event, LONDON, time_scale=3600)
    assert due - event == timedelta(seconds=72)
    assert spec("72h", "24h").remind_at(due, LONDON, event, 3600) == due - timedelta(seconds=24)


HOLIDAYS = Calendar(frozenset({date(2026, 12, 25), date(2026, 12, 28), date(2027, 1, 1), date(2027, 3, 26),
                                date(2027, 3, 29)}))  # fmt: skip


@pytest.mark.parametrize(
    ("start", "offset", "expected"),
    [
        ((2026, 12, 3, 10, 0), "10wd", (2026, 12, 17, 10, 0)),  # Thursday + two weeks of working days
        ((2026, 12, 18, 10, 0), "10wd", (2027, 1, 6, 10, 0)),  # over Christmas, Boxing Day's substitute, New Year
        ((2026, 12, 19, 9, 0), "1wd", (2026, 12, 21, 9, 0)),  # from a Saturday: Monday
        ((2026, 12, 24, 16, 0), "1wd", (2026, 12, 29, 16, 0)),  # Christmas Eve: next is Tuesday 29th
        ((2027, 3, 25, 23, 30), "1wd", (2027, 3, 30, 23, 30)),  # Easter (Good Friday, Monday) and the clocks going
        ((2026, 12, 26, 11, 0), "0wd", (2026, 12, 29, 11, 0)),  # 0wd from a holiday weekend: the next working day
        ((2026, 12, 3, 11, 0), "0wd", (2026, 12, 3, 11, 0)),  # 0wd on a working day: that day
    ],
)
def test_working_days_skip_weekends_and_the_listed_bank_holidays(start, offset, expected) -> None:
    due = Offset.parse(offset).add(london(*start), LONDON, HOLIDAYS)
    assert due.astimezone(LONDON).replace(tzinfo=None) == datetime(*expected)


def test_working_days_keep_the_wall_time_across_the_clocks_changing() -> None:
    friday = london(2027, 3, 19, 9, 0)  # Friday 19 March, GMT
    due = Offset.parse("5wd").add(friday, LONDON, HOLIDAYS)  # 22, 23, 24, 25, then Easter (26-29), 30
    assert due.astimezone(LONDON).replace(tzinfo=None) == datetime(2027, 3, 30, 9, 0)
    assert due.utcoffset() == timedelta(0) and due == datetime(2027, 3, 30, 8, 0, tzinfo=UTC)  # BST by then


def test_without_a_holiday_list_only_weekends_are_skipped() -> None:
    assert Offset.parse("1wd").add(london(2026, 12, 24, 10, 0), LONDON) == london(2026, 12, 25, 10, 0)


def test_a_working_day_reminder_counts_back_in_working_days() -> None:
    due = london(2027, 1, 5, 10, 0)  # Tuesday; Monday 4th, then (1 January, the weekend) Thursday 31 December
    assert Offset.parse("2wd").subtract(due, LONDON, HOLIDAYS) == london(2026, 12, 31, 10, 0)


@pytest.mark.parametrize(
    ("moment", "expected_utc"),
    [
        (london(2026, 12, 3, 15, 0), datetime(2026, 12, 4, 0, 0, tzinfo=UTC)),
        (london(2027, 3, 28, 0, 30), datetime(2027, 3, 28, 23, 0, tzinfo=UTC)),  # a 23-hour day: BST at midnight
        (london(2027, 10, 31, 0, 30), datetime(2027, 11, 1, 0, 0, tzinfo=UTC)),  # a 25-hour day: GMT at midnight
    ],
)
def test_end_of_day_is_the_next_local_midnight_whatever_the_clocks_do(moment, expected_utc) -> None:
    assert end_of_day(moment, LONDON) == expected_utc


def test_an_urgent_same_day_milestone_falls_due_at_the_end_of_the_working_day() -> None:
    spec = MilestoneSpec(name="dtr", start_type="HousingRequest", start_on="delivered",
                         due_after=Offset.parse("0wd"), due_from="event", responsible="delivered_to",
                         closed_by=(Closer("HousingAppointment"),), due_by="end_of_day")  # fmt: skip
    thursday, saturday = london(2026, 12, 3, 15, 0), london(2026, 12, 19, 15, 0)
    assert spec.due({}, thursday, LONDON, calendar=HOLIDAYS) == london(2026, 12, 4, 0, 0)
    assert spec.due({}, saturday, LONDON, calendar=HOLIDAYS) == london(2026, 12, 22, 0, 0)  # Monday's end
