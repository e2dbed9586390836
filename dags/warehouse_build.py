"""Airflow DAG warehouse_build: dbt source freshness, build and tests, each time bronze tables change.

Built by the civiclake DAG factory (civiclake_dags/factory.py) from the dataset registry.
"""

from civiclake_dags.factory import warehouse_dag

dag = warehouse_dag()
