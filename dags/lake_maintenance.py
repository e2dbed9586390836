"""Airflow DAG lake_maintenance: Iceberg compaction, snapshot expiry and orphan-file removal.

Built by the civiclake DAG factory (civiclake_dags/factory.py) from the dataset registry.
"""

from civiclake_dags.factory import maintenance_dag

dag = maintenance_dag()
