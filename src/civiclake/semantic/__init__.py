"""The semantic layer: business metrics defined once in dbt (``semantic_models:`` and ``metrics:`` in
dbt/models/marts/semantic), compiled to SQL by MetricFlow and run on the active profile's engine."""
