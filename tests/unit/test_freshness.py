from datetime import UTC, datetime, timedelta

from civiclake.observability.freshness import is_late

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)


def test_a_monthly_dataset_is_late_only_past_its_period_and_grace() -> None:
    assert is_late("monthly", NOW - timedelta(days=31), NOW) is False
    assert is_late("monthly", NOW - timedelta(days=38), NOW) is False  # within a quarter of the period
    assert is_late("monthly", NOW - timedelta(days=40), NOW) is True


def test_never_loaded_is_late_and_irregular_is_never_late() -> None:
    assert is_late("daily", None, NOW) is True
    assert is_late("irregular", NOW - timedelta(days=3000), NOW) is None
    assert is_late(None, None, NOW) is None
