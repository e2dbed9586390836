"""Freshness: is a dataset's last successful load older than its declared update frequency allows?

data.gouv.fr datasets declare a ``frequency`` (``daily``, ``monthly``, ``annual``...). A dataset is
late when its last success is older than that period plus a grace (a quarter of the period, at least
an hour), so a monthly file published a few days late does not page anyone.
"""

from __future__ import annotations

from datetime import datetime, timedelta

_DAY = timedelta(days=1)
PERIODS: dict[str, timedelta] = {
    "continuous": timedelta(hours=1),
    "hourly": timedelta(hours=1),
    "fourTimesADay": timedelta(hours=6),
    "threeTimesADay": timedelta(hours=8),
    "semidaily": timedelta(hours=12),
    "daily": _DAY,
    "fourTimesAWeek": _DAY * 2,
    "threeTimesAWeek": _DAY * 3,
    "semiweekly": _DAY * 4,
    "weekly": _DAY * 7,
    "biweekly": _DAY * 14,
    "threeTimesAMonth": _DAY * 10,
    "semimonthly": _DAY * 15,
    "monthly": _DAY * 31,
    "bimonthly": _DAY * 62,
    "quarterly": _DAY * 92,
    "threeTimesAYear": _DAY * 122,
    "semiannual": _DAY * 183,
    "annual": _DAY * 366,
    "biennial": _DAY * 731,
    "triennial": _DAY * 1096,
    "quinquennial": _DAY * 1827,
}  # unknown, punctual and irregular declare no period: such datasets are never late


def expected_period(frequency: str | None) -> timedelta | None:
    return PERIODS.get(frequency or "")


def grace(period: timedelta) -> timedelta:
    return max(period / 4, timedelta(hours=1))


def is_late(frequency: str | None, last_success: datetime | None, now: datetime) -> bool | None:
    """True or False; None when the frequency declares no period."""
    period = expected_period(frequency)
    if period is None:
        return None
    if last_success is None:
        return True
    return now - last_success > period + grace(period)
