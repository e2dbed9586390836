#!/usr/bin/env bash
# Install or upgrade civiclake with Helm: add the dependency repositories, build the chart's dependencies,
# check the Secrets, `helm upgrade --install --wait`, then `helm test`.
#
#   scripts/install.sh                                   k3s values, namespace civiclake, release civiclake
#   scripts/install.sh --values my-site.yaml --values charts/civiclake/values-production.yaml
#   scripts/install.sh --demo-secrets                    throwaway demo: generate random credentials
#   scripts/install.sh --dry-run                         print the commands only
#
# Options:
#   -f, --values FILE     values file (repeatable; default charts/civiclake/values-k3s-single-node.yaml)
#   -n, --namespace NS    namespace (default civiclake)
#   -r, --release NAME    release name (default civiclake)
#   --timeout DURATION    helm --timeout (default 20m)
#   --demo-secrets        set secrets.generate=true (DEMO ONLY: random credentials created by the chart)
#   --skip-tests          do not run `helm test`
#   --dry-run             print the commands, change nothing
#   -h, --help            this help
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHART="${REPO_ROOT}/charts/civiclake"
NAMESPACE="civiclake"
RELEASE="civiclake"
TIMEOUT="20m"
DEMO_SECRETS=false
SKIP_TESTS=false
DRY_RUN=false
VALUES_FILES=()

# Secrets the chart reads (charts/civiclake/values.yaml), checked before installing.
REQUIRED_SECRETS=(
    civiclake-s3-credentials
    civiclake-pg-credentials
    civiclake-airflow-metadata
    civiclake-airflow-keys
    civiclake-grafana-admin
    civiclake-privacy
)

# Repositories of the chart's dependencies (charts/civiclake/Chart.yaml); the OCI one needs no `repo add`.
HELM_REPOSITORIES=(
    "apache-airflow https://airflow.apache.org"
    "trino https://trinodb.github.io/charts"
    "minio https://charts.min.io/"
    "prometheus-community https://prometheus-community.github.io/helm-charts"
    "grafana https://grafana.github.io/helm-charts"
)

log() {
    printf 'install: %s\n' "$*"
}

usage() {
    sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

run() {
    printf '+ %s\n' "$*"
    if [[ "${DRY_RUN}" == false ]]; then
        "$@"
    fi
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        -f | --values)
            VALUES_FILES+=("${2:?--values needs a file}")
            shift 2
            ;;
        -n | --namespace)
            NAMESPACE="${2:?--namespace needs a value}"
            shift 2
            ;;
        -r | --release)
            RELEASE="${2:?--release needs a value}"
            shift 2
            ;;
        --timeout)
            TIMEOUT="${2:?--timeout needs a value}"
            shift 2
            ;;
        --demo-secrets)
            DEMO_SECRETS=true
            shift
            ;;
        --skip-tests)
            SKIP_TESTS=true
            shift
            ;;
        --dry-run)
            DRY_RUN=true
            shift
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

if [[ ${#VALUES_FILES[@]} -eq 0 ]]; then
    VALUES_FILES=("${CHART}/values-k3s-single-node.yaml")
fi
for file in "${VALUES_FILES[@]}"; do
    [[ -f "${file}" ]] || {
        log "values file not found: ${file}"
        exit 2
    }
done

if [[ "${DRY_RUN}" == false ]]; then
    for tool in helm kubectl; do
        command -v "${tool}" >/dev/null 2>&1 || {
            log "missing ${tool} (https://helm.sh/docs/intro/install/, https://kubernetes.io/docs/tasks/tools/)"
            exit 1
        }
    done
fi

log "dependency repositories"
for entry in "${HELM_REPOSITORIES[@]}"; do
    read -r name url <<<"${entry}"
    run helm repo add --force-update "${name}" "${url}"
done
run helm repo update
run helm dependency build "${CHART}"

log "namespace ${NAMESPACE}"
if [[ "${DRY_RUN}" == true ]]; then
    printf '+ kubectl create namespace %s (if missing)\n' "${NAMESPACE}"
elif ! kubectl get namespace "${NAMESPACE}" >/dev/null 2>&1; then
    kubectl create namespace "${NAMESPACE}"
fi

helm_args=(upgrade --install "${RELEASE}" "${CHART}" --namespace "${NAMESPACE}" --wait --timeout "${TIMEOUT}")
for file in "${VALUES_FILES[@]}"; do
    helm_args+=(--values "${file}")
done

if [[ "${DEMO_SECRETS}" == true ]]; then
    log "DEMO: the chart generates random credentials (never for real data)"
    helm_args+=(--set secrets.generate=true)
elif [[ "${DRY_RUN}" == false ]]; then
    missing=()
    for secret in "${REQUIRED_SECRETS[@]}"; do
        kubectl -n "${NAMESPACE}" get secret "${secret}" >/dev/null 2>&1 || missing+=("${secret}")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        log "missing Secrets in ${NAMESPACE}: ${missing[*]}"
        log "create them (docs/deploy.md, \"Secrets\"), use terraform/, or pass --demo-secrets for a throwaway demo"
        exit 1
    fi
fi

log "helm upgrade --install ${RELEASE}"
run helm "${helm_args[@]}"

if [[ "${SKIP_TESTS}" == false ]]; then
    log "helm test (a Trino query on the Iceberg catalog)"
    run helm test "${RELEASE}" --namespace "${NAMESPACE}" --logs --timeout 10m
fi

log "done. Check the whole platform with: scripts/smoke.sh --namespace ${NAMESPACE} --release ${RELEASE}"
