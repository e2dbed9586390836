"""Observability: freshness against declared frequencies (and, with the supervision work, metrics)."""
