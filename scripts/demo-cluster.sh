#!/usr/bin/env bash
# make demo-cluster: the whole demo on the cluster profile, on this machine.
#
# `civiclake dev up` starts PostgreSQL (the Iceberg catalog), MinIO (the lake) and Trino, configured as the Helm
# chart configures them (the first run builds MinIO and fetches Trino into ~/.cache/civiclake: a few minutes);
# `civiclake demo` then lands the four sources' raw files in MinIO and their bronze tables in the PostgreSQL
# catalog, dbt builds silver and gold on Trino, and the example queries run on Trino. The servers are stopped
# and their data deleted at the end, whatever happened.
set -euo pipefail

civiclake="${CIVICLAKE_BIN:-.venv/bin/civiclake}"
export CIVICLAKE_HOME="${CIVICLAKE_HOME:-.civiclake-cluster}"

stop_servers() {
    "$civiclake" dev down
}
trap stop_servers EXIT

environment="$("$civiclake" dev up)"
eval "$environment"
"$civiclake" demo
