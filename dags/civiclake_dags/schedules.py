"""Schedules: data.gouv.fr frequencies as cron expressions, and which datasets a run of a DAG is due to sync.

A datagouv dataset is synced at its declared frequency unless the registry gives it a ``schedule``. The DAG runs
at the most frequent of its datasets' schedules, and each scheduled run syncs only the datasets whose own
schedule fired since the DAG's previous tick. A run started by hand syncs every dataset. Checking a dataset
that has not changed is cheap: civiclake compares the catalogue's markers and downloads nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from croniter import croniter

PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}

# As often as the catalogue says the data changes. Cron cannot say "every two years": those are checked yearly.
# Without a declared period (unknown, punctual, irregular), a weekly look catches corrections.
FREQUENCY_SCHEDULES = {
    "continuous": "@hourly",
    "hourly": "@hourly",
    "fourTimesADay": "0 */6 * * *",
    "threeTimesADay": "0 */8 * * *",
    "semidaily": "0 */12 * * *",
    "daily": "@daily",
    "fourTimesAWeek": "0 0 * * 0,2,4,6",
    "threeTimesAWeek": "0 0 * * 1,3,5",
    "semiweekly": "0 0 * * 1,4",
    "weekly": "@weekly",
    "biweekly": "0 0 1,15 * *",
    "threeTimesAMonth": "0 0 1,11,21 * *",
    "semimonthly": "0 0 1,15 * *",
    "monthly": "@monthly",
    "bimonthly": "0 0 1 */2 *",
    "quarterly": "@quarterly",
    "threeTimesAYear": "0 0 1 */4 *",
    "semiannual": "0 0 1 */6 *",
    "annual": "@yearly",
    "biennial": "@yearly",
    "triennial": "@yearly",
    "quinquennial": "@yearly",
    "unknown": "@weekly",
    "punctual": "@weekly",
    "irregular": "@weekly",
}
DEFAULT_DATASET_SCHEDULE = "@daily"
_REFERENCE_YEAR = datetime(2025, 1, 1, tzinfo=UTC)
_SAMPLE_FIRES = 48


def cron_of(schedule: str) -> str:
    """The five-field cron expression of a schedule (presets expanded)."""
    return PRESETS.get(schedule, schedule)


def is_valid(schedule: str) -> bool:
    return bool(croniter.is_valid(cron_of(schedule)))


def dataset_schedule(entry: dict[str, object]) -> str:
    """A datagouv dataset's schedule: its own, else its declared frequency's, else daily."""
    if entry.get("schedule"):
        return str(entry["schedule"])
    frequency = entry.get("frequency")
    if isinstance(frequency, str) and frequency in FREQUENCY_SCHEDULES:
        return FREQUENCY_SCHEDULES[frequency]
    return DEFAULT_DATASET_SCHEDULE


def mean_interval(schedule: str) -> timedelta:
    """Average time between two fires, over a sample long enough to cover irregular expressions."""
    fires = croniter(cron_of(schedule), _REFERENCE_YEAR)
    first = fires.get_next(datetime)
    for _ in range(_SAMPLE_FIRES):
        last = fires.get_next(datetime)
    return (last - first) / _SAMPLE_FIRES


def most_frequent(schedules: list[str], default: str = DEFAULT_DATASET_SCHEDULE) -> str:
    """The schedule that fires most often (the first of equals), or ``default`` for an empty list."""
    if not schedules:
        return default
    return min(schedules, key=mean_interval)


def is_due(entry_schedule: str, dag_schedule: str, tick: datetime) -> bool:
    """True when ``entry_schedule`` fired in (previous DAG tick, ``tick``]: the scheduled run at ``tick`` owes it a
    sync. A dataset scheduled more often than the DAG is due at every run."""
    previous_tick = croniter(cron_of(dag_schedule), tick).get_prev(datetime)
    last_fire = croniter(cron_of(entry_schedule), tick + timedelta(seconds=1)).get_prev(datetime)
    return bool(last_fire > previous_tick)
