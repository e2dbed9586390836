"""Airflow DAG shopstream_sync: sync the shopstream source family into the raw lake and bronze Iceberg tables.

Built by the civiclake DAG factory (civiclake_dags/factory.py) from the dataset registry; no DAG when the
registry has no `shopstream` section.
"""

from civiclake_dags.factory import sync_dag

dag = sync_dag("shopstream")
