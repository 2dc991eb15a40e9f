"""Working calendars: when a mediator of a kind is at work, and when a piece of effort ends."""

from __future__ import annotations

import math

from sim.scenario.schema import Calendar

__all__ = ["WorkingCalendar"]


class WorkingCalendar:
    """Turns effort hours into elapsed days on a weekly working pattern.

    Simulation time is in days from the scenario's start date at 00:00. Working days are the
    first ``days_per_week`` days of each Monday-based week; each has one working window of
    ``hours_per_day`` hours from ``day_start_hour``. Effort accrues only inside windows, so no
    simulation event is needed for the start or end of a working day.
    """

    __slots__ = (
        "_h",
        "_last_day",
        "_round_the_clock",
        "_s",
        "_weekday0",
        "_weekly",
        "days_per_week",
    )

    def __init__(self, calendar: Calendar | None, start_weekday: int = 0):
        self._round_the_clock = calendar is None or (
            calendar.hours_per_day >= 24 and calendar.days_per_week == 7
        )
        self.days_per_week = 7 if calendar is None else calendar.days_per_week
        self._h = 1.0 if calendar is None else calendar.hours_per_day / 24.0
        self._s = 0.0 if calendar is None else calendar.day_start_hour / 24.0
        self._weekly = self._h * self.days_per_week
        self._weekday0 = start_weekday
        # Up to this day a working window (h days long) spans many float steps of the time.
        self._last_day = self._h * 2.0**46

    @classmethod
    def round_the_clock(cls) -> WorkingCalendar:
        """A calendar of every hour of every day (``working_calendar`` off)."""
        return cls(None)

    @property
    def always_open(self) -> bool:
        """True when every hour is a working hour: ``finish`` is then ``t + effort / 24``."""
        return self._round_the_clock

    @property
    def hours_per_week(self) -> float:
        """Working hours a week (round the clock: 168)."""
        return self._weekly * 24.0

    def is_working_day(self, day: int) -> bool:
        """Whether day ``day`` of the run (0 = start date) is a working day."""
        return (self._weekday0 + day) % 7 < self.days_per_week

    def finish(self, t: float, effort_hours: float) -> float:
        """Time at which ``effort_hours`` of work started (or queued) at ``t`` is done.

        ``math.inf`` when that is too far away to be told apart from the day before (far
        beyond any horizon; scenario validation bounds effort draws well below it).
        """
        if self._round_the_clock:
            return t + effort_hours / 24.0
        remaining = effort_hours / 24.0
        if remaining <= 0:
            return t
        # Whole weeks are skipped in one step below, so the loop runs a few days at most, as
        # long as a day's working window is still wider than the float resolution of the day
        # number. An effort that would end beyond that (hundreds of billions of years on any
        # sane calendar; also inf and nan) never ends within a run: say so instead of looping
        # forever on day + 1 == day.
        if not t + 7.0 * (remaining / self._weekly + 2.0) < self._last_day:
            return math.inf
        day = math.floor(t)
        s, h = self._s, self._h
        # The first day, apart: most pieces of work end on it (one pass of the loop below).
        if (self._weekday0 + day) % 7 < self.days_per_week:
            begin = max(t, day + s)
            end = day + s + h
            if begin < end:
                available = end - begin
                if remaining <= available + 1e-12:  # float slack: do not spill a day
                    return begin + min(remaining, available)
                remaining -= available
        return self._later_days(day + 1, remaining)

    def _later_days(self, day: int, remaining: float) -> float:
        """:meth:`finish` from the start of ``day`` on, ``remaining`` days of working time left.

        Day by day, whole weeks at once, with the settings in locals and is_working_day
        inlined: the hottest function of a full-featured run.
        """
        s, h, weekly = self._s, self._h, self._weekly
        w0, per_week = self._weekday0, self.days_per_week
        if per_week == 7:
            return self._every_day(day, remaining)
        t = float(day)
        while True:
            if remaining > weekly:
                # Any 7 whole days hold exactly one week of working time: skip them at once.
                weeks = math.floor((remaining - 1e-12) / weekly)
                day += 7 * weeks
                remaining -= weeks * weekly
                t = float(day)
            weekday = (w0 + day) % 7
            if weekday < per_week:
                begin = max(t, day + s)
                end = day + s + h
                if begin < end:
                    available = end - begin
                    if remaining <= available + 1e-12:  # float slack: do not spill a day
                        return begin + min(remaining, available)
                    remaining -= available
                day += 1
            elif remaining <= weekly:
                # The rest of the week is off: no week could be skipped on those days either.
                day += 7 - weekday
            else:
                day += 1
            t = float(day)

    def _every_day(self, day: int, remaining: float) -> float:
        """:meth:`_later_days` when every day is a working day: the same arithmetic, to the bit.

        From the start of a day the window begins at ``day + s`` (``max(day, day + s)``), ends
        at ``day + s + h`` and no day is off, so the weekday need not be worked out.
        """
        s, h, weekly = self._s, self._h, self._weekly
        while True:
            if remaining > weekly:
                weeks = math.floor((remaining - 1e-12) / weekly)
                day += 7 * weeks
                remaining -= weeks * weekly
            begin = day + s
            end = begin + h
            if begin < end:
                available = end - begin
                if remaining <= available + 1e-12:  # float slack: do not spill a day
                    return begin + min(remaining, available)
                remaining -= available
            day += 1
