#!/usr/bin/env bash
# Entrypoint of the civiclake Airflow image. The Airflow chart starts its containers with arguments such as
# `bash -c "exec airflow scheduler"` or `airflow db check-migrations`: run them as given, after checks that turn
# a broken image or mount into one clear line instead of a stack trace deep inside Airflow.
set -euo pipefail

if [[ $# -eq 0 ]]; then
  echo "civiclake-airflow: nothing to run (expected e.g. 'airflow scheduler')" >&2
  exit 64
fi
if ! command -v airflow >/dev/null; then
  echo "civiclake-airflow: the airflow command is missing from PATH ($PATH)" >&2
  exit 69
fi
# Importing the provider also opens Airflow's settings: a missing database driver fails here too, so say which.
if ! import_error=$(python -c "import airflow.providers.cncf.kubernetes" 2>&1); then
  echo "civiclake-airflow: the Kubernetes provider cannot be imported: ${import_error##*$'\n'}" >&2
  exit 70
fi
exec "$@"
