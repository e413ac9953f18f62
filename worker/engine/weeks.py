"""ISO weeks in the community's time zone, and the deadlines the obligation rules set.

Pure: every function takes the moment it reasons about; nothing reads the clock.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import NamedTuple
from zoneinfo import ZoneInfo

from worker.rules.models import Obligations
from worker.rules.types import WEEKDAYS

_WEEK = re.compile(r"^\s*(\d{4})-?W(\d{1,2})\s*$", re.IGNORECASE)


class _WeekFields(NamedTuple):
    year: int
    number: int


class Week(_WeekFields):
    """One ISO week, e.g. ``Week(2026, 47)`` written ``2026-W47``.

    A tuple underneath: hashing, equality and ordering are C-fast, which counts when
    every member's strike history is keyed by week.
    """

    __slots__ = ()

    def __new__(cls, year: int, number: int) -> Week:
        last = dt.date(year, 12, 28).isocalendar().week  # Dec 28 is always in the last week
        if not 1 <= number <= last:
            raise ValueError(f"{year} has ISO weeks 1..{last}, not {number}")
        return super().__new__(cls, year, number)

    def __repr__(self) -> str:
        return f"Week({self.year}, {self.number})"

    @classmethod
    def parse(cls, text: str) -> Week:
        """``"2026-W47"`` (or ``2026W47``); ValueError with the expected shape otherwise."""
        match = _WEEK.match(text)
        if not match:
            raise ValueError(f"not an ISO week {text!r}: write it like 2026-W47")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of_date(cls, day: dt.date) -> Week:
        iso = day.isocalendar()
        return cls(iso.year, iso.week)

    def __str__(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    def monday(self) -> dt.date:
        return dt.date.fromisocalendar(self.year, self.number, 1)

    def shift(self, weeks: int) -> Week:
        return Week.of_date(self.monday() + dt.timedelta(weeks=weeks))

    def next(self) -> Week:
        return self.shift(1)

    def previous(self) -> Week:
        return self.shift(-1)

    def start(self, tz: dt.tzinfo) -> dt.datetime:
        """Monday 00:00 of this week in ``tz``."""
        return dt.datetime.combine(self.monday(), dt.time(0), tzinfo=tz)

    def end(self, tz: dt.tzinfo) -> dt.datetime:
        """Monday 00:00 of the next week in ``tz`` (exclusive end)."""
        return self.next().start(tz)


def week_values(week: Week) -> dict[str, object]:
    """The placeholders of a week in templates: ``{week}`` (its number), ``{year}`` (its ISO
    year, which a week number needs to be unique) and ``{iso_week}`` (``2026-W47``)."""
    return {"week": week.number, "year": week.year, "iso_week": str(week)}


def week_of(moment: dt.datetime, tz: dt.tzinfo) -> Week:
    """The ISO week ``moment`` falls in, in the community time zone."""
    return Week.of_date(moment.astimezone(tz).date())


def weeks_between(first: Week, last: Week) -> list[Week]:
    """Every week from ``first`` to ``last``, both included."""
    out, week = [], first
    while week <= last:
        out.append(week)
        week = week.next()
    return out


def end_of_day(moment: dt.datetime, days_after: int, tz: ZoneInfo) -> dt.datetime:
    """The last instant (23:59:59.999999) of the day ``days_after`` days after ``moment``'s day."""
    day = moment.astimezone(tz).date() + dt.timedelta(days=days_after + 1)
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz) - dt.timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class WeekTimes:
    """The moments that matter for one week's obligations (aware datetimes in ``tz``)."""

    week: Week
    deadline: dt.datetime  # articles on time until here (inclusive)
    late_until: dt.datetime  # articles late until here (inclusive); later = missing
    review_cap: dt.datetime  # no review of this week's articles counts after this

    def in_utc(self) -> WeekTimes:
        return WeekTimes(
            self.week,
            self.deadline.astimezone(dt.UTC),
            self.late_until.astimezone(dt.UTC),
            self.review_cap.astimezone(dt.UTC),
        )


def week_times(obligations: Obligations, week: Week, tz: ZoneInfo) -> WeekTimes:
    deadline_rule = obligations.deadline
    day = week.monday() + dt.timedelta(days=WEEKDAYS.index(deadline_rule.weekday))
    deadline = dt.datetime.combine(day, deadline_rule.time, tzinfo=tz)  # inclusive
    return WeekTimes(
        week=week,
        deadline=deadline,
        late_until=deadline + dt.timedelta(hours=deadline_rule.late_hours),
        review_cap=deadline + dt.timedelta(hours=obligations.review.window_hours),
    )


def article_week(obligations: Obligations, moment: dt.datetime, tz: ZoneInfo) -> Week:
    """The week whose article period ``(previous deadline, deadline]`` holds ``moment``.

    Used to file topic-mode articles: a topic posted after Sunday's deadline belongs to
    the next period (it may still count late for the week before, see the engine).
    """
    week = week_of(moment, tz)
    if moment > week_times(obligations, week, tz).deadline:
        return week.next()
    if moment <= week_times(obligations, week.previous(), tz).deadline:
        return week.previous()
    return week


def review_due_week(obligations: Obligations, moment: dt.datetime, tz: ZoneInfo) -> Week:
    """The earliest week whose review cap is at or after ``moment`` (what a review
    reminder sent at ``moment`` is about)."""
    week = week_of(moment, tz).previous()
    while week_times(obligations, week, tz).review_cap < moment:
        week = week.next()
    return week


def article_due_week(obligations: Obligations, moment: dt.datetime, tz: ZoneInfo) -> Week:
    """The earliest week whose late window ends at or after ``moment`` (what an article
    reminder sent at ``moment`` is about)."""
    week = week_of(moment, tz).previous()
    while week_times(obligations, week, tz).late_until < moment:
        week = week.next()
    return week


def audit_week(obligations: Obligations, moment: dt.datetime, tz: ZoneInfo) -> Week:
    """The latest week whose review cap has passed at ``moment`` (what an audit run
    scheduled at ``moment`` audits)."""
    week = week_of(moment, tz).next()
    while week_times(obligations, week, tz).review_cap > moment:
        week = week.previous()
    return week
