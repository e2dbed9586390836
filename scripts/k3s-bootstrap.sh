#!/usr/bin/env bash
# Install a single-node k3s server ready for civiclake, or print what it would do.
#
#   scripts/k3s-bootstrap.sh --dry-run          print every step, change nothing (the default when not root)
#   sudo scripts/k3s-bootstrap.sh               install k3s, wait for the node, apply k8s/k3s/
#
# Options:
#   --version VERSION   k3s release to install (default: the pinned K3S_VERSION below)
#   --dry-run           only print the commands
#   -h, --help          this help
#
# Needs: Linux with systemd, curl, 4 cores and 16 GiB for the k3s values (charts/civiclake/values-k3s-single-node.yaml).
set -euo pipefail

K3S_VERSION="v1.32.5+k3s1"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DRY_RUN=false

log() {
    printf 'k3s-bootstrap: %s\n' "$*"
}

usage() {
    sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

run() {
    # Print a command; run it unless --dry-run.
    printf '+ %s\n' "$*"
    if [[ "${DRY_RUN}" == false ]]; then
        "$@"
    fi
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --version)
            K3S_VERSION="${2:?--version needs a value}"
            shift 2
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

if [[ "${DRY_RUN}" == false && "$(id -u)" -ne 0 ]]; then
    log "not root: printing the steps only (run with sudo to install)"
    DRY_RUN=true
fi

if [[ "${DRY_RUN}" == false ]]; then
    for tool in curl systemctl; do
        command -v "${tool}" >/dev/null 2>&1 || {
            log "missing ${tool}"
            exit 1
        }
    done
fi

cores="$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 0)"
memory_kib="$(awk '/MemTotal/ {print $2}' /proc/meminfo 2>/dev/null || echo 0)"
if [[ "${cores}" -lt 4 || "${memory_kib}" -lt 15000000 ]]; then
    log "warning: ${cores} cores and $((memory_kib / 1024 / 1024)) GiB here; the k3s values expect 4 cores and 16 GiB"
fi

# Secrets encrypted at rest (civiclake's credentials live in Secrets); kubeconfig readable by the admin group only.
INSTALL_K3S_EXEC="server --secrets-encryption --write-kubeconfig-mode 0640"

log "installing k3s ${K3S_VERSION}"
if [[ "${DRY_RUN}" == true ]]; then
    printf '+ curl -sfL https://get.k3s.io | INSTALL_K3S_VERSION=%q INSTALL_K3S_EXEC=%q sh -\n' \
        "${K3S_VERSION}" "${INSTALL_K3S_EXEC}"
else
    installer="$(mktemp)"
    trap 'rm -f "${installer}"' EXIT
    curl -sfL https://get.k3s.io -o "${installer}"
    INSTALL_K3S_VERSION="${K3S_VERSION}" INSTALL_K3S_EXEC="${INSTALL_K3S_EXEC}" sh "${installer}"
fi

export KUBECONFIG=/etc/rancher/k3s/k3s.yaml
log "waiting for the node to be Ready"
run k3s kubectl wait --for=condition=Ready node --all --timeout=300s

log "applying the k3s platform manifests (Traefik settings, retained local-path StorageClass)"
run k3s kubectl apply -f "${REPO_ROOT}/k8s/k3s/"

log "done. Next: KUBECONFIG=${KUBECONFIG} scripts/install.sh (docs/deploy.md)"
