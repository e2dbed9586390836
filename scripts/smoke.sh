#!/usr/bin/env bash
# Smoke test of a live civiclake install. Run it from a machine whose kubectl reaches the cluster.
#
#   scripts/smoke.sh [--namespace civiclake] [--release civiclake] [--gold-table gold.mart_x]
#
# Checks, in order (exit 1 at the first failure, with what failed):
#   1. every pod of the namespace is Ready (finished Job pods aside);
#   2. Trino answers `SELECT 1`, and a query on a gold table through the Python `trino` client
#      (pip install trino); the table is --gold-table, else the first table of iceberg.gold;
#   3. the Airflow API server reports its metadata database and scheduler healthy;
#   4. Prometheus has civiclake targets, all up.
#
# Options:
#   -n, --namespace NS     namespace (default civiclake)
#   -r, --release NAME     release name (default civiclake)
#   --gold-table SCHEMA.T  gold table to query (default: first table in iceberg.gold)
#   --allow-empty-gold     pass when iceberg.gold has no table yet (fresh install before the first run)
#   --timeout SECONDS      how long to wait for pods (default 600)
#   -h, --help             this help
set -euo pipefail

NAMESPACE="civiclake"
RELEASE="civiclake"
GOLD_TABLE=""
ALLOW_EMPTY_GOLD=false
TIMEOUT=600
FORWARD_PIDS=()

log() {
    printf 'smoke: %s\n' "$*"
}

fail() {
    printf 'smoke: FAILED: %s\n' "$*" >&2
    exit 1
}

usage() {
    sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

cleanup() {
    # Stop only the port-forwards this script started.
    for pid in "${FORWARD_PIDS[@]}"; do
        kill "${pid}" 2>/dev/null || true
    done
}
trap cleanup EXIT

while [[ $# -gt 0 ]]; do
    case "$1" in
        -n | --namespace)
            NAMESPACE="${2:?--namespace needs a value}"
            shift 2
            ;;
        -r | --release)
            RELEASE="${2:?--release needs a value}"
            shift 2
            ;;
        --gold-table)
            GOLD_TABLE="${2:?--gold-table needs schema.table}"
            shift 2
            ;;
        --allow-empty-gold)
            ALLOW_EMPTY_GOLD=true
            shift
            ;;
        --timeout)
            TIMEOUT="${2:?--timeout needs seconds}"
            shift 2
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            log "unknown option: $1" >&2
            usage >&2
            exit 2
            ;;
    esac
done

for tool in kubectl curl python3; do
    command -v "${tool}" >/dev/null 2>&1 || fail "missing ${tool}"
done
python3 -c 'import trino' 2>/dev/null || fail "the Python trino client is missing: pip install trino"

# port_forward SERVICE LOCAL_PORT REMOTE_PORT: forward in the background and wait until it answers.
port_forward() {
    local service="$1" local_port="$2" remote_port="$3"
    kubectl -n "${NAMESPACE}" port-forward "svc/${service}" "${local_port}:${remote_port}" >/dev/null 2>&1 &
    FORWARD_PIDS+=("$!")
    for _ in $(seq 1 30); do
        if curl -s -o /dev/null "http://127.0.0.1:${local_port}/"; then
            return 0
        fi
        sleep 1
    done
    fail "port-forward to svc/${service}:${remote_port} did not come up"
}

log "1/4 pods Ready in ${NAMESPACE}"
pods="$(kubectl -n "${NAMESPACE}" get pods --field-selector=status.phase!=Succeeded -o name)"
[[ -n "${pods}" ]] || fail "no pods in namespace ${NAMESPACE}"
# shellcheck disable=SC2086 # one argument per pod name
kubectl -n "${NAMESPACE}" wait --for=condition=Ready --timeout="${TIMEOUT}s" ${pods} >/dev/null ||
    fail "pods not Ready: $(kubectl -n "${NAMESPACE}" get pods --no-headers | awk '$3 != "Running" && $3 != "Completed"')"
log "    $(wc -l <<<"${pods}") pods Ready"

log "2/4 Trino: SELECT 1 and a gold table"
port_forward "${RELEASE}-trino" 18080 8080
TRINO_PORT=18080 GOLD_TABLE="${GOLD_TABLE}" ALLOW_EMPTY_GOLD="${ALLOW_EMPTY_GOLD}" python3 - <<'PY' || fail "Trino check"
import os
import sys

import trino

connection = trino.dbapi.connect(
    host="127.0.0.1", port=int(os.environ["TRINO_PORT"]), user="civiclake-smoke", catalog="iceberg"
)
cursor = connection.cursor()
cursor.execute("SELECT 1")
assert cursor.fetchall() == [[1]], "SELECT 1 did not return 1"
print("smoke:     SELECT 1 -> 1")

table = os.environ.get("GOLD_TABLE", "")
if not table:
    cursor.execute(
        "SELECT table_schema || '.' || table_name FROM iceberg.information_schema.tables "
        "WHERE table_schema = 'gold' ORDER BY table_name LIMIT 1"
    )
    rows = cursor.fetchall()
    if not rows:
        if os.environ.get("ALLOW_EMPTY_GOLD") == "true":
            print("smoke:     iceberg.gold has no table yet (allowed by --allow-empty-gold)")
            sys.exit(0)
        sys.exit("iceberg.gold has no table: run the pipeline first, or pass --allow-empty-gold")
    table = rows[0][0]
schema, _, name = table.partition(".")
if not (schema.replace("_", "").isalnum() and name.replace("_", "").isalnum()):
    sys.exit(f"not a schema.table name: {table!r}")
cursor.execute(f'SELECT count(*) FROM iceberg."{schema}"."{name}"')
print(f"smoke:     iceberg.{schema}.{name}: {cursor.fetchall()[0][0]} rows")
PY

log "3/4 Airflow API health"
port_forward "${RELEASE}-api-server" 18081 8080
health="$(curl -sf http://127.0.0.1:18081/api/v2/monitor/health)" || fail "Airflow API did not answer /api/v2/monitor/health"
HEALTH="${health}" python3 - <<'PY' || fail "Airflow is not healthy: ${health}"
import json
import os

health = json.loads(os.environ["HEALTH"])
for component in ("metadatabase", "scheduler"):
    status = health.get(component, {}).get("status")
    assert status == "healthy", f"{component}: {status}"
    print(f"smoke:     {component}: healthy")
PY

log "4/4 Prometheus targets"
port_forward "${RELEASE}-prometheus-server" 19090 80
targets="$(curl -sf --get http://127.0.0.1:19090/api/v1/query \
    --data-urlencode 'query=up{job=~"civiclake.*|prometheus-pushgateway"}')" || fail "Prometheus did not answer"
TARGETS="${targets}" python3 - <<'PY' || fail "Prometheus civiclake targets"
import json
import os

results = json.loads(os.environ["TARGETS"])["data"]["result"]
assert results, "no civiclake target known to Prometheus"
down = [r["metric"] for r in results if r["value"][1] != "1"]
assert not down, f"targets down: {down}"
for r in results:
    print(f"smoke:     {r['metric'].get('job')} {r['metric'].get('instance')}: up")
PY

log "all checks passed"
