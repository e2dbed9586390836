#!/usr/bin/env bash
# Log groomer of the Airflow chart's sidecars (scheduler, triggerer, DAG processor run `bash /clean-logs`): every
# AIRFLOW__LOG_CLEANUP_FREQUENCY_MINUTES, delete task and component logs older than AIRFLOW__LOG_RETENTION_DAYS
# under $AIRFLOW_HOME/logs, then the folders left empty.
set -euo pipefail

logs="${AIRFLOW_HOME:-/opt/airflow}/logs"
retention_days="${AIRFLOW__LOG_RETENTION_DAYS:-15}"
every_minutes="${AIRFLOW__LOG_CLEANUP_FREQUENCY_MINUTES:-15}"

if ! [[ "$retention_days" =~ ^[0-9]+$ && "$every_minutes" =~ ^[0-9]+$ ]]; then
  echo "clean-logs: AIRFLOW__LOG_RETENTION_DAYS and AIRFLOW__LOG_CLEANUP_FREQUENCY_MINUTES must be whole numbers" >&2
  exit 64
fi
trap 'exit 0' TERM INT
while true; do
  if [[ -d "$logs" ]]; then
    find "$logs" -type f -name '*.log' -mtime "+$retention_days" -delete || true
    find "$logs" -mindepth 1 -type d -empty -delete || true
  fi
  sleep "$((every_minutes * 60))" &
  wait $!
done
