"""Personal data: its classification in the dbt project, the pseudonymisation key, and the right to erasure."""
