"""CronJob schedules: the standard five-field cron syntax and the ``@hourly``-style
macros, as Kubernetes accepts them (robfig/cron's ``ParseStandard``), read by croniter
(a maintained parser; not our own) in the CronJob's time zone.

    schedule = Schedule.parse("*/5 * * * *", "Europe/Paris")   # raises ScheduleError
    schedule.next_after(now)      # seconds since the epoch; None if no time exists

croniter reads more than Kubernetes does (a seconds field, a year field, ``L``, ``#``,
Jenkins' ``H``, ``7`` for Sunday, a range wrapping around such as ``5-1``); those are
refused here, so a manifest accepted by Navarch is accepted by Kubernetes too.
``@every <duration>`` (robfig's own extension) is not supported.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import attrs
from croniter import CroniterBadDateError, croniter  # type: ignore[import-untyped]

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec"
_DAYS = "sun mon tue wed thu fri sat"
_NAMES = frozenset(f"{_MONTHS} {_DAYS}".split())
_FIELD = re.compile(r"^[0-9A-Za-z*,/?-]+$")
_WORD = re.compile(r"[A-Za-z]+")


class ScheduleError(ValueError):
    """A schedule or time zone that does not parse; the message says why."""


def time_zone(name: str | None) -> dt.tzinfo:
    """The zone a CronJob's ``timeZone`` names (UTC when unset), as Kubernetes checks
    it: an IANA name, never ``Local``."""
    if name is None:
        return dt.UTC
    if not name:
        raise ScheduleError("timeZone must be nil or non-empty string")
    if name.lower() == "local":
        raise ScheduleError(
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
        )
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone {name}") from None


def standard_expression(schedule: str) -> str:
    """The five-field expression ``schedule`` means; raises :class:`ScheduleError`."""
    text = schedule.strip()
    if text.upper().startswith(("TZ=", "CRON_TZ=")):
        raise ScheduleError("cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
    if text.startswith("@"):
        expression = MACROS.get(text.lower())
        if expression is None:
            raise ScheduleError(
                f"unrecognized descriptor: {text} (known: {', '.join(sorted(MACROS))})"
            )
        return expression
    fields = text.split()
    if len(fields) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    for position, field in enumerate(fields):
        words = [w.lower() for w in _WORD.findall(field)]
        if not _FIELD.match(field) or any(w not in _NAMES for w in words):
            raise ScheduleError(f"failed to parse field {field!r}")
        for part in field.split(","):
            _check_range(part, position)
    expression = " ".join(fields)
    if not croniter.is_valid(expression):
        raise ScheduleError(f"failed to parse {expression!r}")
    return expression


# Each field's bounds and the names it takes, as robfig/cron's (day of week 0-6: a 7
# for Sunday, which croniter takes, is refused there).
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_NAMED = {3: _MONTHS.split(), 4: _DAYS.split()}


def _check_range(part: str, position: int) -> None:
    """robfig/cron's getRange: ``*``/``?``, ``n`` or ``a-b`` (a <= b, within the
    field's bounds), optionally ``/step`` (a positive step); what croniter would read
    otherwise (a range wrapping around, ``7`` for Sunday) is refused here, with
    robfig's message."""
    span, slash, step = part.partition("/")
    if slash and not (step.isdigit() and int(step) > 0):
        raise ScheduleError(f"step of range should be a positive number: {part}")
    if span in ("*", "?"):
        return
    low, high = _BOUNDS[position]
    first, dash, last = span.partition("-")
    start = _value(first, position)
    end = _value(last, position) if dash else start
    if start < low:
        raise ScheduleError(f"beginning of range ({start}) below minimum ({low}): {part}")
    if end > high:
        raise ScheduleError(f"end of range ({end}) above maximum ({high}): {part}")
    if start > end:
        raise ScheduleError(f"beginning of range ({start}) beyond end of range ({end}): {part}")


def _value(text: str, position: int) -> int:
    names = _NAMED.get(position, [])
    if text.lower() in names:
        return names.index(text.lower()) + (1 if position == 3 else 0)
    if not text.isdigit():
        raise ScheduleError(f"failed to parse int from {text}")
    return int(text)


@attrs.frozen
class Schedule:
    expression: str
    zone: dt.tzinfo

    @classmethod
    def parse(cls, schedule: str, zone: str | None = None) -> Schedule:
        return cls(standard_expression(schedule), time_zone(zone))

    def next_after(self, when: float) -> float | None:
        """The first scheduled time strictly after ``when`` (seconds since the epoch);
        None for a schedule naming no time that exists (``0 0 30 2 *``: robfig/cron,
        hence Kubernetes, accepts it and it never fires)."""
        start = dt.datetime.fromtimestamp(when, self.zone)
        try:
            return float(croniter(self.expression, start).get_next(float))
        except CroniterBadDateError:
            return None

    def times_between(self, earliest: float, now: float, most: int) -> list[float]:
        """Scheduled times in (``earliest``, ``now``], oldest first, at most ``most + 1``
        of them (enough to tell "too many" without walking years of minutes)."""
        start = dt.datetime.fromtimestamp(earliest, self.zone)
        walker = croniter(self.expression, start)
        found: list[float] = []
        while len(found) <= most:
            try:
                t = float(walker.get_next(float))
            except CroniterBadDateError:
                break  # no time exists after this one
            if t > now:
                break
            found.append(t)
        return found

    def latest_at_or_before(self, when: float) -> float | None:
        """The last scheduled time not after ``when``; None when there is none."""
        # croniter's get_prev is strictly before its start: start just after ``when``
        start = dt.datetime.fromtimestamp(when + 0.001, self.zone)
        try:
            return float(croniter(self.expression, start).get_prev(float))
        except CroniterBadDateError:
            return None
