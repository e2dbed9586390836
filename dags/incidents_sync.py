"""Airflow DAG incidents_sync: sync the incidents source family into the raw lake and bronze Iceberg tables.

Built by the civiclake DAG factory (civiclake_dags/factory.py) from the dataset registry; no DAG when the
registry has no `incidents` section.
"""

from civiclake_dags.factory import sync_dag

dag = sync_dag("incidents")
